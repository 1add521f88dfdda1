//! The phone-number record: one per account, replaced with a pending step once verified.

use phonereg_types::{FieldErrors, HistoryKind, MessageKind, ParseResponse, validation};

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::{Config, TestNumbers},
    domain::{
        CodeState, Locale, PhoneNumber, VerificationCode,
        phone_number::{self, Countries},
    },
    error::ApiError,
    persistence::{
        Conn, Db, events,
        models::{HistoryRow, NewPhone, PhoneNumberChanges, PhoneRow},
        phones::{self, UNVERIFIED, VERIFIED, verified_elsewhere},
        users,
    },
    services::{
        delivery,
        rate_limit::Limit,
        sms_texts::Text,
        verification::{Verifier, VerifyOutcome},
    },
};

/// The records' service: each account's one number, its codes and its history.
pub struct Phones {
    pub db: Db,
    pub clock: Clock,
    pub verifier: Verifier,
    /// Number changes per account per day.
    pub phone_changes: Limit,
    /// Public lookups per client.
    pub lookup_ip: Limit,
    pub rules: Arc<NumberRules>,
}

/// Which numbers are accepted: the settings every parse of a number reads.
#[derive(Clone, Debug)]
pub struct NumberRules {
    /// `DEFAULT_REGION`: the hint for numbers given without a country code.
    pub default_region: String,
    pub allowed_countries: Countries,
    pub test_numbers: TestNumbers,
}

impl NumberRules {
    pub fn from_config(config: &Config) -> Self {
        Self {
            default_region: config.default_region.clone(),
            allowed_countries: config.sms_allowed_countries.clone(),
            test_numbers: config.sms_test_numbers.clone(),
        }
    }

    /// Parses `phone_number` with `phone_region` (or `DEFAULT_REGION`) as the hint and
    /// refuses numbers that cannot receive SMS. Errors are keyed by request field.
    pub fn parse(&self, raw: &str, region: Option<&str>) -> Result<PhoneNumber, FieldErrors> {
        parse_phone_fields(raw, region, self)
    }
}

fn parse_phone_fields(
    raw: &str,
    region: Option<&str>,
    config: &NumberRules,
) -> Result<PhoneNumber, FieldErrors> {
    let mut errors = FieldErrors::new();
    if let Err(m) = validation::check_text(raw) {
        errors.insert("phone_number".into(), vec![m.into()]);
    }
    let region = match region.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(config.default_region.clone()),
        Some(r) => match validation::parse_region(r) {
            Ok(r) if phone_number::is_known_region(&r) => Some(r),
            _ => {
                errors.insert(
                    "phone_region".into(),
                    vec!["must be a two-letter country code such as US".into()],
                );
                None
            }
        },
    };
    let region = region.ok_or_else(|| errors.clone())?;
    if !errors.is_empty() {
        return Err(errors);
    }
    let number = PhoneNumber::parse(raw, &region)
        .map_err(|m| FieldErrors::from([("phone_number".to_owned(), vec![m])]))?;
    // Test numbers skip the type and country checks (SPEC §7): CI and app-store review
    // use numbers no carrier would text.
    let is_test = config.test_numbers.code_for(&number.e164).is_some();
    if let Some(reason) = number
        .sms_refusal(&config.allowed_countries)
        .filter(|_| !is_test)
    {
        return Err(FieldErrors::from([(
            "phone_number".to_owned(),
            vec![reason],
        )]));
    }
    Ok(number)
}

/// Inserts a new, unverified record inside the caller's transaction.
pub fn add_phone_in_tx(
    conn: &mut Conn<'_>,
    user_id: i64,
    number: &PhoneNumber,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    // No SMS ever goes to a number someone else has verified.
    if phones::verified_on_other_account(conn, &number.e164, user_id)? {
        return Err(verified_elsewhere());
    }
    let row = phones::insert(
        conn,
        &NewPhone {
            user_id,
            e164: &number.e164,
            national: &number.national,
            international: &number.international,
            country: &number.country,
            number_type: number.number_type,
            status: UNVERIFIED,
            created_at: now,
            updated_at: now,
        },
    )?;
    events::phone_changed(conn, user_id, row.id, now)?;
    let masked = PhoneNumber::masked(&number.e164);
    phones::add_history(conn, row.id, HistoryKind::Added, Some(&masked), now)?;
    Ok(row)
}

impl Phones {
    /// Which numbers are accepted.
    pub fn rules(&self) -> &NumberRules {
        &self.rules
    }

