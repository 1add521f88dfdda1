//! The SMS outbox (`sms_messages`). Rows are written in the transaction of the change
//! that causes them and sent later by the courier (`crate::services::courier`).
//!
//! Long: every statement that touches a message's row, from its insert through the
//! courier's claim, hand-over, retries and provider switch to the erasing of its body;
//! kept in one room so the exactly-once conditions (each write only under a live claim)
//! can be read side by side.

use diesel::{OptionalExtension as _, prelude::*};

use super::{
    Conn, KeepPreparedDsl as _, committed,
    models::{CodeRow, MessageRow, NewMessage},
    schema::sms_messages,
    with_conn,
};
use phonereg_types::{Channel, MessageKind, MessageStatus, SmsProviderName};

use crate::{domain::Locale, error::ApiError, telemetry::trace_context};

/// What a code message's stored body becomes once the code must no longer be kept.
pub const ERASED_CODE: &str = "[verification code erased]";

/// Inserts a message due now: what every sender of SMS (codes, notices, test messages)
/// writes. `phone_id` is the record it is about, if any.
///
/// `code_expires_at` is when the code the body carries dies, for a message that carries
/// one (None otherwise): such a message is retried until then and never sent after, its
/// code is erased from the stored body once out, and [`retire_codes`] drops it. `locale`
/// is the language the body was written in.
#[expect(clippy::too_many_arguments, reason = "one message's facts, all needed")]
pub fn insert(
    conn: &mut Conn<'_>,
    phone_id: Option<i64>,
    to_e164: &str,
    body: &str,
    kind: MessageKind,
    code_expires_at: Option<i64>,
    locale: Locale,
    now: i64,
) -> Result<i64, ApiError> {
    let channel = Channel::Sms;
    insert_by(
        conn,
        phone_id,
        to_e164,
        body,
        kind,
        code_expires_at,
        locale,
        channel,
        now,
    )
}

/// [`insert`] by `channel` (SPEC §13: a call, a WhatsApp message).
#[expect(clippy::too_many_arguments, reason = "one message's facts, all needed")]
pub fn insert_by(
    conn: &mut Conn<'_>,
    phone_id: Option<i64>,
    to_e164: &str,
    body: &str,
    kind: MessageKind,
    code_expires_at: Option<i64>,
    locale: Locale,
    channel: Channel,
    now: i64,
) -> Result<i64, ApiError> {
    let trace_context = trace_context::current();
    let new = NewMessage {
        phone_id,
        to_e164,
        body,
        kind,
        channel,
        locale: locale.as_str(),
        status: MessageStatus::Queued,
        next_attempt_ms: now * 1000,
        created_at: now,
        updated_at: now,
        code_expires_at,
        trace_context: trace_context.as_deref(),
    };
    let id: i64 = with_conn!(conn, c => diesel::insert_into(sms_messages::table)
        .values(&new)
        .returning(sms_messages::id)
        .keep_prepared()
        .get_result(c))?;
    committed::note_queued();
    Ok(id)
}

/// A message claimed for sending.
#[derive(Debug)]
pub struct Claimed {
    /// As stored after the claim: `claimed_until` is this claim's lease (and identifies
    /// it), `fingerprint` is set.
    pub msg: MessageRow,
    /// A send was tried before and its outcome is not known: the message may be at the
    /// provider already, so it must be looked for there before any new try.
    pub maybe_sent: bool,
}

