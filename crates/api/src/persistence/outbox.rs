//! The SMS outbox (`sms_messages`). Rows are written in the transaction of the change
//! that causes them and sent later by the worker (`crate::outbox`).

use diesel::prelude::*;

use super::{
    Conn, events,
    models::{MessageRow, NewMessage},
    schema::{phone_numbers, sms_messages},
    with_conn,
};
use crate::error::ApiError;

pub const QUEUED: &str = "queued";
pub const FAILED: &str = "failed";

/// Queues a message and makes it the phone's last message.
pub fn enqueue(conn: &mut Conn<'_>, new: &NewMessage<'_>) -> Result<i64, ApiError> {
    let id: i64 = with_conn!(conn, c => diesel::insert_into(sms_messages::table)
        .values(new)
        .returning(sms_messages::id)
        .get_result(c))?;
    if let Some(phone_id) = new.phone_id {
        events::message_changed(conn, phone_id, new.status, None, new.created_at)?;
        with_conn!(conn, c => diesel::update(phone_numbers::table.find(phone_id))
            .set((
                phone_numbers::last_message_id.eq(Some(id)),
                phone_numbers::last_message_status.eq(Some(new.status)),
                phone_numbers::last_message_error.eq(None::<i64>),
                phone_numbers::last_message_at.eq(Some(new.created_at)),
            ))
            .execute(c))?;
    }
    Ok(id)
}

/// Queues a message due now: what every sender of SMS (codes, notices, test messages) writes.
pub fn queue(
    conn: &mut Conn<'_>,
    phone_id: Option<i64>,
    to_e164: &str,
    body: &str,
    kind: &str,
    now: i64,
) -> Result<i64, ApiError> {
    enqueue(
        conn,
        &NewMessage {
            phone_id,
            to_e164,
            body,
            kind,
            status: QUEUED,
            next_attempt_at: now,
            created_at: now,
            updated_at: now,
        },
    )
}

/// Claims the oldest due message for `lease` seconds. A message counts as handed over
/// once it has a provider id, so it is never claimed again. PostgreSQL skips rows other
/// processes hold (`FOR UPDATE SKIP LOCKED`); SQLite has one writer at a time anyway.
pub fn claim_due(
    conn: &mut Conn<'_>,
    now: i64,
    lease: i64,
) -> Result<Option<MessageRow>, ApiError> {
    // A macro, not a variable: the select's backend type is fixed where it is used.
    macro_rules! due {
        () => {
            sms_messages::table
                .filter(sms_messages::status.eq(QUEUED))
                .filter(sms_messages::provider_sid.is_null())
                .filter(sms_messages::next_attempt_at.le(now))
                .filter(
                    sms_messages::claimed_until
                        .is_null()
                        .or(sms_messages::claimed_until.lt(now)),
                )
                .order(sms_messages::id)
                .select(MessageRow::as_select())
        };
    }
    let row = match conn {
        Conn::Sqlite(c) => due!().first(*c).optional()?,
        Conn::Postgres(c) => due!().for_update().skip_locked().first(*c).optional()?,
    };
    let Some(mut row) = row else { return Ok(None) };
    with_conn!(conn, c => diesel::update(sms_messages::table.find(row.id))
        .set(sms_messages::claimed_until.eq(Some(now + lease)))
        .execute(c))?;
    row.claimed_until = Some(now + lease);
    Ok(Some(row))
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
        .get_result(c))?;
    let Some(phone_id) = phone_id else {
        return Ok(());
    };
    // By primary key: the phone mirrors the message only if it is still its last one.
    with_conn!(conn, c => diesel::update(phone_numbers::table
        .find(phone_id)
        .filter(phone_numbers::last_message_id.eq(Some(id))))
        .set((
            phone_numbers::last_message_status.eq(Some(status)),
            phone_numbers::last_message_error.eq(error_code),
            phone_numbers::last_message_at.eq(Some(now)),
        ))
        .execute(c))?;
    events::message_changed(conn, phone_id, status, error_code, now)
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
    with_conn!(conn, c => diesel::update(sms_messages::table.find(id))
        .set((
            sms_messages::provider_sid.eq(Some(sid)),
            sms_messages::body.eq(body),
            sms_messages::attempts.eq(attempts),
        ))
        .execute(c))?;
    set_status(conn, id, status, None, now)
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
        .execute(c))?;
    Ok(())
}
