//! Refusals of per-client limits the database gave, kept in memory until their window
//! ends, so the next request of the same client to the same endpoint is refused without
//! a write (SPEC §11 bounded work; the middleware is `shed.rs`).
//!
//! Memory is bounded: at most [`MAX_CLIENTS`] remembered refusals; past it expired ones
//! are dropped, and if none have expired everything is forgotten (a flood from more
//! clients than that reaches the database again, which refuses it correctly).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use crate::error::ApiError;

const MAX_CLIENTS: usize = 100_000;

/// Refusals the database gave, per endpoint and client key, until their window ends.
#[derive(Default)]
pub struct Shedder {
    refused: Mutex<HashMap<(&'static str, String), Refusal>>,
}

/// A database refusal: by which limit, and until when (UNIX seconds).
#[derive(Clone, Copy)]
pub struct Refusal {
    limit: &'static str,
    until: i64,
}

impl Refusal {
    pub fn new(limit: &'static str, until: i64) -> Self {
        Self { limit, until }
    }
}

impl Shedder {
    pub fn refusal(&self, path: &'static str, client: &str, now: i64) -> Option<ApiError> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let r = refused.get(&(path, client.to_owned()))?;
        (r.until > now).then(|| {
            crate::telemetry::rate_limited(r.limit);
            ApiError::RateLimited {
                limit: r.limit,
                retry_after: (r.until - now) as u64,
            }
        })
    }

    pub fn remember(&self, path: &'static str, client: &str, refusal: Refusal, now: i64) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= MAX_CLIENTS {
            refused.retain(|_, r| r.until > now);
            if refused.len() >= MAX_CLIENTS {
                refused.clear();
            }
        }
        refused.insert((path, client.to_owned()), refusal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_lasts_until_its_window_ends_for_its_endpoint_and_client_only() {
        let s = Shedder::default();
        let r = Refusal {
            limit: "login_ip",
            until: 1_000,
        };
        s.remember("/login", "192.0.2.1", r, 900);
        match s.refusal("/login", "192.0.2.1", 950) {
            Some(ApiError::RateLimited { retry_after, limit }) => {
                assert_eq!((retry_after, limit), (50, "login_ip"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            s.refusal("/login", "192.0.2.2", 950).is_none(),
            "another client"
        );
        assert!(
            s.refusal("/register", "192.0.2.1", 950).is_none(),
            "another endpoint"
        );
        assert!(
            s.refusal("/login", "192.0.2.1", 1_000).is_none(),
            "the window ended"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let s = Shedder::default();
        let r = |until| Refusal {
            limit: "login_ip",
            until,
        };
        for i in 0..MAX_CLIENTS + 10 {
            s.remember("/login", &format!("c{i}"), r(2_000), 1_000);
        }
        assert!(s.refused.lock().expect("lock").len() <= MAX_CLIENTS);
    }
}