/// Claims up to `limit` of the oldest due messages for `lease` seconds and marks them in
/// flight: each gets the `fingerprint` of its body and the provider it goes to
/// (`provider_for`; both kept from an earlier claim if it had them) before anything is
/// sent, in the one UPDATE the claim writes anyway. A message counts as handed over once it has a provider
/// id, so it is never claimed again. PostgreSQL skips rows other processes hold (`FOR
/// UPDATE SKIP LOCKED`); SQLite has one writer at a time anyway.
pub fn claim_due(
    conn: &mut Conn<'_>,
    now_ms: i64,
    lease: i64,
    limit: i64,
    fingerprint: impl Fn(&str) -> String,
    provider_for: impl Fn(&str) -> SmsProviderName,
) -> Result<Vec<Claimed>, ApiError> {
    let now = now_ms.div_euclid(1000);
    // The status is a literal, not a bound parameter: a generic PostgreSQL plan cannot
    // match a parameter to the partial index `sms_messages_queued` and walked every sent
    // message instead (7 ms a claim at 20 000 messages).
    let queued = diesel::dsl::sql::<diesel::sql_types::Bool>("status = 'queued'");
    // A macro, not a variable: the select's backend type is fixed where it is used.
    macro_rules! due {
        () => {
            sms_messages::table
                .filter(queued)
                .filter(sms_messages::provider_sid.is_null())
                .filter(sms_messages::next_attempt_ms.le(now_ms))
                .filter(
                    sms_messages::claimed_until
                        .is_null()
                        .or(sms_messages::claimed_until.lt(now)),
                )
                .order(sms_messages::id)
                .limit(limit)
                .select(MessageRow::as_select())
        };
    }
    // Kept prepared: diesel re-prepares any query with a bound LIMIT (once per claim,
    // which on SQLite runs on the writer thread); this one's SQL never varies.
    let rows = match conn {
        Conn::Sqlite(c) => due!().keep_prepared().load(*c)?,
        Conn::Postgres(c) => due!().for_update().skip_locked().keep_prepared().load(*c)?,
    };
    let until = now + lease;
    let mut claimed = Vec::with_capacity(rows.len());
    for mut msg in rows {
        // A lease that ran out (its holder died) counts as a send that may have landed,
        // like a failed try: both left a fingerprint.
        let maybe_sent = msg.fingerprint.is_some();
        let print = msg
            .fingerprint
            .take()
            .unwrap_or_else(|| fingerprint(&msg.body));
        let provider = msg.provider.unwrap_or_else(|| provider_for(&msg.to_e164));
        // One prepared statement per row rather than one `IN (…)` list per batch: the
        // list's SQL varies with its length and would be planned afresh every time.
        with_conn!(conn, c => diesel::update(sms_messages::table.find(msg.id))
            .set((
                sms_messages::claimed_until.eq(Some(until)),
                sms_messages::fingerprint.eq(Some(&print)),
                sms_messages::provider.eq(Some(provider)),
            ))
            .keep_prepared()
            .execute(c))?;
        msg.claimed_until = Some(until);
        msg.fingerprint = Some(print);
        msg.provider = Some(provider);
        claimed.push(Claimed { msg, maybe_sent });
    }
    Ok(claimed)
}

/// Whether the claim whose lease is `lease` still holds message `id`: a worker whose
/// lease ran out (it stalled, or its answer came late) must not record anything, since
/// another may have taken the message over. On PostgreSQL the row stays locked until
/// the caller's transaction ends, so nobody takes it over meanwhile.
pub fn holds_claim(conn: &mut Conn<'_>, id: i64, lease: i64) -> Result<bool, ApiError> {
    macro_rules! held {
        () => {
            sms_messages::table
                .filter(sms_messages::id.eq(id))
                .filter(sms_messages::claimed_until.eq(Some(lease)))
                .filter(sms_messages::provider_sid.is_null())
                .select(sms_messages::id)
        };
    }
    let found: Option<i64> = match conn {
        Conn::Sqlite(c) => held!().keep_prepared().get_result(*c).optional()?,
        Conn::Postgres(c) => held!().for_update().get_result(*c).optional()?,
    };
    Ok(found.is_some())
}

/// Moves a message to `status`; returns the record it is about, if any.
pub fn set_status(
    conn: &mut Conn<'_>,
    id: i64,
    status: MessageStatus,
    error_code: Option<i64>,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((
            sms_messages::status.eq(status.as_str()),
            sms_messages::error_code.eq(error_code),
            sms_messages::claimed_until.eq(None::<i64>),
            sms_messages::updated_at.eq(now),
        ))
        .returning(sms_messages::phone_id)
        .keep_prepared()
        .get_result(c))?,
    )
}

/// What the provider said when it took a message, and what is kept of the message.
pub struct HandedOver<'a> {
    pub sid: &'a str,
    pub status: MessageStatus,
    /// The stored body from now on (a code message's, erased).
    pub body: &'a str,
    pub attempts: i32,
}

