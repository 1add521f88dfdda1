//! Events for the live stream, and the tickets that open it.

use diesel::prelude::*;
use phonereg_types::{Channel, EventKind, MessageStatus, SmsProviderName};
use serde::{Deserialize, Serialize};

use super::{
    Conn, KeepPreparedDsl as _, committed,
    schema::{event_tickets, events},
    with_conn,
};
use crate::error::ApiError;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub id: i64,
    pub user_id: i64,
    pub kind: EventKind,
    /// The fact, as [`EventRow::fact`] reads it.
    pub data: String,
    pub created_at: i64,
    /// The writing transaction (PostgreSQL; 0 on SQLite).
    pub txid: i64,
}

/// What happened, as stored: facts only. How a client sees it (the phone's state when
/// the event is sent, a message's guidance text) is the route layer's business, so a
/// wording change never needs a data migration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fact {
    /// The phone record changed.
    Phone { phone_id: i64 },
    /// A message about the record changed status.
    Message(MessageFact),
}

/// A message's new status. Stored as JSON; rows written by earlier builds carry more
/// fields, which are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageFact {
    pub phone_id: i64,
    pub status: MessageStatus,
    pub error_code: Option<i64>,
    /// Who carries the message (SPEC §13); absent in rows of earlier builds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<SmsProviderName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

impl EventRow {
    /// The stored fact; None for data this build cannot read.
    pub fn fact(&self) -> Option<Fact> {
        match self.kind {
            EventKind::Phone => self
                .data
                .parse()
                .ok()
                .map(|phone_id| Fact::Phone { phone_id }),
            EventKind::Message => serde_json::from_str(&self.data).ok().map(Fact::Message),
        }
    }

    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.txid,
            id: self.id,
        }
    }
}

/// A place in the events: just after event `id` of transaction `txid`.
///
/// PostgreSQL takes an event's id at insert, but transactions commit in any order, so a
/// reader that had moved past id N would never see id N-1 committing later. Events are
/// therefore read in (txid, id) order and only once *settled*: written by a transaction
/// older than every one still running (`pg_snapshot_xmin`). Settled events never appear
/// below a cursor that has passed them: a transaction that commits later is still
/// running now, so its xid is at least the snapshot's xmin, above every settled one.
/// SQLite's one writer commits ids in order; there txid is always 0 and this is the id.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub txid: i64,
    pub id: i64,
}

/// Events of transactions older than every one still running (see [`Cursor`]).
const SETTLED: &str = "txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

/// `(txid, id) <op> cursor` as a row comparison, which walks the `(…, txid, id)` indexes.
macro_rules! place {
    ($op:literal, $cursor:expr) => {
        diesel::dsl::sql::<diesel::sql_types::Bool>(concat!("(txid, id) ", $op, " ("))
            .bind::<diesel::sql_types::BigInt, _>($cursor.txid)
            .sql(", ")
            .bind::<diesel::sql_types::BigInt, _>($cursor.id)
            .sql(")")
    };
}

#[derive(Insertable)]
#[diesel(table_name = events)]
struct NewEvent {
    user_id: i64,
    kind: EventKind,
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
        kind: EventKind::Phone,
        data: phone_id.to_string(),
        created_at: now,
    };
    with_conn!(conn, c => diesel::insert_into(events::table).values(&event).keep_prepared().execute(c))?;
    committed::note_events(user_id);
    Ok(())
}

/// A message about a phone record changed status, and so did the record's last message.
/// One statement for both events: this runs for every SMS queued and every status.
pub fn message_changed(
    conn: &mut Conn<'_>,
    user_id: i64,
    message: &MessageFact,
    now: i64,
) -> Result<(), ApiError> {
    let phone_id = message.phone_id;
    let message = serde_json::to_string(message)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("encode a message event: {e}")))?;
    // A fixed-size array, so diesel caches the prepared statement.
    let rows = [
        NewEvent {
            user_id,
            kind: EventKind::Message,
            data: message,
            created_at: now,
        },
        NewEvent {
            user_id,
            kind: EventKind::Phone,
            data: phone_id.to_string(),
            created_at: now,
        },
    ];
    with_conn!(conn, c => diesel::insert_into(events::table).values(rows).execute(c))?;
    committed::note_events(user_id);
    Ok(())
}

/// The caller's events after `after`, in stream order (settled ones only, see [`Cursor`]).
pub fn after(
    conn: &mut Conn<'_>,
    user_id: i64,
    after: Cursor,
    limit: i64,
) -> Result<Vec<EventRow>, ApiError> {
    Ok(match conn {
        Conn::Sqlite(c) => events::table
            .filter(events::user_id.eq(user_id))
            .filter(events::id.gt(after.id))
            .order(events::id)
            .limit(limit)
            .select(EventRow::as_select())
            .load(*c)?,
        Conn::Postgres(c) => events::table
            .filter(events::user_id.eq(user_id))
            .filter(place!(">", after))
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED))
            .order((events::txid, events::id))
            .limit(limit)
            .select(EventRow::as_select())
            .load(*c)?,
    })
}

/// Whether the caller has events after `after` that are not settled yet (PostgreSQL):
/// committed, but behind a transaction still running. The stream looks again shortly.
pub fn unsettled_after(conn: &mut Conn<'_>, user_id: i64, after: Cursor) -> Result<bool, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Ok(false);
    };
    let found: Vec<i64> = events::table
        .filter(events::user_id.eq(user_id))
        .filter(place!(">", after))
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "NOT ({SETTLED})"
        )))
        .select(events::id)
        .limit(1)
        .load(*c)?;
    Ok(!found.is_empty())
}

