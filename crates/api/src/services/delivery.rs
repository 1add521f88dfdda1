//! Delivery reports (Twilio status callbacks): idempotent by `MessageSid`, and statuses
//! only move forward, so repeats and late arrivals change nothing.

use crate::{
    error::ApiError,
    persistence::{Conn, now, outbox, phones},
    sms,
    state::AppState,
    telemetry,
};

/// Twilio's statuses in the order a message moves through them; the final ones share
/// the top rank so one terminal report never overwrites another.
fn rank(status: &str) -> Option<u8> {
    Some(match status {
        "accepted" | "scheduled" | "queued" => 0,
        "sending" => 1,
        "sent" => 2,
        "delivered" | "undelivered" | "failed" | "read" | "canceled" => 3,
        _ => return None,
    })
}

/// Applies one report. Unknown messages and unknown statuses are ignored (204 either
/// way: Twilio must not retry what we cannot use).
pub async fn apply_status(
    state: &AppState,
    sid: String,
    status: String,
    error_code: Option<i64>,
) -> Result<(), ApiError> {
    let Some(new_rank) = rank(&status) else {
        return Ok(());
    };
    let applied = state
        .db
        .write(move |c| {
            let Some(msg) = outbox::find_by_sid(c, &sid)? else {
                return Ok(None);
            };
            if rank(&msg.status).is_some_and(|old| new_rank <= old) {
                return Ok(None);
            }
            let now = now();
            let error_code = error_code.filter(|_| status != "delivered");
            outbox::set_status(c, msg.id, &status, error_code, now)?;
            if let Some(phone_id) = msg.phone_id {
                record_effects(c, phone_id, &msg.kind, &status, error_code, now)?;
            }
            Ok(Some(status))
        })
        .await?;
    if let Some(status) = applied {
        telemetry::sms_message(&status);
    }
    Ok(())
}

/// What a message's new status means for its record: a history entry, and the opt-out
/// flag (a delivery clears it; Twilio 21610, "replied STOP", sets it).
pub fn record_effects(
    c: &mut Conn<'_>,
    phone_id: i64,
    kind: &str,
    status: &str,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    match status {
        "delivered" => {
            phones::add_history(c, phone_id, "delivered", Some(kind), now)?;
            phones::set_opted_out(c, phone_id, false, now)
        }
        "undelivered" | "failed" => {
            let detail = sms::guidance(status, error_code);
            phones::add_history(c, phone_id, "failed", detail, now)?;
            if error_code == Some(21610) {
                phones::set_opted_out(c, phone_id, true, now)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
