//! Each SMS provider's circuit (`sms_circuits`), shared by every API process: failures
//! are counted here, so one process's outage evidence moves every process's messages.

use diesel::{OptionalExtension as _, prelude::*};
use phonereg_types::SmsProviderName;

use super::{Conn, KeepPreparedDsl as _, schema::sms_circuits, with_conn};
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
}

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
