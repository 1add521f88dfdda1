//! The open event streams of this process: caps, and the reasons a stream ends early.
//!
//! Each stream holds a [`StreamSlot`]; dropping it (the client hung up, or the stream
//! ended) frees the place. A stream ends when its access token expires or its session
//! is revoked: revoked here at once, or by another API process, which [`watch`] notices
//! within a second. [`watch`] also wakes the streams of accounts that got events from
//! other processes, with one query per second for the whole process instead of one per
//! stream.
//!
//! Caps (SPEC §11): per account (one more ends the account's oldest), per client network
//! whatever accounts the streams belong to (its own key, and 4× its /56, 16× its /48;
//! past it 429), and per process (past it 503). The client cap is what keeps one network
//! that registered many accounts from filling the process's cap.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::Notify;

use crate::{
    clock::Clock,
    domain::{ClientNetworks, client_network::Width},
    error::ApiError,
    persistence::{Db, committed::Committed, events, refresh_tokens, security_events},
};

/// What a stream refused for the process's or its client's cap is told to wait.
const RETRY_AFTER: u64 = 15;

/// How many streams may be open at once (`EVENT_STREAMS_*`).
#[derive(Clone, Copy, Debug)]
pub struct StreamCaps {
    pub per_account: u32,
    pub per_client: u32,
    pub max: u32,
}

pub struct Streams {
    per_account: usize,
    per_client: usize,
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
    /// Open streams per client key (own, /56, /48); keys at zero are removed.
    clients: HashMap<String, usize>,
}

impl Inner {
    /// Takes an entry's places in its client networks back.
    fn release(&mut self, entry: &Entry) {
        self.total -= 1;
        for key in &entry.clients {
            if let Some(n) = self.clients.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    self.clients.remove(key);
                }
            }
        }
    }
}

struct Entry {
    id: u64,
    /// The client's keys this stream counts against.
    clients: Vec<String>,
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
        let Some(entries) = inner.accounts.get_mut(&self.user_id) else {
            return;
        };
        // Not there when it was ended to make room (its places were released then).
        let Some(at) = entries.iter().position(|e| e.id == self.id) else {
            return;
        };
        let entry = entries.remove(at);
        if entries.is_empty() {
            inner.accounts.remove(&self.user_id);
        }
        inner.release(&entry);
    }
}

