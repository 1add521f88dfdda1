//! What a try's outcome writes: the message handed over, retried (counted against its
//! provider's circuit), moved on, failed or dropped; each only by a worker still
//! holding its claim.

use std::sync::Arc;

use phonereg_types::MessageStatus;

use super::{
    CODE_BACKOFF_CAP_MS, Step, backoff_ms,
    outcome::{NotSent, Outcome},
};
use crate::{
    domain::phone_number::mask_numbers,
    error::ApiError,
    persistence::{
        Conn, circuits,
        models::MessageRow,
        outbox::{self, RetryLater},
    },
    services::{delivery, failover::Failover},
    sms::{Accepted, Listed, Providers},
    telemetry,
};

/// An earlier try of `msg` landed: the first of the provider's `matches` (newest first)
/// whose Sid no other message has is this one. None when every match belongs to another
/// message with the same body (two identical test messages): then this one never left.
pub(super) fn take_over(
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
pub(super) struct Rules {
    pub(super) max_attempts: u32,
    pub(super) failover: Arc<Failover>,
    pub(super) providers: Providers,
}

/// Records what happened to one claimed message, if this worker still holds it; for a
/// retry, also when it falls due.
///
/// Long: one match over every way a try ends, so each record sits beside the others.
pub(super) fn record(
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
        NotSent::Retry(reason) => retry(c, &msg, &reason, Taken::Maybe, rules, now_ms),
        NotSent::Unavailable(reason) => retry(c, &msg, &reason, Taken::No, rules, now_ms),
        NotSent::Misconfigured(reason) => {
            retry(c, &msg, &reason, Taken::NoAndNeverWill, rules, now_ms)
        }
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

/// Whether a failed try may have left the message with its provider.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Taken {
    /// No clear answer: looked for there before it is sent again.
    Maybe,
    /// The provider said it did not take it.
    No,
    /// The provider refused our configuration: it will refuse every message until an
    /// operator fixes it, so its circuit opens at the first such answer.
    NoAndNeverWill,
}

/// A try failed in a way worth trying again: counted against the provider's circuit
/// (shared by every process) and the message's tries there, then scheduled, or failed
/// for good once the message's time or attempts are spent. A message the provider did
/// not take is not looked for there next time.
fn retry(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    reason: &str,
    taken: Taken,
    rules: &Rules,
    now_ms: i64,
) -> Result<(Step, Option<i64>), ApiError> {
    let (id, now, attempt) = (msg.id, now_ms.div_euclid(1000), msg.attempts + 1);
    let reason = mask_numbers(reason);
    if let Some(p) = msg.provider {
        circuits::count_failure(c, p, now)?;
    }
    let threshold = match taken {
        Taken::NoAndNeverWill => 1,
        Taken::Maybe | Taken::No => rules.failover.circuit_failures(),
    };
    if let Some(p) = msg.provider
        && circuits::record_failure(c, p, &reason, threshold, now)?
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
            not_taken: taken != Taken::Maybe,
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

pub(super) fn superseded(id: i64) -> Step {
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
