//! Whether the database answers: when it last failed (so waiting requests fail fast
//! while it is away) and which diesel errors mean "away" rather than "wrong query".

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::error::ApiError;

/// How long a request may wait for a pooled connection.
pub(super) const POOL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it waits while the database has just failed: a database that is away does
/// not come back for the requests that wait on it, so they answer 503 at once rather
/// than each holding a worker for the whole pool timeout.
const FAIL_FAST: Duration = Duration::from_millis(500);
/// A failure this recent (ms) counts as "just failed".
const RECENT_FAILURE_MS: i64 = 5_000;

/// When the database last failed to answer (ms since the epoch; 0 = it answers).
#[derive(Clone, Default)]
pub struct Health(Arc<AtomicI64>);

impl Health {
    pub(super) fn failed(&self) {
        self.0
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
    }

    fn answered(&self) {
        // A load first: the common case writes nothing, so threads don't fight over
        // the cache line.
        if self.0.load(Ordering::Relaxed) != 0 {
            self.0.store(0, Ordering::Relaxed);
        }
    }

    pub(super) fn checkout_timeout(&self) -> Duration {
        let last = self.0.load(Ordering::Relaxed);
        if last != 0 && chrono::Utc::now().timestamp_millis() - last < RECENT_FAILURE_MS {
            FAIL_FAST
        } else {
            POOL_TIMEOUT
        }
    }

    /// Notes what a unit of work said about the database.
    pub(super) fn saw<T>(&self, result: &Result<T, ApiError>) {
        match result {
            Err(ApiError::DatabaseUnavailable) => self.failed(),
            Err(_) => {}
            Ok(_) => self.answered(),
        }
    }
}

/// Whether `e` says the database could not serve (rather than that the query was
/// wrong): the connection is gone or refused, the server is shutting down or starting,
/// or SQLite cannot write its file (full, read-only, I/O error, locked too long).
pub fn is_unavailable(e: &DieselError) -> bool {
    const SIGNS: [&str; 14] = [
        // PostgreSQL and libpq
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "could not connect",
        "connection to server",
        "the database system is",
        "could not receive data",
        "could not send data",
        "connection refused",
        // SQLite
        "database or disk is full",
        "readonly database",
        "disk i/o error",
        "database is locked",
        "unable to open database file",
    ];
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::BrokenTransactionManager => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            SIGNS.iter().any(|sign| message.contains(sign))
        }
        _ => false,
    }
}

// Here rather than in `error`: which failures mean "the database is away" is this
// module's knowledge.
impl From<DieselError> for ApiError {
    fn from(e: DieselError) -> Self {
        if is_unavailable(&e) {
            tracing::warn!(error = %e, "the database could not serve");
            return ApiError::DatabaseUnavailable;
        }
        // A write naming a row that is gone: an access token outliving its deleted
        // account (tokens run out on their own, SPEC §12) writes for an account that no
        // longer exists. Refused like its other requests, and nothing is written.
        if let DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, _) = e {
            return ApiError::Unauthorized("This account no longer exists.");
        }
        ApiError::Internal(anyhow::Error::new(e).context("database query"))
    }
}
