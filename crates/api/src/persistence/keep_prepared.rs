//! Statements kept prepared: [`KeepPrepared`] and how it runs a write.

use diesel::{
    QueryResult, RunQueryDsl as _,
    backend::Backend,
    connection::{Connection as _, LoadConnection},
    pg::PgConnection,
    query_builder::{AstPass, Query, QueryFragment, QueryId},
    sql_types::{BigInt, Untyped},
    sqlite::{Sqlite, SqliteConnection},
};

/// A statement whose SQL never varies, kept as a prepared statement.
///
/// Diesel prepares every UPDATE and every `ON CONFLICT … DO UPDATE` afresh on each call
/// (some changesets skip `None` fields, so their SQL could vary) and, on PostgreSQL, every
/// insert with an optional column. A send-code ran six such statements: SQLite parsed and
/// planned each one every time, PostgreSQL too. Wrapped queries are cached by their SQL
/// text and bind types, so even one that did vary would only get one cache entry per
/// form; wrap only queries with a fixed set of forms (no `IN` lists).
///
/// Loads (`load`, `get_result`) pass the wrapper to diesel by value and are cached. A
/// write without rows goes through [`KeepPrepared::execute`], not diesel's: see there.
#[derive(Debug, Clone, Copy)]
pub struct KeepPrepared<Q>(Q);

pub trait KeepPreparedDsl: Sized {
    fn keep_prepared(self) -> KeepPrepared<Self> {
        KeepPrepared(self)
    }
}

impl<Q> KeepPreparedDsl for Q {}

