//! The SQLite writer: one thread owns the one write connection and commits the writes
//! queued meanwhile together (group commit).
//!
//! Long: 300 lines of writer and 170 of unit tests that drive its group commit,
//! savepoints and checkpoints directly; the two read best side by side.
//!
//! SQLite allows one writer at a time, so write transactions queue anyway. Run one by
//! one, each paid a thread hand-off, `BEGIN IMMEDIATE`, `COMMIT` and its own append to
//! the WAL, rewriting the pages it shares with its neighbours (the outbox's and the
//! events' last pages, the budget counter). Here each queued write runs inside a
//! savepoint of one shared transaction: a write that fails rolls back to its savepoint
//! alone, and every caller hears its result only once the whole batch has committed, so
//! nobody is told "done" about a change that could still be lost.
//!
//! Checkpoints (copying the WAL back into the database file, with an fsync) mostly run
//! on a thread of their own: left to SQLite they run inside whichever commit crosses
//! 1000 WAL pages, stalling the writer and every write queued behind it. But SQLite only
//! starts the WAL file over once a checkpoint has copied *every* frame, which a
//! checkpoint racing the writer never does: under steady load the WAL grew past 1 GB. So
//! after each pass of the checkpoint thread the writer finishes the job between two
//! batches, copying only the frames written during that pass.

use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    time::Duration,
};

use anyhow::Context as _;
use diesel::{
    connection::SimpleConnection as _,
    r2d2::{ConnectionManager, Pool},
    result::Error as DieselError,
    sqlite::SqliteConnection,
};
use tokio::sync::oneshot;

use super::{
    Conn, KeepPreparedDsl as _,
    committed::{self, Committed},
};
use crate::error::ApiError;

/// Most writes committed together: bounds how long one batch keeps the others waiting.
const MAX_BATCH: usize = 64;

/// Most writes waiting for the writer (SPEC §11 bounded work): 64 full batches. Past it a
/// write is refused at once with 503 and `Retry-After` instead of queueing without end:
/// a flood then costs memory and latency bounded by this, and honest requests behind it
/// wait at most 64 batch commits.
const QUEUE_BOUND: usize = 64 * MAX_BATCH;

/// What a write refused by a full queue is told to wait, in seconds.
const BUSY_RETRY_AFTER: u64 = 1;

/// How often the checkpoint thread copies the WAL back; under full write load the WAL
/// grows by about 10 MB in this time.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Runs one write inside the batch's transaction and returns how to tell its caller
/// the outcome once the batch has committed (or failed to). A job that finds the batch
/// broken (see [`Broken`]) does not run.
type Job = Box<dyn FnOnce(&mut SqliteConnection, &mut Broken) -> Reply + Send>;
type Reply = Box<dyn FnOnce(&Result<(), Fault>) + Send>;

/// Set when a savepoint could not be closed: SQLite rolls the whole transaction back
/// by itself on some errors (a full disk, an I/O error), after which nothing more of
/// the batch can run or commit.
type Broken = bool;

/// Why a batch did not commit.
#[derive(Debug)]
enum Fault {
    /// The database file cannot be written (full, read-only, I/O error): 503.
    Unavailable,
    Other(String),
}

impl Fault {
    fn of(e: &DieselError) -> Self {
        if super::is_unavailable(e) {
            Fault::Unavailable
        } else {
            Fault::Other(e.to_string())
        }
    }

    fn to_error(&self) -> ApiError {
        match self {
            Fault::Unavailable => ApiError::DatabaseUnavailable,
            Fault::Other(e) => ApiError::Internal(anyhow::anyhow!("SQLite commit failed: {e}")),
        }
    }
}

/// The queue to the writer thread. Cheap to clone; the thread ends when the last clone
/// is dropped.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::SyncSender<Job>,
}

impl Writer {
    /// Starts the writer thread on the connection of `pool` and the checkpoint thread on
    /// that of `checkpoints` (pools of one). `pool`'s connection must have
    /// `wal_autocheckpoint` off.
    pub fn start(
        pool: Pool<ConnectionManager<SqliteConnection>>,
        checkpoints: Pool<ConnectionManager<SqliteConnection>>,
        signal: Arc<Committed>,
    ) -> anyhow::Result<Self> {
        Self::start_bounded(pool, checkpoints, signal, QUEUE_BOUND)
    }

