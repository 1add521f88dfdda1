//! The SMS outbox (`sms_messages`). Rows are written in the transaction of the change
//! that causes them and sent later by the worker (`crate::outbox`).

use diesel::prelude::*;

use super::{
    Conn, KeepPreparedDsl as _, events,
    models::{MessageRow, NewMessage},
    schema::{phone_numbers, sms_messages},
    with_conn,
};
use crate::{domain::Locale, error::ApiError};

pub const QUEUED: &str = "queued";
pub const FAILED: &str = "failed";
/// What a code message's stored body becomes once the code must no longer be kept.
pub const ERASED_CODE: &str = "[verification code erased]";

/// Whether messages of `kind` carry a code, which must not outlive its use.
pub fn carries_code(kind: &str) -> bool {
    matches!(
        kind,
        "code" | "sign_in_code" | "password_reset_code" | "two_factor_code" | "login_code"
    )
}

/// The phone record a message is about, and the account that owns it.
#[derive(Clone, Copy, Debug)]
pub struct About {
    pub user_id: i64,
    pub phone_id: i64,
}

/// Queues a message due now: what every sender of SMS (codes, notices, test messages)
/// writes. A message about a record becomes that record's last message.
pub fn queue(
    conn: &mut Conn<'_>,
    about: Option<About>,
    to_e164: &str,
    body: &str,
    kind: &str,
    locale: Locale,
    now: i64,
) -> Result<i64, ApiError> {
    let new = NewMessage {
        phone_id: about.map(|a| a.phone_id),
        to_e164,
        body,
        kind,
        locale: locale.as_str(),
        status: QUEUED,
        next_attempt_at: now,
        created_at: now,
        updated_at: now,
    };
    let id: i64 = with_conn!(conn, c => diesel::insert_into(sms_messages::table)
        .values(&new)
        .returning(sms_messages::id)
        .keep_prepared()
        .get_result(c))?;
    if let Some(About { user_id, phone_id }) = about {
        with_conn!(conn, c => diesel::update(phone_numbers::table.find(phone_id))
            .set((
                phone_numbers::last_message_id.eq(Some(id)),
                phone_numbers::last_message_status.eq(Some(QUEUED)),
                phone_numbers::last_message_error.eq(None::<i64>),
                phone_numbers::last_message_at.eq(Some(now)),
            ))
            .keep_prepared()
            .execute(c))?;
        events::message_changed(conn, user_id, phone_id, QUEUED, None, now)?;
    }
    Ok(id)
}

/// Claims up to `limit` of the oldest due messages for `lease` seconds. A message counts
/// as handed over once it has a provider id, so it is never claimed again. PostgreSQL
/// skips rows other processes hold (`FOR UPDATE SKIP LOCKED`); SQLite has one writer at a
/// time anyway.
pub fn claim_due(
    conn: &mut Conn<'_>,
    now: i64,
    lease: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, ApiError> {
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
                .filter(sms_messages::next_attempt_at.le(now))
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
    let mut rows = match conn {
        Conn::Sqlite(c) => due!().load(*c)?,
        Conn::Postgres(c) => due!().for_update().skip_locked().load(*c)?,
    };
    if rows.is_empty() {
        return Ok(rows);
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    with_conn!(conn, c => diesel::update(sms_messages::table.filter(sms_messages::id.eq_any(&ids)))
        .set(sms_messages::claimed_until.eq(Some(now + lease)))
        .execute(c))?;
    for row in &mut rows {
        row.claimed_until = Some(now + lease);
    }
    Ok(rows)
}

/// Moves a message to `status` and mirrors it on its phone when it is the last one.
pub fn set_status(
    conn: &mut Conn<'_>,
    id: i64,
    status: &str,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let phone_id: Option<i64> = with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((
            sms_messages::status.eq(status),
            sms_messages::error_code.eq(error_code),
            sms_messages::claimed_until.eq(None::<i64>),
            sms_messages::updated_at.eq(now),
        ))
        .returning(sms_messages::phone_id)
        .keep_prepared()
        .get_result(c))?;
    mirror(conn, id, phone_id, status, error_code, now)
}

/// Records the provider's acceptance and erases the code from the stored body.
pub fn mark_handed_over(
    conn: &mut Conn<'_>,
    id: i64,
    sid: &str,
    status: &str,
    body: &str,
    attempts: i32,
    now: i64,
) -> Result<(), ApiError> {
    let phone_id: Option<i64> = with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((
            sms_messages::provider_sid.eq(Some(sid)),
            sms_messages::body.eq(body),
            sms_messages::attempts.eq(attempts),
            sms_messages::status.eq(status),
            sms_messages::error_code.eq(None::<i64>),
            sms_messages::claimed_until.eq(None::<i64>),
            sms_messages::updated_at.eq(now),
        ))
        .returning(sms_messages::phone_id)
        .keep_prepared()
        .get_result(c))?;
    // Twilio usually answers `queued`: to the user nothing changed, so the record and the
    // live stream are left alone (two writes fewer per message).
    if status == QUEUED {
        return Ok(());
    }
    mirror(conn, id, phone_id, status, None, now)
}

