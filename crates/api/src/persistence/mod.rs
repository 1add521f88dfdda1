//! The only place that speaks diesel. One connection type per backend, one
//! [`Conn`] enum over both, and the [`with_conn!`] macro that compiles each query
//! for whichever backend is live.
//!
//! Lookups by a unique key use `.load()` and take the first row rather than `.first()`:
//! `.first()` adds a bound `LIMIT`, and on SQLite diesel then re-prepares the statement
//! on every call, which halved `GET /users/me` throughput.

pub mod accounts;
pub mod auth_codes;
pub mod captcha_tokens;
pub mod circuits;
pub mod codes;
pub mod committed;
pub mod early_statuses;
pub mod events;
pub mod fraud;
mod health;
mod keep_prepared;
pub mod known_sign_ins;
pub mod mfa;
pub mod migrate;
pub mod models;
pub mod outbox;
pub mod phones;
pub mod pruning;
pub mod rate_limits;
pub mod recovery_codes;
pub mod refresh_tokens;
pub mod schema;
pub mod security_events;
pub mod users;
pub mod webhooks;
mod writer;

use std::sync::Arc;

use anyhow::Context as _;
use diesel::{
    Connection,
    connection::SimpleConnection,
    pg::PgConnection,
    r2d2::{ConnectionManager, CustomizeConnection, Pool},
    result::{DatabaseErrorKind, Error as DieselError},
    sqlite::SqliteConnection,
};

use self::{committed::Committed, health::POOL_TIMEOUT};
pub use self::{
    health::{Health, is_unavailable},
    keep_prepared::{KeepPrepared, KeepPreparedDsl},
};
use crate::{config::DatabaseUrl, error::ApiError};

/// Settings of every SQLite connection (the `migrate` command's too).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
     PRAGMA temp_store = MEMORY;";

/// A borrowed connection to whichever backend is configured.
pub enum Conn<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection, so one diesel query is
/// written once and type-checked for both backends.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::persistence::Conn::Sqlite(inner) => {
                let $c: &mut ::diesel::sqlite::SqliteConnection = &mut **inner;
                $body
            }
            $crate::persistence::Conn::Postgres(inner) => {
                let $c: &mut ::diesel::pg::PgConnection = &mut **inner;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

impl Conn<'_> {
    /// One transaction. SQLite takes the write lock up front (`BEGIN IMMEDIATE`): a
    /// deferred transaction that reads and then writes fails with SQLITE_BUSY instead of
    /// waiting when another connection wrote in between.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        match self {
            Conn::Sqlite(c) => c.immediate_transaction(|c| f(&mut Conn::Sqlite(c))),
            Conn::Postgres(c) => c.transaction(|c| f(&mut Conn::Postgres(c))),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }
}

/// The connection pool. SQLite writes go to one writer thread with its own connection
/// ([`writer`]): writers queue in-process instead of spinning in SQLite's busy handler,
/// and the writes queued together commit together.
#[derive(Clone)]
pub enum Db {
    Sqlite {
        read: Pool<ConnectionManager<SqliteConnection>>,
        write: writer::Writer,
        health: Health,
        committed: Arc<Committed>,
    },
    Postgres {
        pool: Pool<ConnectionManager<PgConnection>>,
        health: Health,
        committed: Arc<Committed>,
    },
}

/// How full the connection pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Settings of every SQLite connection, plus `extra` for one pool's.
#[derive(Debug)]
struct SqlitePragmas {
    extra: &'static str,
}

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_PRAGMAS)
            .and_then(|()| conn.batch_execute(self.extra))
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

