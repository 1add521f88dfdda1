//! Outbound webhooks (SPEC §12): endpoints, the events they are sent, and the log of
//! every attempt.
//!
//! A request writes one event row per event, and only while some endpoint is enabled
//! ([`queue`]); the worker fans it out. Each endpoint keeps its place in the events
//! (`cursor_txid`, `cursor_id`), read like the live stream's (see
//! [`events::Cursor`](super::events::Cursor)): on PostgreSQL in (txid, id) order and only
//! once settled, so an event committing late is never passed over.
//!
//! Long: one module per table group — the endpoints, their events and their log.

use diesel::{
    prelude::*,
    sql_types::{BigInt, Nullable, Text},
};
use phonereg_types::{WebhookDeliveryResult, WebhookEventType, WebhookStatus};

use super::{
    Conn, KeepPreparedDsl as _, committed,
    events::Cursor,
    schema::{webhook_deliveries, webhook_endpoints, webhook_events},
    with_conn,
};
use crate::error::ApiError;

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: i64,
    pub url: String,
    pub description: Option<String>,
    /// A JSON array of patterns.
    pub event_types: String,
    pub status: WebhookStatus,
    pub disabled_reason: Option<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    pub cursor_txid: i64,
    pub cursor_id: i64,
    pub attempts: i32,
    pub failing_since: Option<i64>,
    pub next_attempt_ms: i64,
    pub lease_until_ms: i64,
    pub lease_token: Option<String>,
}

impl EndpointRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.cursor_txid,
            id: self.cursor_id,
        }
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_events)]
pub struct EventRow {
    pub id: i64,
    pub txid: i64,
    pub event_type: WebhookEventType,
    pub at_ms: i64,
    pub user_id: Option<i64>,
    pub phone_id: Option<i64>,
    pub e164: Option<String>,
    pub data: String,
    pub endpoint_id: Option<i64>,
    pub replay_of: Option<i64>,
}

/// A place in the events (see the module's comment).
pub type Place = Cursor;

impl EventRow {
    pub fn cursor(&self) -> Cursor {
        Cursor {
            txid: self.txid,
            id: self.id,
        }
    }
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: i64,
    pub endpoint_id: i64,
    pub event_id: i64,
    pub webhook_id: String,
    pub event_type: WebhookEventType,
    pub attempt: i32,
    pub result: WebhookDeliveryResult,
    pub status_code: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct NewDelivery<'a> {
    pub endpoint_id: i64,
    pub event_id: i64,
    pub webhook_id: &'a str,
    pub event_type: WebhookEventType,
    pub attempt: i32,
    pub result: WebhookDeliveryResult,
    pub status_code: Option<i32>,
    pub error: Option<&'a str>,
    pub duration_ms: i64,
    pub at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct NewEndpoint<'a> {
    pub url: &'a str,
    pub description: Option<&'a str>,
    pub event_types: &'a str,
    pub status: WebhookStatus,
    pub secret: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
    pub cursor_txid: i64,
    pub cursor_id: i64,
}

/// What an operator changes; `None` keeps the field.
#[derive(AsChangeset, Default)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_types: Option<&'a str>,
    pub status: Option<WebhookStatus>,
    pub disabled_reason: Option<Option<&'a str>>,
    pub updated_at: Option<i64>,
}

/// One event as a request writes it.
pub struct NewEvent<'a> {
    pub kind: WebhookEventType,
    pub at_ms: i64,
    pub user_id: Option<i64>,
    pub phone_id: Option<i64>,
    /// A JSON object of further facts.
    pub data: &'a str,
}

/// The request path's only webhook cost: one statement, kept prepared, that writes the
/// event only while an endpoint is enabled (none: nothing is written), with the
/// number's E.164 read in the same statement. Which endpoints want it is the worker's
/// business, so a request never reads the endpoints itself.
const QUEUE_SQLITE: &str = "INSERT INTO webhook_events \
     (type, at_ms, user_id, phone_id, e164, data) \
     SELECT ?, ?, ?, ?, (SELECT e164 FROM phone_numbers WHERE id = ?), ? \
     WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE status = 'enabled')";
const QUEUE_POSTGRES: &str = "INSERT INTO webhook_events \
     (type, at_ms, user_id, phone_id, e164, data) \
     SELECT $1, $2, $3, $4, (SELECT e164 FROM phone_numbers WHERE id = $4), $5 \
     WHERE EXISTS (SELECT 1 FROM webhook_endpoints WHERE status = 'enabled')";

