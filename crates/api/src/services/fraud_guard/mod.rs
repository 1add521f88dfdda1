//! The SMS fraud guard (SPEC §9): pumping sends codes that are never verified, to numbers
//! the attacker rents in a few ranges, from as many addresses as it takes to dodge every
//! per-client cap. So the guard looks at the destination instead: per range (country
//! calling code plus the first `SMS_FRAUD_PREFIX_DIGITS` national digits) and per country
//! it counts codes sent and codes verified over the last 24 hours, and pauses a range or
//! country whose unverified codes run past
//!
//! ```text
//! max(floor, SMS_FRAUD_RATIO × verified)
//! ```
//!
//! The floor (`SMS_FRAUD_RANGE_FLOOR`, `SMS_FRAUD_COUNTRY_FLOOR`) is what a cold start may
//! leave unverified before any code has been verified, and what a slow attacker can take
//! from one range per day: a 24-hour window has no per-hour rate to stay under. The ratio
//! lets real traffic grow the allowance, since real users verify. A country is paused
//! when its own counts run past its threshold (an attack spread thinly over many ranges)
//! or when `SMS_FRAUD_COUNTRY_RANGES` of its ranges are paused at once; real users in
//! other ranges of a country under a narrow attack keep getting codes.
//!
//! Over all countries, unverified claims may not pass `SMS_FRAUD_GLOBAL_UNVERIFIED` in
//! 24 hours (SPEC §11): an attacker spread over a hundred countries stays under every
//! range and country floor, and the floors alone would let the whole budget through.
//! Past the ceiling, claims to ranges that verified nothing in the window are refused like
//! a pause (scope `global`); ranges with real users in them go on. Verified credit counts
//! distinct numbers: one number earns at most one credit per 24 hours, or verifying one
//! rented number over and over would buy an unverified send each time.
//!
//! Counts are hourly rows of `rate_counters` (`fraud:r:<range>:s|v`,
//! `fraud:c:<country>:s|v`, `fraud:g:all:s|v`, and `fraud:n:<keyed hash of a number>`
//! for the credit a number earned), bumped in the same statement as the send's other limits;
//! pauses and decisions are tables. Everything lives in the database, so every API
//! process sees the same pauses. A send is refused before anything is written, and the
//! send that takes a range to its threshold is the last one: it goes out and its
//! transaction writes the pause.

mod counts;
mod operators;
mod pausing;

use phonereg_types::{FraudAction, FraudScope};

pub use self::{
    counts::Counts,
    operators::{active_pauses, lift_pause, recent_decisions},
};
use crate::{
    config::{Config, FraudAllow, FraudMode, TestNumbers},
    domain::Destination,
    error::ApiError,
    persistence::{Conn, fraud, models::PauseRow},
    services::rate_limit::Limit,
};

const HOUR: i64 = 3600;
/// The window: this hour and the 23 before it.
const WINDOW_HOURS: i64 = 24;

/// The guard's settings and its two counters. Cheap to clone into blocking closures.
#[derive(Clone, Debug)]
pub struct FraudGuard {
    mode: FraudMode,
    prefix_digits: usize,
    pause: i64,
    range_floor: i64,
    country_floor: i64,
    ratio: f64,
    country_ranges: i64,
    allow: FraudAllow,
    test_numbers: TestNumbers,
    /// `SMS_FRAUD_GLOBAL_UNVERIFIED`.
    global_ceiling: i64,
    range_counter: Limit,
    country_counter: Limit,
    global_counter: Limit,
    /// Numbers that earned a verified credit, by keyed hash: one per number per window.
    credit_counter: Limit,
}

impl FraudGuard {
    pub fn from_config(c: &Config) -> Self {
        Self {
            mode: c.sms_fraud_guard,
            prefix_digits: c.sms_fraud_prefix_digits as usize,
            pause: c.sms_fraud_pause as i64,
            range_floor: i64::from(c.sms_fraud_range_floor),
            country_floor: i64::from(c.sms_fraud_country_floor),
            ratio: c.sms_fraud_ratio,
            country_ranges: i64::from(c.sms_fraud_country_ranges),
            allow: c.sms_fraud_allow.clone(),
            test_numbers: c.sms_test_numbers.clone(),
            // Counters only: no cap ever refuses. The country row is hit by every send to
            // that country, so on PostgreSQL it is striped like the daily budget; ranges
            // too, so one busy range does not queue its sends on one row lock.
            // Read back by key prefix, and a range or country names no one.
            range_counter: Limit::new("fraud:r", u32::MAX, HOUR).striped().readable(),
            country_counter: Limit::new("fraud:c", u32::MAX, HOUR).striped().readable(),
            // Hit by every claim: striped like the country rows.
            global_counter: Limit::new("fraud:g", u32::MAX, HOUR).striped().readable(),
            credit_counter: Limit::new("fraud:n", u32::MAX, HOUR),
            global_ceiling: i64::from(c.sms_fraud_global_unverified()),
        }
    }

