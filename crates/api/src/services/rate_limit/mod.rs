//! Fixed-window limits aligned to UTC, counted in the database (SPEC §7).
//!
//! A counter every request shares (the daily SMS budget, one client IP) would be one row
//! that each PostgreSQL transaction locks from its increment to its commit, so all of
//! them queue on it. Such limits are *striped*: on PostgreSQL the window's allowance is
//! split over a few rows and a request takes a slot in any row with room. No row ever
//! passes its share, so the total never passes the limit, and a request is refused only
//! when every row is full: the limit stays exact. SQLite has one writer at a time and
//! keeps one row.
//!
//! A counter's key is its limit's name and a keyed hash of its subject (a number, an
//! email, a client address, an account): a copy of the database must not list who asked
//! for codes or signed in, and an unsalted digest of a phone number is undone by hashing
//! every number. The key comes from the server's secret ([`key_subjects_with`]). Only the
//! fraud guard's range and country counters, which name no one and are read back by key
//! prefix, stay readable ([`Limit::readable`]).

mod subject_key;

use rand::Rng as _;

pub use self::subject_key::{key_subjects_with, private_subject};
use crate::{
    error::ApiError,
    persistence::{Conn, fraud, rate_limits},
};

/// Rows a striped counter is spread over on PostgreSQL: enough that 16–64 concurrent
/// transactions rarely meet on one, few enough that a nearly full window is cheap to scan.
const STRIPES: u32 = 8;

/// One limit: at most `max` events per `window` seconds for a key.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    /// Metric label and key prefix.
    pub name: &'static str,
    pub max: u32,
    pub window: i64,
    /// How many rows the counter may be spread over (see the module docs).
    stripes: u32,
    /// Whether the subject is stored as it is rather than as a keyed hash.
    readable: bool,
}

impl Limit {
    pub fn new(name: &'static str, max: u32, window: i64) -> Self {
        Self {
            name,
            max,
            window,
            stripes: 1,
            readable: false,
        }
    }

    /// For a counter whose subject names no one and is read back by key (the fraud
    /// guard's ranges and countries): the subject is stored as it is.
    pub fn readable(self) -> Self {
        Self {
            readable: true,
            ..self
        }
    }

    /// The same limit at `k` times its value (a client's wider network).
    pub(crate) fn times(self, k: u32) -> Self {
        Self {
            max: self.max.saturating_mul(k),
            ..self
        }
    }

    /// For a key many concurrent requests share.
    pub fn striped(self) -> Self {
        Self {
            stripes: STRIPES,
            ..self
        }
    }

    /// Striped over exactly as many rows as `other` uses, for ceilings that read one
    /// counter against different maxima: each then sees every slot the others took.
    pub fn striped_like(self, other: Limit) -> Self {
        Self {
            stripes: other.stripes.min(other.max).max(1),
            ..self
        }
    }

    /// Rows in use: one on SQLite, and never more than `max` so each has room for one.
    fn stripes_on(&self, conn: &Conn<'_>) -> u32 {
        if conn.is_postgres() {
            self.stripes.min(self.max).max(1)
        } else {
            1
        }
    }

    /// Row `i` of the counter; row 0 is the plain key, so one-row counters look the same.
    fn stripe_key(&self, subject: &str, i: u32) -> String {
        match i {
            0 => self.key(subject),
            _ => format!("{}#{i}", self.key(subject)),
        }
    }