impl Streams {
    pub fn new(caps: StreamCaps, committed: Arc<Committed>) -> Arc<Self> {
        Arc::new(Self {
            per_account: caps.per_account as usize,
            per_client: caps.per_client as usize,
            max: caps.max as usize,
            committed,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The counts are updated in single statements; a panic elsewhere cannot leave
        // them half-changed, so a poisoned lock is taken over.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client's keys, each with its cap: its own, then its IPv6 /56 and /48 (no
    /// IPv4 /24: that widening is for the SMS and registration limits).
    fn client_caps(&self, client: &ClientNetworks) -> Vec<(String, usize)> {
        let wider = client
            .wider()
            .filter(|(width, _)| *width != Width::V4Slash24)
            .map(|(width, net)| (net.to_owned(), self.per_client * width.multiple() as usize));
        std::iter::once((client.key().to_owned(), self.per_client))
            .chain(wider)
            .collect()
    }

    /// Takes a place for a stream of `user_id` from `client` that must end at
    /// `expires_at` or when `session` is revoked. An account at its cap gets the place of
    /// its oldest stream, which ends: a reloaded tab leaves its old stream open until a
    /// heartbeat write fails (up to 30 s), and refusing the new one would leave the page
    /// without live updates (EventSource does not retry after an error status). A client
    /// network at its cap gets 429, the process's cap 503.
    pub fn open(
        self: &Arc<Self>,
        user_id: i64,
        client: &ClientNetworks,
        session: Option<String>,
        expires_at: i64,
    ) -> Result<StreamSlot, ApiError> {
        let caps = self.client_caps(client);
        let mut inner = self.lock();
        let held = inner.accounts.get(&user_id).map_or(0, Vec::len);
        // The account's oldest, when this stream takes its place: its client places
        // are given back, so a client reopening its own account's streams is not refused.
        let victim = (held >= self.per_account)
            .then(|| inner.accounts.get(&user_id).and_then(|e| e.first()))
            .flatten();
        let client_full = caps.iter().any(|(key, cap)| {
            let freed = victim.is_some_and(|v| v.clients.contains(key));
            inner
                .clients
                .get(key)
                .copied()
                .unwrap_or(0)
                .saturating_sub(usize::from(freed))
                >= *cap
        });
        if client_full {
            crate::telemetry::rate_limited("event_streams_client");
            return Err(ApiError::RateLimited {
                limit: "event_streams_client",
                retry_after: RETRY_AFTER,
            });
        }
        if victim.is_none() && inner.total >= self.max {
            return Err(ApiError::Unavailable {
                detail: "Too many live event streams are open; try again shortly.".into(),
                retry_after: RETRY_AFTER,
            });
        }
        if victim.is_some() {
            let oldest = inner
                .accounts
                .get_mut(&user_id)
                .map(|entries| entries.remove(0));
            if let Some(oldest) = oldest {
                oldest.close.notify_one();
                inner.release(&oldest);
            }
        }
        inner.next_id += 1;
        let id = inner.next_id;
        let close = Arc::new(Notify::new());
        let clients: Vec<String> = caps.into_iter().map(|(key, _)| key).collect();
        for key in &clients {
            *inner.clients.entry(key.clone()).or_default() += 1;
        }
        inner.accounts.entry(user_id).or_default().push(Entry {
            id,
            clients,
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

    /// Ends every stream of the account (it was deleted).
    pub fn end_account(&self, user_id: i64) {
        let inner = self.lock();
        for entry in inner.accounts.get(&user_id).into_iter().flatten() {
            entry.close.notify_one();
        }
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
/// shared clock), ends streams of sessions revoked and accounts deleted by any process,
/// and wakes streams of accounts that other processes gave events.
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
                .map(|id| (Vec::new(), id, Vec::new(), Vec::new())),
            Some((after, since)) => {
                db.read(move |c| {
                    let (users, newest) = events::accounts_after(c, after)?;
                    let deleted = security_events::deleted_since(c, since)?;
                    Ok((
                        users,
                        newest,
                        refresh_tokens::revoked_since(c, since)?,
                        deleted,
                    ))
                })
                .await
            }
        };
        match polled {
            Ok((users, newest, sessions, deleted)) => {
                streams.committed.wake_accounts(&users);
                for session in &sessions {
                    streams.end_session(session);
                }
                // A deleted account's sessions went with it: its rows say so instead.
                for user_id in deleted {
                    streams.end_account(user_id);
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

    fn caps(per_account: u32, per_client: u32, max: u32) -> StreamCaps {
        StreamCaps {
            per_account,
            per_client,
            max,
        }
    }

    fn client(ip: &str) -> ClientNetworks {
        ClientNetworks::of(ip.parse().expect("ip"))
    }

    #[test]
    fn the_oldest_of_an_account_makes_room_and_the_total_is_capped() {
        let streams = Streams::new(caps(2, 50, 3), Committed::new());
        let c = client("192.0.2.1");
        let a1 = streams.open(1, &c, None, 100).expect("first");
        let _a2 = streams.open(1, &c, None, 100).expect("second");
        let _a3 = streams
            .open(1, &c, None, 100)
            .expect("third takes the first's place");
        assert!(
            a1.close.notified().now_or_never().is_some(),
            "the oldest was told to end"
        );
        drop(a1);
        assert_eq!(streams.total(), 2);
        let _b1 = streams.open(2, &c, None, 100).expect("other account");
        assert!(matches!(
            streams.open(3, &c, None, 100),
            Err(ApiError::Unavailable { .. })
        ));
        assert_eq!(streams.total(), 3);
    }

    #[test]
    fn a_client_at_its_cap_may_still_replace_its_accounts_oldest() {
        let streams = Streams::new(caps(2, 2, 100), Committed::new());
        let c = client("2001:db8::1");
        let _a1 = streams.open(1, &c, None, 100).expect("first");
        let _a2 = streams.open(1, &c, None, 100).expect("second");
        assert!(matches!(
            streams.open(2, &c, None, 100),
            Err(ApiError::RateLimited { .. })
        ));
        let _a3 = streams
            .open(1, &c, None, 100)
            .expect("a reloaded tab takes its account's oldest place");
        assert_eq!(streams.total(), 2);
        drop(_a3);
        let _b1 = streams.open(2, &c, None, 100).expect("a freed place");
    }
}
