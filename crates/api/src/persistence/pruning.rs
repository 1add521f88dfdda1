//! Deleting what has expired, a batch at a time (SPEC §11: at most 5 000 rows per
//! transaction), so a prune of millions of rows never holds the write lock (SQLite) or a
//! long transaction (PostgreSQL) while requests wait on it.
//!
//! A batch walks the table in physical order from a cursor (SQLite's `rowid`,
//! PostgreSQL's `ctid`, a TID range scan) instead of starting at the front each time: on
//! PostgreSQL the rows a batch deleted stay in the heap until vacuum, and a scan from the
//! front would step over every one of them again in the next batch.

use diesel::{
    QueryableByName, RunQueryDsl as _,
    pg::Pg,
    sql_types::{BigInt, Text},
    sqlite::Sqlite,
};

use super::Conn;
use crate::error::ApiError;

/// Rows one transaction may delete at most (SPEC §11); callers ask for fewer.
pub const BATCH: usize = 5_000;

/// One kind of row to prune: `table` rows matching `condition`, a boolean SQL expression
/// over the table's columns whose `?` placeholders take `binds`, in order.
#[derive(Clone, Debug)]
pub struct Job {
    pub table: &'static str,
    pub condition: &'static str,
    pub binds: Vec<i64>,
}

/// Where a job has got to: rows before it were looked at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor(i64, i64);

/// What one batch did: rows deleted, and the cursor to go on from (`None` when the job
/// is done).
pub struct Batch {
    pub deleted: usize,
    pub next: Option<Cursor>,
}

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = Text)]
    at: String,
}

/// Deletes at most `limit` rows (never more than [`BATCH`]) of `job` after `from`, in one
/// statement.
pub fn delete_batch(
    conn: &mut Conn<'_>,
    job: &Job,
    from: Cursor,
    limit: usize,
) -> Result<Batch, ApiError> {
    let limit = limit.clamp(1, BATCH);
    let rows: Vec<Deleted> = match conn {
        Conn::Sqlite(c) => {
            let sql = format!(
                "DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} \
                 WHERE rowid > ? AND ({cond}) ORDER BY rowid LIMIT {limit}) \
                 RETURNING CAST(rowid AS TEXT) AS at",
                t = job.table,
                cond = job.condition,
            );
            let mut q = diesel::sql_query(sql).into_boxed::<Sqlite>();
            q = q.bind::<BigInt, _>(from.1);
            for b in &job.binds {
                q = q.bind::<BigInt, _>(*b);
            }
            q.load(*c)?
        }
        Conn::Postgres(c) => {
            // `?` placeholders become `$2…`; `$1` is the cursor.
            let mut cond = String::new();
            for (i, part) in job.condition.split('?').enumerate() {
                if i > 0 {
                    cond.push_str(&format!("${}", i + 1));
                }
                cond.push_str(part);
            }
            let sql = format!(
                "DELETE FROM {t} WHERE ctid = ANY(ARRAY(SELECT ctid FROM {t} \
                 WHERE ctid > $1::tid AND ({cond}) LIMIT {limit})) \
                 RETURNING ctid::text AS at",
                t = job.table,
            );
            let mut q = diesel::sql_query(sql).into_boxed::<Pg>();
            q = q.bind::<Text, _>(format!("({},{})", from.0, from.1));
            for b in &job.binds {
                q = q.bind::<BigInt, _>(*b);
            }
            q.load(*c)?
        }
    };
    let deleted = rows.len();
    let last = rows.iter().filter_map(|r| parse_cursor(&r.at)).max();
    let next = if deleted < limit {
        None
    } else {
        Some(last.unwrap_or(from).max(from))
    };
    Ok(Batch { deleted, next })
}

/// A rowid (`"42"`) or a ctid (`"(7,3)"`).
fn parse_cursor(text: &str) -> Option<Cursor> {
    match text.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        Some(pair) => {
            let (block, offset) = pair.split_once(',')?;
            Some(Cursor(block.parse().ok()?, offset.parse().ok()?))
        }
        None => Some(Cursor(0, text.parse().ok()?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_parse_from_rowids_and_ctids_and_order_as_the_table_does() {
        assert_eq!(parse_cursor("42"), Some(Cursor(0, 42)));
        assert_eq!(parse_cursor("(7,3)"), Some(Cursor(7, 3)));
        assert!(parse_cursor("(10,1)") > parse_cursor("(9,200)"));
        assert_eq!(parse_cursor("x"), None);
    }
}
