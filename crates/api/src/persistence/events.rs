//! Events for the live stream, and the tickets that open it.

use diesel::prelude::*;
use serde_json::json;

use super::{
    Conn, KeepPreparedDsl as _,
    schema::{event_tickets, events},
    with_conn,
};
use crate::{domain::rfc3339, error::ApiError, sms};

/// Woken after every committed write in this process; streams then look for events.
/// Other processes' events are found by the streams' periodic poll.
pub static WAKE: std::sync::LazyLock<tokio::sync::Notify> =
    std::sync::LazyLock::new(tokio::sync::Notify::new);

pub const PHONE: &str = "phone";
pub const MESSAGE: &str = "message";

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: String,
    pub data: String,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewEvent {
    user_id: i64,
    kind: &'static str,
    data: String,
    created_at: i64,
}

/// The phone record changed; the stream renders its state when it sends the event.
pub fn phone_changed(
    conn: &mut Conn<'_>,
    user_id: i64,
    phone_id: i64,
    now: i64,
) -> Result<(), ApiError> {
    let event = NewEvent {
        user_id,
        kind: PHONE,
        data: phone_id.to_string(),
        created_at: now,
    };
    with_conn!(conn, c => diesel::insert_into(events::table).values(&event).keep_prepared().execute(c))?;
    Ok(())
}

/// A message about a phone record changed status, and so did the record's last message.
/// One statement for both events: this runs for every SMS queued and every status.
pub fn message_changed(
    conn: &mut Conn<'_>,
    user_id: i64,
    phone_id: i64,
    status: &str,
    error_code: Option<i64>,
    now: i64,
) -> Result<(), ApiError> {
    let message = json!({
        "phone_id": phone_id,
        "status": status,
        "error_code": error_code,
        "guidance": sms::guidance(status, error_code),
        "updated_at": rfc3339(now),
    })
    .to_string();
    // A fixed-size array, so diesel caches the prepared statement.
    let rows = [
        NewEvent {
            user_id,
            kind: MESSAGE,
            data: message,
            created_at: now,
        },
        NewEvent {
            user_id,
            kind: PHONE,
            data: phone_id.to_string(),
            created_at: now,
        },
    ];
    with_conn!(conn, c => diesel::insert_into(events::table).values(rows).execute(c))?;
    Ok(())
}

/// The caller's events after `after`, oldest first.
pub fn after(
    conn: &mut Conn<'_>,
    user_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<EventRow>, ApiError> {
    Ok(with_conn!(conn, c => events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::id.gt(after))
        .order(events::id)
        .limit(limit)
        .select(EventRow::as_select())
        .load(c))?)
}

/// The newest event id of the caller (0 if none): a fresh stream starts after it.
pub fn latest_id(conn: &mut Conn<'_>, user_id: i64) -> Result<i64, ApiError> {
    let max: Option<i64> = with_conn!(conn, c => events::table
        .filter(events::user_id.eq(user_id))
        .select(diesel::dsl::max(events::id))
        .get_result(c))?;
    Ok(max.unwrap_or(0))
}

/// Deletes events created before `before`, and tickets that expired before `now`
/// (a dead ticket is worth nothing, not even to an operator).
pub fn prune(conn: &mut Conn<'_>, before: i64, now: i64) -> Result<usize, ApiError> {
    let events = with_conn!(conn, c => diesel::delete(events::table.filter(events::created_at.lt(before))).execute(c))?;
    let tickets = with_conn!(conn, c => diesel::delete(event_tickets::table.filter(event_tickets::expires_at.lt(now))).execute(c))?;
    Ok(events + tickets)
}

pub fn insert_ticket(
    conn: &mut Conn<'_>,
    hash: &str,
    user_id: i64,
    expires_at: i64,
) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(event_tickets::table)
        .values((
            event_tickets::ticket_hash.eq(hash),
            event_tickets::user_id.eq(user_id),
            event_tickets::expires_at.eq(expires_at),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// The user of a live ticket, without using it up.
pub fn find_ticket(conn: &mut Conn<'_>, hash: &str, now: i64) -> Result<Option<i64>, ApiError> {
    Ok(with_conn!(conn, c => event_tickets::table
        .filter(event_tickets::ticket_hash.eq(hash))
        .filter(event_tickets::expires_at.gt(now))
        .select(event_tickets::user_id)
        .load::<i64>(c))?
    .into_iter()
    .next())
}

/// Uses up a ticket: the user it was issued to, if it exists and is still fresh.
pub fn redeem_ticket(conn: &mut Conn<'_>, hash: &str, now: i64) -> Result<Option<i64>, ApiError> {
    let row: Option<(i64, i64)> = with_conn!(conn, c => diesel::delete(event_tickets::table.find(hash))
        .returning((event_tickets::user_id, event_tickets::expires_at))
        .get_result(c)
        .optional())?;
    Ok(row
        .filter(|(_, expires_at)| *expires_at > now)
        .map(|(user_id, _)| user_id))
}
