//! The SMS fraud guard's state: its pauses and decisions. Its send and verify counts are
//! hourly rows of `rate_counters`, read here by key range.

use diesel::prelude::*;
use phonereg_types::FraudScope;

use super::{
    Conn, KeepPreparedDsl as _,
    models::{DecisionRow, NewDecision, NewPause, PauseRow},
    schema::{rate_counters, sms_fraud_decisions, sms_fraud_pauses},
    with_conn,
};
use crate::error::ApiError;

/// The pauses of either key (a range and its country) that were in force at some point
/// after `since`: the ones in force now and the ones that ended or were lifted since.
pub fn recent_for(
    conn: &mut Conn<'_>,
    range: &str,
    country: &str,
    since: i64,
) -> Result<Vec<PauseRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_fraud_pauses::table
        .filter(sms_fraud_pauses::key.eq(range).or(sms_fraud_pauses::key.eq(country)))
        .filter(sms_fraud_pauses::until.gt(since))
        .select(PauseRow::as_select())
        .keep_prepared()
        .load(c))?)
}

/// Every counter row whose key starts with `prefix`, in windows from `since` on.
/// One key range of the primary key: `prefix` ends with ':' and ';' sorts right after it.
pub fn counts_under(
    conn: &mut Conn<'_>,
    prefix: &str,
    since: i64,
) -> Result<Vec<(String, i64)>, ApiError> {
    let end = format!("{};", prefix.trim_end_matches(':'));
    Ok(with_conn!(conn, c => rate_counters::table
        .filter(rate_counters::key.ge(prefix))
        .filter(rate_counters::key.lt(end.as_str()))
        .filter(rate_counters::window_start.ge(since))
        .select((rate_counters::key, rate_counters::count))
        .keep_prepared()
        .load(c))?)
}

/// [`counts_under`] for two prefixes, each from its own window, in one statement:
/// the rows of the first, then of the second, told apart by their keys.
pub fn counts_under_two(
    conn: &mut Conn<'_>,
    (first, first_since): (&str, i64),
    (second, second_since): (&str, i64),
) -> Result<Vec<(String, i64)>, ApiError> {
    let first_end = format!("{};", first.trim_end_matches(':'));
    let second_end = format!("{};", second.trim_end_matches(':'));
    Ok(with_conn!(conn, c => rate_counters::table
        .filter(
            rate_counters::key.ge(first)
                .and(rate_counters::key.lt(first_end.as_str()))
                .and(rate_counters::window_start.ge(first_since))
                .or(rate_counters::key.ge(second)
                    .and(rate_counters::key.lt(second_end.as_str()))
                    .and(rate_counters::window_start.ge(second_since))),
        )
        .select((rate_counters::key, rate_counters::count))
        .keep_prepared()
        .load(c))?)
}

/// Whether the counter `key` has a row in a window from `since` on.
pub fn counted_since(conn: &mut Conn<'_>, key: &str, since: i64) -> Result<bool, ApiError> {
    let rows: Vec<i64> = with_conn!(conn, c => rate_counters::table
        .filter(rate_counters::key.eq(key))
        .filter(rate_counters::window_start.ge(since))
        .select(rate_counters::window_start)
        .keep_prepared()
        .load(c))?;
    Ok(!rows.is_empty())
}

/// Forgets every counter row under `prefix` (an operator lifted that key's pause, so the
/// codes that caused it must not pause it again at once).
pub fn reset_counts(conn: &mut Conn<'_>, prefix: &str) -> Result<usize, ApiError> {
    let end = format!("{};", prefix.trim_end_matches(':'));
    Ok(with_conn!(conn, c => diesel::delete(rate_counters::table
        .filter(rate_counters::key.ge(prefix))
        .filter(rate_counters::key.lt(end.as_str())))
        .execute(c))?)
}

/// Range pauses in force in `country`.
pub fn active_ranges_in(conn: &mut Conn<'_>, country: &str, now: i64) -> Result<i64, ApiError> {
    Ok(with_conn!(conn, c => sms_fraud_pauses::table
        .filter(sms_fraud_pauses::country.eq(country))
        .filter(sms_fraud_pauses::scope.eq(FraudScope::Range))
        .filter(sms_fraud_pauses::until.gt(now))
        .filter(sms_fraud_pauses::lifted_at.is_null())
        .count()
        .get_result(c))?)
}

pub fn insert_pause(conn: &mut Conn<'_>, new: &NewPause<'_>) -> Result<PauseRow, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(sms_fraud_pauses::table)
        .values(new)
        .returning(PauseRow::as_returning())
        .get_result(c))?,
    )
}

pub fn insert_decision(conn: &mut Conn<'_>, new: &NewDecision<'_>) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(sms_fraud_decisions::table)
        .values(new)
        .execute(c))?;
    Ok(())
}

/// Every pause in force, newest first (operators).
pub fn list_active(conn: &mut Conn<'_>, now: i64) -> Result<Vec<PauseRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_fraud_pauses::table
        .filter(sms_fraud_pauses::until.gt(now))
        .filter(sms_fraud_pauses::lifted_at.is_null())
        .order(sms_fraud_pauses::id.desc())
        .select(PauseRow::as_select())
        .load(c))?)
}

/// Lifts pause `id` if it is in force, recording the operator; the lifted row, or `None`.
pub fn lift(
    conn: &mut Conn<'_>,
    id: i64,
    operator: &str,
    now: i64,
) -> Result<Option<PauseRow>, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(sms_fraud_pauses::table
        .filter(sms_fraud_pauses::id.eq(id))
        .filter(sms_fraud_pauses::until.gt(now))
        .filter(sms_fraud_pauses::lifted_at.is_null()))
        .set((sms_fraud_pauses::lifted_at.eq(now), sms_fraud_pauses::lifted_by.eq(operator)))
        .returning(PauseRow::as_returning())
        .get_results(c))?
    .pop())
}

/// The newest `limit` decisions.
pub fn recent_decisions(conn: &mut Conn<'_>, limit: i64) -> Result<Vec<DecisionRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_fraud_decisions::table
        .order(sms_fraud_decisions::id.desc())
        .limit(limit)
        .select(DecisionRow::as_select())
        .load(c))?)
}
