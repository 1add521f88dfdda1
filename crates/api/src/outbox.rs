//! The outbox worker: claim one due message, hand it to the provider, record what
//! happened. [`Outbox::step`] does exactly one message so tests drive it without
//! sleeping; [`Outbox::run`] is the loop the server spawns.

use std::{sync::Arc, time::Duration};

use rand::Rng as _;
use tokio::sync::Notify;

use crate::{
    domain::PhoneNumber,
    error::ApiError,
    persistence::{Db, now, outbox, phones},
    sms::{self, OutgoingSms, SendError, SmsSender},
    telemetry,
};

/// How long a claimed message is reserved for the worker that claimed it. A worker
/// that dies mid-send frees it after this; the message may then go out twice, which
/// is the price of never losing one.
const LEASE_SECS: i64 = 60;

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
        let claimed = self
            .db
            .write(move |c| outbox::claim_due(c, now(), LEASE_SECS))
            .await?;
        let Some(msg) = claimed else {
            return Ok(Step::Idle);
        };
        let attempt = msg.attempts + 1;
        let sms = OutgoingSms {
            id: msg.id,
            to: msg.to_e164.clone(),
            body: msg.body.clone(),
        };
        let result = self.sender.send(&sms).await;
        let (id, phone_id, kind) = (msg.id, msg.phone_id, msg.kind.clone());
        match result {
            Ok(accepted) => {
                // The code must not outlive its delivery in our database.
                let stored_body = if kind == "code" {
                    "[verification code erased after sending]".to_owned()
                } else {
                    msg.body.clone()
                };
                // Messaging Services answer `accepted` (or `scheduled`): for the user
                // that is still "queued", the one word SPEC §7 uses for it.
                let status = match accepted.status.as_str() {
                    "accepted" | "scheduled" => "queued".to_owned(),
                    other => other.to_owned(),
                };
                self.db
                    .write(move |c| {
                        let now = now();
                        outbox::mark_handed_over(
                            c,
                            id,
                            &accepted.sid,
                            &status,
                            &stored_body,
                            attempt,
                            now,
                        )?;
                        if let (Some(phone_id), "delivered") = (phone_id, status.as_str()) {
                            phones::add_history(c, phone_id, "delivered", Some(&kind), now)?;
                            phones::set_opted_out(c, phone_id, false, now)?;
                        }
                        Ok(())
                    })
                    .await?;
                telemetry::sms_message(&accepted.status);
                tracing::info!(sms.id = id, sms.kind = %msg.kind, to = %PhoneNumber::masked(&msg.to_e164), "SMS handed to the provider");
                Ok(Step::Sent { id })
            }
            Err(SendError::Retry(reason)) if (attempt as u32) < self.max_attempts => {
                let at = now() + backoff(attempt as u32);
                self.db
                    .write(move |c| outbox::retry_later(c, id, attempt, at, now()))
                    .await?;
                tracing::warn!(sms.id = id, attempt, %reason, "SMS send failed; will retry");
                Ok(Step::Retrying { id })
            }
            Err(e) => {
                let error_code = match &e {
                    SendError::Rejected { code, .. } => *code,
                    SendError::Retry(_) => None,
                };
                tracing::warn!(sms.id = id, attempt, error = %e, "SMS failed for good");
                self.db
                    .write(move |c| record_failure(c, id, phone_id, attempt, error_code, now()))
                    .await?;
                telemetry::sms_message("failed");
                Ok(Step::Failed { id, error_code })
            }
        }
    }

    /// The worker loop: drain what is due, then wait for a poke or the next poll.
    pub async fn run(self) {
        loop {
            match self.step().await {
                Ok(Step::Idle) => {
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

/// A message failed: record the code, the history entry, and an opt-out (21610).
pub fn record_failure(
    conn: &mut crate::persistence::Conn<'_>,
    id: i64,
    phone_id: Option<i64>,
    attempts: i32,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    outbox::set_attempts(conn, id, attempts)?;
    outbox::set_status(conn, id, outbox::FAILED, error_code, now)?;
    if let Some(phone_id) = phone_id {
        let detail = sms::guidance(outbox::FAILED, error_code);
        phones::add_history(conn, phone_id, "failed", detail, now)?;
        if error_code == Some(21610) {
            phones::set_opted_out(conn, phone_id, true, now)?;
        }
    }
    Ok(())
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