    /// [`Writer::start`] with at most `bound` writes waiting.
    fn start_bounded(
        pool: Pool<ConnectionManager<SqliteConnection>>,
        checkpoints: Pool<ConnectionManager<SqliteConnection>>,
        signal: Arc<Committed>,
        bound: usize,
    ) -> anyhow::Result<Self> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(bound);
        let finish_checkpoint = Arc::new(AtomicBool::new(false));
        let finish = Arc::clone(&finish_checkpoint);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(&pool, &queue, &finish, &signal))
            .context("start the SQLite writer thread")?;
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint(&checkpoints, &finish_checkpoint))
            .context("start the SQLite checkpoint thread")?;
        Ok(Self { jobs })
    }

    /// Queues `f` and waits for the batch it ran in to commit.
    pub async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, outcome) = oneshot::channel();
        self.submit(f, reply)?;
        outcome.await.unwrap_or_else(|_| Err(lost()))
    }

    /// [`Writer::write`] for callers on a blocking thread.
    pub fn write_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, outcome) = oneshot::channel();
        self.submit(f, reply)?;
        outcome.blocking_recv().unwrap_or_else(|_| Err(lost()))
    }

    fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError> + Send + 'static,
        reply: oneshot::Sender<Result<T, ApiError>>,
    ) -> Result<(), ApiError> {
        // The caller's span, so the write's log lines carry its request id.
        let span = tracing::Span::current();
        let job: Job = Box::new(move |c: &mut SqliteConnection, broken: &mut Broken| {
            let result = span.in_scope(|| in_savepoint(c, broken, f));
            Box::new(move |committed: &Result<(), Fault>| {
                let outcome = match (result, committed) {
                    (Ok(value), Ok(())) => Ok(value),
                    (Ok(_), Err(fault)) => Err(fault.to_error()),
                    (Err(e), _) => Err(e),
                };
                // The caller may have gone away (client disconnected): nothing to tell.
                let _ = reply.send(outcome);
            })
        });
        self.jobs.try_send(job).map_err(|e| match e {
            mpsc::TrySendError::Full(_) => {
                tracing::warn!("the SQLite write queue is full; a write was refused with 503");
                ApiError::Unavailable {
                    detail: "The service is busy; try again shortly.".into(),
                    retry_after: BUSY_RETRY_AFTER,
                }
            }
            mpsc::TrySendError::Disconnected(_) => {
                ApiError::Internal(anyhow::anyhow!("the SQLite writer has stopped"))
            }
        })
    }
}

/// Runs one job in a savepoint of the batch's transaction, so an error undoes this job
/// only. The savepoint statements stay prepared; diesel's nested transactions would
/// parse two statements afresh for every write.
fn in_savepoint<T>(
    c: &mut SqliteConnection,
    broken: &mut Broken,
    f: impl FnOnce(&mut Conn<'_>) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if *broken {
        return Err(ApiError::DatabaseUnavailable);
    }
    let exec = |c: &mut SqliteConnection, sql: &'static str| {
        diesel::sql_query(sql).keep_prepared().execute(c).map(drop)
    };
    if let Err(e) = exec(c, "SAVEPOINT job") {
        *broken = true;
        return Err(e.into());
    }
    let audit_mark = committed::audit_mark();
    let result = f(&mut Conn::Sqlite(c));
    let closed = match &result {
        Ok(_) => exec(c, "RELEASE job"),
        Err(_) => {
            // The job's audit events are undone with it: none is reported.
            committed::drop_audit_after(audit_mark);
            exec(c, "ROLLBACK TO job").and_then(|()| exec(c, "RELEASE job"))
        }
    };
    if let Err(e) = closed {
        // The batch's transaction is gone or in an unknown state (SQLite rolls it back
        // by itself on a full disk): nothing of the batch may commit.
        tracing::warn!(error = %e, "SQLite savepoint could not be closed; the batch is rolled back");
        *broken = true;
        return Err(match result {
            Err(e @ ApiError::DatabaseUnavailable) => e,
            _ => Fault::of(&e).to_error(),
        });
    }
    result
}

/// The caller's reply was dropped unsent: its batch never ran (no connection) or
/// panicked and was rolled back. Either way nothing of it was written, and the caller
/// may try again: 503.
fn lost() -> ApiError {
    tracing::warn!("a write was not carried out: the SQLite writer failed (see its log line)");
    ApiError::DatabaseUnavailable
}

