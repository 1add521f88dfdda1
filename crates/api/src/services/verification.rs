//! Verification codes (SPEC §5): issue, check, and the limits on sending them.
//!
//! Everything here runs inside the caller's transaction, so a refused limit leaves
//! nothing behind (no user, no phone, no counter) and a sent code is always recorded
//! together with the change that caused it.

use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::{
    config::Config,
    domain::{CodeState, Destination, PhoneNumber},
    error::ApiError,
    persistence::{
        Conn, codes,
        models::{CodeRow, PhoneNumberChanges, PhoneRow},
        outbox,
        phones::{self, verified_elsewhere},
    },
    services::{fraud_guard::FraudGuard, rate_limit::Limit},
};

impl From<&CodeRow> for CodeState {
    fn from(row: &CodeRow) -> Self {
        Self {
            sent: row.sent,
            expires_at: row.expires_at,
            resend_after: row.resend_after,
            attempts_remaining: i64::from(row.attempts_left.max(0)),
        }
    }
}

pub enum VerifyOutcome {
    Verified(Box<PhoneRow>),
    WrongCode(CodeState),
}

/// The SMS caps of SPEC §5/§7, all fixed windows aligned to UTC.
#[derive(Clone, Copy, Debug)]
pub struct SmsLimits {
    pub per_number: Limit,
    pub per_account: Limit,
    pub per_ip: Limit,
    pub budget: Limit,
}

impl SmsLimits {
    pub fn from_config(c: &Config) -> Self {
        Self {
            per_number: Limit::new("sms_number", c.sms_per_number_per_hour, 3600),
            per_account: Limit::new("sms_account", c.sms_per_account_per_day, 86_400),
            per_ip: Limit::new("sms_ip", c.sms_per_ip_per_hour, 3600).striped(),
            budget: Limit::new("sms_budget", c.sms_daily_budget, 86_400).striped(),
        }
    }
}

/// Issues and checks codes. Cheap to clone into blocking closures.
#[derive(Clone)]
pub struct Verifier {
    config: Arc<Config>,
    key: [u8; 32],
    limits: SmsLimits,
    guard: FraudGuard,
}

type HmacSha256 = Hmac<Sha256>;

/// The global budget is not the caller's doing: 503, not 429.
fn budget_spent(e: ApiError) -> ApiError {
    match e {
        ApiError::RateLimited {
            limit: "sms_budget",
            retry_after,
        } => ApiError::Unavailable {
            detail: "Today's SMS budget is spent; texts resume tomorrow (UTC).".into(),
            retry_after,
        },
        other => other,
    }
}

impl Verifier {
    /// `secret` keys the code hashes; codes are useless without it even with the database.
    pub fn new(config: Arc<Config>, secret: &[u8]) -> Self {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(b"phonereg verification codes v1");
        let key = mac.finalize().into_bytes().into();
        let limits = SmsLimits::from_config(&config);
        let guard = FraudGuard::from_config(&config);
        Self {
            config,
            key,
            limits,
            guard,
        }
    }