/// Records the provider's acceptance, if the claim whose lease is `lease` still holds
/// the message: then returns `Some` of the record it is about (if any); None when
/// another worker took it over and nothing was written. One guarded UPDATE: this runs
/// for every message sent.
pub fn mark_handed_over(
    conn: &mut Conn<'_>,
    id: i64,
    lease: i64,
    taken: &HandedOver<'_>,
    now: i64,
) -> Result<Option<Option<i64>>, ApiError> {
    with_conn!(conn, c => diesel::update(sms_messages::table
        .filter(sms_messages::id.eq(id))
        .filter(sms_messages::claimed_until.eq(Some(lease)))
        .filter(sms_messages::provider_sid.is_null()))
        .set((
            sms_messages::provider_sid.eq(Some(taken.sid)),
            sms_messages::body.eq(taken.body),
            sms_messages::attempts.eq(taken.attempts),
            sms_messages::status.eq(taken.status.as_str()),
            sms_messages::error_code.eq(None::<i64>),
            sms_messages::claimed_until.eq(None::<i64>),
            sms_messages::updated_at.eq(now),
        ))
        .returning(sms_messages::phone_id)
        .keep_prepared()
        .get_result(c)
        .optional())
    .map_err(|e| {
        // The provider gave an id another message already has (a gateway's bug): the
        // caller learns it apart from other failures.
        if super::is_unique_violation(&e, "provider_sid") {
            ApiError::Conflict("the provider's message id is taken".into())
        } else {
            e.into()
        }
    })
}

/// The next try of a message whose try failed in a way worth trying again.
pub struct RetryLater {
    pub attempts: i32,
    /// Failures at its current provider so far.
    pub provider_tries: i32,
    pub at_ms: i64,
    /// The provider said it did not take the message: it is not looked for there before
    /// the next try (its fingerprint goes, and comes back with the next claim).
    pub not_taken: bool,
}

/// Schedules another try.
pub fn retry_later(
    conn: &mut Conn<'_>,
    id: i64,
    retry: &RetryLater,
    now: i64,
) -> Result<(), ApiError> {
    // Both forms keep one prepared statement each: the fingerprint is set or left.
    if retry.not_taken {
        with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
            .set((
                sms_messages::attempts.eq(retry.attempts),
                sms_messages::provider_tries.eq(retry.provider_tries),
                sms_messages::next_attempt_ms.eq(retry.at_ms),
                sms_messages::claimed_until.eq(None::<i64>),
                sms_messages::fingerprint.eq(None::<String>),
                sms_messages::updated_at.eq(now),
            ))
            .keep_prepared()
            .execute(c))?;
    } else {
        with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
            .set((
                sms_messages::attempts.eq(retry.attempts),
                sms_messages::provider_tries.eq(retry.provider_tries),
                sms_messages::next_attempt_ms.eq(retry.at_ms),
                sms_messages::claimed_until.eq(None::<i64>),
                sms_messages::updated_at.eq(now),
            ))
            .keep_prepared()
            .execute(c))?;
    }
    Ok(())
}

/// Moves a claimed message to `provider` (failover), if the claim whose lease is
/// `lease` still holds it; false when another worker took it over. Written before the
/// new provider is tried, so a crash mid-send looks the message up where it went.
pub fn switch_provider(
    conn: &mut Conn<'_>,
    id: i64,
    lease: i64,
    provider: SmsProviderName,
) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(sms_messages::table
        .filter(sms_messages::id.eq(id))
        .filter(sms_messages::claimed_until.eq(Some(lease)))
        .filter(sms_messages::provider_sid.is_null()))
        .set((
            sms_messages::provider.eq(Some(provider)),
            sms_messages::provider_tries.eq(0),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(n == 1)
}

/// The message `provider` knows as `sid`.
pub fn find_by_sid(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
) -> Result<Option<MessageRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_messages::table
        .filter(sms_messages::provider.eq(provider))
        .filter(sms_messages::provider_sid.eq(sid))
        .select(MessageRow::as_select())
        .load(c))?
    .into_iter()
    .next())
}