/// Inside the caller's transaction: the event, if any endpoint is enabled. Whether one
/// was written.
pub fn queue(conn: &mut Conn<'_>, event: &NewEvent<'_>) -> Result<bool, ApiError> {
    let written = match conn {
        Conn::Sqlite(c) => diesel::sql_query(QUEUE_SQLITE)
            .bind::<Text, _>(event.kind.as_str())
            .bind::<BigInt, _>(event.at_ms)
            .bind::<Nullable<BigInt>, _>(event.user_id)
            .bind::<Nullable<BigInt>, _>(event.phone_id)
            .bind::<Nullable<BigInt>, _>(event.phone_id)
            .bind::<Text, _>(event.data)
            .keep_prepared()
            .execute(*c)?,
        Conn::Postgres(c) => diesel::sql_query(QUEUE_POSTGRES)
            .bind::<Text, _>(event.kind.as_str())
            .bind::<BigInt, _>(event.at_ms)
            .bind::<Nullable<BigInt>, _>(event.user_id)
            .bind::<Nullable<BigInt>, _>(event.phone_id)
            .bind::<Text, _>(event.data)
            .keep_prepared()
            .execute(*c)?,
    };
    if written > 0 {
        committed::note_hooked();
    }
    Ok(written > 0)
}

#[derive(Insertable)]
#[diesel(table_name = webhook_events)]
struct NewAddressedEvent<'a> {
    event_type: WebhookEventType,
    at_ms: i64,
    user_id: Option<i64>,
    phone_id: Option<i64>,
    e164: Option<&'a str>,
    data: &'a str,
    endpoint_id: Option<i64>,
    replay_of: Option<i64>,
}

/// An event for one endpoint only (a test event, a redelivery of `replay_of`); its id.
pub fn queue_for(
    conn: &mut Conn<'_>,
    endpoint_id: i64,
    original: &EventRow,
    replay_of: Option<i64>,
) -> Result<i64, ApiError> {
    let row = NewAddressedEvent {
        event_type: original.event_type,
        at_ms: original.at_ms,
        user_id: original.user_id,
        phone_id: original.phone_id,
        e164: original.e164.as_deref(),
        data: &original.data,
        endpoint_id: Some(endpoint_id),
        replay_of,
    };
    let id = with_conn!(conn, c => diesel::insert_into(webhook_events::table)
        .values(&row)
        .returning(webhook_events::id)
        .get_result(c))?;
    committed::note_hooked();
    Ok(id)
}

/// One event by id.
pub fn event(conn: &mut Conn<'_>, id: i64) -> Result<Option<EventRow>, ApiError> {
    Ok(with_conn!(conn, c => webhook_events::table
        .find(id)
        .select(EventRow::as_select())
        .load(c))?
    .pop())
}

/// The place after every event written so far: where a new endpoint starts.
pub fn newest_place(conn: &mut Conn<'_>) -> Result<Cursor, ApiError> {
    let newest: Vec<(i64, i64)> = with_conn!(conn, c => webhook_events::table
        .order((webhook_events::txid.desc(), webhook_events::id.desc()))
        .select((webhook_events::txid, webhook_events::id))
        .limit(1)
        .load(c))?;
    Ok(newest
        .first()
        .map_or_else(Cursor::default, |&(txid, id)| Cursor { txid, id }))
}

/// Events after `endpoint`'s place that are addressed to all or to it, oldest first,
/// at most `limit` (settled ones only on PostgreSQL: see the module's comment).
pub fn pending(
    conn: &mut Conn<'_>,
    endpoint: &EndpointRow,
    limit: i64,
) -> Result<Vec<EventRow>, ApiError> {
    let addressed = webhook_events::endpoint_id
        .is_null()
        .or(webhook_events::endpoint_id.eq(endpoint.id));
    Ok(match conn {
        Conn::Sqlite(c) => webhook_events::table
            .filter(webhook_events::id.gt(endpoint.cursor_id))
            .filter(addressed)
            .order(webhook_events::id)
            .limit(limit)
            .select(EventRow::as_select())
            .load(*c)?,
        Conn::Postgres(c) => webhook_events::table
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("(txid, id) > (")
                    .bind::<BigInt, _>(endpoint.cursor_txid)
                    .sql(", ")
                    .bind::<BigInt, _>(endpoint.cursor_id)
                    .sql(")"),
            )
            .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
                "txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
            ))
            .filter(addressed)
            .order((webhook_events::txid, webhook_events::id))
            .limit(limit)
            .select(EventRow::as_select())
            .load(*c)?,
    })
}

/// Whether some event has committed but is not settled yet (PostgreSQL: a transaction
/// older than it still runs); the worker looks again shortly instead of at the next poll.
pub fn unsettled(conn: &mut Conn<'_>) -> Result<bool, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Ok(false);
    };
    let found: Vec<i64> = webhook_events::table
        .filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "txid >= pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
        ))
        .select(webhook_events::id)
        .limit(1)
        .load(*c)?;
    Ok(!found.is_empty())
}

