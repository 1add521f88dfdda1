//! Fixed-window limits aligned to UTC, counted in the database (SPEC §7).

use sha2::{Digest as _, Sha256};

use crate::{
    error::ApiError,
    persistence::{Conn, rate_limits},
};

/// One limit: at most `max` events per `window` seconds for a key.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Metric label and key prefix.
    pub name: &'static str,
    pub max: u32,
    pub window: i64,
}

impl Limit {
    fn window_start(&self, now: i64) -> i64 {
        now - now.rem_euclid(self.window)
    }

    fn refusal(&self, now: i64) -> ApiError {
        crate::telemetry::rate_limited(self.name);
        let retry_after = (self.window_start(now) + self.window - now).max(1) as u64;
        ApiError::RateLimited {
            limit: self.name,
            retry_after,
        }
    }

    fn key(&self, subject: &str) -> String {
        format!("{}:{subject}", self.name)
    }

    /// Counts one event and refuses it when the window is already full.
    pub fn hit(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        let count = rate_limits::hit(conn, &self.key(subject), self.window_start(now))?;
        if count > i64::from(self.max) {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// Refuses when the window is full, without counting.
    pub fn check(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        let count = rate_limits::peek(conn, &self.key(subject), self.window_start(now))?;
        if count >= i64::from(self.max) {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// Counts one event without refusing (e.g. a failed login).
    pub fn record(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        rate_limits::hit(conn, &self.key(subject), self.window_start(now))?;
        Ok(())
    }
}

/// Keys on personal data (emails) are stored hashed.
pub fn private_subject(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_utc_and_retry_after_counts_down_to_the_next() {
        let hour = Limit {
            name: "t",
            max: 1,
            window: 3600,
        };
        let now = 1_764_064_800 + 1000; // 10:00:00 UTC + 1000 s
        assert_eq!(hour.window_start(now), 1_764_064_800);
        match hour.refusal(now) {
            ApiError::RateLimited { retry_after, .. } => assert_eq!(retry_after, 2600),
            other => panic!("unexpected {other:?}"),
        }
    }
}