    /// The destination the guard watches for `e164` (in `country` when the caller knows
    /// it, which spares a parse); `None` when the guard is off or the number is exempt
    /// (test numbers, `SMS_FRAUD_ALLOW`).
    pub fn watch(&self, e164: &str, country: Option<&str>) -> Option<Destination> {
        if self.mode == FraudMode::Off || self.test_numbers.code_for(e164).is_some() {
            return None;
        }
        let dest = country
            .and_then(|c| Destination::in_country(e164, c, self.prefix_digits))
            .or_else(|| Destination::of(e164, self.prefix_digits))?;
        (!self.allow.allows(e164, &dest.country)).then_some(dest)
    }

    /// Refuses a send to a paused range or country (429 with the pause's remaining
    /// seconds), before the caller writes anything. In record mode, and for pauses taken
    /// in record mode, the refusal is only logged and counted. Returns the pauses of the
    /// window, in force or ended, for [`FraudGuard::evaluate`], which judges the global
    /// ceiling once the send is counted.
    pub fn admit(
        &self,
        conn: &mut Conn<'_>,
        dest: &Destination,
        now: i64,
    ) -> Result<Vec<PauseRow>, ApiError> {
        let recent = fraud::recent_for(conn, &dest.range, &dest.country, window_start(now))?;
        let Some(pause) = recent
            .iter()
            .filter(|p| p.in_force(now))
            .max_by_key(|p| (p.enforced, p.until))
        else {
            return Ok(recent);
        };
        let scope = pause.scope;
        if self.mode == FraudMode::Enforce && pause.enforced {
            decided(FraudAction::Refuse, scope, dest, pause.sent, pause.verified);
            return Err(ApiError::SmsRangePaused {
                retry_after: (pause.until - now).max(1) as u64,
            });
        }
        decided(FraudAction::Record, scope, dest, pause.sent, pause.verified);
        Ok(recent)
    }

    /// Whether a claim to `dest` would be refused (a pause, the global ceiling), asked
    /// before anything is written by callers about to do costly work (a password hash).
    /// Read-only; the charge asks again ([`FraudGuard::admit`], and
    /// [`FraudGuard::evaluate`] for the ceiling once the claim is counted), and that
    /// answer counts.
    pub fn precheck(
        &self,
        conn: &mut Conn<'_>,
        dest: &Destination,
        now: i64,
    ) -> Result<(), ApiError> {
        self.admit(conn, dest, now)?;
        let since = window_start(now);
        let global = self.counts_of(conn, self.global_counter, "all", since)?;
        if global.unverified() < self.global_ceiling {
            return Ok(());
        }
        let range = self.counts(conn, FraudScope::Range, &dest.range, since)?;
        self.ceiling_verdict(dest, global, range, 1, now)
    }

    /// The global ceiling (SPEC §11): unverified claims over all countries may not pass
    /// it, unless `dest`'s range verified a code in the window. `pending` is how many
    /// claims `global` does not count yet (1 before the send is counted, 0 after).
    /// Racing claims on PostgreSQL may pass it by as many as run at once (each counts
    /// before the others commit).
    fn ceiling_verdict(
        &self,
        dest: &Destination,
        global: Counts,
        range: Counts,
        pending: i64,
        now: i64,
    ) -> Result<(), ApiError> {
        if global.unverified() + pending <= self.global_ceiling || range.verified > 0 {
            return Ok(());
        }
        if self.mode != FraudMode::Enforce {
            decided(
                FraudAction::Record,
                FraudScope::Global,
                dest,
                global.sent,
                global.verified,
            );
            return Ok(());
        }
        decided(
            FraudAction::Refuse,
            FraudScope::Global,
            dest,
            global.sent,
            global.verified,
        );
        // The window slides at the next hour, when its oldest hour's claims leave it.
        Err(ApiError::SmsRangePaused {
            retry_after: (HOUR - now.rem_euclid(HOUR)).max(1) as u64,
        })
    }

    /// The counter rows a code to `dest` adds; the caller hits them with its limits.
    pub fn sent_counters(&self, dest: &Destination) -> [(Limit, String); 3] {
        [
            (self.range_counter, format!("{}:s", dest.range)),
            (self.country_counter, format!("{}:s", dest.country)),
            (self.global_counter, "all:s".to_owned()),
        ]
    }

