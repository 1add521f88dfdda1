//! The SMS fraud guard's state: its pauses and decisions. Its send and verify counts are
//! hourly rows of `rate_counters`, read here by key range.

use diesel::{
    prelude::*,
    sql_types::{Array, BigInt, Bool, Nullable, Text},
};
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
    let end = range_end(prefix);
    match conn {
        Conn::Sqlite(c) => Ok(rate_counters::table
            .filter(rate_counters::key.ge(prefix))
            .filter(rate_counters::key.lt(end.as_str()))
            .filter(rate_counters::window_start.ge(since))
            .select((rate_counters::key, rate_counters::count))
            .keep_prepared()
            .load(*c)?),
        Conn::Postgres(_) => Ok(pg_ranges(conn, &[(prefix, since)])?
            .into_iter()
            .map(|(key, _, count)| (key, count))
            .collect()),
    }
}

/// [`counts_under`] for three prefixes, each from its own window, in one statement,
/// told apart by their keys.
pub fn counts_under_three(
    conn: &mut Conn<'_>,
    [(a, a_since), (b, b_since), (g, g_since)]: [(&str, i64); 3],
) -> Result<Vec<(String, i64)>, ApiError> {
    let (a_end, b_end, g_end) = (range_end(a), range_end(b), range_end(g));
    match conn {
        Conn::Sqlite(c) => Ok(rate_counters::table
            .filter(
                rate_counters::key
                    .ge(a)
                    .and(rate_counters::key.lt(a_end.as_str()))
                    .and(rate_counters::window_start.ge(a_since))
                    .or(rate_counters::key
                        .ge(b)
                        .and(rate_counters::key.lt(b_end.as_str()))
                        .and(rate_counters::window_start.ge(b_since)))
                    .or(rate_counters::key
                        .ge(g)
                        .and(rate_counters::key.lt(g_end.as_str()))
                        .and(rate_counters::window_start.ge(g_since))),
            )
            .select((rate_counters::key, rate_counters::count))
            .keep_prepared()
            .load(*c)?),
        Conn::Postgres(_) => {
            let ranges = [(a, a_since), (b, b_since), (g, g_since)];
            Ok(pg_ranges(conn, &ranges)?
                .into_iter()
                .map(|(key, _, count)| (key, count))
                .collect())
        }
    }
}

/// The key that sorts right after every key under `prefix` (which ends with ':').
fn range_end(prefix: &str) -> String {
    format!("{};", prefix.trim_end_matches(':'))
}

/// PostgreSQL: the counter rows under each `(prefix, since)`, through
/// `phonereg_counter_ranges` (migration 2026-12-13-200001), whose plan never scans the
/// whole table: a plan kept from when the table was small otherwise does until the next
/// ANALYZE.
fn pg_ranges(conn: &mut Conn<'_>, ranges: &[(&str, i64)]) -> Result<Vec<CounterRow>, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "pg_ranges is for PostgreSQL"
        )));
    };
    let lo: Vec<&str> = ranges.iter().map(|(p, _)| *p).collect();
    let hi: Vec<String> = ranges.iter().map(|(p, _)| range_end(p)).collect();
    let since: Vec<i64> = ranges.iter().map(|(_, s)| *s).collect();
    let rows: Vec<RangeRow> = diesel::sql_query(
        "SELECT key, window_start, count FROM phonereg_counter_ranges($1, $2, $3)",
    )
    .bind::<Array<Text>, _>(&lo)
    .bind::<Array<Text>, _>(&hi)
    .bind::<Array<BigInt>, _>(&since)
    .keep_prepared()
    .load(*c)?;
    Ok(rows
        .into_iter()
        .map(|r| (r.key, r.window_start, r.count))
        .collect())
}

/// A row of `phonereg_counter_ranges`.
#[derive(QueryableByName)]
struct RangeRow {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    window_start: i64,
    #[diesel(sql_type = BigInt)]
    count: i64,
}

/// A row of [`recent_and_counts`]: a pause (`id` set) or a counter row (`window_start`
/// set).
#[derive(QueryableByName)]
struct PauseOrCount {
    #[diesel(sql_type = Nullable<BigInt>)]
    id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    scope: Option<FraudScope>,
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = Nullable<Text>)]
    country: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    since: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    until: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    sent: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    verified: Option<i64>,
    #[diesel(sql_type = Nullable<Bool>)]
    enforced: Option<bool>,
    #[diesel(sql_type = Nullable<BigInt>)]
    lifted_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    lifted_by: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    window_start: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    count: Option<i64>,
}