/// A message's new status, shown on its phone record (only if it is still the record's
/// last message) and on the owner's live stream.
fn mirror(
    conn: &mut Conn<'_>,
    id: i64,
    phone_id: Option<i64>,
    status: &str,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let Some(phone_id) = phone_id else {
        return Ok(());
    };
    // By primary key; the owner comes back with it, saving a lookup.
    let owner: Option<i64> = with_conn!(conn, c => diesel::update(phone_numbers::table
        .find(phone_id)
        .filter(phone_numbers::last_message_id.eq(Some(id))))
        .set((
            phone_numbers::last_message_status.eq(Some(status)),
            phone_numbers::last_message_error.eq(error_code),
            phone_numbers::last_message_at.eq(Some(now)),
        ))
        .returning(phone_numbers::user_id)
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next();
    let owner = match owner {
        Some(user_id) => Some(user_id),
        None => with_conn!(conn, c => phone_numbers::table
            .find(phone_id)
            .select(phone_numbers::user_id)
            .load(c))?
        .into_iter()
        .next(),
    };
    match owner {
        Some(user_id) => events::message_changed(conn, user_id, phone_id, status, error_code, now),
        None => Ok(()),
    }
}

/// Schedules another try.
pub fn retry_later(
    conn: &mut Conn<'_>,
    id: i64,
    attempts: i32,
    at: i64,
    now: i64,
) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((
            sms_messages::attempts.eq(attempts),
            sms_messages::next_attempt_at.eq(at),
            sms_messages::claimed_until.eq(None::<i64>),
            sms_messages::updated_at.eq(now),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

pub fn find_by_sid(conn: &mut Conn<'_>, sid: &str) -> Result<Option<MessageRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_messages::table
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

/// The record's code died (replaced, or verified): no stored message keeps it. One not
/// yet handed over (nor being sent right now) is failed, since a dead code helps nobody;
/// the others only lose the code from their body. A message being sent right now keeps
/// its body, which a retry would need; the worker erases it once handed over.
///
/// One statement keyed by `phone_id`, written as SQL: split into diesel's two UPDATEs, the
/// one on unsent messages (`provider_sid IS NULL`) made SQLite's planner walk every
/// unsent message of every record through the `provider_sid` index, which halved
/// send-code throughput with a backlog in the queue.
pub fn retire_codes(
    conn: &mut Conn<'_>,
    phone_id: i64,
    kind: &str,
    now: i64,
) -> Result<(), ApiError> {
    let unsent = "status = 'queued' AND provider_sid IS NULL";
    let p = |n: u8| match conn {
        Conn::Sqlite(_) => format!("?{n}"),
        Conn::Postgres(_) => format!("${n}"),
    };
    let sql = format!(
        "UPDATE sms_messages SET \
           status = CASE WHEN {unsent} THEN '{FAILED}' ELSE status END, \
           updated_at = CASE WHEN {unsent} THEN {now} ELSE updated_at END, \
           body = {body} \
         WHERE phone_id = {phone} AND kind = {kind} AND body <> {body} \
           AND NOT ({unsent} AND claimed_until IS NOT NULL AND claimed_until >= {now})",
        now = p(1),
        body = p(2),
        phone = p(3),
        kind = p(4),
    );
    macro_rules! run {
        ($c:expr) => {
            diesel::sql_query(sql.as_str())
                .bind::<diesel::sql_types::BigInt, _>(now)
                .bind::<diesel::sql_types::Text, _>(ERASED_CODE)
                .bind::<diesel::sql_types::BigInt, _>(phone_id)
                .bind::<diesel::sql_types::Text, _>(kind)
                .keep_prepared()
                .execute($c)?
        };
    }
    match conn {
        Conn::Sqlite(c) => run!(*c),
        Conn::Postgres(c) => run!(*c),
    };
    Ok(())
}

/// Empties the bodies of messages that are past any use for them (handed to the
/// provider, or failed for good) and were last touched before `before`: the stored text
/// of an SMS is personal data nobody needs once it is out.
pub fn prune_bodies(conn: &mut Conn<'_>, before: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(sms_messages::table
        .filter(sms_messages::provider_sid.is_not_null().or(sms_messages::status.eq(FAILED)))
        .filter(sms_messages::updated_at.lt(before))
        .filter(sms_messages::body.ne("")))
        .set(sms_messages::body.eq(""))
        .execute(c))?)
}
