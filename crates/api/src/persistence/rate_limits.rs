//! Fixed-window counters, shared by every API process through the database.

use diesel::{prelude::*, upsert::excluded};

use super::{Conn, KeepPreparedDsl as _, schema::rate_counters, with_conn};
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
        .keep_prepared()
        .get_result(c))?,
    )
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::Text)]
    key: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    window_start: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

/// [`hit`] for several counters in one statement; returns each counter's new count, in
/// the order of `counters` (pairs of key and window start).
///
/// Written as SQL because diesel cannot put a multi-row insert and `ON CONFLICT`
/// together on SQLite; the statement is the same on both backends but for placeholders.
pub fn hit_many(conn: &mut Conn<'_>, counters: &[(String, i64)]) -> Result<Vec<i64>, ApiError> {
    if counters.is_empty() {
        return Ok(Vec::new());
    }
    let placeholder = |i: usize| match conn {
        Conn::Sqlite(_) => "?".to_owned(),
        Conn::Postgres(_) => format!("${i}"),
    };
    let values: Vec<String> = (0..counters.len())
        .map(|i| {
            format!(
                "({}, {}, 1)",
                placeholder(2 * i + 1),
                placeholder(2 * i + 2)
            )
        })
        .collect();
    let sql = format!(
        "INSERT INTO rate_counters (key, window_start, count) VALUES {} \
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_counters.count + 1 \
         RETURNING key, window_start, count",
        values.join(", ")
    );
    macro_rules! bound {
        ($c:expr) => {{
            let mut query = diesel::sql_query(sql.as_str()).into_boxed();
            for (key, window_start) in counters {
                query = query
                    .bind::<diesel::sql_types::Text, _>(key.as_str())
                    .bind::<diesel::sql_types::BigInt, _>(*window_start);
            }
            // One form per number of counters: a handful of cached statements.
            query.keep_prepared().load::<Counted>($c)?
        }};
    }
    let counted = match conn {
        Conn::Sqlite(c) => bound!(*c),
        Conn::Postgres(c) => bound!(*c),
    };
    // RETURNING promises no order: match the rows back to their counters.
    counters
        .iter()
        .map(|(key, window_start)| {
            counted
                .iter()
                .find(|row| &row.key == key && row.window_start == *window_start)
                .map(|row| row.count)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("counter {key} not returned")))
        })
        .collect()
}

/// One row a counter may take on PostgreSQL (see [`hit_free_rows`]): which counter it
/// belongs to (numbered 1, 2, … in the order to count them), its key and window start,
/// and how many it may hold.
pub struct Candidate {
    pub counter: i32,
    pub key: String,
    pub window_start: i64,
    pub cap: i64,
}

/// Binds the candidates as `phonereg_hit_free_rows`'s four parallel arrays.
macro_rules! bind_candidates {
    ($query:expr, $candidates:expr) => {{
        use diesel::sql_types::{Array, BigInt, Integer, Text};
        let c: &[Candidate] = $candidates;
        let keys: Vec<&str> = c.iter().map(|w| w.key.as_str()).collect();
        let windows: Vec<i64> = c.iter().map(|w| w.window_start).collect();
        let caps: Vec<i64> = c.iter().map(|w| w.cap).collect();
        let counters: Vec<i32> = c.iter().map(|w| w.counter).collect();
        $query
            .bind::<Array<Text>, _>(keys)
            .bind::<Array<BigInt>, _>(windows)
            .bind::<Array<BigInt>, _>(caps)
            .bind::<Array<Integer>, _>(counters)
    }};
}

/// PostgreSQL: counts each counter once, on a row of it that no other transaction holds
/// and that holds fewer than its cap (the function `phonereg_hit_free_rows`, migration
/// 2026-12-13-200002), waiting only when every such row is held or none exists yet.
/// The candidates are each counter's rows in the order to try them; a counter with one
/// row is a plain upsert. Returns each counter's new count in counter order, or None
/// when every row of some counter was full: then nothing was counted and no row stays
/// locked.
///
/// A send counts six counters every send shares. Taking a random row of each and
/// waiting for it queued sends behind each other's whole transactions.
pub fn hit_free_rows(
    conn: &mut Conn<'_>,
    candidates: &[Candidate],
) -> Result<Option<Vec<i64>>, ApiError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        counter: i32,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        counted_count: i64,
    }
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "hit_free_rows is for PostgreSQL (SQLite's counters are never striped)"
        )));
    };
    let query = diesel::sql_query(
        "SELECT counter, counted_count FROM phonereg_hit_free_rows($1, $2, $3, $4)",
    );
    let rows: Vec<Row> = bind_candidates!(query, candidates)
        .keep_prepared()
        .load(*c)?;
    let counters = candidates.last().map_or(0, |w| w.counter);
    if rows.len() < usize::try_from(counters).unwrap_or(0) {
        return Ok(None);
    }
    let mut counts: Vec<(i32, i64)> = rows
        .into_iter()
        .map(|r| (r.counter, r.counted_count))
        .collect();
    counts.sort_unstable_by_key(|(counter, _)| *counter);
    Ok(Some(counts.into_iter().map(|(_, n)| n).collect()))
}

