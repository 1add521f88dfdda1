//! The embedded migrations, applied under a lock, at start-up and by `phonereg-api
//! migrate` alike (SPEC §14 "Operations").
//!
//! Without the lock, processes that start together on a database none has migrated each
//! read "nothing applied" and run the first migration; all but one then fail on tables
//! that now exist (seen on both backends: `tests/api/migrations.rs`). With it, one applies
//! every migration and the others, once they hold the lock, find nothing left to do.
//!
//! - PostgreSQL: a session-level advisory lock, held across the migrations (each runs in
//!   a transaction of its own) and released after them; a process that dies releases it
//!   with its connection.
//! - SQLite: every pending migration in one `BEGIN IMMEDIATE` transaction, which holds the
//!   file's write lock; the others wait for it in SQLite's busy handler (given a minute,
//!   not the usual five seconds, since a migration may rewrite a large table).

use anyhow::Context as _;
use diesel::{
    Connection as _, QueryableByName, RunQueryDsl as _, connection::SimpleConnection as _,
    pg::PgConnection, sql_types::Integer, sqlite::SqliteConnection,
};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::DatabaseUrl;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

/// The advisory lock of migrations (the two-key form: a namespace of its own, "MIGR").
const MIGRATION_LOCK: (i32, i32) = (0x4d49_4752, 0);

/// How long a SQLite migrator waits for another's, in milliseconds.
const SQLITE_WAIT_MS: i32 = 60_000;

/// Applies the pending SQLite migrations; returns the versions it applied.
pub fn sqlite(conn: &mut SqliteConnection) -> anyhow::Result<Vec<String>> {
    #[derive(QueryableByName)]
    struct BusyTimeout {
        #[diesel(sql_type = Integer)]
        timeout: i32,
    }
    let before = diesel::sql_query("PRAGMA busy_timeout")
        .load::<BusyTimeout>(conn)?
        .first()
        .map_or(0, |t| t.timeout);
    conn.batch_execute(&format!("PRAGMA busy_timeout = {SQLITE_WAIT_MS}"))?;
    let applied = conn.immediate_transaction(|c| {
        c.run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect::<Vec<_>>())
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    conn.batch_execute(&format!("PRAGMA busy_timeout = {before}"))?;
    applied.context("run SQLite migrations")
}

/// Applies the pending PostgreSQL migrations; returns the versions it applied.
pub fn postgres(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    lock(conn, "SELECT pg_advisory_lock($1, $2)").context("take the migration lock")?;
    let applied = conn
        .run_pending_migrations(POSTGRES_MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| anyhow::anyhow!("run PostgreSQL migrations: {e}"));
    // Released on every path: the connection goes back to the pool afterwards.
    lock(conn, "SELECT pg_advisory_unlock($1, $2)").context("release the migration lock")?;
    applied
}

fn lock(conn: &mut PgConnection, sql: &str) -> diesel::QueryResult<usize> {
    diesel::sql_query(sql)
        .bind::<Integer, _>(MIGRATION_LOCK.0)
        .bind::<Integer, _>(MIGRATION_LOCK.1)
        .execute(conn)
}

/// `phonereg-api migrate`: one connection, the pending migrations, nothing else.
pub fn run(url: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("create database directory {}", dir.display()))?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .context("open SQLite database")?;
            conn.batch_execute(super::SQLITE_PRAGMAS)?;
            sqlite(&mut conn)
        }
        DatabaseUrl::Postgres(url) => {
            let mut conn = PgConnection::establish(url).context("connect to PostgreSQL")?;
            postgres(&mut conn)
        }
    }
}