pub fn insert_endpoint(
    conn: &mut Conn<'_>,
    new: &NewEndpoint<'_>,
) -> Result<EndpointRow, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(webhook_endpoints::table)
        .values(new)
        .returning(EndpointRow::as_returning())
        .get_result(c))?,
    )
}

pub fn endpoints(conn: &mut Conn<'_>) -> Result<Vec<EndpointRow>, ApiError> {
    Ok(with_conn!(conn, c => webhook_endpoints::table
        .order(webhook_endpoints::id)
        // Bounded: endpoints are made by operators, a handful at most.
        .limit(1000)
        .select(EndpointRow::as_select())
        .load(c))?)
}

pub fn endpoint(conn: &mut Conn<'_>, id: i64) -> Result<Option<EndpointRow>, ApiError> {
    Ok(with_conn!(conn, c => webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .load(c))?
    .pop())
}

/// Enabled endpoints whose head may be posted now: not leased, not waiting for a retry.
pub fn due(conn: &mut Conn<'_>, now_ms: i64) -> Result<Vec<EndpointRow>, ApiError> {
    Ok(with_conn!(conn, c => webhook_endpoints::table
        .filter(webhook_endpoints::status.eq(WebhookStatus::Enabled))
        .filter(webhook_endpoints::next_attempt_ms.le(now_ms))
        .filter(webhook_endpoints::lease_until_ms.le(now_ms))
        .order(webhook_endpoints::id)
        .limit(1000)
        .select(EndpointRow::as_select())
        .load(c))?)
}

pub fn update_endpoint(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &EndpointChanges<'_>,
) -> Result<Option<EndpointRow>, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::update(webhook_endpoints::table.find(id))
        .set(changes)
        .returning(EndpointRow::as_returning())
        .load(c))?
        .pop(),
    )
}

/// An operator re-enabled the endpoint: its head is tried at once, with a fresh count.
pub fn reset_failures(conn: &mut Conn<'_>, id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::attempts.eq(0),
            webhook_endpoints::failing_since.eq(None::<i64>),
            webhook_endpoints::next_attempt_ms.eq(0),
        ))
        .execute(c))?;
    Ok(())
}

/// The endpoint and its delivery log; whether it existed.
pub fn delete_endpoint(conn: &mut Conn<'_>, id: i64) -> Result<bool, ApiError> {
    with_conn!(conn, c => diesel::delete(
        webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id))
    )
    .execute(c))?;
    with_conn!(conn, c => diesel::delete(
        webhook_events::table.filter(webhook_events::endpoint_id.eq(id))
    )
    .execute(c))?;
    let gone = with_conn!(conn, c => diesel::delete(webhook_endpoints::table.find(id)).execute(c))?;
    Ok(gone > 0)
}

/// A new secret; the old one keeps signing until `previous_until`. Whether it existed.
pub fn rotate_secret(
    conn: &mut Conn<'_>,
    id: i64,
    secret: &str,
    previous_until: i64,
    now: i64,
) -> Result<bool, ApiError> {
    let Some(row) = endpoint(conn, id)? else {
        return Ok(false);
    };
    with_conn!(conn, c => diesel::update(webhook_endpoints::table.find(id))
        .set((
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::previous_secret.eq(Some(row.secret)),
            webhook_endpoints::previous_secret_until.eq(Some(previous_until)),
            webhook_endpoints::updated_at.eq(now),
        ))
        .execute(c))?;
    Ok(true)
}

/// Moves the endpoint past events it does not take, if nobody moved or leased it since
/// it was read at `from`. Whether it moved.
pub fn skip(
    conn: &mut Conn<'_>,
    id: i64,
    from: Cursor,
    to: Cursor,
    now_ms: i64,
) -> Result<bool, ApiError> {
    let moved = with_conn!(conn, c => diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::cursor_txid.eq(from.txid))
            .filter(webhook_endpoints::cursor_id.eq(from.id))
            .filter(webhook_endpoints::lease_until_ms.le(now_ms)),
    )
    .set((
        webhook_endpoints::cursor_txid.eq(to.txid),
        webhook_endpoints::cursor_id.eq(to.id),
    ))
    .keep_prepared()
        .execute(c))?;
    Ok(moved > 0)
}

/// Leases the endpoint's head to `token` until `until_ms` (and moves it to `to`, past
/// events it does not take), if it is still enabled, due, unleased and at `from`: only
/// one worker of all processes posts an endpoint's head at a time. Whether it got it.
pub fn claim(
    conn: &mut Conn<'_>,
    id: i64,
    token: &str,
    (from, to): (Cursor, Cursor),
    now_ms: i64,
    until_ms: i64,
) -> Result<bool, ApiError> {
    let claimed = with_conn!(conn, c => diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::status.eq(WebhookStatus::Enabled))
            .filter(webhook_endpoints::cursor_txid.eq(from.txid))
            .filter(webhook_endpoints::cursor_id.eq(from.id))
            .filter(webhook_endpoints::lease_until_ms.le(now_ms))
            .filter(webhook_endpoints::next_attempt_ms.le(now_ms)),
    )
    .set((
        webhook_endpoints::cursor_txid.eq(to.txid),
        webhook_endpoints::cursor_id.eq(to.id),
        webhook_endpoints::lease_until_ms.eq(until_ms),
        webhook_endpoints::lease_token.eq(token),
    ))
    .keep_prepared()
        .execute(c))?;
    Ok(claimed > 0)
}