/// PostgreSQL: takes the row of `once` (key, window start) unless the key has a row in a
/// window from `since` on, and only if it was taken counts the candidates as
/// [`hit_free_rows`] does (uncapped); true when taken. One round trip where SQLite runs
/// two statements: a verify's credit and the guard's three verified counts.
pub fn hit_free_rows_once(
    conn: &mut Conn<'_>,
    (once, window_start, since): (&str, i64, i64),
    candidates: &[Candidate],
) -> Result<bool, ApiError> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        taken: bool,
    }
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "hit_free_rows_once is for PostgreSQL"
        )));
    };
    let query = diesel::sql_query(
        "SELECT phonereg_hit_free_rows_once($5, $6, $7, $1, $2, $3, $4) AS taken",
    );
    let taken: Taken = bind_candidates!(query, candidates)
        .bind::<diesel::sql_types::Text, _>(once)
        .bind::<diesel::sql_types::BigInt, _>(window_start)
        .bind::<diesel::sql_types::BigInt, _>(since)
        .keep_prepared()
        .get_result(*c)?;
    Ok(taken.taken)
}

/// Takes one slot of the row of `key` if it holds fewer than `cap`; false when it is full.
/// A plain conditional UPDATE locks a row only when it changes it, so passing over a
/// full row neither waits on nor blocks anyone for the rest of the transaction.
pub fn take(conn: &mut Conn<'_>, key: &str, window_start: i64, cap: i64) -> Result<bool, ApiError> {
    if cap <= 0 {
        return Ok(false);
    }
    let bump = |conn: &mut Conn<'_>| -> Result<bool, ApiError> {
        let changed = with_conn!(conn, c => diesel::update(rate_counters::table
            .filter(rate_counters::key.eq(key))
            .filter(rate_counters::window_start.eq(window_start))
            .filter(rate_counters::count.lt(cap)))
            .set(rate_counters::count.eq(rate_counters::count + 1_i64))
            .keep_prepared()
            .execute(c))?;
        Ok(changed == 1)
    };
    if bump(conn)? {
        return Ok(true);
    }
    let created = with_conn!(conn, c => diesel::insert_into(rate_counters::table)
        .values((
            rate_counters::key.eq(key),
            rate_counters::window_start.eq(window_start),
            rate_counters::count.eq(1_i64),
        ))
        .on_conflict_do_nothing()
        .keep_prepared()
        .execute(c))?;
    // Not created: the row exists (it was full, or a racer made it just now).
    Ok(created == 1 || bump(conn)?)
}

/// Takes back one event from each counter of `keys` in the window (never below zero):
/// a login that turned out right returns the guess it was charged up front.
///
/// One UPDATE per key, in the order given (the order [`hit_many`] counted them in): on
/// PostgreSQL one `key = ANY(…)` UPDATE locked the rows in whatever order it scanned
/// them, while a concurrent `hit_many` locked them in list order, and logins of one
/// email deadlocked each other (a 500 for one of them) under load. On PostgreSQL the
/// keys are one statement all the same: a `SELECT … ORDER BY … FOR UPDATE` locks its
/// rows in its output order (the lock step runs above the sort), so the rows are locked
/// in the order given, then the UPDATE joins them.
pub fn unhit(conn: &mut Conn<'_>, keys: &[String], window_start: i64) -> Result<(), ApiError> {
    if let Conn::Postgres(c) = conn
        && keys.len() > 1
    {
        diesel::sql_query(
            "WITH locked AS (SELECT key, window_start FROM rate_counters \
               WHERE key = ANY($1) AND window_start = $2 AND count > 0 \
               ORDER BY array_position($1, key) FOR UPDATE) \
             UPDATE rate_counters r SET count = r.count - 1 FROM locked l \
             WHERE r.key = l.key AND r.window_start = l.window_start",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(keys)
        .bind::<diesel::sql_types::BigInt, _>(window_start)
        .keep_prepared()
        .execute(*c)?;
        return Ok(());
    }
    for key in keys {
        with_conn!(conn, c => diesel::update(rate_counters::table
            .filter(rate_counters::key.eq(key))
            .filter(rate_counters::window_start.eq(window_start))
            .filter(rate_counters::count.gt(0_i64)))
            .set(rate_counters::count.eq(rate_counters::count - 1_i64))
            .keep_prepared()
            .execute(c))?;
    }
    Ok(())
}

/// The count over the rows of `keys` in the window, without changing it.
pub fn total(conn: &mut Conn<'_>, keys: &[String], window_start: i64) -> Result<i64, ApiError> {
    let counts: Vec<i64> = with_conn!(conn, c => rate_counters::table
        .filter(rate_counters::key.eq_any(keys))
        .filter(rate_counters::window_start.eq(window_start))
        .select(rate_counters::count)
        .load(c))?;
    Ok(counts.into_iter().sum())
}