/// Where a fresh stream of the caller starts: after its newest settled event.
pub fn latest(conn: &mut Conn<'_>, user_id: i64) -> Result<Cursor, ApiError> {
    Ok(match conn {
        Conn::Sqlite(c) => {
            let max: Option<i64> = events::table
                .filter(events::user_id.eq(user_id))
                .select(diesel::dsl::max(events::id))
                .get_result(*c)?;
            Cursor {
                txid: 0,
                id: max.unwrap_or(0),
            }
        }
        Conn::Postgres(c) => newest_settled_pg(c, Some(user_id))?,
    })
}

/// Where a stream resumes after the client's last event `id` (`Last-Event-ID`): that
/// event's place, or, for an id the caller has no event of (pruned, or 0), the place of
/// its newest event below it.
pub fn resume_at(conn: &mut Conn<'_>, user_id: i64, id: i64) -> Result<Cursor, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Ok(Cursor { txid: 0, id });
    };
    let txid: Option<i64> = events::table
        .filter(events::user_id.eq(user_id))
        .filter(events::id.le(id))
        .order(events::id.desc())
        .select(events::txid)
        .limit(1)
        .load(*c)?
        .first()
        .copied();
    Ok(Cursor {
        txid: txid.unwrap_or(0),
        id,
    })
}

/// What a ticket stands for: the account, and the session and access-token expiry of
/// the bearer that asked for it (the stream it opens ends with them).
#[derive(Clone, Debug)]
pub struct TicketGrant {
    pub user_id: i64,
    pub session: Option<String>,
    pub token_expires_at: Option<i64>,
}

/// The advisory-lock namespace of an account's tickets (with the account id).
const TICKET_LOCKS: i32 = 0x5449_434b; // "TICK"

/// Stores a ticket, keeping at most `keep` of the account's tickets: the oldest go
/// (the newest `keep - 1` stay, and the new one).
pub fn insert_ticket(
    conn: &mut Conn<'_>,
    hash: &str,
    grant: &TicketGrant,
    expires_at: i64,
    keep: usize,
) -> Result<(), ApiError> {
    let user_id = grant.user_id;
    // Two issues for one account take turns on PostgreSQL, so neither keeps a row the
    // other is about to count past the cap.
    if let Conn::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<diesel::sql_types::Integer, _>(TICKET_LOCKS)
            .bind::<diesel::sql_types::Integer, _>((user_id ^ (user_id >> 32)) as i32)
            .execute(*c)?;
    }
    let newest = i64::try_from(keep.saturating_sub(1)).unwrap_or(i64::MAX);
    let kept: Vec<String> = with_conn!(conn, c => event_tickets::table
        .filter(event_tickets::user_id.eq(user_id))
        .order((event_tickets::expires_at.desc(), event_tickets::ticket_hash.desc()))
        .select(event_tickets::ticket_hash)
        .limit(newest)
        .load(c))?;
    with_conn!(conn, c => diesel::delete(event_tickets::table
        .filter(event_tickets::user_id.eq(user_id))
        .filter(event_tickets::ticket_hash.ne_all(&kept)))
        .execute(c))?;
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

/// Accounts with settled events after `after`, and the newest settled place (for other
/// processes' writes: this process's own wake their streams at commit).
pub fn accounts_after(conn: &mut Conn<'_>, after: Cursor) -> Result<(Vec<i64>, Cursor), ApiError> {
    // The newest place first, then the accounts up to it: events at or below a settled
    // place are final, so a second statement sees the same ones.
    let newest = newest_settled(conn)?;
    if newest == after {
        return Ok((Vec::new(), after));
    }
    let users: Vec<i64> = match conn {
        Conn::Sqlite(c) => events::table
            .filter(events::id.gt(after.id))
            .filter(events::id.le(newest.id))
            .select(events::user_id)
            .distinct()
            .load(*c)?,
        Conn::Postgres(c) => events::table
            .filter(place!(">", after))
            .filter(place!("<=", newest))
            .select(events::user_id)
            .distinct()
            .load(*c)?,
    };
    Ok((users, newest))
}

/// The newest settled place of all.
pub fn newest_settled(conn: &mut Conn<'_>) -> Result<Cursor, ApiError> {
    Ok(match conn {
        Conn::Sqlite(c) => {
            let max: Option<i64> = events::table
                .select(diesel::dsl::max(events::id))
                .get_result(*c)?;
            Cursor {
                txid: 0,
                id: max.unwrap_or(0),
            }
        }
        Conn::Postgres(c) => newest_settled_pg(c, None)?,
    })
}

/// The newest settled place on PostgreSQL, of one account or of all.
fn newest_settled_pg(
    c: &mut diesel::pg::PgConnection,
    user_id: Option<i64>,
) -> Result<Cursor, ApiError> {
    let mut query = events::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(SETTLED))
        .order((events::txid.desc(), events::id.desc()))
        .select((events::txid, events::id))
        .limit(1)
        .into_boxed();
    if let Some(user_id) = user_id {
        query = query.filter(events::user_id.eq(user_id));
    }
    Ok(query
        .load::<(i64, i64)>(c)?
        .first()
        .map_or_else(Cursor::default, |&(txid, id)| Cursor { txid, id }))
}