/// A counter row: its key, window start and count.
pub type CounterRow = (String, i64, i64);

/// PostgreSQL: [`recent_for`] and the counter rows under three prefixes (each ending with
/// ':') in windows from `since` on, with their window starts, in one statement (a send's
/// second look, once it is counted: the caller picks each key's own window start).
pub fn recent_and_counts(
    conn: &mut Conn<'_>,
    range: &str,
    country: &str,
    since: i64,
    prefixes: [&str; 3],
) -> Result<(Vec<PauseRow>, Vec<CounterRow>), ApiError> {
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "recent_and_counts is for PostgreSQL"
        )));
    };
    // The counter rows through `phonereg_counter_ranges`: see `pg_ranges`.
    let hi: Vec<String> = prefixes.iter().map(|p| range_end(p)).collect();
    let rows: Vec<PauseOrCount> = diesel::sql_query(
        "SELECT id, scope, key, country, since, until, sent, verified, enforced, lifted_at, \
           lifted_by, NULL::bigint AS window_start, NULL::bigint AS count \
         FROM sms_fraud_pauses WHERE (key = $1 OR key = $2) AND until > $3 \
         UNION ALL \
         SELECT NULL, NULL, key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, window_start, count \
         FROM phonereg_counter_ranges($4, $5, ARRAY[$3, $3, $3])",
    )
    .bind::<Text, _>(range)
    .bind::<Text, _>(country)
    .bind::<BigInt, _>(since)
    .bind::<Array<Text>, _>(&prefixes[..])
    .bind::<Array<Text>, _>(&hi)
    .keep_prepared()
    .load(*c)?;
    let (mut pauses, mut counts) = (Vec::new(), Vec::new());
    for r in rows {
        match (r.id, r.window_start) {
            (Some(id), _) => pauses.push(PauseRow {
                id,
                scope: r.scope.unwrap_or(FraudScope::Range),
                key: r.key,
                country: r.country.unwrap_or_default(),
                since: r.since.unwrap_or_default(),
                until: r.until.unwrap_or_default(),
                sent: r.sent.unwrap_or_default(),
                verified: r.verified.unwrap_or_default(),
                enforced: r.enforced.unwrap_or_default(),
                lifted_at: r.lifted_at,
                lifted_by: r.lifted_by,
            }),
            (None, Some(window_start)) => {
                counts.push((r.key, window_start, r.count.unwrap_or_default()))
            }
            (None, None) => {}
        }
    }
    Ok((pauses, counts))
}

/// Takes the counter `key`'s row for the window at `window_start`, unless it has a row
/// in a window from `since` on: true when taken. One statement, so a verify spends one
/// write on the credit rule rather than a read and a write.
pub fn take_once_since(
    conn: &mut Conn<'_>,
    key: &str,
    window_start: i64,
    since: i64,
) -> Result<bool, ApiError> {
    let p = |n: u8| match conn {
        Conn::Sqlite(_) => format!("?{n}"),
        Conn::Postgres(_) => format!("${n}"),
    };
    // The WHERE clause also keeps SQLite's parser from reading ON CONFLICT as a join's
    // ON; the conflict clause covers two racing verifies of one number on PostgreSQL.
    let sql = format!(
        "INSERT INTO rate_counters (key, window_start, count) SELECT {key}, {window}, 1 \
         WHERE NOT EXISTS (SELECT 1 FROM rate_counters WHERE key = {key} AND window_start >= {since}) \
         ON CONFLICT (key, window_start) DO NOTHING",
        key = p(1),
        window = p(2),
        since = p(3),
    );
    let taken = with_conn!(conn, c => diesel::sql_query(sql.as_str())
        .bind::<diesel::sql_types::Text, _>(key)
        .bind::<diesel::sql_types::BigInt, _>(window_start)
        .bind::<diesel::sql_types::BigInt, _>(since)
        .keep_prepared()
        .execute(c))?;
    Ok(taken > 0)
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
