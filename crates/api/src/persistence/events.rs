//! Events for the live stream, and the tickets that open it.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex, PoisonError, Weak},
};

use anyhow::Context as _;
use diesel::prelude::*;
use phonereg_types::MessageEvent;
use tokio::sync::Notify;

use super::{
    Conn, KeepPreparedDsl as _,
    schema::{event_tickets, events},
    with_conn,
};
use crate::{domain::rfc3339, error::ApiError, sms};

/// Per-account wake-ups of this process's event streams: a commit that wrote events
/// wakes the streams of those accounts only (it used to wake every stream after every
/// commit, and each re-read the database). Process-wide because the commits happen on
/// database threads that never see the app state; a process serves one database, and
/// in the tests, where several apps share a process, a stray wake costs one read.
pub static WAKES: LazyLock<Wakes> = LazyLock::new(Wakes::default);

#[derive(Default)]
pub struct Wakes {
    inner: Mutex<HashMap<i64, Weak<Notify>>>,
}

impl Wakes {
    /// The account's wake-up, shared by all its streams; dropped with the last of them.
    pub fn subscribe(&self, user_id: i64) -> Arc<Notify> {
        let mut map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = map.get(&user_id).and_then(Weak::upgrade) {
            return notify;
        }
        // Forget accounts whose streams have all closed, so the map tracks open ones.
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        map.insert(user_id, Arc::downgrade(&notify));
        notify
    }

    /// Wakes the streams of `users` that are waiting now.
    pub fn wake(&self, users: &[i64]) {
        if users.is_empty() {
            return;
        }
        let map = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        for user in users {
            if let Some(notify) = map.get(user).and_then(Weak::upgrade) {
                notify.notify_waiters();
            }
        }
    }
}

thread_local! {
    /// Accounts given events by the transaction running on this thread.
    static CHANGED: RefCell<Vec<i64>> = const { RefCell::new(Vec::new()) };
}

fn note_changed(user_id: i64) {
    CHANGED.with_borrow_mut(|c| c.push(user_id));
}

/// Called before a transaction (or a batch of them) starts on this thread.
pub(super) fn forget_changed() {
    CHANGED.with_borrow_mut(Vec::clear);
}

/// Called once the transaction has committed: wakes the streams of the accounts it gave
/// events to. A rolled-back savepoint of a batch may add a stray wake (one read).
pub(super) fn wake_changed() {
    let mut users = CHANGED.with_borrow_mut(std::mem::take);
    users.sort_unstable();
    users.dedup();
    WAKES.wake(&users);
}

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
    note_changed(user_id);
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
    let message = MessageEvent {
        phone_id,
        status: status.to_owned(),
        error_code,
        guidance: sms::guidance(status, error_code).map(str::to_owned),
        updated_at: rfc3339(now),
    };
    let message = serde_json::to_string(&message).context("encode a message event")?;
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
    note_changed(user_id);
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

/// What a ticket stands for: the account, and the session and access-token expiry of
/// the bearer that asked for it (the stream it opens ends with them).
#[derive(Clone, Debug)]
pub struct TicketGrant {
    pub user_id: i64,
    pub session: Option<String>,
    pub token_expires_at: Option<i64>,
}

pub fn insert_ticket(
    conn: &mut Conn<'_>,
    hash: &str,
    grant: &TicketGrant,
    expires_at: i64,
) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(event_tickets::table)
        .values((
            event_tickets::ticket_hash.eq(hash),
            event_tickets::user_id.eq(grant.user_id),
            event_tickets::expires_at.eq(expires_at),
            event_tickets::session.eq(grant.session.as_deref()),
            event_tickets::token_expires_at.eq(grant.token_expires_at),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Whether a live ticket exists, without using it up.
pub fn ticket_is_live(conn: &mut Conn<'_>, hash: &str, now: i64) -> Result<bool, ApiError> {
    Ok(!with_conn!(conn, c => event_tickets::table
        .filter(event_tickets::ticket_hash.eq(hash))
        .filter(event_tickets::expires_at.gt(now))
        .select(event_tickets::user_id)
        .load::<i64>(c))?
    .is_empty())
}

/// Uses up a ticket: what it grants, if it exists and is still fresh.
pub fn redeem_ticket(
    conn: &mut Conn<'_>,
    hash: &str,
    now: i64,
) -> Result<Option<TicketGrant>, ApiError> {
    type Row = (i64, i64, Option<String>, Option<i64>);
    let row: Option<Row> = with_conn!(conn, c => diesel::delete(event_tickets::table.find(hash))
        .returning((
            event_tickets::user_id,
            event_tickets::expires_at,
            event_tickets::session,
            event_tickets::token_expires_at,
        ))
        .get_result(c)
        .optional())?;
    Ok(row.filter(|(_, expires_at, _, _)| *expires_at > now).map(
        |(user_id, _, session, token_expires_at)| TicketGrant {
            user_id,
            session,
            token_expires_at,
        },
    ))
}

/// Accounts with events after `after`, and the newest event id (for other processes'
/// writes: this process's own wake their streams at commit).
pub fn accounts_after(conn: &mut Conn<'_>, after: i64) -> Result<(Vec<i64>, i64), ApiError> {
    let rows: Vec<(i64, Option<i64>)> = with_conn!(conn, c => events::table
        .filter(events::id.gt(after))
        .group_by(events::user_id)
        .select((events::user_id, diesel::dsl::max(events::id)))
        .load(c))?;
    let newest = rows.iter().filter_map(|(_, id)| *id).max().unwrap_or(after);
    Ok((rows.into_iter().map(|(user, _)| user).collect(), newest))
}

/// The newest event id of all.
pub fn newest_id(conn: &mut Conn<'_>) -> Result<i64, ApiError> {
    let max: Option<i64> = with_conn!(conn, c => events::table
        .select(diesel::dsl::max(events::id))
        .get_result(c))?;
    Ok(max.unwrap_or(0))
}
