//! Delivery reports (providers' receipts, read by their provider in `sms`): idempotent
//! by the provider's message id, and statuses only move forward, so repeats and late
//! arrivals change nothing. A report that comes before its id is stored (a provider can
//! be faster than the sender recording its answer) is kept and applied once it is.

use phonereg_types::{
    Channel, HistoryKind, MessageKind, MessageStatus, SecurityEventType, SmsProviderName,
    WebhookEventType,
};

use crate::{
    clock::Clock,
    domain::Locale,
    error::ApiError,
    persistence::{
        Conn, Db,
        early_statuses::{self, EarlyStatus},
        events::{self, MessageFact},
        models::MessageRow,
        outbox, phones,
    },
    services::{
        audit::{self, Entry, Origin},
        webhooks::outbox as webhook_outbox,
    },
    sms::{self, Providers, Receipt, ReceiptError, ReceiptRequest},
    telemetry::{self, trace_context},
};

/// Applies delivery reports. Built in `startup` with exactly what it uses.
pub struct Delivery {
    db: Db,
    clock: Clock,
    /// Each reads its own receipts.
    providers: Providers,
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
    queue_by(
        c,
        about,
        to_e164,
        body,
        kind,
        code_expires_at,
        locale,
        Channel::Sms,
        now,
    )
}

/// [`queue`] by `channel` (SPEC §13): a code's call or WhatsApp message. `body` is what
/// the channel carries: the spoken sentence of a call, the bare code of a WhatsApp
/// template.
#[expect(clippy::too_many_arguments, reason = "one message's facts, all needed")]
pub fn queue_by(
    c: &mut Conn<'_>,
    about: Option<About>,
    to_e164: &str,
    body: &str,
    kind: MessageKind,
    code_expires_at: Option<i64>,
    locale: Locale,
    channel: Channel,
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
    let id = outbox::insert_by(
        c,
        phone_id,
        to_e164,
        body,
        kind,
        code_expires_at,
        locale,
        channel,
        now,
    )?;
    span.record("message.id", id);
    if let Some(About { user_id, phone_id }) = about {
        phones::set_last_message(c, phone_id, id, channel, now)?;
        let fact = MessageFact {
            phone_id,
            status: MessageStatus::Queued,
            error_code: None,
            provider: None,
            channel: Some(channel),
        };
        events::message_changed(c, user_id, &fact, now)?;
    }
    Ok(id)
}

/// `msg` has a new status: shown on its record when it is still the record's last
/// message, and on the owner's live stream.
pub fn show_status(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let Some(phone_id) = msg.phone_id else {
        return Ok(());
    };
    let shown = phones::set_last_message_status(
        c,
        phone_id,
        msg.id,
        status,
        error_code,
        msg.provider,
        now,
    )?;
    let owner = match shown {
        Some(user_id) => Some(user_id),
        None => phones::owner(c, phone_id)?,
    };
    let Some(user_id) = owner else {
        return Ok(());
    };
    let fact = MessageFact {
        phone_id,
        status,
        error_code,
        provider: msg.provider,
        channel: Some(msg.channel),
    };
    events::message_changed(c, user_id, &fact, now)
}

/// Moves `msg` to `status` and shows it (see [`show_status`]).
pub fn set_status(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    outbox::set_status(c, msg.id, status, error_code, now)?;
    show_status(c, msg, status, error_code, now)
}

impl Delivery {
    pub fn new(db: Db, clock: Clock, providers: Providers) -> Self {
        Self {
            db,
            clock,
            providers,
        }
    }

    /// A receipt request posted to `provider`'s webhook: read and checked by that
    /// provider, then applied. A provider that is not configured signs nothing we trust.
    pub async fn receive(
        &self,
        provider: SmsProviderName,
        request: &ReceiptRequest<'_>,
    ) -> Result<(), ApiError> {
        let read = match self.providers.get(provider) {
            Some(p) => p.receipts(request),
            None => Err(ReceiptError::BadSignature),
        };
        let receipts = match read {
            Ok(receipts) => receipts,
            Err(ReceiptError::BadSignature) => {
                tracing::warn!(%provider, "delivery receipt with a bad signature refused");
                return Err(ApiError::Forbidden);
            }
            Err(ReceiptError::UnsupportedMediaType) => return Err(ApiError::UnsupportedMediaType),
            Err(ReceiptError::Malformed(why)) => return Err(ApiError::BadRequest(why)),
        };
        for receipt in receipts {
            self.apply_receipt(provider, receipt).await?;
        }
        Ok(())
    }