    /// Counts `more` sends to `dest` beyond the one [`FraudGuard::sent_counters`] added: a
    /// call counts at its budget weight (SPEC §13), as it costs that much more.
    pub fn count_more_sent(
        &self,
        conn: &mut Conn<'_>,
        dest: &Destination,
        more: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        for _ in 0..more {
            for (limit, key) in self.sent_counters(dest) {
                limit.record(conn, &key, now)?;
            }
        }
        Ok(())
    }

    /// Whether `dest`'s range or country has more than half the unverified codes that
    /// would pause it (SPEC §11: the bot challenge asks from there).
    pub fn is_hot(
        &self,
        conn: &mut Conn<'_>,
        dest: &Destination,
        now: i64,
    ) -> Result<bool, ApiError> {
        let since = window_start(now);
        for (scope, key, floor) in [
            (FraudScope::Range, &dest.range, self.range_floor),
            (FraudScope::Country, &dest.country, self.country_floor),
        ] {
            let counts = self.counts(conn, scope, key, since)?;
            if 2 * counts.unverified() > self.threshold(floor, counts) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A code to `e164` was verified: real traffic, which raises its range's and
    /// country's allowance, and lowers the unverified count of all countries. Once per
    /// number per window: the same number verified again earns nothing.
    pub fn count_verified(
        &self,
        conn: &mut Conn<'_>,
        e164: &str,
        country: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        let Some(dest) = self.watch(e164, country) else {
            return Ok(());
        };
        // The credit is taken in one conditional write: none when the number has one in
        // the window (a read and a write cost verify a fifth of its SQLite throughput).
        // The three counts ride with it: on PostgreSQL in the same statement.
        let credit = self.credit_counter.stored_key(e164);
        let hour = now - now.rem_euclid(HOUR);
        let (range, country) = (format!("{}:v", dest.range), format!("{}:v", dest.country));
        Limit::record_all_once(
            conn,
            (&credit, hour, window_start(now)),
            &[
                (self.range_counter, &range),
                (self.country_counter, &country),
                (self.global_counter, "all:v"),
            ],
            now,
        )?;
        Ok(())
    }
}

/// The first hourly window the guard counts: this hour and the 23 before it.
fn window_start(now: i64) -> i64 {
    now - now.rem_euclid(HOUR) - (WINDOW_HOURS - 1) * HOUR
}

/// One log line and one metric per decision; a range is a prefix, never a whole number.
fn decided(action: FraudAction, scope: FraudScope, dest: &Destination, sent: i64, verified: i64) {
    crate::telemetry::fraud_decision(action.as_str(), scope.as_str());
    tracing::warn!(
        action = action.as_str(),
        scope = scope.as_str(),
        range = %dest.range,
        country = %dest.country,
        sent,
        verified,
        "sms fraud guard decision"
    );
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn guard(args: &[&str]) -> FraudGuard {
        let mut argv = vec!["x"];
        argv.extend_from_slice(args);
        FraudGuard::from_config(&Config::parse_from(argv))
    }

    #[test]
    fn the_threshold_is_the_floor_until_verified_codes_earn_more() {
        let g = guard(&[]);
        let counts = |sent, verified| Counts { sent, verified };
        assert_eq!(g.threshold(15, counts(0, 0)), 15, "cold start: the floor");
        assert_eq!(g.threshold(15, counts(30, 10)), 15);
        assert_eq!(
            g.threshold(15, counts(200, 120)),
            120,
            "real traffic earns room"
        );
        assert_eq!(counts(20, 25).unverified(), 0);
    }

    #[test]
    fn the_global_ceiling_is_a_fifth_of_the_budget_unless_set() {
        assert_eq!(guard(&["--sms-daily-budget", "1000"]).global_ceiling, 200);
        let set = guard(&["--sms-fraud-global-unverified", "7"]);
        assert_eq!(set.global_ceiling, 7);
    }

    #[test]
    fn test_numbers_allow_list_and_off_are_not_watched() {
        let g = guard(&[
            "--sms-test-numbers",
            "+15005550100=123456",
            "--sms-fraud-allow",
            "+1415, BR",
        ]);
        assert_eq!(g.watch("+15005550100", None), None, "test number");
        assert_eq!(g.watch("+14155552671", None), None, "allowed prefix");
        assert_eq!(g.watch("+5511961234567", None), None, "allowed country");
        assert_eq!(
            g.watch("+5511961234567", Some("BR")),
            None,
            "allowed country"
        );
        let watched = g
            .watch("+447400123456", None)
            .expect("GB mobile is watched");
        assert_eq!(watched.range, "+44740");
        assert_eq!(g.watch("+447400123456", Some("GB")), Some(watched));
        let off = guard(&["--sms-fraud-guard", "off"]);
        assert_eq!(off.watch("+447400123456", None), None);
    }
}
