//! Each SMS provider's circuit (`sms_circuits`), shared by every API process: failures
//! are counted here, so one process's outage evidence moves every process's messages.

use diesel::{OptionalExtension as _, prelude::*};
use phonereg_types::SmsProviderName;

use super::{
    Conn, KeepPreparedDsl as _,
    schema::{sms_circuits, sms_messages, sms_provider_failures},
    with_conn,
};
use crate::error::ApiError;

/// Failures are counted in fixed windows of this many seconds (SPEC §13: 60 s).
pub const WINDOW: i64 = 60;
/// An open circuit lets one try through after this many seconds (SPEC §13: 120 s).
pub const HALF_OPEN: i64 = 120;

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sms_circuits)]
pub struct CircuitRow {
    pub provider: SmsProviderName,
    pub window_start: i64,
    pub failures: i32,
    /// When the circuit opened; None while closed.
    pub opened_at: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
    /// When an operator switched the provider off; None while it is on.
    pub disabled_at: Option<i64>,
    /// When the circuit last closed (a success after failures, or an operator's enable).
    pub closed_at: Option<i64>,
}

/// The admin view's counts reach back this far (SPEC §13 `sent_1h`, `failed_1h`).
pub const HOUR: i64 = 3600;

/// Counts one retryable failure of `provider` at `now`, opening its circuit once
/// `threshold` fall in one window. A failure while half-open opens it again. Returns
/// true when this failure opened it.
pub fn record_failure(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    error: &str,
    threshold: i32,
    now: i64,
) -> Result<bool, ApiError> {
    // Locked for the rest of the transaction on PostgreSQL, so two processes' failures
    // are counted one after the other; SQLite has one writer anyway.
    let row: Option<CircuitRow> = match conn {
        Conn::Sqlite(c) => sms_circuits::table
            .find(provider)
            .select(CircuitRow::as_select())
            .get_result(*c)
            .optional()?,
        Conn::Postgres(c) => sms_circuits::table
            .find(provider)
            .select(CircuitRow::as_select())
            .for_update()
            .get_result(*c)
            .optional()?,
    };
    let (window_start, failures) = match &row {
        Some(r) if r.window_start > now - WINDOW => (r.window_start, r.failures + 1),
        _ => (now, 1),
    };
    let was_open = row.as_ref().and_then(|r| r.opened_at);
    let opened_at = match was_open {
        // A failure while half-open starts the wait again; one while open changes nothing.
        Some(at) if now >= at + HALF_OPEN => Some(now),
        Some(at) => Some(at),
        None if failures >= threshold => Some(now),
        None => None,
    };
    let values = (
        sms_circuits::provider.eq(provider),
        sms_circuits::window_start.eq(window_start),
        sms_circuits::failures.eq(failures),
        sms_circuits::opened_at.eq(opened_at),
        sms_circuits::last_error.eq(Some(error)),
        sms_circuits::updated_at.eq(now),
    );
    with_conn!(conn, c => diesel::insert_into(sms_circuits::table)
        .values(values)
        .on_conflict(sms_circuits::provider)
        .do_update()
        .set((
            sms_circuits::window_start.eq(window_start),
            sms_circuits::failures.eq(failures),
            sms_circuits::opened_at.eq(opened_at),
            sms_circuits::last_error.eq(Some(error)),
            sms_circuits::updated_at.eq(now),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(was_open.is_none() && opened_at.is_some())
}

/// `provider` took a message: its circuit closes and its count starts again.
pub fn record_success(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    now: i64,
) -> Result<(), ApiError> {
    // Rare (only after failures): a second statement keeps the main one simple.
    with_conn!(conn, c => diesel::update(sms_circuits::table
        .find(provider)
        .filter(sms_circuits::opened_at.is_not_null()))
        .set(sms_circuits::closed_at.eq(now))
        .execute(c))?;
    with_conn!(conn, c => diesel::update(sms_circuits::table
        .find(provider)
        .filter(sms_circuits::failures.gt(0).or(sms_circuits::opened_at.is_not_null())))
        .set((
            sms_circuits::failures.eq(0),
            sms_circuits::opened_at.eq(None::<i64>),
            sms_circuits::updated_at.eq(now),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Every circuit that has seen a failure.
pub fn all(conn: &mut Conn<'_>) -> Result<Vec<CircuitRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_circuits::table
        .order(sms_circuits::provider)
        .select(CircuitRow::as_select())
        .load(c))?)
}

/// Switches `provider` off for every process, from `now` (or since it already was).
pub fn disable(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    now: i64,
) -> Result<CircuitRow, ApiError> {
    // A new row: no failures counted; otherwise only `disabled_at` changes.
    with_conn!(conn, c => diesel::insert_into(sms_circuits::table)
        .values((
            sms_circuits::provider.eq(provider),
            sms_circuits::window_start.eq(now),
            sms_circuits::failures.eq(0),
            sms_circuits::updated_at.eq(now),
            sms_circuits::disabled_at.eq(now),
        ))
        .on_conflict(sms_circuits::provider)
        .do_update()
        .set((
            sms_circuits::disabled_at.eq(diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "COALESCE(sms_circuits.disabled_at, excluded.disabled_at)",
            )),
            sms_circuits::updated_at.eq(now),
        ))
        .execute(c))?;
    find(conn, provider)?.ok_or_else(|| ApiError::Internal(anyhow::anyhow!("circuit row vanished")))
}

/// Switches `provider` on again for every process, and closes its circuit: the operator
/// says it works. None when it has no circuit row (never failed, never switched off).
pub fn enable(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    now: i64,
) -> Result<Option<CircuitRow>, ApiError> {
    with_conn!(conn, c => diesel::update(sms_circuits::table
        .find(provider)
        .filter(sms_circuits::disabled_at.is_not_null()
            .or(sms_circuits::opened_at.is_not_null())
            .or(sms_circuits::failures.gt(0))))
        .set((
            sms_circuits::disabled_at.eq(None::<i64>),
            sms_circuits::opened_at.eq(None::<i64>),
            sms_circuits::failures.eq(0),
            sms_circuits::closed_at.eq(now),
            sms_circuits::updated_at.eq(now),
        ))
        .execute(c))?;
    find(conn, provider)
}

/// `provider`'s circuit, if it has one.
pub fn find(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
) -> Result<Option<CircuitRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_circuits::table
        .find(provider)
        .select(CircuitRow::as_select())
        .get_result(c)
        .optional())?)
}

/// Counts one try of `provider` that did not hand a message over, in the minute of `now`;
/// minutes older than an hour go.
pub fn count_failure(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    now: i64,
) -> Result<(), ApiError> {
    let minute = now.div_euclid(60);
    with_conn!(conn, c => diesel::insert_into(sms_provider_failures::table)
        .values((
            sms_provider_failures::provider.eq(provider),
            sms_provider_failures::minute.eq(minute),
            sms_provider_failures::failures.eq(1),
        ))
        .on_conflict((sms_provider_failures::provider, sms_provider_failures::minute))
        .do_update()
        .set(sms_provider_failures::failures.eq(sms_provider_failures::failures + 1))
        .keep_prepared()
        .execute(c))?;
    with_conn!(conn, c => diesel::delete(sms_provider_failures::table
        .filter(sms_provider_failures::provider.eq(provider))
        .filter(sms_provider_failures::minute.lt(minute - HOUR / 60)))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// What `provider` did in the hour before `now`: messages it took (by when they were
/// queued) and tries that did not hand one over.
pub fn last_hour(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    now: i64,
) -> Result<(i64, i64), ApiError> {
    // `sms_messages` has no index on `created_at` (one would cost every queued message a
    // write), but ids grow with it: walking back from the newest id to the first older
    // message bounds the count to the last hour's rows.
    let floor: Option<i64> = with_conn!(conn, c => sms_messages::table
        .filter(sms_messages::created_at.le(now - HOUR))
        .order(sms_messages::id.desc())
        .select(sms_messages::id)
        .first(c)
        .optional())?;
    let sent: i64 = with_conn!(conn, c => sms_messages::table
        .filter(sms_messages::id.gt(floor.unwrap_or(0)))
        .filter(sms_messages::provider.eq(provider))
        .filter(sms_messages::provider_sid.is_not_null())
        .filter(sms_messages::created_at.gt(now - HOUR))
        .count()
        .get_result(c))?;
    let failed: Option<i64> = with_conn!(conn, c => sms_provider_failures::table
        .filter(sms_provider_failures::provider.eq(provider))
        .filter(sms_provider_failures::minute.gt((now - HOUR).div_euclid(60)))
        .select(diesel::dsl::sum(sms_provider_failures::failures))
        .get_result(c))?;
    Ok((sent, failed.unwrap_or(0)))
}
