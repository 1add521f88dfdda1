//! The guard's judgment after a send is counted: the global ceiling, then a pause for a
//! range or country whose unverified codes reached their threshold.

use phonereg_types::{FraudAction, FraudScope, SecurityEventType};

use super::{Counts, FraudGuard, HOUR, decided, window_start};
use crate::{
    config::FraudMode,
    domain::Destination,
    error::ApiError,
    persistence::{
        Conn, fraud,
        models::{NewDecision, NewPause, PauseRow},
    },
    services::audit::{self, Entry, Origin},
};

impl FraudGuard {
    /// After a code to `dest` was counted: pauses its range, and its country, when their
    /// unverified codes reached the threshold. `admitted` is what [`FraudGuard::admit`]
    /// read in this transaction. On PostgreSQL the pauses are read again: a pause another
    /// process committed since then refuses this send too, so racing sends stop at it. On
    /// SQLite nobody else writes inside this transaction, so the first read stands.
    pub fn evaluate(
        &self,
        conn: &mut Conn<'_>,
        dest: &Destination,
        admitted: Vec<PauseRow>,
        now: i64,
    ) -> Result<(), ApiError> {
        let since = window_start(now);
        let keys = [
            (self.range_counter, dest.range.as_str()),
            (self.country_counter, dest.country.as_str()),
            (self.global_counter, "all"),
        ];
        // On PostgreSQL the pauses come with the counter rows of the whole window, in
        // one read; each key's own window start is applied below.
        let (recent, counted) = if conn.is_postgres() {
            let prefixes = keys.map(|(counter, key)| format!("{}:{key}:", counter.name));
            let [a, b, g] = prefixes.each_ref().map(String::as_str);
            let (recent, rows) =
                fraud::recent_and_counts(conn, &dest.range, &dest.country, since, [a, b, g])?;
            (recent, Some(rows))
        } else {
            (admitted, None)
        };
        let (pauses, ended): (Vec<&PauseRow>, Vec<&PauseRow>) =
            recent.iter().partition(|p| p.in_force(now));
        self.refuse_if_paused(dest, &pauses, now)?;
        // In enforce mode only an enforced pause stands in for a new one: a pause taken in
        // record mode (before a switch to enforce) refuses nothing, so it must not keep
        // the guard from taking the enforced pause the same counts call for.
        let enforcing = self.mode == FraudMode::Enforce;
        let paused = |key: &str| {
            pauses
                .iter()
                .any(|p| p.key == key && (p.enforced || !enforcing))
        };
        // A pause that ended (or was lifted) inside the window restarts the window at the
        // hour it ended, so the codes that caused it do not pause the key again the
        // moment it is free.
        let since_for = |key: &str| {
            ended
                .iter()
                .filter(|p| p.key == key)
                .map(|p| p.end() - p.end().rem_euclid(HOUR))
                .fold(since, i64::max)
        };
        // The range's, the country's and all countries' counts in one read, this send
        // included (the pause a range gets does not change them).
        let windows = [
            (keys[0].0, keys[0].1, since_for(&dest.range)),
            (keys[1].0, keys[1].1, since_for(&dest.country)),
            (keys[2].0, keys[2].1, since),
        ];
        let [range_counts, country_counts, global] = match &counted {
            Some(rows) => Self::tally(windows, rows),
            None => self.counts_of_all(conn, windows)?,
        };
        self.ceiling_verdict(dest, global, range_counts, 0, now)?;
        let mut ranges_paused = None;
        if !paused(&dest.range) {
            let counts = range_counts;
            if counts.unverified() >= self.threshold(self.range_floor, counts) {
                self.pause(conn, FraudScope::Range, &dest.range, dest, counts, now)?;
                ranges_paused = Some(fraud::active_ranges_in(conn, &dest.country, now)?);
            }
        }
        if !paused(&dest.country) {
            let counts = country_counts;
            let spread = counts.unverified() >= self.threshold(self.country_floor, counts);
            let many_ranges = ranges_paused.is_some_and(|n| n >= self.country_ranges);
            if spread || many_ranges {
                self.pause(conn, FraudScope::Country, &dest.country, dest, counts, now)?;
            }
        }
        Ok(())
    }

    /// In enforce mode, an enforced pause in force refuses the send (429 with the pause's
    /// remaining seconds).
    fn refuse_if_paused(
        &self,
        dest: &Destination,
        pauses: &[&PauseRow],
        now: i64,
    ) -> Result<(), ApiError> {
        let enforced = pauses.iter().find(|p| p.enforced);
        match enforced {
            Some(pause) if self.mode == FraudMode::Enforce => {
                decided(
                    FraudAction::Refuse,
                    pause.scope,
                    dest,
                    pause.sent,
                    pause.verified,
                );
                Err(ApiError::SmsRangePaused {
                    retry_after: (pause.until - now).max(1) as u64,
                })
            }
            _ => Ok(()),
        }
    }

    fn pause(
        &self,
        conn: &mut Conn<'_>,
        scope: FraudScope,
        key: &str,
        dest: &Destination,
        counts: Counts,
        now: i64,
    ) -> Result<(), ApiError> {
        let enforced = self.mode == FraudMode::Enforce;
        let row = fraud::insert_pause(
            conn,
            &NewPause {
                scope,
                key,
                country: &dest.country,
                since: now,
                until: now + self.pause,
                sent: counts.sent,
                verified: counts.verified,
                enforced,
            },
        )?;
        let action = if enforced {
            FraudAction::Pause
        } else {
            FraudAction::Record
        };
        fraud::insert_decision(
            conn,
            &NewDecision {
                at: now,
                action,
                scope,
                key,
                country: &dest.country,
                sent: counts.sent,
                verified: counts.verified,
                pause_id: Some(row.id),
                operator: None,
            },
        )?;
        let entry = Entry::system(SecurityEventType::FraudPause, None)
            .detail("pause_id", row.id.to_string())
            .detail("scope", scope.as_str())
            .detail("key", key.to_owned());
        audit::record(conn, &Origin::system(), &entry, now)?;
        decided(action, scope, dest, counts.sent, counts.verified);
        Ok(())
    }
}
