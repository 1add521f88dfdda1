//! Fixed-window counters, shared by every API process through the database.

use diesel::{prelude::*, upsert::excluded};

use super::{Conn, schema::rate_counters, with_conn};
use crate::error::ApiError;

/// Adds one to the counter of `key` in the window starting at `window_start` and
/// returns the new count. One statement, so concurrent processes never lose a hit.
pub fn hit(conn: &mut Conn<'_>, key: &str, window_start: i64) -> Result<i64, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(rate_counters::table)
        .values((
            rate_counters::key.eq(key),
            rate_counters::window_start.eq(window_start),
            rate_counters::count.eq(1_i64),
        ))
        .on_conflict((rate_counters::key, rate_counters::window_start))
        .do_update()
        .set(rate_counters::count.eq(rate_counters::count + excluded(rate_counters::count)))
        .returning(rate_counters::count)
        .get_result(c))?,
    )
}

/// The current count without changing it.
pub fn peek(conn: &mut Conn<'_>, key: &str, window_start: i64) -> Result<i64, ApiError> {
    Ok(with_conn!(conn, c => rate_counters::table
        .filter(rate_counters::key.eq(key))
        .filter(rate_counters::window_start.eq(window_start))
        .select(rate_counters::count)
        .load(c))?
    .into_iter()
    .next()
    .unwrap_or(0))
}

/// Drops windows that ended before `before`; called now and then, not per request.
pub fn prune(conn: &mut Conn<'_>, before: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::delete(rate_counters::table
        .filter(rate_counters::window_start.lt(before)))
        .execute(c))?)
}
