//! Verification codes (SPEC §5): issue, check, and the limits on sending them.
//!
//! Everything here runs inside the caller's transaction, so a refused limit leaves
//! nothing behind (no user, no phone, no counter) and a sent code is always recorded
//! together with the change that caused it.

use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use phonereg_types::{HistoryKind, MessageKind};
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::{
    config::Config,
    domain::{CodePurpose, CodeState, Destination, Locale, PhoneNumber, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, auth_codes, codes, events,
        models::{AuthCodeRow, CodeRow, PhoneNumberChanges, PhoneRow},
        outbox,
        phones::{self, verified_elsewhere},
    },
    services::{
        delivery,
        fraud_guard::FraudGuard,
        rate_limit::Limit,
        sms_texts::{SmsTexts, Text},
    },
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

impl From<&AuthCodeRow> for CodeState {
    fn from(row: &AuthCodeRow) -> Self {
        Self {
            sent: row.sent,
            expires_at: row.expires_at,
            resend_after: row.resend_after,
            attempts_remaining: i64::from(row.attempts_left.max(0)),
        }
    }
}

/// The account a credential code goes to: its id and its verified phone record.
#[derive(Clone, Copy, Debug)]
pub struct CodeOwner {
    pub user_id: i64,
    pub phone_id: i64,
}

/// One credential code to issue (SPEC §8).
pub struct CodeSend<'a> {
    pub purpose: CodePurpose,
    pub e164: &'a str,
    pub country: Option<&'a str>,
    /// None: the number has no account. Everything is counted and answered as if a
    /// code had been sent, but nothing is, and no code will ever match.
    pub owner: Option<CodeOwner>,
    /// Binds a login code to the `mfa_token` (hashed) that asked for it.
    pub challenge: Option<&'a str>,
    pub client_ip: Option<&'a str>,
    pub locale: Locale,
    pub now: i64,
}

