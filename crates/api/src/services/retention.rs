//! Pruning: what has expired is deleted, so tables that anyone can make grow (counters,
//! tokens, tickets, events, message bodies) stay bounded (SPEC §11 "Bounded storage").
//!
//! Every table is pruned in batches of at most [`pruning::BATCH`] rows, one transaction
//! each, so a prune of millions of rows never holds the writer: requests' writes go in
//! between the batches.

use std::time::{Duration, Instant};

use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{
        Db, outbox,
        pruning::{self, Cursor, Job, Walk},
    },
};

/// Rows per transaction. Well under the cap of [`pruning::BATCH`]: on SQLite a batch
/// commits together with the writes queued beside it, so each of them waits for its
/// deletes (5 000 rows per batch took a send-code's p99 during a prune of a million rows
/// to 3.6× quiet; 1 000 rows with a pause as long as the batch, 2.3× during a prune of
/// five million, which outlasts the whole measurement).
const ROWS_PER_TRANSACTION: usize = 500;
/// After each batch a pause [`PAUSE_PER_BATCH`] times as long as the batch took, so a
/// prune takes at most a quarter of the writer's time however many rows it has to
/// delete (five million rows: about a minute and a half); capped for a stalled disk.
const PAUSE_PER_BATCH: u32 = 3;
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// A counter row is dead once its window has ended and no refusal can point into it:
/// the longest window is a day (and a refusal's `Retry-After` never passes its window's
/// end), and the fraud guard reads its hourly rows for 24 hours.
const COUNTER_AGE: i64 = 86_400;
/// Fraud-guard pauses and decisions are kept a month for operators.
const FRAUD_AGE: i64 = 30 * 86_400;
/// A network the owner has not signed in from for 90 days loses its reserved places.
const KNOWN_SIGN_IN_AGE: i64 = 90 * 86_400;

/// A webhook event older than the cut that no enabled endpoint still has to post.
const WEBHOOK_EVENTS_DONE: &str = "at_ms < ? AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e \
     WHERE e.status = 'enabled' AND (e.cursor_txid, e.cursor_id) < (webhook_events.txid, webhook_events.id))";

/// Pruning. Built in `startup` with exactly what it uses.
pub struct Retention {
    db: Db,
    clock: Clock,
    /// `DATA_RETENTION`, in seconds.
    data_retention: i64,
    /// `REFRESH_REUSE_GRACE`: a rotated refresh token is kept this long, then deleted.
    /// Its reuse is still caught after that: a token names its family, and a token of a
    /// live family that is not stored is a rotated one (see `services::auth`).
    reuse_grace: i64,
    /// `AUDIT_RETENTION_DAYS`, in seconds; 0 keeps the audit log whole.
    audit_retention: i64,
}

/// Rows deleted or emptied by one pass, and the transactions it took.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub refresh_tokens: usize,
    pub counters: usize,
    pub message_bodies: usize,
    /// Audit-log rows past `AUDIT_RETENTION_DAYS`.
    pub audit_events: usize,
    pub other: usize,
    pub transactions: usize,
    /// The most rows one transaction deleted.
    pub largest_batch: usize,
}

impl Retention {
    pub fn new(db: Db, clock: Clock, data_retention: i64, reuse_grace: i64) -> Self {
        Self {
            db,
            clock,
            data_retention,
            reuse_grace,
            audit_retention: 0,
        }
    }

    /// Deletes audit-log rows older than `seconds` (0, the default, keeps them all).
    pub fn keeping_audit_for(mut self, seconds: i64) -> Self {
        self.audit_retention = seconds;
        self
    }

    /// One pass, by the shared clock (tests move it): every job in batches.
    pub async fn prune(&self) -> Result<Pruned, ApiError> {
        let now = self.clock.now();
        let before = now - self.data_retention;
        let job = |table, condition, binds: &[i64]| Job {
            table,
            condition,
            binds: binds.to_vec(),
            walk: Walk::Rows,
        };
        let mut pruned = Pruned::default();
        pruned.refresh_tokens = self
            .run(
                job(
                    "refresh_tokens",
                    "expires_at < ? OR revoked_at < ? OR rotated_at < ?",
                    &[before, before, now - self.reuse_grace],
                ),
                &mut pruned,
            )
            .await?;
        pruned.counters = self
            .run(
                Job {
                    walk: Walk::CounterKeys,
                    ..job("rate_counters", "window_start < ?", &[now - COUNTER_AGE])
                },
                &mut pruned,
            )
            .await?;
        let others = [
            job("events", "created_at < ?", &[before]),
            job("event_tickets", "expires_at < ?", &[now]),
            job("sms_fraud_pauses", "\"until\" < ?", &[now - FRAUD_AGE]),
            job("sms_fraud_decisions", "\"at\" < ?", &[now - FRAUD_AGE]),
            job("known_sign_ins", "last_at < ?", &[now - KNOWN_SIGN_IN_AGE]),
            // Codes of numbers with and without an account alike, so a pruned code says
            // nothing either.
            job("auth_codes", "expires_at < ?", &[before]),
            job("mfa_challenges", "expires_at < ?", &[before]),
            // A used bot-challenge token is kept only while the provider would still
            // accept it.
            job("captcha_tokens", "expires_at < ?", &[now]),
            // Outbound webhook events every enabled endpoint is past, and the log of
            // attempts (SPEC §12): a failing endpoint keeps its queue.
            job("webhook_events", WEBHOOK_EVENTS_DONE, &[before * 1000]),
            job("webhook_deliveries", "\"at\" < ?", &[before]),
        ];
        for other in others {
            pruned.other += self.run(other, &mut pruned).await?;
        }
        if self.audit_retention > 0 {
            let audit = job(
                "security_events",
                "\"at\" < ?",
                &[now - self.audit_retention],
            );
            pruned.audit_events = self.run(audit, &mut pruned).await?;
        }
        pruned.message_bodies = self
            .db
            .write(move |c| outbox::prune_bodies(c, before))
            .await?;
        pruned.transactions += 1;
        Ok(pruned)
    }

    /// One job to the end, a batch per transaction; rows deleted.
    async fn run(&self, job: Job, pruned: &mut Pruned) -> Result<usize, ApiError> {
        let mut from = Cursor::default();
        let mut deleted = 0;
        loop {
            let started = Instant::now();
            let batch = {
                let (job, from) = (job.clone(), from.clone());
                self.db
                    .write(move |c| pruning::delete_batch(c, &job, from, ROWS_PER_TRANSACTION))
                    .await?
            };
            pruned.transactions += 1;
            pruned.largest_batch = pruned.largest_batch.max(batch.deleted);
            deleted += batch.deleted;
            let Some(next) = batch.next else {
                return Ok(deleted);
            };
            from = next;
            // Let the writes that queued behind this batch go first.
            tokio::time::sleep((started.elapsed() * PAUSE_PER_BATCH).min(MAX_PAUSE)).await;
        }
    }
}