    /// Row `i`'s share of `max`; the shares add up to `max` exactly.
    fn stripe_cap(&self, stripes: u32, i: u32) -> i64 {
        i64::from(self.max / stripes + u32::from(i < self.max % stripes))
    }

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
        if self.readable {
            format!("{}:{subject}", self.name)
        } else {
            format!("{}:{}", self.name, private_subject(subject))
        }
    }

    /// Counts one event and refuses it when the window is already full.
    pub fn hit(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        let window_start = self.window_start(now);
        let stripes = self.stripes_on(conn);
        if stripes == 1 {
            // Counted even when refused: the caller's rollback undoes it.
            let count = rate_limits::hit(conn, &self.key(subject), window_start)?;
            if count > i64::from(self.max) {
                return Err(self.refusal(now));
            }
            return Ok(());
        }
        // Start at a random row so concurrent requests spread over them.
        let first = rand::thread_rng().gen_range(0..stripes);
        self.take_from(conn, subject, now, (first..stripes).chain(0..first))
    }

    /// Takes a slot in the first of the rows `order` that has room; refuses when none has.
    fn take_from(
        &self,
        conn: &mut Conn<'_>,
        subject: &str,
        now: i64,
        order: impl Iterator<Item = u32>,
    ) -> Result<(), ApiError> {
        let (window_start, stripes) = (self.window_start(now), self.stripes_on(conn));
        for i in order {
            let cap = self.stripe_cap(stripes, i);
            if rate_limits::take(conn, &self.stripe_key(subject, i), window_start, cap)? {
                return Ok(());
            }
        }
        Err(self.refusal(now))
    }

    /// Counts one event against each `(limit, subject)`; refuses with the first limit, in
    /// order, whose window was already full. The one-row counters go first, the striped
    /// ones after them.
    ///
    /// One statement on both backends. On PostgreSQL ([`rate_limits::hit_free_rows`]) a
    /// striped counter takes a row no other transaction holds, so sends do not queue on
    /// the rows they share; when all its rows are full nothing is counted, and the
    /// counters are taken one at a time, in order, to find the one that refuses.
    pub fn hit_all(conn: &mut Conn<'_>, hits: &[(Limit, &str)], now: i64) -> Result<(), ApiError> {
        let (plain, striped): (Vec<_>, Vec<_>) = hits
            .iter()
            .partition(|(limit, _)| limit.stripes_on(conn) == 1);
        if striped.is_empty() {
            return Self::hit_in_turn(conn, &plain, &striped, now);
        }
        let ordered: Vec<(Limit, &str)> = plain.iter().chain(&striped).map(|h| **h).collect();
        let candidates = Self::candidates(conn, &ordered, now, true);
        let Some(counts) = rate_limits::hit_free_rows(conn, &candidates)? else {
            return Self::hit_in_turn(conn, &plain, &striped, now);
        };
        // Counted even when refused: the caller's rollback undoes it. A striped counter
        // was only counted where it had room.
        for ((limit, _), count) in plain.iter().zip(counts) {
            if count > i64::from(limit.max) {
                return Err(limit.refusal(now));
            }
        }
        Ok(())
    }

    /// The rows each of `hits` may take on PostgreSQL, numbered by counter: a one-row
    /// counter's row (uncapped: the caller compares its count), or every row of a
    /// striped one from a random first, so concurrent requests spread over them, each
    /// with its share of the limit when `capped`.
    fn candidates(
        conn: &Conn<'_>,
        hits: &[(Limit, &str)],
        now: i64,
        capped: bool,
    ) -> Vec<rate_limits::Candidate> {
        let mut rng = rand::thread_rng();
        let mut rows = Vec::new();
        for (counter, (limit, subject)) in (1..).zip(hits) {
            let stripes = limit.stripes_on(conn);
            let first = rng.gen_range(0..stripes);
            for i in (first..stripes).chain(0..first) {
                let cap = if capped && stripes > 1 {
                    limit.stripe_cap(stripes, i)
                } else {
                    i64::MAX
                };
                rows.push(rate_limits::Candidate {
                    counter,
                    key: limit.stripe_key(subject, i),
                    window_start: limit.window_start(now),
                    cap,
                });
            }
        }
        rows
    }

    /// [`Limit::hit_all`] one counter at a time: the one-row counters in one statement,
    /// then each striped counter, in order.
    fn hit_in_turn(
        conn: &mut Conn<'_>,
        plain: &[&(Limit, &str)],
        striped: &[&(Limit, &str)],
        now: i64,
    ) -> Result<(), ApiError> {
        let counters: Vec<(String, i64)> = plain
            .iter()
            .map(|(limit, subject)| (limit.key(subject), limit.window_start(now)))
            .collect();
        let counts = rate_limits::hit_many(conn, &counters)?;
        // Counted even when refused: the caller's rollback undoes it.
        for ((limit, _), count) in plain.iter().zip(counts) {
            if count > i64::from(limit.max) {
                return Err(limit.refusal(now));
            }
        }
        for (limit, subject) in striped {
            limit.hit(conn, subject, now)?;
        }
        Ok(())
    }

    /// Takes back one event counted by [`Limit::hit_all`] at `now` for each of a few
    /// one-row limits, in one statement.
    pub fn refund_all(
        conn: &mut Conn<'_>,
        hits: &[(Limit, &str)],
        now: i64,
    ) -> Result<(), ApiError> {
        let Some((first, _)) = hits.first() else {
            return Ok(());
        };
        debug_assert!(
            hits.iter()
                .all(|(l, _)| l.stripes == 1 && l.window == first.window),
            "refunds are for one-row limits of one window length"
        );
        let keys: Vec<String> = hits.iter().map(|(l, s)| l.key(s)).collect();
        rate_limits::unhit(conn, &keys, first.window_start(now))
    }

    /// Refuses when `n` more events would not fit in the window, without counting.
    pub fn check_room(
        &self,
        conn: &mut Conn<'_>,
        subject: &str,
        n: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.count(conn, subject, now)? + i64::from(n.max(1)) > i64::from(self.max) {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// The events counted for `subject` in the window of `now`, over all its rows.
    pub fn count(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<i64, ApiError> {
        let keys: Vec<String> = (0..self.stripes_on(conn))
            .map(|i| self.stripe_key(subject, i))
            .collect();
        rate_limits::total(conn, &keys, self.window_start(now))
    }

    /// Refuses when the window is full, without counting.
    pub fn check(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        if self.count(conn, subject, now)? >= i64::from(self.max) {
            return Err(self.refusal(now));
        }
        Ok(())
    }

    /// The key of `subject`'s counter row (its first stripe), as stored.
    pub fn stored_key(&self, subject: &str) -> String {
        self.key(subject)
    }

    /// [`Limit::record`] for several counters in one statement: on PostgreSQL a row of
    /// each striped one that no other transaction holds ([`rate_limits::hit_free_rows`]).
    pub fn record_all(
        conn: &mut Conn<'_>,
        records: &[(Limit, &str)],
        now: i64,
    ) -> Result<(), ApiError> {
        let candidates = Self::candidates(conn, records, now, false);
        if conn.is_postgres() {
            rate_limits::hit_free_rows(conn, &candidates)?;
        } else {
            let rows: Vec<(String, i64)> = candidates
                .into_iter()
                .map(|c| (c.key, c.window_start))
                .collect();
            rate_limits::hit_many(conn, &rows)?;
        }
        Ok(())
    }

    /// [`Limit::record_all`] only if `once` (a key as [`Limit::stored_key`] gives it, the
    /// window start of its row, and the first window that counts) has no row from that
    /// window on, which it then takes; false when it had one and nothing was counted.
    /// PostgreSQL: one round trip; SQLite: two statements.
    pub fn record_all_once(
        conn: &mut Conn<'_>,
        once: (&str, i64, i64),
        records: &[(Limit, &str)],
        now: i64,
    ) -> Result<bool, ApiError> {
        let (key, window_start, since) = once;
        if !conn.is_postgres() {
            if !fraud::take_once_since(conn, key, window_start, since)? {
                return Ok(false);
            }
            Self::record_all(conn, records, now)?;
            return Ok(true);
        }
        let candidates = Self::candidates(conn, records, now, false);
        rate_limits::hit_free_rows_once(conn, once, &candidates)
    }

    /// Counts one event without refusing (e.g. a failed login, a system SMS).
    pub fn record(&self, conn: &mut Conn<'_>, subject: &str, now: i64) -> Result<(), ApiError> {
        let row = rand::thread_rng().gen_range(0..self.stripes_on(conn));
        rate_limits::hit(conn, &self.stripe_key(subject, row), self.window_start(now))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_align_to_utc_and_retry_after_counts_down_to_the_next() {
        let hour = Limit::new("t", 1, 3600);
        let now = 1_764_064_800 + 1000; // 10:00:00 UTC + 1000 s
        assert_eq!(hour.window_start(now), 1_764_064_800);
        match hour.refusal(now) {
            ApiError::RateLimited { retry_after, .. } => assert_eq!(retry_after, 2600),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn subjects_are_keyed_unless_readable() {
        let plain = Limit::new("sms_number", 5, 3600);
        let key = plain.key("+14155552671");
        assert!(key.starts_with("sms_number:"), "{key}");
        assert!(!key.contains("4155552671"), "{key}");
        assert_eq!(
            key,
            plain.key("+14155552671"),
            "the same subject, the same key"
        );
        assert_ne!(key, plain.key("+14155552672"));
        let range = Limit::new("fraud:r", 5, 3600).readable();
        assert_eq!(range.key("+1415:s"), "fraud:r:+1415:s");
    }

    #[test]
    fn stripe_shares_add_up_to_the_limit() {
        for max in [1, 2, 7, 8, 9, 100, 1_000_003] {
            let limit = Limit::new("t", max, 60).striped();
            let stripes = limit.stripes.min(max);
            let total: i64 = (0..stripes).map(|i| limit.stripe_cap(stripes, i)).sum();
            assert_eq!(total, i64::from(max), "max {max}");
            assert!((0..stripes).all(|i| limit.stripe_cap(stripes, i) >= 1));
        }
    }
}
