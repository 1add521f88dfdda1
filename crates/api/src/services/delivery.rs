//! Delivery reports (Twilio status callbacks): idempotent by `MessageSid`, and statuses
//! only move forward, so repeats and late arrivals change nothing. A report that comes
//! before its Sid is stored (Twilio can be faster than the sender recording Twilio's
//! answer) is kept and applied once the Sid is stored.

use phonereg_types::{HistoryKind, MessageKind, MessageStatus, SecurityEventType};

use crate::{
    clock::Clock,
    domain::Locale,
    error::ApiError,
    persistence::{
        Conn, Db,
        early_statuses::{self, EarlyStatus},
        events,
        models::MessageRow,
        outbox, phones,
    },
    services::audit::{self, Entry, Origin},
    sms,
    telemetry::{self, trace_context},
};

/// Applies delivery reports. Built in `startup` with exactly what it uses.
pub struct Delivery {
    db: Db,
    clock: Clock,
}

/// The phone record a message is about, and the account that owns it.
#[derive(Clone, Copy, Debug)]
pub struct About {
    pub user_id: i64,
    pub phone_id: i64,
}

/// Queues an SMS inside the caller's transaction: the message; and for a message about
/// a record, the record's last message and the owner's live events. The courier is woken
/// by the commit (`persistence::committed`).
#[expect(clippy::too_many_arguments, reason = "one message's facts, all needed")]
pub fn queue(
    c: &mut Conn<'_>,
    about: Option<About>,
    to_e164: &str,
    body: &str,
    kind: MessageKind,
    code_expires_at: Option<i64>,
    locale: Locale,
    now: i64,
) -> Result<i64, ApiError> {
    let phone_id = about.map(|a| a.phone_id);
    // The outbox's span in the request's trace: the row keeps its context, so the
    // courier's delivery and the receipt become its children (telemetry::trace_context).
    let span = tracing::info_span!(
        "sms.queue",
        otel.kind = "producer",
        message.id = tracing::field::Empty
    );
    let _entered = span.enter();
    let id = outbox::insert(
        c,
        phone_id,
        to_e164,
        body,
        kind,
        code_expires_at,
        locale,
        now,
    )?;
    span.record("message.id", id);
    if let Some(About { user_id, phone_id }) = about {
        phones::set_last_message(c, phone_id, id, now)?;
        events::message_changed(c, user_id, phone_id, MessageStatus::Queued, None, now)?;
    }
    Ok(id)
}

/// Message `id` (about record `phone_id`, if any) has a new status: shown on the record
/// when it is still the record's last message, and on the owner's live stream.
pub fn show_status(
    c: &mut Conn<'_>,
    id: i64,
    phone_id: Option<i64>,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let Some(phone_id) = phone_id else {
        return Ok(());
    };
    let owner = match phones::set_last_message_status(c, phone_id, id, status, error_code, now)? {
        Some(user_id) => Some(user_id),
        None => phones::owner(c, phone_id)?,
    };
    match owner {
        Some(user_id) => events::message_changed(c, user_id, phone_id, status, error_code, now),
        None => Ok(()),
    }
}

/// Moves message `id` to `status` and shows it (see [`show_status`]).
pub fn set_status(
    c: &mut Conn<'_>,
    id: i64,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let phone_id = outbox::set_status(c, id, status, error_code, now)?;
    show_status(c, id, phone_id, status, error_code, now)
}

impl Delivery {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// Applies one report. Unknown statuses are ignored, reports for a Sid not stored yet
    /// are kept for when it is (204 either way: Twilio must not retry what we cannot use).
    pub async fn apply_status(
        &self,
        sid: String,
        status: String,
        error_code: Option<i64>,
    ) -> Result<(), ApiError> {
        // Twilio's word, read once here; a status this build does not know changes nothing.
        let Some(status) = MessageStatus::from_twilio(&status) else {
            return Ok(());
        };
        let now = self.clock.now();
        let applied = self
            .db
            .write(move |c| match outbox::find_by_sid(c, &sid)? {
                Some(msg) => {
                    let span = tracing::info_span!(
                        "sms.receipt",
                        message.id = msg.id,
                        status = status.as_str()
                    );
                    trace_context::follow(&span, msg.trace_context.as_deref());
                    span.in_scope(|| apply(c, &msg, status, error_code, now))
                }
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
    if status.stage() <= msg.status.stage() {
        return Ok(None);
    }
    let error_code = error_code.filter(|_| status != MessageStatus::Delivered);
    set_status(c, msg.id, status, error_code, now)?;
    if let Some(phone_id) = msg.phone_id {
        record_effects(c, phone_id, msg.kind, status, error_code, now)?;
    }
    Ok(Some(status))
}

/// Keeps a report for a Sid not stored yet, unless one as far along is kept already.
fn keep_early(c: &mut Conn<'_>, sid: &str, report: EarlyStatus, now: i64) -> Result<(), ApiError> {
    let kept = early_statuses::kept(c, sid)?;
    if kept.is_some_and(|old| old.status.stage() >= report.status.stage()) {
        return Ok(());
    }
    if !early_statuses::keep(c, sid, &report, now)? {
        tracing::warn!(
            cap = early_statuses::CAP,
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
    let Some(report) = early_statuses::take(c, sid)? else {
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
    kind: MessageKind,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    match status {
        MessageStatus::Delivered => {
            phones::add_history(
                c,
                phone_id,
                HistoryKind::Delivered,
                Some(kind.as_str()),
                now,
            )?;
            set_opted_out(c, phone_id, false, now)
        }
        // A canceled message (its code died before it could leave) is a failure to the
        // user, with guidance to ask for a new code.
        MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Canceled => {
            let detail = sms::guidance(status, error_code);
            phones::add_history(c, phone_id, HistoryKind::Failed, detail, now)?;
            if error_code == Some(21610) {
                set_opted_out(c, phone_id, true, now)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The record's opt-out flag, and a live event when it changed.
fn set_opted_out(
    c: &mut Conn<'_>,
    phone_id: i64,
    opted_out: bool,
    now: i64,
) -> Result<(), ApiError> {
    let Some(user_id) = phones::set_opted_out(c, phone_id, opted_out, now)? else {
        return Ok(());
    };
    if opted_out {
        let entry = Entry::system(SecurityEventType::PhoneOptedOut, Some(user_id)).phone(phone_id);
        audit::record(c, &Origin::system(), &entry, now)?;
    }
    events::phone_changed(c, user_id, phone_id, now)
}