fn run(
    pool: &Pool<ConnectionManager<SqliteConnection>>,
    queue: &mpsc::Receiver<Job>,
    finish_checkpoint: &AtomicBool,
    signal: &Committed,
) {
    while let Ok(first) = queue.recv() {
        if finish_checkpoint.swap(false, Ordering::Relaxed) {
            run_checkpoint(pool);
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A panicking job drops every reply of its batch (callers get an error) and,
        // through r2d2, the connection it left mid-transaction; the thread goes on.
        if catch_unwind(AssertUnwindSafe(|| commit_batch(pool, batch, signal))).is_err() {
            tracing::error!("a database write panicked; its batch was rolled back");
        }
    }
}

/// The checkpoint thread: a pass alongside the writer, then the writer is asked to
/// finish. Ends with the process (it holds no state worth a clean stop).
fn checkpoint(pool: &Pool<ConnectionManager<SqliteConnection>>, finish: &AtomicBool) {
    loop {
        std::thread::sleep(CHECKPOINT_EVERY);
        run_checkpoint(pool);
        finish.store(true, Ordering::Relaxed);
    }
}

/// PASSIVE: copies what it can without waiting for, or blocking, the writer or readers.
fn run_checkpoint(pool: &Pool<ConnectionManager<SqliteConnection>>) {
    let done = pool.get().map_err(|e| e.to_string()).and_then(|mut c| {
        c.batch_execute("PRAGMA wal_checkpoint(PASSIVE);")
            .map_err(|e| e.to_string())
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "SQLite checkpoint failed; retrying");
    }
}

fn commit_batch(
    pool: &Pool<ConnectionManager<SqliteConnection>>,
    batch: Vec<Job>,
    signal: &Committed,
) {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            // Dropping the jobs unrun drops their replies: each caller gets an error.
            tracing::error!(error = %e, "SQLite write connection unavailable");
            return;
        }
    };
    let mut replies = Vec::with_capacity(batch.len());
    let mut broken = false;
    committed::forget();
    // BEGIN IMMEDIATE: take the write lock up front, so the batch never meets
    // SQLITE_BUSY halfway (other processes on the same file wait in busy_timeout).
    let committed = conn.immediate_transaction(|c| {
        for job in batch {
            replies.push(job(c, &mut broken));
        }
        if broken {
            return Err(DieselError::RollbackTransaction);
        }
        Ok::<_, DieselError>(())
    });
    let committed = match committed {
        Ok(()) => Ok(()),
        Err(_) if broken => Err(Fault::Unavailable),
        Err(e) => {
            tracing::warn!(error = %e, "SQLite commit failed");
            Err(Fault::of(&e))
        }
    };
    // Once committed, and before the callers hear back: whoever waits on the signal
    // reads the batch's rows.
    if committed.is_ok() {
        signal.fire();
    } else {
        committed::forget();
    }
    for reply in replies {
        reply(&committed);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::{RunQueryDsl as _, connection::SimpleConnection as _, sql_types::BigInt};
    use futures_util::future::join_all;

    use super::*;
    use crate::persistence::with_conn;

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        x: i64,
    }

    fn writer_on_temp_file(name: &str) -> (Writer, Pool<ConnectionManager<SqliteConnection>>) {
        bounded_writer_on_temp_file(name, QUEUE_BOUND)
    }

    fn bounded_writer_on_temp_file(
        name: &str,
        bound: usize,
    ) -> (Writer, Pool<ConnectionManager<SqliteConnection>>) {
        let path =
            std::env::temp_dir().join(format!("phonereg-writer-{name}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let pool = Pool::builder()
            .max_size(1)
            .build(ConnectionManager::<SqliteConnection>::new(
                path.to_string_lossy(),
            ))
            .expect("pool");
        pool.get()
            .expect("conn")
            .batch_execute("CREATE TABLE t (x INTEGER NOT NULL)")
            .expect("table");
        (
            Writer::start_bounded(pool.clone(), pool.clone(), Committed::new(), bound)
                .expect("writer"),
            pool,
        )
    }

    fn insert(c: &mut Conn<'_>, x: i64) -> Result<(), ApiError> {
        with_conn!(c, c => c.batch_execute(&format!("INSERT INTO t VALUES ({x})")))?;
        Ok(())
    }

    fn stored(pool: &Pool<ConnectionManager<SqliteConnection>>) -> Vec<i64> {
        let rows: Vec<Row> = diesel::sql_query("SELECT x FROM t ORDER BY x")
            .load(&mut *pool.get().expect("conn"))
            .expect("select");
        rows.into_iter().map(|r| r.x).collect()
    }

    /// While the writer is busy, writes past the bound are refused at once with 503 and
    /// `Retry-After`, write nothing, and the queued ones still commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_with_503() {
        let (writer, pool) = bounded_writer_on_temp_file("bounded", 2);
        let slow = tokio::spawn({
            let writer = writer.clone();
            async move {
                writer
                    .write(|c| {
                        std::thread::sleep(Duration::from_millis(300));
                        insert(c, 0)
                    })
                    .await
            }
        });
        // The writer has taken the slow write alone; two more fill the queue.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let queued: Vec<_> = (1..=2_i64)
            .map(|x| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(move |c| insert(c, x)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        match writer.write(|c| insert(c, 3)).await {
            Err(e @ ApiError::Unavailable { .. }) => {
                use actix_web::ResponseError as _;
                let res = e.error_response();
                assert_eq!(res.status(), 503);
                assert_eq!(res.headers().get("retry-after").expect("Retry-After"), "1");
            }
            other => panic!("expected 503, got {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_millis(100),
            "refused at once"
        );
        slow.await.expect("join").expect("slow write");
        for q in queued {
            q.await.expect("join").expect("queued write");
        }
        assert_eq!(stored(&pool), [0, 1, 2]);
    }

    /// The first write holds the writer long enough for the rest to queue into one batch;
    /// every seventh of those fails after writing, and only its row must be missing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_rolls_back_alone_and_the_rest_of_its_batch_commits() {
        let (writer, pool) = writer_on_temp_file("savepoints");
        let slow = writer.write(|c| {
            std::thread::sleep(Duration::from_millis(100));
            insert(c, 0)
        });
        let rest = (1..40_i64).map(|x| {
            let writer = writer.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                writer
                    .write(move |c| {
                        insert(c, x)?;
                        if x % 7 == 0 {
                            return Err(ApiError::Conflict("refused".into()));
                        }
                        Ok(x)
                    })
                    .await
            }
        });
        let (first, results) = tokio::join!(slow, join_all(rest));
        first.expect("first write");
        let committed: Vec<i64> = results.into_iter().filter_map(Result::ok).collect();
        let expected: Vec<i64> = (0..40).filter(|x| *x == 0 || x % 7 != 0).collect();
        assert_eq!(committed.len(), expected.len() - 1);
        assert_eq!(stored(&pool), expected);
    }

    /// A panicking write takes its batch down with it (nothing written, callers told),
    /// and the writer goes on with the next batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panicking_write_rolls_back_its_batch_and_the_writer_survives() {
        let (writer, pool) = writer_on_temp_file("panic");
        let slow = writer.write(|c| {
            std::thread::sleep(Duration::from_millis(100));
            insert(c, 1)
        });
        let doomed = {
            let writer = writer.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                writer
                    .write(|c| -> Result<(), ApiError> {
                        insert(c, 2)?;
                        panic!("deliberate")
                    })
                    .await
            }
        };
        let (first, second) = tokio::join!(slow, doomed);
        assert!(first.is_ok(), "the first write was its own batch");
        assert!(second.is_err());
        writer.write(|c| insert(c, 3)).await.expect("writer alive");
        assert_eq!(stored(&pool), [1, 3]);
    }

    #[derive(diesel::QueryableByName)]
    struct WalState {
        #[diesel(sql_type = BigInt)]
        log: i64,
    }

    /// A checkpoint racing the writer never copies every frame, and SQLite starts the WAL
    /// over only after one that did: without the writer finishing the checkpoint thread's
    /// passes, the WAL holds every frame ever written (it grew past 1 GB under load).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_over_under_steady_writes() {
        let path =
            std::env::temp_dir().join(format!("phonereg-writer-wal-{}.db", std::process::id()));
        // Removes the database and its WAL (about 100 MB) before and after the test.
        struct Files(std::path::PathBuf);
        impl Drop for Files {
            fn drop(&mut self) {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
                }
            }
        }
        drop(Files(path.clone()));
        let _files = Files(path.clone());
        let url = path.to_string_lossy().into_owned();
        let pool = |extra: &'static str| {
            Pool::builder()
                .max_size(1)
                .connection_customizer(Box::new(super::super::SqlitePragmas { extra }))
                .build(ConnectionManager::<SqliteConnection>::new(url.clone()))
                .expect("pool")
        };
        let writer = Writer::start(
            pool("PRAGMA wal_autocheckpoint = 0;"),
            pool(""),
            Committed::new(),
        )
        .expect("writer");
        writer
            .write(|c| {
                with_conn!(c, c => c.batch_execute("CREATE TABLE t (x INTEGER NOT NULL)"))?;
                Ok(())
            })
            .await
            .expect("table");
        // One write at a time: each commits on its own, adding at least one frame.
        let started = std::time::Instant::now();
        let mut commits = 0;
        while started.elapsed() < CHECKPOINT_EVERY * 4 {
            writer
                .write(move |c| insert(c, commits))
                .await
                .expect("insert");
            commits += 1;
        }
        let mut conn = pool("").get().expect("conn");
        let wal: Vec<WalState> = diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .load(&mut *conn)
            .expect("wal state");
        let frames = wal.first().expect("one row").log;
        assert!(
            frames < commits / 2,
            "{frames} frames in the WAL after {commits} commits: it never started over"
        );
    }
}