impl<Q> QueryId for KeepPrepared<Q> {
    type QueryId = ();
    // Not a static id: the cache keys these by their SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for KeepPrepared<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q: Query> Query for KeepPrepared<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, C> diesel::RunQueryDsl<C> for KeepPrepared<Q> {}

impl<Q> KeepPrepared<Q> {
    /// Runs a write and returns the rows it changed, from the prepared statement.
    ///
    /// Shadows diesel's `execute`, which hands the connection `&KeepPrepared`: diesel's
    /// `QueryFragment for &T` does not pass `is_safe_to_cache_prepared` on, so its default
    /// walked the wrapped query, found it "unsafe" and prepared it afresh on every call —
    /// the savepoints around every SQLite write and four statements of every send-code
    /// were parsed and planned each time (seen with a probe on `sqlite3_prepare_v3`:
    /// about five prepares per request). Loads take the wrapper by value and were fine.
    pub fn execute<C: RunKept<Q>>(self, conn: &mut C) -> QueryResult<usize> {
        conn.run_kept(self)
    }
}

/// How a connection runs a [`KeepPrepared`] write.
pub trait RunKept<Q> {
    fn run_kept(&mut self, query: KeepPrepared<Q>) -> QueryResult<usize>;
}

/// A write, loaded by value so the statement cache keeps it; it returns no rows.
struct Stepped<Q>(KeepPrepared<Q>);

impl<Q> QueryId for Stepped<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q, DB> QueryFragment<DB> for Stepped<Q>
where
    DB: Backend,
    Q: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> Query for Stepped<Q> {
    type SqlType = Untyped;
}

/// SQLite: the write is stepped as a load (cached), then `changes()` says how many rows
/// it changed (the connection's count, read by a second prepared statement: far cheaper
/// than parsing the write again).
impl<Q> RunKept<Q> for SqliteConnection
where
    Q: QueryFragment<Sqlite>,
{
    fn run_kept(&mut self, query: KeepPrepared<Q>) -> QueryResult<usize> {
        for row in LoadConnection::load(self, Stepped(query))? {
            row?;
        }
        let changed: i64 = diesel::select(diesel::dsl::sql::<BigInt>("changes()"))
            .keep_prepared()
            .get_result(self)?;
        Ok(usize::try_from(changed).unwrap_or(0))
    }
}

/// PostgreSQL: diesel's own path. Its connection gives no row count for a load, and an
/// unprepared statement there costs the server a parse, not a round trip (diesel sends
/// it with its parameters in one message).
impl<Q> RunKept<Q> for PgConnection
where
    Q: QueryFragment<diesel::pg::Pg>,
{
    fn run_kept(&mut self, query: KeepPrepared<Q>) -> QueryResult<usize> {
        self.execute_returning_count(&query)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use diesel::{
        Connection as _, ExpressionMethods as _, OptionalExtension as _, QueryDsl as _,
        QueryableByName,
        connection::{InstrumentationEvent, SimpleConnection as _},
    };

    use super::*;

    diesel::table! {
        t (id) {
            id -> BigInt,
            x -> BigInt,
        }
    }

    diesel::table! {
        p (id) {
            id -> BigInt,
            e164 -> Text,
            status -> Text,
        }
    }

    /// The SQL of every statement the connection put in its statement cache.
    fn cached_statements(c: &mut SqliteConnection) -> Arc<Mutex<Vec<String>>> {
        let cached = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&cached);
        c.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().expect("lock").push(sql.to_owned());
            }
        });
        cached
    }

    fn connection() -> SqliteConnection {
        let mut c = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        c.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x INTEGER NOT NULL UNIQUE)")
            .expect("table");
        c
    }

    #[test]
    fn a_kept_write_is_prepared_once_and_counts_its_rows() {
        let mut c = connection();
        let cached = cached_statements(&mut c);
        for x in [1, 2, 3] {
            let inserted = diesel::sql_query("INSERT INTO t (x) VALUES (?)")
                .bind::<BigInt, _>(x)
                .keep_prepared()
                .execute(&mut c)
                .expect("insert");
            assert_eq!(inserted, 1);
        }
        let updated = diesel::sql_query("UPDATE t SET x = x + 10 WHERE x >= ?")
            .bind::<BigInt, _>(2)
            .keep_prepared()
            .execute(&mut c)
            .expect("update");
        assert_eq!(updated, 2, "the rows the update changed");
        let none = diesel::sql_query("UPDATE t SET x = x + 10 WHERE x >= ?")
            .bind::<BigInt, _>(100)
            .keep_prepared()
            .execute(&mut c)
            .expect("update");
        assert_eq!(none, 0);
        let cached = cached.lock().expect("lock").clone();
        let inserts = cached.iter().filter(|s| s.starts_with("INSERT")).count();
        let updates = cached.iter().filter(|s| s.starts_with("UPDATE")).count();
        assert_eq!(
            (inserts, updates),
            (1, 1),
            "each write is prepared for the cache once: {cached:?}"
        );
    }

    #[derive(QueryableByName)]
    struct Reprepared {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        reprep: i32,
    }

    /// A cached statement with a bound LIMIT (every `.first()`) or a bound value that a
    /// partial index's WHERE could match is planned once and run as planned: SQLite built
    /// with `SQLITE_ENABLE_QPSG` (.cargo/config.toml). Without it, SQLite plans with the
    /// bound values and prepares such a statement again every time they change.
    #[test]
    fn statements_with_bound_limits_are_not_prepared_again() {
        let mut c = connection();
        c.batch_execute(
            "CREATE TABLE p (id INTEGER PRIMARY KEY, e164 TEXT NOT NULL, status TEXT NOT NULL); \
             CREATE UNIQUE INDEX p_verified ON p (e164) WHERE status = 'verified';",
        )
        .expect("table");
        for limit in 1..=3_i64 {
            let _: Vec<i64> = t::table
                .select(t::id)
                .filter(t::x.ge(limit))
                .limit(limit)
                .keep_prepared()
                .load(&mut c)
                .expect("limited select");
            let _: Option<i64> = p::table
                .select(p::id)
                .filter(p::e164.eq(format!("+1415555000{limit}")))
                .filter(p::status.eq("verified"))
                .first(&mut c)
                .optional()
                .expect("first");
        }
        let reprepared: Vec<Reprepared> =
            diesel::sql_query("SELECT reprep FROM sqlite_stmt WHERE sql NOT LIKE '%sqlite_stmt%'")
                .load(&mut c)
                .expect("sqlite_stmt (SQLITE_ENABLE_STMTVTAB)");
        assert!(reprepared.len() >= 2, "both statements cached");
        assert!(
            reprepared.iter().all(|r| r.reprep == 0),
            "prepared again: {:?}",
            reprepared.iter().map(|r| r.reprep).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_kept_write_that_fails_returns_the_error() {
        let mut c = connection();
        let insert = |c: &mut SqliteConnection| {
            diesel::sql_query("INSERT INTO t (x) VALUES (1)")
                .keep_prepared()
                .execute(c)
        };
        insert(&mut c).expect("first insert");
        let err = insert(&mut c).expect_err("a duplicate must fail");
        assert!(
            matches!(
                err,
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _
                )
            ),
            "{err:?}"
        );
    }
}
