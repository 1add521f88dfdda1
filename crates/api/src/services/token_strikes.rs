//! Made-up refresh tokens and event tickets, and wrong admin tokens, counted per client
//! network in memory (one instance each, so neither spends the other's allowance).
//!
//! `/auth/refresh`, `/auth/logout`, ticket redemption and the admin API are open to
//! anyone. A database
//! counter would itself be a write per made-up token, which is the very load this
//! limit exists to stop, so the strikes live in this process: a fixed one-minute window
//! per client key (ClientIp already folds an IPv6 client into its /64), and as every
//! per-client limit, at 4× for its /56 and 16× for its /48 (SPEC §11; no IPv4 /24: that
//! is for the SMS and registration limits). With several API processes a client gets this
//! allowance on each of them; the lookups it buys are reads.

use std::{collections::HashMap, sync::Mutex};

use crate::{
    domain::{ClientNetworks, client_network::Width},
    error::ApiError,
};

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

    /// The client's keys, each with its allowance: its own, then its IPv6 /56 and /48.
    fn keys<'a>(&self, client: &'a ClientNetworks) -> impl Iterator<Item = (&'a str, u32)> {
        let max = self.max;
        let wider = client
            .wider()
            .filter(|(width, _)| *width != Width::V4Slash24)
            .map(move |(width, net)| (net, max.saturating_mul(width.multiple())));
        std::iter::once((client.key(), max)).chain(wider)
    }

    /// Refuses a client that has used up its strikes, before any lookup is made.
    pub fn check(&self, client: &ClientNetworks, now: i64) -> Result<(), ApiError> {
        let full = self.window(now, |w| {
            self.keys(client)
                .any(|(key, max)| w.counts.get(key).copied().unwrap_or(0) >= max)
        });
        if full {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// Counts one token that named nothing alive.
    pub fn strike(&self, client: &ClientNetworks, now: i64) {
        self.window(now, |w| {
            for (key, _) in self.keys(client) {
                *w.counts.entry(key.to_owned()).or_default() += 1;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(ip: &str) -> ClientNetworks {
        ClientNetworks::of(ip.parse().expect("ip"))
    }

    #[test]
    fn refuses_after_max_strikes_until_the_window_ends() {
        let s = TokenStrikes::new(2, "test");
        let now = 6_000;
        let (a, b) = (client("192.0.2.1"), client("192.0.2.2"));
        s.strike(&a, now);
        assert!(s.check(&a, now).is_ok());
        s.strike(&a, now + 1);
        assert!(s.check(&a, now + 2).is_err());
        assert!(
            s.check(&b, now + 2).is_ok(),
            "another client is not affected, even in the same /24"
        );
        assert!(
            s.check(&a, now + WINDOW).is_ok(),
            "a new window starts over"
        );
    }

    #[test]
    fn an_ipv6_56_gets_4_times_and_a_48_16_times_the_strikes() {
        let s = TokenStrikes::new(1, "test");
        let now = 6_000;
        // Four /64s of one /56 use its allowance up; a fifth is refused unstruck.
        for low in 0..4 {
            let c = client(&format!("2001:db8:1:{low:x}::1"));
            assert!(s.check(&c, now).is_ok(), "/64 number {low}");
            s.strike(&c, now);
        }
        assert!(s.check(&client("2001:db8:1:4::1"), now).is_err());
        // Three more /56s fill the /48.
        for high in 1..4u16 {
            for low in 0..4u16 {
                let c = client(&format!("2001:db8:1:{:x}::1", (high << 8) | low));
                assert!(s.check(&c, now).is_ok());
                s.strike(&c, now);
            }
        }
        assert!(s.check(&client("2001:db8:1:4000::1"), now).is_err());
        assert!(s.check(&client("2001:db8:2::1"), now).is_ok());
    }
}
