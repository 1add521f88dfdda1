//! The guard's counts: codes sent and verified per range, country and all countries,
//! read from the hourly counter rows of the window.

use phonereg_types::FraudScope;

use super::FraudGuard;
use crate::{
    error::ApiError,
    persistence::{Conn, fraud},
    services::rate_limit::Limit,
};

/// Codes sent and verified in the window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub sent: i64,
    pub verified: i64,
}

impl Counts {
    pub(super) fn unverified(self) -> i64 {
        (self.sent - self.verified).max(0)
    }
}

impl FraudGuard {
    pub(super) fn threshold(&self, floor: i64, counts: Counts) -> i64 {
        let earned = (self.ratio * counts.verified as f64).floor() as i64;
        floor.max(earned)
    }

    /// Sent and verified codes of one range or country in the windows from `since` on.
    pub(super) fn counts(
        &self,
        conn: &mut Conn<'_>,
        scope: FraudScope,
        key: &str,
        since: i64,
    ) -> Result<Counts, ApiError> {
        let counter = match scope {
            FraudScope::Range => self.range_counter,
            FraudScope::Country => self.country_counter,
            FraudScope::Global => self.global_counter,
        };
        self.counts_of(conn, counter, key, since)
    }

    /// Sent and verified codes under `counter`'s `key` in the windows from `since` on.
    pub(super) fn counts_of(
        &self,
        conn: &mut Conn<'_>,
        counter: Limit,
        key: &str,
        since: i64,
    ) -> Result<Counts, ApiError> {
        let prefix = format!("{}:{key}:", counter.name);
        let mut counts = Counts::default();
        for (row_key, count) in fraud::counts_under(conn, &prefix, since)? {
            match row_key.as_bytes().get(prefix.len()) {
                Some(b's') => counts.sent += count,
                Some(b'v') => counts.verified += count,
                _ => {}
            }
        }
        Ok(counts)
    }

    /// The counts of three counters' keys, each from its own window start, in one read.
    pub(super) fn counts_of_all(
        &self,
        conn: &mut Conn<'_>,
        keys: [(Limit, &str, i64); 3],
    ) -> Result<[Counts; 3], ApiError> {
        let prefixes =
            keys.map(|(counter, key, since)| (format!("{}:{key}:", counter.name), since));
        let [a, b, g] = &prefixes;
        let rows = fraud::counts_under_three(conn, [(&a.0, a.1), (&b.0, b.1), (&g.0, g.1)])?;
        Ok(Self::tally_rows(&prefixes, rows))
    }

    /// [`FraudGuard::counts_of_all`] from counter rows already read (with their window
    /// starts, from the earliest of the three on): each key's rows from its own start.
    pub(super) fn tally(keys: [(Limit, &str, i64); 3], rows: &[fraud::CounterRow]) -> [Counts; 3] {
        let prefixes =
            keys.map(|(counter, key, since)| (format!("{}:{key}:", counter.name), since));
        let rows = rows.iter().filter_map(|(key, window_start, count)| {
            let since = prefixes
                .iter()
                .find(|(p, _)| key.starts_with(p.as_str()))
                .map(|(_, since)| *since)?;
            (*window_start >= since).then(|| (key.clone(), *count))
        });
        Self::tally_rows(&prefixes, rows)
    }

    /// Adds up sent and verified counts by prefix.
    fn tally_rows(
        prefixes: &[(String, i64); 3],
        rows: impl IntoIterator<Item = (String, i64)>,
    ) -> [Counts; 3] {
        let mut counts = [Counts::default(); 3];
        for (row_key, count) in rows {
            let Some(i) = prefixes
                .iter()
                .position(|(p, _)| row_key.starts_with(p.as_str()))
            else {
                continue;
            };
            match row_key.as_bytes().get(prefixes[i].0.len()) {
                Some(b's') => counts[i].sent += count,
                Some(b'v') => counts[i].verified += count,
                _ => {}
            }
        }
        counts
    }
}
