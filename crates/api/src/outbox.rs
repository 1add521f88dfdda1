//! The outbox worker: claim a batch of due messages in one transaction, hand them to the
//! provider at the same time, record each outcome as it comes back. [`Outbox::step`] does exactly
//! one message so tests drive it without sleeping; [`Outbox::run`] is the loop the
//! server spawns.

use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use rand::Rng as _;
use tokio::sync::Notify;

use crate::{
    domain::PhoneNumber,
    error::ApiError,
    persistence::{Conn, Db, models::MessageRow, now, outbox},
    services::delivery,
    sms::{Accepted, OutgoingSms, SendError, SmsSender},
    telemetry,
};

/// How long a claimed message is reserved for the worker that claimed it. A worker
/// that dies mid-send frees it after this; the message may then go out twice, which
/// is the price of never losing one.
const LEASE_SECS: i64 = 60;

/// Messages claimed and sent together: one claim per batch instead of one per message
/// keeps the worker from competing with requests for the database; Twilio takes this
/// many requests at once from one account without pushing back.
const BATCH: i64 = 32;

#[derive(Clone)]
pub struct Outbox {
    db: Db,
    sender: Arc<dyn SmsSender>,
    max_attempts: u32,
    /// Poked when a request queues a message, so the worker doesn't wait for its poll.
    pub wake: Arc<Notify>,
}

/// What one step did, for tests and logs.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    Idle,
    Sent { id: i64 },
    Retrying { id: i64 },
    Failed { id: i64, error_code: Option<i64> },
}

/// 2 s doubling per attempt, ±20 % jitter so retries from an outage don't stampede.
pub fn backoff(attempt: u32) -> i64 {
    let base = 2.0 * 2f64.powi(attempt.saturating_sub(1).min(16) as i32);
    let jitter = rand::thread_rng().gen_range(0.8..=1.2);
    (base * jitter).round().max(1.0) as i64
}

impl Outbox {
    pub fn new(db: Db, sender: Arc<dyn SmsSender>, max_attempts: u32) -> Self {
        Self {
            db,
            sender,
            max_attempts,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Sends at most one due message.
    pub async fn step(&self) -> Result<Step, ApiError> {
        Ok(self.step_batch(1).await?.pop().unwrap_or(Step::Idle))
    }

    /// Sends up to `limit` due messages at once; an empty result means none was due.
    pub async fn step_batch(&self, limit: i64) -> Result<Vec<Step>, ApiError> {
        let claimed = self
            .db
            .write(move |c| outbox::claim_due(c, now(), LEASE_SECS, limit))
            .await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        // Each outcome is recorded as soon as its own send returns, not when the slowest
        // of the batch does: a status callback can only be matched once the MessageSid is
        // stored. On SQLite the writer commits these records together anyway.
        let max_attempts = self.max_attempts;
        let work = claimed.into_iter().map(|msg| {
            let sender = Arc::clone(&self.sender);
            let db = self.db.clone();
            async move {
                let sms = OutgoingSms {
                    id: msg.id,
                    to: msg.to_e164.clone(),
                    body: msg.body.clone(),
                };
                let result = sender.send(&sms).await;
                db.write(move |c| record(c, msg, result, max_attempts, now()))
                    .await
            }
        });
        join_all(work).await.into_iter().collect()
    }

    /// The worker loop: drain what is due, then wait for a poke or the next poll.
    pub async fn run(self) {
        loop {
            match self.step_batch(BATCH).await {
                Ok(steps) if steps.is_empty() => {
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "outbox step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Records what the provider said about one claimed message.
fn record(
    c: &mut Conn<'_>,
    msg: MessageRow,
    result: Result<Accepted, SendError>,
    max_attempts: u32,
    now: i64,
) -> Result<Step, ApiError> {
    let id = msg.id;
    let attempt = msg.attempts + 1;
    let to = PhoneNumber::masked(&msg.to_e164);
    match result {
        Ok(accepted) => {
            // The code must not outlive its delivery in our database.
            let stored_body = if outbox::carries_code(&msg.kind) {
                outbox::ERASED_CODE
            } else {
                msg.body.as_str()
            };
            // Messaging Services answer `accepted` (or `scheduled`): for the user that is
            // still "queued", the one word SPEC §7 uses for it.
            let status = match accepted.status.as_str() {
                "accepted" | "scheduled" => "queued",
                other => other,
            };
            outbox::mark_handed_over(c, id, &accepted.sid, status, stored_body, attempt, now)?;
            if let Some(phone_id) = msg.phone_id {
                delivery::record_effects(c, phone_id, &msg.kind, status, None, now)?;
            }
            telemetry::sms_message(&accepted.status);
            tracing::info!(sms.id = id, sms.kind = %msg.kind, %to, "SMS handed to the provider");
            Ok(Step::Sent { id })
        }
        Err(SendError::Retry(reason)) if (attempt as u32) < max_attempts => {
            outbox::retry_later(c, id, attempt, now + backoff(attempt as u32), now)?;
            tracing::warn!(sms.id = id, attempt, %reason, "SMS send failed; will retry");
            Ok(Step::Retrying { id })
        }
        Err(e) => {
            let error_code = match &e {
                SendError::Rejected { code, .. } => *code,
                SendError::Retry(_) => None,
            };
            tracing::warn!(sms.id = id, attempt, error = %e, "SMS failed for good");
            outbox::set_attempts(c, id, attempt)?;
            outbox::set_status(c, id, outbox::FAILED, error_code, now)?;
            // Failed for good: the code must not stay in our database either.
            if outbox::carries_code(&msg.kind) {
                outbox::erase_code(c, id)?;
            }
            if let Some(phone_id) = msg.phone_id {
                delivery::record_effects(c, phone_id, &msg.kind, outbox::FAILED, error_code, now)?;
            }
            telemetry::sms_message(outbox::FAILED);
            Ok(Step::Failed { id, error_code })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_two_seconds_within_jitter() {
        for (attempt, base) in [(1, 2.0), (2, 4.0), (3, 8.0), (5, 32.0)] {
            for _ in 0..50 {
                let b = backoff(attempt) as f64;
                assert!(
                    (base * 0.8 - 0.5..=base * 1.2 + 0.5).contains(&b),
                    "attempt {attempt}: {b}"
                );
            }
        }
    }
}
