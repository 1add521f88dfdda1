//! The courier: takes messages from the outbox table (`persistence::outbox`) to the
//! provider. It claims a batch of due messages in one transaction, hands them to the
//! provider at the same time, and records each outcome as it comes back.
//! [`Courier::step`] does exactly one message so tests drive it without sleeping;
//! [`Courier::run`] is the loop the server spawns, woken by commits that queue a message
//! (`persistence::committed`). Time is the injected [`Clock`], so tests move it.
//!
//! Long: the exactly-once argument below spans claim, lookup, send and record; each
//! step is short, and keeping them together keeps the argument checkable.
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

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures_util::future::join_all;
use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use sha2::Sha256;
use tracing::Instrument as _;

use phonereg_types::{MessageStatus, SmsProviderName};

use crate::{
    clock::Clock,
    domain::phone_number::mask_numbers,
    error::ApiError,
    persistence::{
        Conn, Db, circuits, early_statuses,
        models::MessageRow,
        outbox::{self, Claimed, RetryLater},
    },
    services::{delivery, failover::Failover},
    sms::{Accepted, CALL_TIMEOUT, Listed, OutgoingSms, Provider, Providers, SendError},
    telemetry::{self, trace_context},
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

/// Retry times this process scheduled and still waits for (beyond this, the poll).
const KNOWN_RETRIES: usize = 1024;

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
    retries: Arc<Mutex<BinaryHeap<Reverse<i64>>>>,
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

/// What failover did with a message about to be tried.
enum Moved<'a> {
    Stayed,
    To(&'a dyn Provider),
    /// Another worker holds it now.
    Superseded,
}

/// How one try of one message ended.
#[derive(Clone)]
enum Outcome {
    /// The provider has it: just now, or found from an earlier try.
    HandedOver {
        accepted: Accepted,
        found: bool,
    },
    NotSent(NotSent),
}

/// Why a try did not hand the message over.
#[derive(Clone)]
enum NotSent {
    /// No clear answer, or the provider could not be asked whether it has the message.
    Retry(String),
    /// The provider said it did not take the message.
    Unavailable(String),
    Rejected {
        code: Option<i64>,
        message: String,
    },
    /// Its code died first.
    Dead,
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
            retries: Arc::default(),
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

    /// One claimed message: look for it at its provider if an earlier try may have
    /// landed, else drop it if its code is dead, else send it (at the next provider if
    /// failover says so); then record the outcome.
    ///
    /// Long: look up, move on, send, record — the exactly-once order reads top to bottom.
    async fn deliver(&self, claimed: Claimed) -> Result<Step, ApiError> {
        // A child of the span that queued the message, in the trace of its request.
        let span = tracing::info_span!(
            "sms.deliver",
            otel.kind = "consumer",
            message.id = claimed.msg.id
        );
        trace_context::follow(&span, claimed.msg.trace_context.as_deref());
        self.deliver_claimed(claimed).instrument(span).await
    }

    async fn deliver_claimed(&self, claimed: Claimed) -> Result<Step, ApiError> {
        let Claimed {
            mut msg,
            maybe_sent,
        } = claimed;
        let now = self.clock.now();
        let sms = OutgoingSms {
            id: msg.id,
            to: msg.to_e164.clone(),
            body: msg.body.clone(),
            validity: msg
                .code_expires_at
                .map(|dies| (dies - now).clamp(1, 36_000) as u32),
            attempt: msg.attempts.max(0) as u32 + 1,
            purpose: msg.kind,
            locale: msg.locale.clone(),
            channel: msg.channel,
        };
        let Some(mut provider) = msg.provider.and_then(|name| self.providers.get(name)) else {
            // Its provider was configured when it was claimed and is not any more: it
            // cannot be looked up there, and sending elsewhere could send it twice.
            let why = format!("SMS provider {:?} is not configured", msg.provider);
            tracing::error!(sms.id = msg.id, "{why}");
            return self
                .record(msg, Outcome::NotSent(NotSent::Retry(why)))
                .await;
        };
        if maybe_sent {
            match provider.lookup(&sms).await {
                Ok(listed) => {
                    let print = msg.fingerprint.clone().unwrap_or_default();
                    let matches: Vec<Listed> = listed
                        .into_iter()
                        .filter(|m| {
                            m.body
                                .as_ref()
                                .is_none_or(|body| fingerprint(&self.key, body) == print)
                        })
                        .collect();
                    if !matches.is_empty() {
                        let msg = msg.clone();
                        let taken = self
                            .db
                            .write(move |c| take_over(c, msg, matches, now))
                            .await?;
                        if let Some(step) = taken {
                            return Ok(step);
                        }
                    }
                }
                // Could not look: sending now could send it twice, so try again later.
                Err(e) => {
                    let retry = Outcome::NotSent(NotSent::Retry(e.to_string()));
                    return self.record(msg, retry).await;
                }
            }
        }
        // Its last try is resolved (looked up, or never taken): it may move on now.
        match self.move_on(&mut msg, now).await? {
            Moved::Stayed => {}
            Moved::To(next) => provider = next,
            Moved::Superseded => return Ok(superseded(msg.id)),
        }
        let outcome = match msg.code_expires_at {
            Some(dies) if dies <= now => Outcome::NotSent(NotSent::Dead),
            _ => {
                let call = tracing::info_span!("sms.send", otel.kind = "client");
                Self::counted(provider.name(), provider.send(&sms).instrument(call).await)
            }
        };
        // An in-process provider's receipt that came with its answer lands first, as a
        // real provider's callback can beat the record of its answer.
        self.apply_receipts_of(provider).await?;
        self.record(msg, outcome).await
    }

    /// What a send's answer means for the message, counted per provider.
    fn counted(provider: SmsProviderName, sent: Result<Accepted, SendError>) -> Outcome {
        let (result, outcome) = match sent {
            Ok(accepted) => (
                "sent",
                Outcome::HandedOver {
                    accepted,
                    found: false,
                },
            ),
            Err(SendError::Retry(reason)) => ("retry", Outcome::NotSent(NotSent::Retry(reason))),
            Err(SendError::Unavailable(reason)) => (
                "unavailable",
                Outcome::NotSent(NotSent::Unavailable(reason)),
            ),
            Err(SendError::Rejected { code, message }) => (
                "rejected",
                Outcome::NotSent(NotSent::Rejected { code, message }),
            ),
        };
        telemetry::sms_provider_attempt(provider, result);
        outcome
    }

    /// Moves `msg` to the next provider if failover says so, recording the move before
    /// anything is sent there.
    async fn move_on(&self, msg: &mut MessageRow, now: i64) -> Result<Moved<'_>, ApiError> {
        let open = self.failover.open(now);
        if !self.failover.leaves(msg, &open) {
            return Ok(Moved::Stayed);
        }
        let Some(next) = msg
            .provider
            .and_then(|current| self.providers.next_after(current, &open))
        else {
            return Ok(Moved::Stayed);
        };
        let Some(next_provider) = self.providers.get(next) else {
            return Ok(Moved::Stayed);
        };
        let (id, lease) = (msg.id, msg.claimed_until.unwrap_or_default());
        let moved = self
            .db
            .write(move |c| outbox::switch_provider(c, id, lease, next))
            .await?;
        if !moved {
            return Ok(Moved::Superseded);
        }
        tracing::warn!(sms.id = id, from = ?msg.provider, to = %next, "SMS moves to the next provider");
        if let Some(from) = msg.provider {
            telemetry::sms_failover(from, next);
        }
        msg.provider = Some(next);
        msg.provider_tries = 0;
        Ok(Moved::To(next_provider))
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
        let mut retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        if retries.len() < KNOWN_RETRIES {
            retries.push(Reverse(due_ms));
        }
    }

    /// How long an idle worker may sleep: until its next known retry, at most a poll.
    fn idle_wait(&self) -> Duration {
        let now = self.clock.now_ms();
        let mut retries = self.retries.lock().unwrap_or_else(PoisonError::into_inner);
        while retries.peek().is_some_and(|Reverse(due)| *due <= now) {
            retries.pop();
        }
        match retries.peek() {
            Some(Reverse(due)) => POLL.min(Duration::from_millis((due - now) as u64)),
            None => POLL,
        }
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

/// An earlier try of `msg` landed: the first of the provider's `matches` (newest first)
/// whose Sid no other message has is this one. None when every match belongs to another
/// message with the same body (two identical test messages): then this one never left.
fn take_over(
    c: &mut Conn<'_>,
    msg: MessageRow,
    matches: Vec<Listed>,
    now: i64,
) -> Result<Option<Step>, ApiError> {
    let Some(lease) = msg.claimed_until else {
        return Ok(None);
    };
    if !outbox::holds_claim(c, msg.id, lease)? {
        return Ok(Some(superseded(msg.id)));
    }
    let Some(provider) = msg.provider else {
        return Ok(None);
    };
    for found in matches {
        if outbox::find_by_sid(c, provider, &found.id)?.is_none() {
            let accepted = Accepted {
                id: found.id,
                status: found.status,
            };
            let attempt = msg.attempts;
            return handed_over(c, &msg, accepted, attempt, now, true).map(Some);
        }
    }
    Ok(None)
}

/// What `record` decides by: the settings and the failover's view of the providers.
#[derive(Clone)]
struct Rules {
    max_attempts: u32,
    failover: Arc<Failover>,
    providers: Providers,
}

/// Records what happened to one claimed message, if this worker still holds it; for a
/// retry, also when it falls due.
///
/// Long: one match over every way a try ends, so each record sits beside the others.
fn record(
    c: &mut Conn<'_>,
    msg: MessageRow,
    outcome: Outcome,
    rules: &Rules,
    now_ms: i64,
) -> Result<(Step, Option<i64>), ApiError> {
    let id = msg.id;
    let now = now_ms.div_euclid(1000);
    let attempt = msg.attempts + 1;
    let not_sent = match outcome {
        // The common case: its UPDATE checks the claim itself.
        Outcome::HandedOver { accepted, found } => {
            // A provider that had failures works again: its circuit closes (only then
            // is there a write).
            if let Some(p) = msg.provider
                && rules.failover.has_failures(p)
            {
                circuits::record_success(c, p, now)?;
                rules.failover.stale();
            }
            let step = handed_over(c, &msg, accepted, attempt, now, found)?;
            return Ok((step, None));
        }
        Outcome::NotSent(not_sent) => not_sent,
    };
    let lease = msg.claimed_until.unwrap_or_default();
    if !outbox::holds_claim(c, id, lease)? {
        return Ok((superseded(id), None));
    }
    match not_sent {
        NotSent::Retry(reason) => retry(c, &msg, &reason, false, rules, now_ms),
        NotSent::Unavailable(reason) => retry(c, &msg, &reason, true, rules, now_ms),
        NotSent::Rejected { code, message } => {
            // Providers name the number in their errors; the sender may not have masked it.
            let message = mask_numbers(&message);
            if let Some(p) = msg.provider {
                circuits::count_failure(c, p, now)?;
            }
            let open = rules.failover.open(now);
            let next = msg
                .provider
                .filter(|_| rules.failover.moves_on_code(code, &msg, now))
                .and_then(|current| rules.providers.next_after(current, &open));
            if let Some(next) = next
                && outbox::switch_provider(c, id, lease, next)?
            {
                // Refused, so surely not sent: the next provider may try at once.
                let again = RetryLater {
                    attempts: attempt,
                    provider_tries: 0,
                    at_ms: now_ms,
                    not_taken: true,
                };
                outbox::retry_later(c, id, &again, now)?;
                if let Some(from) = msg.provider {
                    telemetry::sms_failover(from, next);
                }
                tracing::warn!(sms.id = id, attempt, ?code, %message, to = %next, "SMS refused by its provider; the next provider tries");
                return Ok((Step::Retrying { id }, Some(now_ms)));
            }
            tracing::warn!(sms.id = id, attempt, ?code, %message, "SMS rejected by the provider");
            failed(c, &msg, attempt, code, now)?;
            Ok((
                Step::Failed {
                    id,
                    error_code: code,
                },
                None,
            ))
        }
        NotSent::Dead => {
            outbox::erase_unsent(c, id, msg.attempts)?;
            // Never handed to anyone: no provider is named for it.
            let msg = MessageRow {
                provider: None,
                ..msg
            };
            delivery::set_status(c, &msg, MessageStatus::Canceled, None, now)?;
            delivery::record_effects(c, &msg, MessageStatus::Canceled, None, now)?;
            telemetry::sms_message(MessageStatus::Canceled);
            tracing::info!(sms.id = id, sms.kind = %msg.kind, "SMS dropped: its code died before it could be sent");
            Ok((Step::Dropped { id }, None))
        }
    }
}

/// A try failed in a way worth trying again: counted against the provider's circuit
/// (shared by every process) and the message's tries there, then scheduled, or failed
/// for good once the message's time or attempts are spent. `not_taken`: the provider
/// said it did not take it, so it is not looked for there next time.
fn retry(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    reason: &str,
    not_taken: bool,
    rules: &Rules,
    now_ms: i64,
) -> Result<(Step, Option<i64>), ApiError> {
    let (id, now, attempt) = (msg.id, now_ms.div_euclid(1000), msg.attempts + 1);
    let reason = mask_numbers(reason);
    if let Some(p) = msg.provider {
        circuits::count_failure(c, p, now)?;
    }
    if let Some(p) = msg.provider
        && circuits::record_failure(c, p, &reason, rules.failover.circuit_failures(), now)?
    {
        tracing::warn!(provider = %p, "SMS provider circuit opened: its messages go to the next provider");
        rules.failover.stale();
    }
    let is_code = msg.code_expires_at.is_some();
    let due = now_ms + backoff_ms(attempt as u32, is_code.then_some(CODE_BACKOFF_CAP_MS));
    // A code is worth trying while it lives; anything else gets its attempts.
    let again = match msg.code_expires_at {
        Some(dies) => due < dies * 1000,
        None => (attempt as u32) < rules.max_attempts,
    };
    if again {
        let later = RetryLater {
            attempts: attempt,
            provider_tries: msg.provider_tries + 1,
            at_ms: due,
            not_taken,
        };
        outbox::retry_later(c, id, &later, now)?;
        tracing::warn!(sms.id = id, attempt, %reason, "SMS send failed; will retry");
        return Ok((Step::Retrying { id }, Some(due)));
    }
    tracing::warn!(sms.id = id, attempt, %reason, "SMS failed for good");
    failed(c, msg, attempt, None, now)?;
    Ok((
        Step::Failed {
            id,
            error_code: None,
        },
        None,
    ))
}

/// The provider has the message: store its Sid and status (the code erased from the
/// body) and apply any report that came before the Sid.
fn handed_over(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    accepted: Accepted,
    attempts: i32,
    now: i64,
    found: bool,
) -> Result<Step, ApiError> {
    let id = msg.id;
    // The code must not outlive its delivery in our database.
    let stored_body = if msg.code_expires_at.is_some() {
        outbox::ERASED_CODE
    } else {
        msg.body.as_str()
    };
    let status = accepted.status;
    let taken = outbox::HandedOver {
        sid: &accepted.id,
        status,
        body: stored_body,
        attempts,
    };
    let lease = msg.claimed_until.unwrap_or_default();
    if outbox::mark_handed_over(c, id, lease, &taken, now)?.is_none() {
        return Ok(superseded(id));
    }
    // Twilio usually answers `queued`: to the user nothing changed, so the record and the
    // live stream are left alone (two writes fewer per message; the record names the
    // provider from its first report on).
    if status != MessageStatus::Queued {
        delivery::show_status(c, msg, status, None, now)?;
    }
    delivery::record_effects(c, msg, status, None, now)?;
    telemetry::sms_message(status);
    if let Some(provider) = msg.provider
        && let Some(early) = delivery::apply_early(c, provider, &accepted.id, now)?
    {
        telemetry::sms_message(early);
    }
    let to = mask_numbers(&msg.to_e164);
    if found {
        tracing::info!(sms.id = id, sms.kind = %msg.kind, %to, "SMS found at the provider from an earlier try; not sent again");
        Ok(Step::Reconciled { id })
    } else {
        tracing::info!(sms.id = id, sms.kind = %msg.kind, %to, "SMS handed to the provider");
        Ok(Step::Sent { id })
    }
}

fn superseded(id: i64) -> Step {
    tracing::warn!(
        sms.id = id,
        "SMS outcome not recorded: the claim ran out and another worker has the message"
    );
    Step::Superseded { id }
}

/// Failed for good: the status, the code erased, the record's history.
fn failed(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    attempts: i32,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    outbox::set_attempts(c, msg.id, attempts)?;
    delivery::set_status(c, msg, MessageStatus::Failed, error_code, now)?;
    // Failed for good: the code must not stay in our database either.
    if msg.code_expires_at.is_some() {
        outbox::erase_code(c, msg.id)?;
    }
    delivery::record_effects(c, msg, MessageStatus::Failed, error_code, now)?;
    telemetry::sms_message(MessageStatus::Failed);
    Ok(())
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