pub fn set_attempts(conn: &mut Conn<'_>, id: i64, attempts: i32) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set(sms_messages::attempts.eq(attempts))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Erases the code from one message's stored body (a code message that failed for good).
pub fn erase_code(conn: &mut Conn<'_>, id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set(sms_messages::body.eq(ERASED_CODE))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// The record's code of this `kind` died (replaced, or verified): no stored message
/// keeps it, and none is sent any more. A message never tried is canceled at once; one
/// that was tried (being sent right now, or possibly at the provider) keeps its body and
/// only learns that its code is dead: the worker then records it as sent if the
/// provider has it, and cancels it if not. The others only lose the code from their body.
///
/// One statement keyed by `phone_id`, written as SQL: split into diesel's UPDATEs, the
/// one on unsent messages (`provider_sid IS NULL`) made SQLite's planner walk every
/// unsent message of every record through the `provider_sid` index, which halved
/// send-code throughput with a backlog in the queue.
pub fn retire_codes(
    conn: &mut Conn<'_>,
    phone_id: i64,
    kind: MessageKind,
    now: i64,
) -> Result<(), ApiError> {
    retire_codes_with(conn, phone_id, kind, now, None)
}

/// What happens to a phone record's code beside [`retire_codes`] of its messages.
pub enum NewCode<'a> {
    /// A new code replaces it (a resend).
    Replace(&'a CodeRow),
    /// It was used (a verify).
    Delete,
}

/// [`retire_codes`] of the record's `CODE_KIND` messages and its code replaced or
/// deleted (`codes::replace`, `codes::delete`). PostgreSQL: one statement, the code's
/// write a CTE of the messages' UPDATE (the two tables never meet, and the record's lock
/// is held); SQLite: two statements.
pub fn retire_codes_and(
    conn: &mut Conn<'_>,
    phone_id: i64,
    now: i64,
    code: NewCode<'_>,
) -> Result<(), ApiError> {
    let kind = super::codes::CODE_KIND;
    if !conn.is_postgres() {
        retire_codes(conn, phone_id, kind, now)?;
        return match code {
            NewCode::Replace(row) => super::codes::replace(conn, row),
            NewCode::Delete => super::codes::delete(conn, phone_id),
        };
    }
    retire_codes_with(conn, phone_id, kind, now, Some(code))
}

fn retire_codes_with(
    conn: &mut Conn<'_>,
    phone_id: i64,
    kind: MessageKind,
    now: i64,
    code: Option<NewCode<'_>>,
) -> Result<(), ApiError> {
    let unsent = "status = 'queued' AND provider_sid IS NULL";
    let p = |n: u8| match conn {
        Conn::Sqlite(_) => format!("?{n}"),
        Conn::Postgres(_) => format!("${n}"),
    };
    // PostgreSQL only (`retire_codes_and`): $3 is the record's id.
    let cte = match &code {
        None => "",
        Some(NewCode::Delete) => {
            "WITH code AS (DELETE FROM verification_codes WHERE phone_id = $3) "
        }
        Some(NewCode::Replace(_)) => {
            "WITH code AS (INSERT INTO verification_codes AS v \
               (phone_id, e164, code_hash, attempts_left, expires_at, resend_after, sent, created_at, \
                code_sealed, channels) \
               VALUES ($3, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
               ON CONFLICT (phone_id) DO UPDATE SET e164 = excluded.e164, \
               code_hash = excluded.code_hash, attempts_left = excluded.attempts_left, \
               expires_at = excluded.expires_at, resend_after = excluded.resend_after, \
               sent = excluded.sent, created_at = excluded.created_at, \
               code_sealed = excluded.code_sealed, channels = excluded.channels) "
        }
    };
    let sql = format!(
        "{cte}UPDATE sms_messages SET \
           status = CASE WHEN {unsent} AND fingerprint IS NULL THEN '{canceled}' ELSE status END, \
           updated_at = CASE WHEN {unsent} AND fingerprint IS NULL THEN {now} ELSE updated_at END, \
           body = CASE WHEN {unsent} AND fingerprint IS NOT NULL THEN body ELSE {body} END, \
           code_expires_at = CASE WHEN code_expires_at > {now} THEN {now} ELSE code_expires_at END \
         WHERE phone_id = {phone} AND kind = {kind} AND code_expires_at IS NOT NULL \
           AND (body <> {body} OR code_expires_at > {now})",
        now = p(1),
        body = p(2),
        phone = p(3),
        kind = p(4),
        canceled = MessageStatus::Canceled.as_str(),
    );
    macro_rules! run {
        ($c:expr) => {{
            let mut query = diesel::sql_query(sql.as_str())
                .into_boxed()
                .bind::<diesel::sql_types::BigInt, _>(now)
                .bind::<diesel::sql_types::Text, _>(ERASED_CODE)
                .bind::<diesel::sql_types::BigInt, _>(phone_id)
                .bind::<diesel::sql_types::Text, _>(kind.as_str());
            if let Some(NewCode::Replace(row)) = &code {
                query = query
                    .bind::<diesel::sql_types::Text, _>(row.e164.as_str())
                    .bind::<diesel::sql_types::Text, _>(row.code_hash.as_str())
                    .bind::<diesel::sql_types::Integer, _>(row.attempts_left)
                    .bind::<diesel::sql_types::BigInt, _>(row.expires_at)
                    .bind::<diesel::sql_types::BigInt, _>(row.resend_after)
                    .bind::<diesel::sql_types::Bool, _>(row.sent)
                    .bind::<diesel::sql_types::BigInt, _>(row.created_at)
                    .bind::<diesel::sql_types::Nullable<diesel::sql_types::Text>, _>(
                        row.code_sealed.as_deref(),
                    )
                    .bind::<diesel::sql_types::Text, _>(row.channels.as_str());
            }
            query.keep_prepared().execute($c)?
        }};
    }
    match conn {
        Conn::Sqlite(c) => run!(*c),
        Conn::Postgres(c) => run!(*c),
    };
    Ok(())
}

/// A message that will never be sent (its code died first): its code erased, its
/// attempts recorded; the caller sets it [`CANCELED`].
pub fn erase_unsent(conn: &mut Conn<'_>, id: i64, attempts: i32) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((sms_messages::body.eq(ERASED_CODE), sms_messages::attempts.eq(attempts)))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Empties the bodies of messages that are past any use for them (handed to the
/// provider, or failed for good) and were last touched before `before`: the stored text
/// of an SMS is personal data nobody needs once it is out.
pub fn prune_bodies(conn: &mut Conn<'_>, before: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(sms_messages::table
        .filter(
            sms_messages::provider_sid
                .is_not_null()
                .or(sms_messages::status.eq_any([
                    MessageStatus::Failed.as_str(),
                    MessageStatus::Canceled.as_str(),
                ])),
        )
        .filter(sms_messages::updated_at.lt(before))
        .filter(sms_messages::body.ne("")))
        .set(sms_messages::body.eq(""))
        .execute(c))?)
}