    fn code_hash(&self, phone_id: i64, e164: &str, code: &str) -> String {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap();
        // Binding the record and number stops a code for one number verifying another.
        mac.update(format!("{phone_id}\n{e164}\n{code}").as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn code_matches(&self, row: &CodeRow, code: &str) -> bool {
        let expected = self.code_hash(row.phone_id, &row.e164, code);
        expected.as_bytes().ct_eq(row.code_hash.as_bytes()).into()
    }

    /// Refuses with 429/503 when any cap would be exceeded, counting the send otherwise.
    /// Counters are bumped and then checked: inside the transaction a refused bump is
    /// undone by the rollback, and on PostgreSQL the counter row lock serialises racers.
    /// The fraud guard's counters go in the same statement.
    fn charge(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        e164: &str,
        ip: Option<&str>,
        dest: Option<&Destination>,
        now: i64,
    ) -> Result<(), ApiError> {
        let account = user_id.to_string();
        let mut hits = vec![
            (self.limits.per_number, e164),
            (self.limits.per_account, account.as_str()),
        ];
        hits.extend(ip.map(|ip| (self.limits.per_ip, ip)));
        let fraud = dest.map(|d| self.guard.sent_counters(d));
        hits.extend(fraud.iter().flatten().map(|(l, k)| (*l, k.as_str())));
        // The one row every send touches goes last.
        hits.push((self.limits.budget, "all"));
        Limit::hit_all(conn, &hits, now).map_err(budget_spent)
    }

    /// Refuses a send to `e164` while the fraud guard holds its range or country paused.
    /// Read-only, so callers can ask before costly work (a password hash).
    pub fn admit(
        &self,
        conn: &mut Conn<'_>,
        e164: &str,
        country: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        match self.guard.watch(e164, country) {
            Some(dest) => self.guard.admit(conn, &dest, now).map(drop),
            None => Ok(()),
        }
    }

    /// The shared caps a code to `e164` would meet, checked without counting. A number
    /// change asks this before looking up who owns the number, so once the account's SMS
    /// are spent every number gets the same 429: the 409 for a number verified elsewhere
    /// is only reachable while the account could really send. The per-number cap is left
    /// to [`Verifier::issue`]: its count is other people's doing, not the caller's.
    pub fn precheck(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        number: &PhoneNumber,
        ip: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        if self
            .config
            .sms_test_numbers
            .code_for(&number.e164)
            .is_some()
        {
            return Ok(());
        }
        self.admit(conn, &number.e164, Some(&number.country), now)?;
        self.limits
            .budget
            .check(conn, "all", now)
            .map_err(budget_spent)?;
        self.limits
            .per_account
            .check(conn, &user_id.to_string(), now)?;
        if let Some(ip) = ip {
            self.limits.per_ip.check(conn, ip, now)?;
        }
        Ok(())
    }

    /// Whether the fraud guard, the per-account and the global caps leave room for a
    /// system message (change notices) to `e164`; counts it when they do.
    pub fn charge_system(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        e164: &str,
        country: Option<&str>,
        now: i64,
    ) -> Result<bool, ApiError> {
        match self.admit(conn, e164, country, now) {
            Err(ApiError::SmsRangePaused { .. }) => return Ok(false),
            other => other?,
        }
        let account = user_id.to_string();
        if self.limits.budget.check(conn, "all", now).is_err()
            || self.limits.per_account.check(conn, &account, now).is_err()
        {
            return Ok(false);
        }
        self.limits.budget.record(conn, "all", now)?;
        self.limits.per_account.record(conn, &account, now)?;
        Ok(true)
    }

    /// A user-requested test message to `e164`: refused with 429/503 when its range is
    /// paused or the per-account or global cap is reached (the cool-down does not apply).
    pub fn charge_test_message(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        e164: &str,
        country: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        self.admit(conn, e164, country, now)?;
        self.limits
            .budget
            .hit(conn, "all", now)
            .map_err(budget_spent)?;
        self.limits.per_account.hit(conn, &user_id.to_string(), now)
    }

    /// Issues a new code for `e164` (in `country`, when known) on the record (killing `previous`, the record's live
    /// code if it has one) and queues the SMS. Test numbers get their fixed code, send
    /// nothing and skip every limit.
    #[expect(clippy::too_many_arguments, reason = "one send's facts, all needed")]
    pub fn issue(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        phone_id: i64,
        e164: &str,
        country: Option<&str>,
        previous: Option<&CodeRow>,
        client_ip: Option<&str>,
        now: i64,
    ) -> Result<CodeState, ApiError> {
        let test_code = self
            .config
            .sms_test_numbers
            .code_for(e164)
            .map(str::to_owned);
        if test_code.is_none()
            && let Some(previous) = previous
            && previous.e164 == e164
            && previous.resend_after > now
        {
            crate::telemetry::rate_limited("resend_cooldown");
            return Err(ApiError::ResendTooSoon {
                retry_after: (previous.resend_after - now) as u64,
                verification: CodeState::from(previous),
            });
        }
        let sent = test_code.is_none();
        // The guard goes first: a paused destination refuses before anything is written.
        let watched = if sent {
            self.guard.watch(e164, country)
        } else {
            None
        };
        let admitted = match &watched {
            Some(dest) => self.guard.admit(conn, dest, now)?,
            None => Vec::new(),
        };
        let code = test_code
            .unwrap_or_else(|| format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000)));
        let row = CodeRow {
            phone_id,
            e164: e164.to_owned(),
            code_hash: self.code_hash(phone_id, e164, &code),
            attempts_left: self.config.verify_max_attempts as i32,
            expires_at: now + self.config.verify_code_ttl as i64,
            resend_after: now + self.config.verify_resend_cooldown as i64,
            sent,
            created_at: now,
        };
        codes::replace(conn, &row)?;
        let masked = PhoneNumber::masked(e164);
        if sent {
            let minutes = self.config.verify_code_ttl.div_ceil(60);
            let body = format!(
                "Your PhoneReg verification code is {code}. It expires in {minutes} min. Don't share it with anyone."
            );
            let about = outbox::About { user_id, phone_id };
            outbox::queue(
                conn,
                Some(about),
                e164,
                &body,
                codes::CODE_KIND,
                Some(row.expires_at),
                now,
            )?;
            phones::add_history(conn, phone_id, "code_sent", Some(&masked), now)?;
        } else {
            let detail = format!("{masked} (test number: nothing sent)");
            phones::add_history(conn, phone_id, "code_sent", Some(&detail), now)?;
        }
        if sent {
            // Last, so the counter rows every send shares (budget, client IP) stay locked
            // only until the commit; a refusal still rolls back everything above.
            self.charge(conn, user_id, e164, client_ip, watched.as_ref(), now)?;
        }
        if let Some(dest) = &watched {
            self.guard.evaluate(conn, dest, admitted, now)?;
        }
        Ok(CodeState::from(&row))
    }

