//! The post-commit signal: after each commit, [`Db`](super::Db) tells this process's
//! event streams which accounts got events and the SMS courier whether a message was
//! queued. Nobody wakes either by hand: a service that writes an event or queues a
//! message only writes it, and the wake-up follows from the commit, never before it
//! (a reader woken early would not see the rows yet).
//!
//! Persistence notes what a write did as it writes it ([`note_events`],
//! [`note_queued`]) in a thread-local, because the writes run on database threads (the
//! SQLite writer, PostgreSQL's blocking pool) that hold only a connection; [`Db`] clears
//! the notes before a transaction (or a SQLite batch of them) and fires them after its
//! commit. A rolled-back savepoint of a batch can leave a stray note: one extra read.

use std::{
    cell::RefCell,
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use tokio::sync::{Notify, futures::Notified};

/// One per [`Db`](super::Db): the apps of one test process each have their own.
#[derive(Default)]
pub struct Committed {
    /// Per-account wake-ups of the open streams: a commit wakes the streams of the
    /// accounts it gave events to only (waking every stream after every commit made
    /// each re-read the database).
    accounts: Mutex<HashMap<i64, Weak<Notify>>>,
    /// A message was queued. `notify_one` keeps a permit, so a commit that lands while
    /// the courier is busy is seen by its next wait.
    queued: Notify,
    /// A webhook event was written: wakes the webhook worker like `queued` the courier.
    hooked: Notify,
    /// `AUDIT_LOG_STDOUT`: each committed audit event is also one JSON line on stdout.
    audit_stdout: AtomicBool,
}

impl Committed {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Set once at start-up from `AUDIT_LOG_STDOUT`.
    pub fn set_audit_stdout(&self, on: bool) {
        self.audit_stdout.store(on, Ordering::Relaxed);
    }

    /// The account's wake-up, shared by all its streams; dropped with the last of them.
    pub fn account(&self, user_id: i64) -> Arc<Notify> {
        let mut map = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = map.get(&user_id).and_then(Weak::upgrade) {
            return notify;
        }
        // Forget accounts whose streams have all closed, so the map tracks open ones.
        if map.len() >= 64 && map.len().is_power_of_two() {
            map.retain(|_, w| w.strong_count() > 0);
        }
        let notify = Arc::new(Notify::new());
        map.insert(user_id, Arc::downgrade(&notify));
        notify
    }

    /// Wakes the streams of `users` that are waiting now: this process's commits, and
    /// other processes' events once `streams::watch` has seen them.
    pub fn wake_accounts(&self, users: &[i64]) {
        if users.is_empty() {
            return;
        }
        let map = self.accounts.lock().unwrap_or_else(PoisonError::into_inner);
        for user in users {
            if let Some(notify) = map.get(user).and_then(Weak::upgrade) {
                notify.notify_waiters();
            }
        }
    }

    /// Completes once a commit has queued a message (or at once, if one did since the
    /// last wait).
    pub fn queued(&self) -> Notified<'_> {
        self.queued.notified()
    }

    /// Completes once a commit has written a webhook event (or at once, if one did since
    /// the last wait).
    pub fn hooked(&self) -> Notified<'_> {
        self.hooked.notified()
    }

    /// Called once the transaction (or batch) on this thread has committed.
    pub(super) fn fire(&self) {
        let Notes {
            mut accounts,
            queued,
            hooked,
            audit,
        } = NOTES.with_borrow_mut(std::mem::take);
        // The audit log's metric and stdout lines follow the commit, so a rolled-back
        // change is never reported as done.
        let stdout = self.audit_stdout.load(Ordering::Relaxed);
        for (kind, line) in audit {
            crate::telemetry::audit_event(kind);
            if stdout {
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout().lock(), "{}", line());
            }
        }
        if queued {
            self.queued.notify_one();
        }
        if hooked {
            self.hooked.notify_one();
        }
        accounts.sort_unstable();
        accounts.dedup();
        self.wake_accounts(&accounts);
    }
}

#[derive(Default)]
struct Notes {
    accounts: Vec<i64>,
    queued: bool,
    hooked: bool,
    /// Audit events written: their type, and how to write their JSON line (only made
    /// when `AUDIT_LOG_STDOUT` is on).
    audit: Vec<(&'static str, AuditLine)>,
}

thread_local! {
    /// What the transaction running on this thread wrote that someone waits for.
    static NOTES: RefCell<Notes> = RefCell::default();
}

/// The running transaction gave `user_id` events.
pub(super) fn note_events(user_id: i64) {
    NOTES.with_borrow_mut(|n| n.accounts.push(user_id));
}

/// The running transaction queued a message.
pub(super) fn note_queued() {
    NOTES.with_borrow_mut(|n| n.queued = true);
}

/// The running transaction wrote a webhook event.
pub(super) fn note_hooked() {
    NOTES.with_borrow_mut(|n| n.hooked = true);
}

/// An audit event's JSON line, made only when it is written.
pub type AuditLine = Box<dyn FnOnce() -> String>;

/// The running transaction appended an audit event.
pub fn note_audit(kind: &'static str, line: AuditLine) {
    NOTES.with_borrow_mut(|n| n.audit.push((kind, line)));
}

/// How many audit notes the running transaction holds, so a SQLite savepoint that rolls
/// back can drop its own ([`drop_audit_after`]).
pub(super) fn audit_mark() -> usize {
    NOTES.with_borrow(|n| n.audit.len())
}

/// Drops the audit notes taken after `mark` (their savepoint rolled back).
pub(super) fn drop_audit_after(mark: usize) {
    NOTES.with_borrow_mut(|n| n.audit.truncate(mark));
}

/// Called before a transaction (or a batch of them) starts on this thread, and after
/// one that did not commit.
pub(super) fn forget() {
    NOTES.with_borrow_mut(|n| {
        n.accounts.clear();
        n.queued = false;
        n.hooked = false;
        n.audit.clear();
    });
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn a_commit_wakes_the_accounts_it_wrote_for_and_the_courier_if_it_queued() {
        let committed = Committed::new();
        let (one, two) = (committed.account(1), committed.account(2));
        let (woken_one, woken_two) = (one.notified(), two.notified());
        let (mut woken_one, mut woken_two) = (Box::pin(woken_one), Box::pin(woken_two));
        woken_one.as_mut().enable();
        woken_two.as_mut().enable();
        forget();
        note_events(1);
        committed.fire();
        assert!(woken_one.now_or_never().is_some(), "account 1 woken");
        assert!(woken_two.now_or_never().is_none(), "account 2 left alone");
        assert!(
            committed.queued().now_or_never().is_none(),
            "nothing was queued"
        );
        note_queued();
        committed.fire();
        assert!(committed.queued().now_or_never().is_some(), "courier woken");
        note_queued();
        forget();
        committed.fire();
        assert!(
            committed.queued().now_or_never().is_none(),
            "a rolled-back queue wakes nobody"
        );
    }
}