impl Db {
    /// Connects, builds the pools and runs the embedded migrations.
    pub fn connect(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<Self> {
        let db = match url {
            DatabaseUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("create database directory {}", dir.display()))?;
                }
                let url = path.to_string_lossy().into_owned();
                let build = |size: u32, extra: &'static str| {
                    Pool::builder()
                        .max_size(size)
                        .min_idle(Some(1))
                        // A file database doesn't drop connections; a `SELECT 1` per
                        // checkout would cost as much as the request's own query.
                        .test_on_check_out(false)
                        .connection_timeout(POOL_TIMEOUT)
                        .connection_customizer(Box::new(SqlitePragmas { extra }))
                        .build(ConnectionManager::<SqliteConnection>::new(url.clone()))
                };
                // The writer runs checkpoints itself only to finish the checkpoint thread's
                // (see `writer`); a WAL that grew under load is cut back to 64 MiB when it
                // starts over. It touches rows all over the file, so it gets a larger page
                // cache than SQLite's default 2 MiB (send-code +20 % with 8 MiB).
                let write = build(
                    1,
                    "PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192; \
                     PRAGMA journal_size_limit = 67108864;",
                )
                .context("open SQLite database")?;
                // Migrate before readers open their connections.
                let mut conn = write.get().context("open SQLite database")?;
                log_applied(&migrate::sqlite(&mut conn)?);
                drop(conn);
                let read = build(pool_size, "").context("open SQLite database")?;
                let checkpoints = build(1, "").context("open SQLite database")?;
                let committed = Committed::new();
                Db::Sqlite {
                    read,
                    write: writer::Writer::start(write, checkpoints, Arc::clone(&committed))?,
                    health: Health::default(),
                    committed,
                }
            }
            DatabaseUrl::Postgres(url) => {
                let pool = Pool::builder()
                    .max_size(pool_size)
                    .min_idle(Some(1))
                    // Broken connections surface as query errors and are dropped by r2d2;
                    // a `SELECT 1` round trip per checkout would double every read.
                    .test_on_check_out(false)
                    .connection_timeout(POOL_TIMEOUT)
                    .build(ConnectionManager::<PgConnection>::new(url.clone()))
                    .context("connect to PostgreSQL")?;
                let mut conn = pool.get().context("connect to PostgreSQL")?;
                log_applied(&migrate::postgres(&mut conn)?);
                drop(conn);
                Db::Postgres {
                    pool,
                    health: Health::default(),
                    committed: Committed::new(),
                }
            }
        };
        Ok(db)
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    /// Runs read-only work off the async executor. The connection is checked out inside
    /// the blocking task because checkout blocks too.
    pub async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.clone();
        let result = blocking(move || match &db {
            Db::Sqlite { read, health, .. } => f(&mut Conn::Sqlite(&mut *checkout(read, health)?)),
            Db::Postgres { pool, health, .. } => {
                f(&mut Conn::Postgres(&mut *checkout(pool, health)?))
            }
        })
        .await;
        self.health().saw(&result);
        result
    }

    fn health(&self) -> &Health {
        match self {
            Db::Sqlite { health, .. } | Db::Postgres { health, .. } => health,
        }
    }

    /// The signal fired after each of this database's commits (see [`committed`]).
    pub fn committed(&self) -> &Arc<Committed> {
        match self {
            Db::Sqlite { committed, .. } | Db::Postgres { committed, .. } => committed,
        }
    }

    /// Runs `f` in one write transaction off the async executor.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let result = match self {
            Db::Sqlite { write, .. } => write.write(f).await,
            Db::Postgres { .. } => {
                let db = self.clone();
                blocking(move || db.write_blocking(f)).await
            }
        };
        self.health().saw(&result);
        result
    }

    /// [`Db::write`] for code already on a blocking thread.
    pub fn write_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        match self {
            Db::Sqlite { write, .. } => write.write_blocking(f),
            Db::Postgres {
                pool,
                health,
                committed,
            } => {
                let mut conn = checkout(pool, health)?;
                committed::forget();
                let result = Conn::Postgres(&mut conn).transaction(f);
                if result.is_ok() {
                    committed.fire();
                } else {
                    committed::forget();
                }
                result
            }
        }
    }

    /// The request pool's connections (SQLite's writer and checkpointer are apart), for
    /// the `/metrics` gauges.
    pub fn pool_use(&self) -> PoolUse {
        let (state, max) = match self {
            Db::Sqlite { read, .. } => (read.state(), read.max_size()),
            Db::Postgres { pool, .. } => (pool.state(), pool.max_size()),
        };
        PoolUse {
            open: state.connections,
            idle: state.idle_connections,
            max,
        }
    }

    /// `SELECT 1`, for `/readyz`.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.read(|conn| {
            with_conn!(conn, c => c.batch_execute("SELECT 1"))?;
            Ok(())
        })
        .await
    }
}

fn log_applied(versions: &[String]) {
    for version in versions {
        tracing::info!(%version, "applied migration");
    }
}

/// A pooled connection. None within the pool's wait (shorter while the database has
/// just failed) means the database cannot serve: 503.
fn checkout<M: diesel::r2d2::ManageConnection>(
    pool: &Pool<M>,
    health: &Health,
) -> Result<diesel::r2d2::PooledConnection<M>, ApiError> {
    pool.get_timeout(health.checkout_timeout()).map_err(|e| {
        health.failed();
        tracing::warn!(error = %e, "no database connection");
        ApiError::DatabaseUnavailable
    })
}

/// Runs blocking work on tokio's blocking pool, inside the caller's tracing span.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .context("blocking task panicked")?
}

/// True when `e` broke a unique constraint whose name or columns mention `needle`.
pub fn is_unique_violation(e: &DieselError, needle: &str) -> bool {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            info.constraint_name().is_some_and(|n| n.contains(needle))
                || info.message().contains(needle)
        }
        _ => false,
    }
}