    /// The public lookup (`/phone-numbers/parse`), counted per client. `region` is the
    /// checked hint, or None for `DEFAULT_REGION`.
    pub async fn lookup(
        &self,
        raw: String,
        region: Option<String>,
        client_ip: String,
    ) -> Result<ParseResponse, ApiError> {
        let limit = self.lookup_ip;
        let now = self.clock.now();
        self.db
            .write(move |c| limit.hit(c, &client_ip, now))
            .await?;
        let region = region.as_deref().unwrap_or(&self.rules.default_region);
        Ok(verdict(&raw, region, &self.rules))
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<PhoneRow>, ApiError> {
        self.db
            .read(move |c| phones::list_for_user(c, user_id))
            .await
    }

    pub async fn get(&self, user_id: i64, id: i64) -> Result<PhoneRow, ApiError> {
        self.db
            .read(move |c| phones::find_owned(c, user_id, id))
            .await
    }

    /// Adds the account's number and sends its first code, in one transaction.
    pub async fn add(
        &self,
        user_id: i64,
        number: PhoneNumber,
        client_ip: String,
        locale: Locale,
    ) -> Result<(PhoneRow, CodeState), ApiError> {
        self.count_change(user_id).await?;
        let verifier = self.verifier.clone();
        let clock = self.clock.clone();
        let (row, code) = self
            .db
            .write(move |c| {
                let now = clock.now();
                verifier.precheck(c, user_id, &number, Some(&client_ip), now)?;
                let row = add_phone_in_tx(c, user_id, &number, now)?;
                let code = verifier.issue(
                    c,
                    user_id,
                    row.id,
                    &row.e164,
                    Some(&row.country),
                    None,
                    Some(&client_ip),
                    locale,
                    now,
                )?;
                Ok((phones::find_owned(c, user_id, row.id)?, code))
            })
            .await?;
        tracing::info!(user.id = user_id, phone.id = row.id, "phone number added");
        Ok((row, code))
    }

    /// Counts a number change (POST, PATCH) against the account's daily allowance, in a
    /// transaction of its own so that a refused or failed change still counts.
    async fn count_change(&self, user_id: i64) -> Result<(), ApiError> {
        let limit = self.phone_changes;
        let now = self.clock.now();
        self.db
            .write(move |c| limit.hit(c, &user_id.to_string(), now))
            .await
    }

    /// PATCH: an unverified number is replaced at once; a verified one stays in force and
    /// the new number waits in `pending_e164` until it is verified. Either way the new
    /// number gets a code.
    pub async fn replace(
        &self,
        user_id: i64,
        id: i64,
        number: PhoneNumber,
        client_ip: String,
        locale: Locale,
    ) -> Result<(PhoneRow, Option<CodeState>), ApiError> {
        self.count_change(user_id).await?;
        let verifier = self.verifier.clone();
        let clock = self.clock.clone();
        let (row, code) = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                if number.e164 == row.e164 {
                    // Back to the current number: any pending change is dropped.
                    if row.pending_e164.is_none() {
                        return Ok((row, None));
                    }
                    phones::add_history(
                        c,
                        id,
                        HistoryKind::Changed,
                        Some("pending change cancelled"),
                        now,
                    )?;
                    let row = phones::set_pending(c, id, None, now)?;
                    events::phone_changed(c, user_id, id, now)?;
                    return Ok((row, None));
                }
                verifier.precheck(c, user_id, &number, Some(&client_ip), now)?;
                if phones::verified_on_other_account(c, &number.e164, user_id)? {
                    return Err(verified_elsewhere());
                }
                let masked = PhoneNumber::masked(&number.e164);
                if row.status == VERIFIED {
                    let detail = format!("{masked} awaiting verification");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::set_pending(c, id, Some(&number.e164), now)?;
                    events::phone_changed(c, user_id, id, now)?;
                } else {
                    let changes = PhoneNumberChanges {
                        e164: &number.e164,
                        national: &number.national,
                        international: &number.international,
                        country: &number.country,
                        number_type: number.number_type,
                    };
                    let detail = format!("replaced by {masked}");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::replace_number(c, id, &changes, now)?;
                    events::phone_changed(c, user_id, id, now)?;
                }
                let code = verifier.issue(
                    c,
                    user_id,
                    id,
                    &number.e164,
                    Some(&number.country),
                    previous.as_ref(),
                    Some(&client_ip),
                    locale,
                    now,
                )?;
                Ok((phones::find_owned(c, user_id, id)?, Some(code)))
            })
            .await?;
        Ok((row, code))
    }

    /// `POST …/verification`: a new code for whatever the record waits on (the pending
    /// replacement, else the unverified current number).
    pub async fn resend_code(
        &self,
        user_id: i64,
        id: i64,
        client_ip: String,
        locale: Locale,
    ) -> Result<CodeState, ApiError> {
        let verifier = self.verifier.clone();
        let clock = self.clock.clone();
        let code = self
            .db
            .write(move |c| {
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                // The stored country belongs to the current number; a pending one is parsed.
                let (target, country) = match (row.pending_e164, row.status == VERIFIED) {
                    (Some(pending), _) => (pending, None),
                    (None, false) => (row.e164, Some(row.country)),
                    (None, true) => {
                        return Err(ApiError::Conflict(
                            "This number is already verified; there is nothing to confirm.".into(),
                        ));
                    }
                };
                if phones::verified_on_other_account(c, &target, user_id)? {
                    return Err(verified_elsewhere());
                }
                verifier.issue(
                    c,
                    user_id,
                    id,
                    &target,
                    country.as_deref(),
                    previous.as_ref(),
                    Some(&client_ip),
                    locale,
                    clock.now(),
                )
            })
            .await?;
        Ok(code)
    }

    /// `POST …/test-message`: a short SMS to the verified number (even while a change is
    /// pending). It counts toward the per-account and global caps, not the cool-down, and is
    /// not sent to a number that replied STOP.
    pub async fn send_test_message(
        &self,
        user_id: i64,
        id: i64,
        locale: Locale,
    ) -> Result<PhoneRow, ApiError> {
        let verifier = self.verifier.clone();
        let clock = self.clock.clone();
        let row = self
        .db
        .write(move |c| {
            let now = clock.now();
            let row = phones::find_owned(c, user_id, id)?;
            if row.status != VERIFIED {
                return Err(ApiError::Conflict(
                    "Only a verified number can receive a test message; verify it first.".into(),
                ));
            }
            if row.sms_opted_out {
                return Err(ApiError::Conflict(
                    "This number replied STOP, so we don't text it. Text START to the sender, then verify again.".into(),
                ));
            }
            verifier.charge_test_message(c, user_id, &row.e164, Some(&row.country), now)?;
            let body = verifier.texts().plain(Text::Test, locale, "");
            let about = delivery::About { user_id, phone_id: id };
            delivery::queue(c, Some(about), &row.e164, &body, MessageKind::Test, None, locale, now)?;
            phones::add_history(c, id, HistoryKind::TestSent, Some(&PhoneNumber::masked(&row.e164)), now)?;
            phones::find_owned(c, user_id, id)
        })
        .await?;
        Ok(row)
    }

    /// `POST …/verify`: a malformed code is a field error and costs nothing; a wrong one
    /// costs an attempt; the right one verifies.
    pub async fn verify_code(
        &self,
        user_id: i64,
        id: i64,
        code: String,
        locale: Locale,
    ) -> Result<PhoneRow, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let verifier = self.verifier.clone();
        let clock = self.clock.clone();
        let outcome = self
            .db
            .write(move |c| verifier.verify(c, user_id, id, &code, locale, clock.now()))
            .await?;
        match outcome {
            VerifyOutcome::Verified(row) => {
                tracing::info!(user.id = user_id, phone.id = id, "phone number verified");
                Ok(*row)
            }
            VerifyOutcome::WrongCode(left) => Err(ApiError::WrongCode(left)),
        }
    }

    pub async fn delete(&self, user_id: i64, id: i64) -> Result<(), ApiError> {
        self.db
            .write(move |c| {
                phones::find_owned(c, user_id, id)?;
                // The number is the second factor: removing it would leave the account
                // signing in by password alone without the owner saying so.
                if users::find(c, user_id)?.is_some_and(|u| u.two_factor) {
                    return Err(ApiError::Conflict(
                    "Two-step sign-in uses this number: turn it off before removing the number."
                        .into(),
                ));
                }
                phones::delete(c, id)
            })
            .await?;
        tracing::info!(user.id = user_id, phone.id = id, "phone number deleted");
        Ok(())
    }

    pub async fn history(&self, user_id: i64, id: i64) -> Result<Vec<HistoryRow>, ApiError> {
        self.db
            .read(move |c| {
                phones::find_owned(c, user_id, id)?;
                phones::history(c, id)
            })
            .await
    }
}

/// The lookup endpoint's verdict: never an error for a bad number, just `valid: false`.
fn verdict(raw: &str, region: &str, rules: &NumberRules) -> ParseResponse {
    match PhoneNumber::parse(raw, region) {
        Ok(n) => {
            let refusal = n.sms_refusal(&rules.allowed_countries);
            ParseResponse {
                valid: true,
                sms_capable: refusal.is_none(),
                message: refusal.map(|r| format!("This {r}.")),
                e164: Some(n.e164),
                national: Some(n.national),
                international: Some(n.international),
                country: Some(n.country),
                number_type: Some(n.number_type.to_owned()),
            }
        }
        Err(m) => ParseResponse {
            valid: false,
            e164: None,
            national: None,
            international: None,
            country: None,
            number_type: None,
            sms_capable: false,
            message: Some(format!("This {m}.")),
        },
    }
}