    /// Applies one report. Reports for an id not stored yet are kept for when it is
    /// (204 either way: the provider must not retry what we cannot use).
    pub async fn apply_receipt(
        &self,
        provider: SmsProviderName,
        receipt: Receipt,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        let applied = self
            .db
            .write(move |c| apply_receipt(c, provider, &receipt, now))
            .await?;
        if let Some(status) = applied {
            telemetry::sms_message(status);
        }
        Ok(())
    }
}

/// Applies one of `provider`'s receipts in the caller's transaction, or keeps it for
/// when its id is stored. Returns the status applied.
pub fn apply_receipt(
    c: &mut Conn<'_>,
    provider: SmsProviderName,
    receipt: &Receipt,
    now: i64,
) -> Result<Option<MessageStatus>, ApiError> {
    let (status, error_code) = (receipt.status, receipt.error_code);
    match outbox::find_by_sid(c, provider, &receipt.id)? {
        Some(msg) => {
            let span =
                tracing::info_span!("sms.receipt", message.id = msg.id, status = status.as_str());
            trace_context::follow(&span, msg.trace_context.as_deref());
            span.in_scope(|| apply(c, &msg, status, error_code, now))
        }
        None => {
            let report = EarlyStatus { status, error_code };
            keep_early(c, provider, &receipt.id, report, now)?;
            Ok(None)
        }
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
    set_status(c, msg, status, error_code, now)?;
    record_effects(c, msg, status, error_code, now)?;
    Ok(Some(status))
}

/// Keeps a report for an id not stored yet, unless one as far along is kept already.
fn keep_early(
    c: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
    report: EarlyStatus,
    now: i64,
) -> Result<(), ApiError> {
    let kept = early_statuses::kept(c, provider, sid)?;
    if kept.is_some_and(|old| old.status.stage() >= report.status.stage()) {
        return Ok(());
    }
    if !early_statuses::keep(c, provider, sid, &report, now)? {
        tracing::warn!(
            cap = early_statuses::CAP,
            "status callback for an unknown message dropped: too many kept already"
        );
    }
    Ok(())
}

/// `provider`'s id of a message was just stored: a report that came before it applies
/// now. Returns the status applied.
pub fn apply_early(
    c: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
    now: i64,
) -> Result<Option<MessageStatus>, ApiError> {
    let Some(report) = early_statuses::take(c, provider, sid)? else {
        return Ok(None);
    };
    match outbox::find_by_sid(c, provider, sid)? {
        Some(msg) => apply(c, &msg, report.status, report.error_code, now),
        None => Ok(None),
    }
}

/// What a message's new status means for its record, if it is about one: a history
/// entry naming who carried it, and the opt-out flag (a delivery clears it; 21610,
/// "replied STOP", sets it).
pub fn record_effects(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    message_webhook(c, msg, status, error_code, now)?;
    let Some(phone_id) = msg.phone_id else {
        return Ok(());
    };
    let kind: MessageKind = msg.kind;
    let via = (msg.provider, msg.channel);
    match status {
        MessageStatus::Delivered => {
            let detail = Some(kind.as_str());
            phones::add_message_history(c, phone_id, HistoryKind::Delivered, detail, via, now)?;
            set_opted_out(c, phone_id, false, now)
        }
        // A canceled message (its code died before it could leave) is a failure to the
        // user, with guidance to ask for a new code.
        MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Canceled => {
            let detail = sms::guidance_by(Some(msg.channel), status, error_code);
            phones::add_message_history(c, phone_id, HistoryKind::Failed, detail, via, now)?;
            if error_code == Some(sms::OPTED_OUT) {
                set_opted_out(c, phone_id, true, now)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `sms.delivered` or `sms.failed` (SPEC §12) for a message that reached a final status:
/// its id, number, kind and status, never its body.
fn message_webhook(
    c: &mut Conn<'_>,
    msg: &MessageRow,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let kind = match status {
        MessageStatus::Delivered => WebhookEventType::SmsDelivered,
        MessageStatus::Undelivered | MessageStatus::Failed => WebhookEventType::SmsFailed,
        _ => return Ok(()),
    };
    let mut data = serde_json::Map::new();
    data.insert("message_id".into(), msg.id.into());
    data.insert("to".into(), msg.to_e164.clone().into());
    data.insert("kind".into(), msg.kind.as_str().into());
    data.insert("status".into(), status.as_str().into());
    data.insert("error_code".into(), error_code.into());
    if let Some(provider) = msg.provider {
        data.insert("provider".into(), provider.as_str().into());
    }
    webhook_outbox::emit(c, kind, None, msg.phone_id, &data, now)
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