/// A credential code checked: wrong (an attempt spent, to be committed) or right.
pub enum CodeCheck {
    Wrong(CodeState),
    Right(Box<AuthCodeRow>),
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
    texts: Arc<SmsTexts>,
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
    pub fn new(config: Arc<Config>, secret: &[u8], texts: Arc<SmsTexts>) -> Self {
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
            texts,
        }
    }

    /// The words of every SMS.
    pub fn texts(&self) -> &SmsTexts {
        &self.texts
    }

    pub fn code_ttl(&self) -> u64 {
        self.config.verify_code_ttl
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

    /// A test number's fixed code, or a fresh random one.
    fn new_code(&self, fixed: Option<&str>) -> Result<VerificationCode, ApiError> {
        match fixed {
            Some(fixed) => VerificationCode::parse(fixed).map_err(|m| {
                ApiError::Internal(anyhow::anyhow!("SMS_TEST_NUMBERS holds a bad code: {m}"))
            }),
            None => Ok(VerificationCode::random()),
        }
    }

    fn code_matches(&self, row: &CodeRow, code: &VerificationCode) -> bool {
        let expected = self.code_hash(row.phone_id, &row.e164, code.expose());
        expected.as_bytes().ct_eq(row.code_hash.as_bytes()).into()
    }

    /// Refuses with 429/503 when any cap would be exceeded, counting the send otherwise.
    /// Counters are bumped and then checked: inside the transaction a refused bump is
    /// undone by the rollback, and on PostgreSQL the counter row lock serialises racers.
    /// The fraud guard's counters go in the same statement.
    /// `account` keys the per-account cap: the account id, or for a number without an
    /// account the number itself (see [`Verifier::issue_credential`]).
    fn charge(
        &self,
        conn: &mut Conn<'_>,
        account: &str,
        e164: &str,
        ip: Option<&str>,
        dest: Option<&Destination>,
        now: i64,
    ) -> Result<(), ApiError> {
        let mut hits = vec![
            (self.limits.per_number, e164),
            (self.limits.per_account, account),
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
        locale: Locale,
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
        let code = self.new_code(test_code.as_deref())?;
        let row = CodeRow {
            phone_id,
            e164: e164.to_owned(),
            code_hash: self.code_hash(phone_id, e164, code.expose()),
            attempts_left: self.config.verify_max_attempts as i32,
            expires_at: now + self.config.verify_code_ttl as i64,
            resend_after: now + self.config.verify_resend_cooldown as i64,
            sent,
            created_at: now,
        };
        // The previous code is dead: no stored message keeps it.
        outbox::retire_codes(conn, phone_id, codes::CODE_KIND, now)?;
        codes::replace(conn, &row)?;
        let masked = PhoneNumber::masked(e164);
        if sent {
            let body = self.texts.code(
                Text::Verification,
                locale,
                &code,
                self.config.verify_code_ttl,
            );
            let about = delivery::About { user_id, phone_id };
            delivery::queue(
                conn,
                Some(about),
                e164,
                &body,
                codes::CODE_KIND,
                Some(row.expires_at),
                locale,
                now,
            )?;
            phones::add_history(conn, phone_id, HistoryKind::CodeSent, Some(&masked), now)?;
        } else {
            let detail = format!("{masked} (test number: nothing sent)");
            phones::add_history(conn, phone_id, HistoryKind::CodeSent, Some(&detail), now)?;
        }
        if sent {
            // Last, so the counter rows every send shares (budget, client IP) stay locked
            // only until the commit; a refusal still rolls back everything above.
            let account = user_id.to_string();
            self.charge(conn, &account, e164, client_ip, watched.as_ref(), now)?;
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
        code: &VerificationCode,
        locale: Locale,
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
        outbox::retire_codes(conn, phone_id, codes::CODE_KIND, now)?;
        codes::delete(conn, phone_id)?;
        let country = (row.e164 == phone.e164).then_some(phone.country.as_str());
        self.guard.count_verified(conn, &row.e164, country, now)?;
        let masked = PhoneNumber::masked(&row.e164);
        let verified = if row.e164 == phone.e164 {
            let verified = phones::mark_verified(conn, phone_id, now)?;
            events::phone_changed(conn, user_id, phone_id, now)?;
            verified
        } else {
            self.swap_in(conn, &phone, &row.e164, locale, now)?
        };
        phones::add_history(conn, phone_id, HistoryKind::Verified, Some(&masked), now)?;
        Ok(VerifyOutcome::Verified(Box::new(verified)))
    }

    fn credential_hash(
        &self,
        purpose: CodePurpose,
        e164: &str,
        challenge: Option<&str>,
        code: &str,
    ) -> String {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap();
        // Bound to purpose, number and login: a code is good for one thing only.
        let purpose = purpose.as_str();
        let challenge = challenge.unwrap_or("");
        mac.update(format!("credential\n{purpose}\n{e164}\n{challenge}\n{code}").as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Issues a credential code (SPEC §8), killing the number's previous one for the same
    /// purpose. A number without an account goes through the very same steps: the
    /// cool-down, every cap and the fraud guard count it, and a code row is stored, but
    /// its hash is of a secret nobody ever sees, so it answers like a live code that
    /// never matches, and no SMS is queued.
    pub fn issue_credential(
        &self,
        conn: &mut Conn<'_>,
        send: &CodeSend<'_>,
    ) -> Result<CodeState, ApiError> {
        let CodeSend {
            purpose, e164, now, ..
        } = *send;
        let test_code = self
            .config
            .sms_test_numbers
            .code_for(e164)
            .map(str::to_owned);
        let previous = auth_codes::find(conn, e164, purpose.as_str())?;
        if test_code.is_none()
            && let Some(previous) = &previous
            && previous.resend_after > now
        {
            crate::telemetry::rate_limited("resend_cooldown");
            return Err(ApiError::ResendTooSoon {
                retry_after: (previous.resend_after - now) as u64,
                verification: CodeState::from(previous),
            });
        }
        let sent = test_code.is_none();
        let watched = if sent {
            self.guard.watch(e164, send.country)
        } else {
            None
        };
        let admitted = match &watched {
            Some(dest) => self.guard.admit(conn, dest, now)?,
            None => Vec::new(),
        };
        let code = self.new_code(test_code.as_deref())?;
        let hashed = match send.owner {
            Some(_) => code.expose().to_owned(),
            None => format!("{:032x}", rand::rngs::OsRng.r#gen::<u128>()),
        };
        let row = AuthCodeRow {
            e164: e164.to_owned(),
            purpose: purpose.as_str().to_owned(),
            user_id: send.owner.map(|o| o.user_id),
            code_hash: self.credential_hash(purpose, e164, send.challenge, &hashed),
            challenge: send.challenge.map(str::to_owned),
            attempts_left: self.config.verify_max_attempts as i32,
            expires_at: now + self.config.verify_code_ttl as i64,
            resend_after: now + self.config.verify_resend_cooldown as i64,
            sent,
            created_at: now,
        };
        auth_codes::replace(conn, &row)?;
        if let Some(CodeOwner { user_id, phone_id }) = send.owner {
            let kind = purpose.message_kind();
            // The previous code of this purpose is dead: no stored message keeps it.
            outbox::retire_codes(conn, phone_id, kind, now)?;
            let masked = PhoneNumber::masked(e164);
            if sent {
                let text = match purpose {
                    CodePurpose::SignIn => Text::SignIn,
                    CodePurpose::PasswordReset => Text::PasswordReset,
                    CodePurpose::TwoFactor | CodePurpose::Login => Text::TwoFactor,
                };
                let ttl = self.config.verify_code_ttl;
                let body = self.texts.code(text, send.locale, &code, ttl);
                let about = delivery::About { user_id, phone_id };
                let dies = Some(row.expires_at);
                delivery::queue(conn, Some(about), e164, &body, kind, dies, send.locale, now)?;
                phones::add_history(conn, phone_id, purpose.history_kind(), Some(&masked), now)?;
            } else {
                let detail = format!("{masked} (test number: nothing sent)");
                phones::add_history(conn, phone_id, purpose.history_kind(), Some(&detail), now)?;
            }
        }
        if sent {
            // The per-account cap of a number without an account is kept on the number,
            // so a caller cannot tell the two apart by when the cap bites.
            let account = match send.owner {
                Some(o) => o.user_id.to_string(),
                None => format!("number:{e164}"),
            };
            self.charge(conn, &account, e164, send.client_ip, watched.as_ref(), now)?;
        }
        if let Some(dest) = &watched {
            self.guard.evaluate(conn, dest, admitted, now)?;
        }
        Ok(CodeState::from(&row))
    }

    /// Checks a credential code. A wrong one costs an attempt (the caller must commit it,
    /// so it comes back as `Wrong`, not an error); a dead or absent one is 410. A right
    /// one is returned for the caller to consume in the transaction that uses it.
    pub fn check_credential(
        &self,
        conn: &mut Conn<'_>,
        purpose: CodePurpose,
        e164: &str,
        challenge: Option<&str>,
        code: &VerificationCode,
        now: i64,
    ) -> Result<CodeCheck, ApiError> {
        let gone = |m: &str, verification: Option<CodeState>| ApiError::Gone {
            detail: m.into(),
            verification,
        };
        let row = auth_codes::find(conn, e164, purpose.as_str())?
            .filter(|row| row.challenge.as_deref() == challenge)
            .ok_or_else(|| gone("There is no active code; request a new one.", None))?;
        if row.expires_at <= now {
            return Err(gone(
                "This code has expired; request a new one.",
                Some(CodeState::from(&row)),
            ));
        }
        let Some(left) = auth_codes::take_attempt(conn, &row)? else {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = 0;
            return Err(gone(
                "Too many wrong codes; request a new one.",
                Some(state),
            ));
        };
        let expected = self.credential_hash(purpose, e164, challenge, code.expose());
        let right: bool = expected.as_bytes().ct_eq(row.code_hash.as_bytes()).into();
        if !right || row.user_id.is_none() {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = i64::from(left.max(0));
            return Ok(CodeCheck::Wrong(state));
        }
        Ok(CodeCheck::Right(Box::new(row)))
    }

    /// A right credential code was used: it is gone, its messages lose it, and the
    /// fraud guard counts the number as a real person's. False when a racing request
    /// used it first.
    pub fn consume_credential(
        &self,
        conn: &mut Conn<'_>,
        row: &AuthCodeRow,
        phone: &PhoneRow,
        now: i64,
    ) -> Result<bool, ApiError> {
        if !auth_codes::consume(conn, row)? {
            return Ok(false);
        }
        let kind = match row.purpose.as_str() {
            "sign_in" => CodePurpose::SignIn,
            "password_reset" => CodePurpose::PasswordReset,
            "two_factor" => CodePurpose::TwoFactor,
            _ => CodePurpose::Login,
        }
        .message_kind();
        outbox::retire_codes(conn, phone.id, kind, now)?;
        if row.sent {
            self.guard
                .count_verified(conn, &row.e164, Some(&phone.country), now)?;
        }
        Ok(true)
    }

    /// A notice to the account's own number (password changed), if the caps and the
    /// guard leave room for it; skipped otherwise, like every system message.
    pub fn notify(
        &self,
        conn: &mut Conn<'_>,
        phone: &PhoneRow,
        text: Text,
        locale: Locale,
        now: i64,
    ) -> Result<bool, ApiError> {
        let is_test = self.config.sms_test_numbers.code_for(&phone.e164).is_some();
        if is_test
            || phone.sms_opted_out
            || !self.charge_system(conn, phone.user_id, &phone.e164, Some(&phone.country), now)?
        {
            return Ok(false);
        }
        let body = self.texts.plain(text, locale, "");
        let about = delivery::About {
            user_id: phone.user_id,
            phone_id: phone.id,
        };
        delivery::queue(
            conn,
            Some(about),
            &phone.e164,
            &body,
            MessageKind::Notice,
            None,
            locale,
            now,
        )?;
        Ok(true)
    }

    /// The pending number was verified: it replaces the old one, which gets a notice.
    fn swap_in(
        &self,
        conn: &mut Conn<'_>,
        phone: &PhoneRow,
        new_e164: &str,
        locale: Locale,
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
        events::phone_changed(conn, phone.user_id, phone.id, now)?;
        let verified = phones::mark_verified(conn, phone.id, now)?;
        events::phone_changed(conn, phone.user_id, phone.id, now)?;
        let detail = format!(
            "{} replaced by {}",
            PhoneNumber::masked(&phone.e164),
            PhoneNumber::masked(new_e164)
        );
        phones::add_history(conn, phone.id, HistoryKind::Changed, Some(&detail), now)?;
        let was_reachable = phone.status == phones::VERIFIED && !phone.sms_opted_out;
        let is_test = self.config.sms_test_numbers.code_for(&phone.e164).is_some();
        if was_reachable
            && !is_test
            && self.charge_system(conn, phone.user_id, &phone.e164, Some(&phone.country), now)?
        {
            let tail = &new_e164[new_e164.len().saturating_sub(2)..];
            let body = self.texts.plain(Text::ChangeNotice, locale, tail);
            // Not the record's last message: it goes to the number being retired.
            delivery::queue(
                conn,
                None,
                &phone.e164,
                &body,
                MessageKind::Notice,
                None,
                locale,
                now,
            )?;
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
        let texts = Arc::new(SmsTexts::new("https://example.com").expect("texts"));
        let v = Verifier::new(Arc::clone(&config), b"secret one", Arc::clone(&texts));
        let w = Verifier::new(config, b"secret two", texts);
        let h = v.code_hash(1, "+14155552671", "123456");
        assert_eq!(h.len(), 64);
        assert_ne!(h, w.code_hash(1, "+14155552671", "123456"), "other key");
        assert_ne!(h, v.code_hash(2, "+14155552671", "123456"), "other record");
        assert_ne!(h, v.code_hash(1, "+14155552672", "123456"), "other number");
        assert!(!h.contains("123456"));
    }
}
