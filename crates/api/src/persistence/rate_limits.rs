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

/// PostgreSQL: takes the row of `once` (key, window start) unless the key has a row in a
/// window from `since` on, and only if it was taken adds one to each of `counters` (as
/// [`hit_many`], locked in the order given); true when taken. One statement where
/// SQLite runs two: a verify's credit and the guard's three verified counts.
pub fn hit_many_once(
    conn: &mut Conn<'_>,
    (once, window_start, since): (&str, i64, i64),
    counters: &[(String, i64)],
) -> Result<bool, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "hit_many_once is for PostgreSQL"
        )));
    };
    let values: Vec<String> = (0..counters.len())
        .map(|i| format!("(${}, ${})", 2 * i + 4, 2 * i + 5))
        .collect();
    // A data-modifying CTE runs to its end whatever reads it; the main INSERT only
    // inserts when it took the row. The keys differ, so the two never meet.
    let sql = format!(
        "WITH taken AS (INSERT INTO rate_counters (key, window_start, count) \
           SELECT $1, $2, 1 \
           WHERE NOT EXISTS (SELECT 1 FROM rate_counters WHERE key = $1 AND window_start >= $3) \
           ON CONFLICT (key, window_start) DO NOTHING RETURNING 1) \
         INSERT INTO rate_counters AS r (key, window_start, count) \
         SELECT v.key, v.window_start, 1 FROM (VALUES {}) AS v (key, window_start) \
         WHERE EXISTS (SELECT 1 FROM taken) \
         ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1",
        values.join(", ")
    );
    let mut query = diesel::sql_query(sql.as_str())
        .into_boxed()
        .bind::<diesel::sql_types::Text, _>(once)
        .bind::<diesel::sql_types::BigInt, _>(window_start)
        .bind::<diesel::sql_types::BigInt, _>(since);
    for (key, window_start) in counters {
        query = query
            .bind::<diesel::sql_types::Text, _>(key.as_str())
            .bind::<diesel::sql_types::BigInt, _>(*window_start);
    }
    Ok(query.keep_prepared().execute(*c)? > 0)
}

/// One counter row for [`hit_capped`]: its key, window start and the count it may reach.
pub struct Capped<'a> {
    pub key: &'a str,
    pub window_start: i64,
    pub cap: i64,
}

/// PostgreSQL: adds one to each counter in one statement, but only to a row that holds
/// fewer than its `cap` (a row that does not exist yet is created at 1); returns each
/// counter's new count in the order given, None for a row that was full and kept its
/// count. Rows are locked in the order given; a full row is locked too (an `ON
/// CONFLICT DO UPDATE` locks the row it meets, changed or not) until the transaction
/// ends. Keys must be distinct.
///
/// The striped counters of one send (client networks, the guard's rows, the budget) were
/// one or two statements each; here they are one with the plain counters.
pub fn hit_capped(
    conn: &mut Conn<'_>,
    counters: &[Capped<'_>],
) -> Result<Vec<Option<i64>>, ApiError> {
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "hit_capped is for PostgreSQL (SQLite's counters are never striped)"
        )));
    };
    if counters.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<String> = (0..counters.len())
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    // The caps ride in a CTE: `excluded` only has the table's columns. A VALUES list is
    // inserted in its order, so rows are locked in the order given.
    let sql = format!(
        "WITH want (key, window_start, cap) AS (VALUES {}) \
         INSERT INTO rate_counters AS r (key, window_start, count) \
         SELECT key, window_start, 1 FROM want \
         ON CONFLICT (key, window_start) DO UPDATE SET count = r.count + 1 \
         WHERE r.count < (SELECT w.cap FROM want w \
                          WHERE w.key = excluded.key AND w.window_start = excluded.window_start) \
         RETURNING key, window_start, count",
        values.join(", ")
    );
    let mut query = diesel::sql_query(sql.as_str()).into_boxed();
    for counter in counters {
        query = query
            .bind::<diesel::sql_types::Text, _>(counter.key)
            .bind::<diesel::sql_types::BigInt, _>(counter.window_start)
            .bind::<diesel::sql_types::BigInt, _>(counter.cap);
    }
    // One form per number of counters: a handful of cached statements.
    let counted: Vec<Counted> = query.keep_prepared().load(*c)?;
    Ok(counters
        .iter()
        .map(|want| {
            counted
                .iter()
                .find(|row| row.key == want.key && row.window_start == want.window_start)
                .map(|row| row.count)
        })
        .collect())
}

/// PostgreSQL: [`hit_capped`] all or nothing, in one round trip: the new counts in the
/// order given, or None when a row was full, in which case nothing was counted and no
/// row stays locked (the function `phonereg_hit_capped_or_none`, migration
/// 2026-12-12-200001, runs the upsert in a subtransaction it rolls back). Replaces a
/// `SAVEPOINT` before [`hit_capped`] and a `ROLLBACK TO` after it.
pub fn hit_capped_or_none(
    conn: &mut Conn<'_>,
    counters: &[Capped<'_>],
) -> Result<Option<Vec<i64>>, ApiError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        counted_key: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        counted_window: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        counted_count: i64,
    }
    let Conn::Postgres(c) = conn else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "hit_capped_or_none is for PostgreSQL (SQLite's counters are never striped)"
        )));
    };
    use diesel::sql_types::{Array, BigInt, Text};
    let keys: Vec<&str> = counters.iter().map(|w| w.key).collect();
    let windows: Vec<i64> = counters.iter().map(|w| w.window_start).collect();
    let caps: Vec<i64> = counters.iter().map(|w| w.cap).collect();
    let rows: Vec<Row> = diesel::sql_query("SELECT * FROM phonereg_hit_capped_or_none($1, $2, $3)")
        .bind::<Array<Text>, _>(&keys)
        .bind::<Array<BigInt>, _>(&windows)
        .bind::<Array<BigInt>, _>(&caps)
        .keep_prepared()
        .load(*c)?;
    if rows.len() < counters.len() {
        return Ok(None);
    }
    counters
        .iter()
        .map(|want| {
            rows.iter()
                .find(|r| r.counted_key == want.key && r.counted_window == want.window_start)
                .map(|r| r.counted_count)
                .ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("counter {} not returned", want.key))
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
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