/// How the leased head's attempt ended, as the endpoint records it.
pub enum Outcome {
    /// Posted: the endpoint moves to `past` (the event, and any after it that it does
    /// not take); with `lease_until_ms` the worker keeps the lease for its next event.
    Delivered {
        past: Cursor,
        lease_until_ms: Option<i64>,
    },
    /// Failed: the head waits until `next_attempt_ms`; `disable` names why PhoneReg
    /// disables the endpoint instead (`gone`, `failing`).
    Failed {
        attempts: i32,
        failing_since: i64,
        next_attempt_ms: i64,
        disable: Option<&'static str>,
    },
}

/// Records attempts that end in `outcome` (several delivered events at once, or one that
/// failed), if `token` still holds the lease (a worker that outlived its lease records
/// nothing: another has the head now). Whether they were recorded.
pub fn finish(
    conn: &mut Conn<'_>,
    id: i64,
    token: &str,
    outcome: &Outcome,
    deliveries: &[NewDelivery<'_>],
) -> Result<bool, ApiError> {
    let leased = webhook_endpoints::table
        .find(id)
        .filter(webhook_endpoints::lease_token.eq(token));
    let release = (
        webhook_endpoints::lease_until_ms.eq(0),
        webhook_endpoints::lease_token.eq(None::<String>),
    );
    let changed = match *outcome {
        Outcome::Delivered {
            past,
            lease_until_ms: Some(until),
        } => with_conn!(conn, c => diesel::update(leased)
            .set((
                webhook_endpoints::lease_until_ms.eq(until),
                webhook_endpoints::cursor_txid.eq(past.txid),
                webhook_endpoints::cursor_id.eq(past.id),
                webhook_endpoints::attempts.eq(0),
                webhook_endpoints::failing_since.eq(None::<i64>),
                webhook_endpoints::next_attempt_ms.eq(0),
            ))
            .keep_prepared()
        .execute(c))?,
        Outcome::Delivered {
            past,
            lease_until_ms: None,
        } => with_conn!(conn, c => diesel::update(leased)
            .set((
                release,
                webhook_endpoints::cursor_txid.eq(past.txid),
                webhook_endpoints::cursor_id.eq(past.id),
                webhook_endpoints::attempts.eq(0),
                webhook_endpoints::failing_since.eq(None::<i64>),
                webhook_endpoints::next_attempt_ms.eq(0),
            ))
            .keep_prepared()
        .execute(c))?,
        Outcome::Failed {
            attempts,
            failing_since,
            next_attempt_ms,
            disable,
        } => {
            let status = if disable.is_some() {
                WebhookStatus::Disabled
            } else {
                WebhookStatus::Enabled
            };
            with_conn!(conn, c => diesel::update(leased)
                .set((
                    release,
                    webhook_endpoints::attempts.eq(attempts),
                    webhook_endpoints::failing_since.eq(Some(failing_since)),
                    webhook_endpoints::next_attempt_ms.eq(next_attempt_ms),
                    webhook_endpoints::status.eq(status),
                    webhook_endpoints::disabled_reason.eq(disable),
                ))
                .keep_prepared()
        .execute(c))?
        }
    };
    if changed == 0 {
        return Ok(false);
    }
    for delivery in deliveries {
        with_conn!(conn, c => diesel::insert_into(webhook_deliveries::table)
            .values(delivery)
            .keep_prepared()
            .execute(c))?;
    }
    Ok(true)
}

/// The endpoint's newest attempts first, at most `limit`.
pub fn deliveries(
    conn: &mut Conn<'_>,
    endpoint_id: i64,
    limit: i64,
) -> Result<Vec<DeliveryRow>, ApiError> {
    Ok(with_conn!(conn, c => webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .load(c))?)
}

/// Whether the endpoint was ever sent event `event_id` (its log names it).
pub fn was_sent(conn: &mut Conn<'_>, endpoint_id: i64, event_id: i64) -> Result<bool, ApiError> {
    let found: Vec<i64> = with_conn!(conn, c => webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
        .filter(webhook_deliveries::event_id.eq(event_id))
        .select(webhook_deliveries::id)
        .limit(1)
        .load(c))?;
    Ok(!found.is_empty())
}
