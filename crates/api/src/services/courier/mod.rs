//! The courier: takes messages from the outbox table (`persistence::outbox`) to the
//! provider. It claims a batch of due messages in one transaction, hands them to the
//! provider at the same time, and records each outcome as it comes back.
//! [`Courier::step`] does exactly one message so tests drive it without sleeping;
//! [`Courier::run`] is the loop the server spawns, woken by commits that queue a message
//! (`persistence::committed`). Time is the injected [`Clock`], so tests move it.
//!
//! The argument below spans three rooms: this one claims and runs the loop, `send`
//! looks a message up, moves it on and sends it, `record` writes what came of it.
//!
//! Each message goes out once, through crashes and lost answers:
//! - the claim marks each message in flight, with a fingerprint of its body that the
//!   provider echoes back (a keyed hash, kept after the code is erased), before anything
//!   is sent;
//! - a message claimed again while so marked (its sender died or stalled past its lease,
//!   or its last try ended without a clear answer) is first looked for among the
//!   provider's recent messages to its number: found, its Sid and status are stored and
//!   it is not sent again; not found, it is sent;
//! - only a worker still holding its claim records an outcome, so a late answer to a
//!   worker that lost its lease changes nothing.
//!
//! A message carrying a code is retried (at most 30 s apart) for as long as the code
//! lives, tells the provider to drop it once the code is dead (`ValidityPeriod`), and is
//! canceled, never sent, once its code has died (expired, replaced or used).

use std::{sync::Arc, time::Duration};

mod outcome;
mod record;
mod send;

use futures_util::future::join_all;
use hmac::{Hmac, Mac as _};
use phonereg_types::SmsProviderName;
use rand::Rng as _;
use sha2::Sha256;

use self::{
    outcome::Outcome,
    record::{Rules, record},
};
use crate::services::wakeups::Wakeups;
use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{Db, early_statuses, models::MessageRow, outbox},
    services::{delivery, failover::Failover},
    sms::{Accepted, CALL_TIMEOUT, Provider, Providers},
    telemetry,
};

/// How long a claimed message is reserved for the worker that claimed it. Longer than
/// one provider call can take ([`CALL_TIMEOUT`], 10 s) plus the write that records it,
/// so a message is only looked up (and maybe sent again) once its last send can no
/// longer land. A worker that dies mid-send frees its messages after this.
pub const LEASE_SECS: i64 = 15;
const _: () = assert!(LEASE_SECS > CALL_TIMEOUT.as_secs() as i64 + 2);

/// Messages claimed and sent together: one claim per batch instead of one per message
/// keeps the worker from competing with requests for the database; Twilio takes this
/// many requests at once from one account without pushing back.
const BATCH: i64 = 32;

/// How often an idle worker looks for work that other processes queued or freed.
const POLL: Duration = Duration::from_millis(500);

/// Retries of a code's SMS come at most this long (before jitter) apart: with +20 %,
/// at most 30 s, so a code is not left waiting long once the provider is back.
const CODE_BACKOFF_CAP_MS: f64 = 25_000.0;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct Courier {
    db: Db,
    providers: Providers,
    /// When a message leaves its provider for the next, and the shared circuits.
    failover: Arc<Failover>,
    max_attempts: u32,
    clock: Clock,
    /// Keys the body fingerprints (derived from `JWT_SECRET`): without it nobody can
    /// tell from a fingerprint which code a message carried.
    key: Arc<[u8; 32]>,
    /// When this process's scheduled retries fall due (ms, earliest first): the worker
    /// wakes for them, so a retry is not up to a poll late.
    retries: Wakeups,
}

/// What one step did, for tests and logs.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Idle,
    Sent {
        id: i64,
    },
    /// Found at the provider from an earlier try: its Sid stored, not sent again.
    Reconciled {
        id: i64,
    },
    Retrying {
        id: i64,
    },
    Failed {
        id: i64,
        error_code: Option<i64>,
    },
    /// Its code died before it could leave: canceled, never sent.
    Dropped {
        id: i64,
    },
    /// This worker's lease ran out before it could record the outcome; another worker
    /// has the message now, so nothing was recorded.
    Superseded {
        id: i64,
    },
}