    /// Checks a code. A wrong one costs an attempt (committed, so the caller must return
    /// the outcome rather than an error); a right one verifies the number it was sent to,
    /// swapping in a pending replacement and noticing the old number.
    pub fn verify(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        phone_id: i64,
        code: &str,
        now: i64,
    ) -> Result<VerifyOutcome, ApiError> {
        let (phone, live) = phones::find_owned_with_code(conn, user_id, phone_id)?;
        let gone = |m: &str, verification: Option<CodeState>| {
            Err(ApiError::Gone {
                detail: m.into(),
                verification,
            })
        };
        let Some(row) = live else {
            return gone(
                "There is no active code for this number; request a new one.",
                None,
            );
        };
        let still_wanted = (row.e164 == phone.e164 && phone.status != phones::VERIFIED)
            || phone.pending_e164.as_deref() == Some(row.e164.as_str());
        if !still_wanted {
            return gone(
                "That code was for a number this record no longer waits on; request a new one.",
                None,
            );
        }
        // The code's own state still tells the client when it may ask for another.
        if row.expires_at <= now {
            return gone(
                "This code has expired; request a new one.",
                Some(CodeState::from(&row)),
            );
        }
        if row.attempts_left <= 0 {
            return gone(
                "Too many wrong codes; request a new one.",
                Some(CodeState::from(&row)),
            );
        }
        // The attempt is spent before comparing, and only if one is left: read, compare,
        // then decrement let K parallel guesses all be compared on PostgreSQL.
        let Some(left) = codes::take_attempt(conn, phone_id, &row.code_hash)? else {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = 0;
            return gone("Too many wrong codes; request a new one.", Some(state));
        };
        if !self.code_matches(&row, code) {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = i64::from(left.max(0));
            return Ok(VerifyOutcome::WrongCode(state));
        }
        if phones::verified_on_other_account(conn, &row.e164, user_id)? {
            return Err(verified_elsewhere());
        }
        codes::delete(conn, phone_id)?;
        let country = (row.e164 == phone.e164).then_some(phone.country.as_str());
        self.guard.count_verified(conn, &row.e164, country, now)?;
        let masked = PhoneNumber::masked(&row.e164);
        let verified = if row.e164 == phone.e164 {
            phones::mark_verified(conn, phone_id, now)?
        } else {
            self.swap_in(conn, &phone, &row.e164, now)?
        };
        phones::add_history(conn, phone_id, "verified", Some(&masked), now)?;
        Ok(VerifyOutcome::Verified(Box::new(verified)))
    }

    /// The pending number was verified: it replaces the old one, which gets a notice.
    fn swap_in(
        &self,
        conn: &mut Conn<'_>,
        phone: &PhoneRow,
        new_e164: &str,
        now: i64,
    ) -> Result<PhoneRow, ApiError> {
        let number = PhoneNumber::parse(new_e164, &self.config.default_region).map_err(|m| {
            ApiError::Internal(anyhow::anyhow!("stored pending number unparsable: {m}"))
        })?;
        let changes = PhoneNumberChanges {
            e164: &number.e164,
            national: &number.national,
            international: &number.international,
            country: &number.country,
            number_type: number.number_type,
        };
        phones::replace_number(conn, phone.id, &changes, now)?;
        let verified = phones::mark_verified(conn, phone.id, now)?;
        let detail = format!(
            "{} replaced by {}",
            PhoneNumber::masked(&phone.e164),
            PhoneNumber::masked(new_e164)
        );
        phones::add_history(conn, phone.id, "changed", Some(&detail), now)?;
        let was_reachable = phone.status == phones::VERIFIED && !phone.sms_opted_out;
        let is_test = self.config.sms_test_numbers.code_for(&phone.e164).is_some();
        if was_reachable
            && !is_test
            && self.charge_system(conn, phone.user_id, &phone.e164, Some(&phone.country), now)?
        {
            let tail = &new_e164[new_e164.len().saturating_sub(2)..];
            let body = format!(
                "PhoneReg: this number was replaced on your account by a number ending in {tail}. If that wasn't you, secure your account."
            );
            // Not the record's last message: it goes to the number being retired.
            outbox::queue(conn, None, &phone.e164, &body, "notice", None, now)?;
        }
        Ok(verified)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn code_hash_is_keyed_and_bound_to_record_and_number() {
        let config = Arc::new(Config::parse_from(["x"]));
        let v = Verifier::new(Arc::clone(&config), b"secret one");
        let w = Verifier::new(config, b"secret two");
        let h = v.code_hash(1, "+14155552671", "123456");
        assert_eq!(h.len(), 64);
        assert_ne!(h, w.code_hash(1, "+14155552671", "123456"), "other key");
        assert_ne!(h, v.code_hash(2, "+14155552671", "123456"), "other record");
        assert_ne!(h, v.code_hash(1, "+14155552672", "123456"), "other number");
        assert!(!h.contains("123456"));
    }
}
