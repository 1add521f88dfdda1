//! Made-up refresh tokens and event tickets, and wrong admin tokens, counted per client
//! network in memory (one instance each, so neither spends the other's allowance).
//!
//! `/auth/refresh`, `/auth/logout`, ticket redemption and the admin API are open to
//! anyone. A database
//! counter would itself be a write per made-up token, which is the very load this
//! limit exists to stop, so the strikes live in this process: a fixed one-minute window
//! per client key (ClientIp already folds an IPv6 client into its /64). With several API
//! processes a client gets this allowance on each of them; the lookups it buys are reads.

use std::{collections::HashMap, sync::Mutex};

use crate::error::ApiError;

const WINDOW: i64 = 60;
/// Distinct clients remembered per window. Past it the window starts over early: an
/// attacker with this many addresses gets fresh allowances, but memory stays bounded.
const MAX_CLIENTS: usize = 100_000;

pub struct TokenStrikes {
    max: u32,
    /// The `limit` label of its refusals (metrics and `ApiError::RateLimited`).
    limit: &'static str,
    inner: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    start: i64,
    counts: HashMap<String, u32>,
}

impl TokenStrikes {
    pub fn new(max_per_minute: u32, limit: &'static str) -> Self {
        Self {
            max: max_per_minute,
            limit,
            inner: Mutex::new(Window::default()),
        }
    }

    fn window<R>(&self, now: i64, f: impl FnOnce(&mut Window) -> R) -> R {
        // A panic while holding the lock cannot leave the counts inconsistent in a
        // way that matters, so a poisoned lock is simply taken over.
        let mut w = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = now - now.rem_euclid(WINDOW);
        if w.start != start || w.counts.len() >= MAX_CLIENTS {
            w.start = start;
            w.counts.clear();
        }
        f(&mut w)
    }

    fn refusal(&self, now: i64) -> ApiError {
        crate::telemetry::rate_limited(self.limit);
        ApiError::RateLimited {
            limit: self.limit,
            retry_after: (WINDOW - now.rem_euclid(WINDOW)).max(1) as u64,
        }
    }

    /// Refuses a client that has used up its strikes, before any lookup is made.
    pub fn check(&self, client: &str, now: i64) -> Result<(), ApiError> {
        let used = self.window(now, |w| w.counts.get(client).copied().unwrap_or(0));
        if used >= self.max {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// Counts one token that named nothing alive.
    pub fn strike(&self, client: &str, now: i64) {
        self.window(now, |w| {
            *w.counts.entry(client.to_owned()).or_default() += 1
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_max_strikes_until_the_window_ends() {
        let s = TokenStrikes::new(2, "test");
        let now = 6_000;
        s.strike("a", now);
        assert!(s.check("a", now).is_ok());
        s.strike("a", now + 1);
        assert!(s.check("a", now + 2).is_err());
        assert!(
            s.check("b", now + 2).is_ok(),
            "another client is not affected"
        );
        assert!(
            s.check("a", now + WINDOW).is_ok(),
            "a new window starts over"
        );
    }
}