/// 2 s doubling per attempt, ±20 % jitter so retries from an outage don't stampede; in
/// milliseconds, since whole seconds ate most of the jitter of the short ones. `cap_ms`
/// caps the base before the jitter.
pub fn backoff_ms(attempt: u32, cap_ms: Option<f64>) -> i64 {
    let base = 2_000.0 * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    let base = cap_ms.map_or(base, |cap| base.min(cap));
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    (base * jitter).round() as i64
}

/// The fingerprint of a body: HMAC-SHA256 under the outbox key, hex.
fn fingerprint(key: &[u8; 32], body: &str) -> String {
    #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
    let mut mac = HmacSha256::new_from_slice(key).unwrap();
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Courier {
    /// `secret` (the JWT secret) keys the body fingerprints. Changing it while messages
    /// are in flight makes their lookup miss, and those few go out again.
    pub fn new(
        db: Db,
        providers: Providers,
        failover: Arc<Failover>,
        max_attempts: u32,
        clock: Clock,
        secret: &[u8],
    ) -> Self {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(b"phonereg sms fingerprints v1");
        Self {
            db,
            providers,
            failover,
            max_attempts,
            clock,
            key: Arc::new(mac.finalize().into_bytes().into()),
            retries: Wakeups::default(),
        }
    }

    /// Sends at most one due message.
    pub async fn step(&self) -> Result<Step, ApiError> {
        Ok(self.step_batch(1).await?.pop().unwrap_or(Step::Idle))
    }

    /// Sends up to `limit` due messages at once; an empty result means none was due.
    pub async fn step_batch(&self, limit: i64) -> Result<Vec<Step>, ApiError> {
        let now_ms = self.clock.now_ms();
        self.failover.refresh(&self.db, now_ms).await?;
        let open = self.failover.open(now_ms.div_euclid(1000));
        let key = Arc::clone(&self.key);
        let providers = self.providers.clone();
        let claimed = self
            .db
            .write(move |c| {
                let print = |body: &str| fingerprint(&key, body);
                let provider_for = |to: &str| providers.first_for(to, &open);
                outbox::claim_due(c, now_ms, LEASE_SECS, limit, print, provider_for)
            })
            .await?;
        // Each outcome is recorded as soon as its own send returns, not when the slowest
        // of the batch does: a status callback can only be matched once the MessageSid is
        // stored. On SQLite the writer commits these records together anyway.
        join_all(claimed.into_iter().map(|c| self.deliver(c)))
            .await
            .into_iter()
            .collect()
    }

    /// Applies the receipts one in-process provider has due (none for real providers,
    /// whose receipts come to the webhooks).
    async fn apply_receipts_of(&self, provider: &dyn Provider) -> Result<usize, ApiError> {
        let due = provider.due_receipts(self.clock.now_ms());
        if due.is_empty() {
            return Ok(0);
        }
        let name = provider.name();
        self.apply_receipts(due.into_iter().map(|r| (name, r)).collect())
            .await
    }

    /// Applies the receipts every in-process provider (the script) has due by now.
    pub async fn apply_due_receipts(&self) -> Result<usize, ApiError> {
        let due = self.providers.due_receipts(self.clock.now_ms());
        if due.is_empty() {
            return Ok(0);
        }
        self.apply_receipts(due).await
    }

    async fn apply_receipts(
        &self,
        due: Vec<(SmsProviderName, crate::sms::Receipt)>,
    ) -> Result<usize, ApiError> {
        let now = self.clock.now();
        let applied = self
            .db
            .write(move |c| {
                due.iter()
                    .map(|(name, receipt)| delivery::apply_receipt(c, *name, receipt, now))
                    .collect::<Result<Vec<_>, ApiError>>()
            })
            .await?;
        let n = applied.len();
        for status in applied.into_iter().flatten() {
            telemetry::sms_message(status);
        }
        Ok(n)
    }

    async fn record(&self, msg: MessageRow, outcome: Outcome) -> Result<Step, ApiError> {
        let now_ms = self.clock.now_ms();
        let rules = Rules {
            max_attempts: self.max_attempts,
            failover: Arc::clone(&self.failover),
            providers: self.providers.clone(),
        };
        let again = (msg.clone(), outcome.clone(), rules.clone());
        let written = self
            .db
            .write(move |c| record(c, msg, outcome, &rules, now_ms))
            .await;
        let (step, due) = match (written, again) {
            // The provider reused an id another message has: this message is with it all
            // the same, so it is stored under a marked id rather than sent again.
            (Err(ApiError::Conflict(_)), (msg, Outcome::HandedOver { accepted, found }, rules)) => {
                let id = format!("{}#{}", accepted.id, msg.id);
                tracing::error!(sms.id = msg.id, provider = ?msg.provider, "the SMS provider gave a message id another message has; stored with a mark, its receipts reach the other message");
                let accepted = Accepted { id, ..accepted };
                let outcome = Outcome::HandedOver { accepted, found };
                self.db
                    .write(move |c| record(c, msg, outcome, &rules, now_ms))
                    .await?
            }
            (written, _) => written?,
        };
        if let Some(due) = due {
            self.remember_retry(due);
        }
        Ok(step)
    }

    fn remember_retry(&self, due_ms: i64) {
        self.retries.remember(due_ms);
    }

    /// How long an idle worker may sleep: until its next known retry, at most a poll.
    fn idle_wait(&self) -> Duration {
        self.retries.idle_wait(self.clock.now_ms(), POLL)
    }

    /// Applies kept status reports whose Sid has been stored since. The store applies
    /// them itself; this catches the report and the Sid committing at the same moment on
    /// PostgreSQL, where neither transaction sees the other.
    pub async fn apply_early_statuses(&self) -> Result<usize, ApiError> {
        let sids = self.db.read(early_statuses::now_known).await?;
        let mut applied = 0;
        for (provider, sid) in sids {
            let now = self.clock.now();
            if let Some(status) = self
                .db
                .write(move |c| delivery::apply_early(c, provider, &sid, now))
                .await?
            {
                telemetry::sms_message(status);
                applied += 1;
            }
        }
        Ok(applied)
    }

    /// The worker loop: drain what is due, then wait for a commit that queued a message,
    /// a retry falling due or the next poll (for other processes' messages).
    pub async fn run(self) {
        loop {
            match self.step_batch(BATCH).await {
                Ok(steps) if steps.is_empty() => {
                    if let Err(e) = self.apply_early_statuses().await {
                        tracing::warn!(error = %e, "applying early status reports failed");
                    }
                    if let Err(e) = self.apply_due_receipts().await {
                        tracing::warn!(error = %e, "applying scripted receipts failed");
                    }
                    tokio::select! {
                        () = self.db.committed().queued() => {}
                        () = tokio::time::sleep(self.idle_wait()) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "courier step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_within_jitter() {
        for (attempt, base) in [(1, 2_000.0), (2, 4_000.0), (3, 8_000.0), (5, 32_000.0)] {
            for _ in 0..200 {
                let b = backoff_ms(attempt, None) as f64;
                assert!(
                    (base * 0.8..=base * 1.2).contains(&b),
                    "attempt {attempt}: {b} ms"
                );
            }
        }
    }

    #[test]
    fn a_codes_backoff_stays_within_thirty_seconds() {
        for attempt in 1..20 {
            let b = backoff_ms(attempt, Some(CODE_BACKOFF_CAP_MS));
            assert!((1_600..=30_000).contains(&b), "attempt {attempt}: {b} ms");
        }
    }

    #[test]
    fn fingerprints_are_keyed_and_hide_the_body() {
        let body = "Your code is 123456";
        let a = fingerprint(&[1; 32], body);
        assert_eq!(a, fingerprint(&[1; 32], body));
        assert_ne!(a, fingerprint(&[2; 32], body));
        assert_ne!(a, fingerprint(&[1; 32], "Your code is 123457"));
        assert!(!a.contains("123456"));
    }
}