/// The SMS not yet handed to the provider, for the `/metrics` gauges.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Due now and claimed by no courier: a growing count means sending lags.
    pub due: i64,
    /// Claimed by a courier whose lease is running: being sent.
    pub in_flight: i64,
    /// Waiting for their next try (a retry's backoff).
    pub waiting: i64,
}

/// Counts the queued messages without a provider id by where they stand at `now_ms`.
pub fn backlog(conn: &mut Conn<'_>, now_ms: i64) -> Result<Backlog, ApiError> {
    let now = now_ms.div_euclid(1000);
    // A literal status, as in `claim_due`, so PostgreSQL uses the partial index.
    macro_rules! unsent {
        () => {
            sms_messages::table
                .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "status = 'queued'",
                ))
                .filter(sms_messages::provider_sid.is_null())
        };
    }
    let in_flight: i64 = with_conn!(conn, c => unsent!()
        .filter(sms_messages::claimed_until.ge(now))
        .count()
        .get_result(c))?;
    let due: i64 = with_conn!(conn, c => unsent!()
        .filter(sms_messages::next_attempt_ms.le(now_ms))
        .filter(sms_messages::claimed_until.is_null().or(sms_messages::claimed_until.lt(now)))
        .count()
        .get_result(c))?;
    let waiting: i64 = with_conn!(conn, c => unsent!()
        .filter(sms_messages::next_attempt_ms.gt(now_ms))
        .filter(sms_messages::claimed_until.is_null().or(sms_messages::claimed_until.lt(now)))
        .count()
        .get_result(c))?;
    Ok(Backlog {
        due,
        in_flight,
        waiting,
    })
}
