//! The open event streams of this process: caps, and the reasons a stream ends early.
//!
//! Each stream holds a [`StreamSlot`]; dropping it (the client hung up, or the stream
//! ended) frees the place. A stream ends when its access token expires or its session
//! is revoked: revoked here at once, or by another API process, which [`watch`] notices
//! within a second. [`watch`] also wakes the streams of accounts that got events from
//! other processes, with one query per second for the whole process instead of one per
//! stream.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::Notify;

use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{Db, committed::Committed, events, refresh_tokens},
};

/// What a stream refused for the process's cap is told to wait.
const RETRY_AFTER: u64 = 15;

pub struct Streams {
    per_account: usize,
    max: usize,
    /// Where a stream's account is woken after a commit that gave it events.
    committed: Arc<Committed>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    total: usize,
    accounts: HashMap<i64, Vec<Entry>>,
}

struct Entry {
    id: u64,
    session: Option<String>,
    expires_at: i64,
    close: Arc<Notify>,
}

/// A stream's place. `close` is signalled (a stored permit) when the stream must end;
/// `wake` when its account has new events.
pub struct StreamSlot {
    streams: Arc<Streams>,
    user_id: i64,
    id: u64,
    pub close: Arc<Notify>,
    pub wake: Arc<Notify>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut inner = self.streams.lock();
        if let Some(entries) = inner.accounts.get_mut(&self.user_id) {
            let before = entries.len();
            entries.retain(|e| e.id != self.id);
            let removed = before - entries.len();
            if entries.is_empty() {
                inner.accounts.remove(&self.user_id);
            }
            inner.total -= removed;
        }
    }
}

impl Streams {
    pub fn new(per_account: u32, max: u32, committed: Arc<Committed>) -> Arc<Self> {
        Arc::new(Self {
            per_account: per_account as usize,
            max: max as usize,
            committed,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The counts are updated in single statements; a panic elsewhere cannot leave
        // them half-changed, so a poisoned lock is taken over.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place for a stream of `user_id` that must end at `expires_at` or when
    /// `session` is revoked. An account at its cap gets the place of its oldest stream,
    /// which ends: a reloaded tab leaves its old stream open until a heartbeat write
    /// fails (up to 30 s), and refusing the new one would leave the page without live
    /// updates (EventSource does not retry after an error status). The process's cap
    /// gives 503.
    pub fn open(
        self: &Arc<Self>,
        user_id: i64,
        session: Option<String>,
        expires_at: i64,
    ) -> Result<StreamSlot, ApiError> {
        let mut inner = self.lock();
        let entries = inner.accounts.entry(user_id).or_default();
        if entries.len() >= self.per_account {
            let oldest = entries.remove(0);
            oldest.close.notify_one();
            inner.total -= 1;
        } else if inner.total >= self.max {
            if inner.accounts.get(&user_id).is_some_and(Vec::is_empty) {
                inner.accounts.remove(&user_id);
            }
            return Err(ApiError::Unavailable {
                detail: "Too many live event streams are open; try again shortly.".into(),
                retry_after: RETRY_AFTER,
            });
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let close = Arc::new(Notify::new());
        inner.accounts.entry(user_id).or_default().push(Entry {
            id,
            session,
            expires_at,
            close: Arc::clone(&close),
        });
        inner.total += 1;
        drop(inner);
        Ok(StreamSlot {
            streams: Arc::clone(self),
            user_id,
            id,
            close,
            wake: self.committed.account(user_id),
        })
    }

    /// Ends every stream of the session (it logged out, or was revoked).
    pub fn end_session(&self, session: &str) {
        self.close_where(|e| e.session.as_deref() == Some(session));
    }

    /// Ends the streams whose access token has expired by `now`.
    pub fn close_expired(&self, now: i64) {
        self.close_where(|e| e.expires_at <= now);
    }

    fn close_where(&self, pred: impl Fn(&Entry) -> bool) {
        let inner = self.lock();
        for entry in inner.accounts.values().flatten().filter(|e| pred(e)) {
            entry.close.notify_one();
        }
    }

    pub fn total(&self) -> usize {
        self.lock().total
    }
}

/// Once a second, while any stream is open: ends streams whose token expired (by the
/// shared clock), ends streams of sessions revoked by any process, and wakes streams of
/// accounts that other processes gave events.
pub async fn watch(streams: Arc<Streams>, db: Db, clock: Clock) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut cursor: Option<(events::Cursor, i64)> = None;
    loop {
        tick.tick().await;
        if streams.total() == 0 {
            // Nothing to wake: start over from "now" when the next stream opens.
            cursor = None;
            continue;
        }
        let now = clock.now();
        streams.close_expired(now);
        let polled = match cursor {
            None => db
                .read(events::newest_settled)
                .await
                .map(|id| (Vec::new(), id, Vec::new())),
            Some((after, since)) => {
                db.read(move |c| {
                    let (users, newest) = events::accounts_after(c, after)?;
                    Ok((users, newest, refresh_tokens::revoked_since(c, since)?))
                })
                .await
            }
        };
        match polled {
            Ok((users, newest, sessions)) => {
                streams.committed.wake_accounts(&users);
                for session in &sessions {
                    streams.end_session(session);
                }
                // A second of overlap: a revocation stamped this second is seen twice
                // rather than missed.
                cursor = Some((newest, now - 1));
            }
            Err(e) => tracing::warn!(error = %e, "event stream poll failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::FutureExt as _;

    use super::*;

    #[test]
    fn the_oldest_of_an_account_makes_room_and_the_total_is_capped() {
        let streams = Streams::new(2, 3, Committed::new());
        let a1 = streams.open(1, None, 100).expect("first");
        let _a2 = streams.open(1, None, 100).expect("second");
        let _a3 = streams
            .open(1, None, 100)
            .expect("third takes the first's place");
        assert!(
            a1.close.notified().now_or_never().is_some(),
            "the oldest was told to end"
        );
        drop(a1);
        assert_eq!(streams.total(), 2);
        let _b1 = streams.open(2, None, 100).expect("other account");
        assert!(matches!(
            streams.open(3, None, 100),
            Err(ApiError::Unavailable { .. })
        ));
        assert_eq!(streams.total(), 3);
    }
}
