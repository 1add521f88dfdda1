//! Delivery reports (Twilio status callbacks): idempotent by `MessageSid`, and statuses
//! only move forward, so repeats and late arrivals change nothing. A report that comes
//! before its Sid is stored (Twilio can be faster than the sender recording Twilio's
//! answer) is kept and applied once the Sid is stored.

use phonereg_types::{HistoryKind, MessageStatus};

use crate::{
    error::ApiError,
    persistence::{
        Conn,
        models::MessageRow,
        outbox::{self, EarlyStatus},
        phones,
    },
    sms,
    state::AppState,
    telemetry,
};

/// Applies one report. Unknown statuses are ignored, reports for a Sid not stored yet
/// are kept for when it is (204 either way: Twilio must not retry what we cannot use).
pub async fn apply_status(
    state: &AppState,
    sid: String,
    status: String,
    error_code: Option<i64>,
) -> Result<(), ApiError> {
    // Twilio's word, read once here; a status this build does not know changes nothing.
    let Some(status) = MessageStatus::from_twilio(&status) else {
        return Ok(());
    };
    let now = state.clock.now();
    let applied = state
        .db
        .write(move |c| match outbox::find_by_sid(c, &sid)? {
            Some(msg) => apply(c, &msg, status, error_code, now),
            None => {
                keep_early(c, &sid, EarlyStatus { status, error_code }, now)?;
                Ok(None)
            }
        })
        .await?;
    if let Some(status) = applied {
        telemetry::sms_message(status);
    }
    Ok(())
}

/// Moves `msg` to `status` if that is a step forward; returns the status applied.
fn apply(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<Option<MessageStatus>, ApiError> {
    // Statuses only move to a later stage (the final ones share the last).
    if msg
        .status()
        .is_some_and(|old| status.stage() <= old.stage())
    {
        return Ok(None);
    }
    let error_code = error_code.filter(|_| status != MessageStatus::Delivered);
    outbox::set_status(c, msg.id, status, error_code, now)?;
    if let Some(phone_id) = msg.phone_id {
        record_effects(c, phone_id, &msg.kind, status, error_code, now)?;
    }
    Ok(Some(status))
}

/// Keeps a report for a Sid not stored yet, unless one as far along is kept already.
fn keep_early(c: &mut Conn<'_>, sid: &str, report: EarlyStatus, now: i64) -> Result<(), ApiError> {
    let kept = outbox::early_status(c, sid)?;
    if kept.is_some_and(|old| old.status.stage() >= report.status.stage()) {
        return Ok(());
    }
    if !outbox::keep_early_status(c, sid, &report, now)? {
        tracing::warn!(
            cap = outbox::EARLY_STATUS_CAP,
            "status callback for an unknown message dropped: too many kept already"
        );
    }
    Ok(())
}

/// The Sid of a message was just stored: a report that came before it applies now.
/// Returns the status applied.
pub fn apply_early(
    c: &mut Conn<'_>,
    sid: &str,
    now: i64,
) -> Result<Option<MessageStatus>, ApiError> {
    let Some(report) = outbox::take_early_status(c, sid)? else {
        return Ok(None);
    };
    match outbox::find_by_sid(c, sid)? {
        Some(msg) => apply(c, &msg, report.status, report.error_code, now),
        None => Ok(None),
    }
}

/// What a message's new status means for its record: a history entry, and the opt-out
/// flag (a delivery clears it; Twilio 21610, "replied STOP", sets it).
pub fn record_effects(
    c: &mut Conn<'_>,
    phone_id: i64,
    kind: &str,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    match status {
        MessageStatus::Delivered => {
            phones::add_history(c, phone_id, HistoryKind::Delivered, Some(kind), now)?;
            phones::set_opted_out(c, phone_id, false, now)
        }
        // A canceled message (its code died before it could leave) is a failure to the
        // user, with guidance to ask for a new code.
        MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Canceled => {
            let detail = sms::guidance(status, error_code);
            phones::add_history(c, phone_id, HistoryKind::Failed, detail, now)?;
            if error_code == Some(21610) {
                phones::set_opted_out(c, phone_id, true, now)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
