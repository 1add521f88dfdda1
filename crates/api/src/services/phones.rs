//! The phone-number record: one per account, replaced with a pending step once verified.

use phonereg_types::{FieldErrors, HistoryKind, ParseResponse, validation};

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::{Config, TestNumbers},
    domain::{
        ClientNetworks, CodeState, Locale, PhoneNumber, VerificationCode,
        phone_number::{self, Countries},
    },
    error::ApiError,
    persistence::{
        Conn, Db, events,
        models::{HistoryRow, NewPhone, PhoneNumberChanges, PhoneRow},
        phones::{self, UNVERIFIED, VERIFIED, verified_elsewhere},
        refresh_tokens, users,
    },
    services::{
        codes::{ClaimSend, Codes, RecordCheck},
        rate_limit::{ClientLimit, Limit},
        reauth::Reauth,
        sms_texts::Text,
    },
    streams::Streams,
};

/// The records' service: each account's one number, its codes and its history.
pub struct Phones {
    db: Db,
    clock: Clock,
    codes: Codes,
    reauth: Reauth,
    /// Number changes per account per day.
    phone_changes: Limit,
    /// Public lookups per client.
    lookup_ip: ClientLimit,
    rules: Arc<NumberRules>,
    /// To end this process's streams of the sessions a number change ends.
    streams: Arc<Streams>,
}

/// What [`Phones::new`] is built from.
pub struct PhonesParts {
    pub db: Db,
    pub clock: Clock,
    pub codes: Codes,
    pub reauth: Reauth,
    pub phone_changes: Limit,
    pub lookup_ip: ClientLimit,
    pub rules: Arc<NumberRules>,
    pub streams: Arc<Streams>,
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

/// Inside the caller's transaction: a new, unverified record and its first code (a
/// claim). A number verified on another account is treated exactly like a free one
/// (SPEC §10): only the right code at verify tells.
pub fn add_phone_with_code(
    conn: &mut Conn<'_>,
    codes: &Codes,
    user_id: i64,
    number: &PhoneNumber,
    client_ip: &ClientNetworks,
    locale: Locale,
    now: i64,
) -> Result<(PhoneRow, CodeState), ApiError> {
    let row = insert_record(conn, user_id, number, now)?;
    let code = codes.issue_claim(
        conn,
        &ClaimSend {
            user_id,
            phone_id: row.id,
            e164: &row.e164,
            country: Some(&row.country),
            previous: None,
            client_ip: Some(client_ip),
            locale,
            now,
        },
    )?;
    Ok((phones::find_owned(conn, user_id, row.id)?, code))
}

fn insert_record(
    conn: &mut Conn<'_>,
    user_id: i64,
    number: &PhoneNumber,
    now: i64,
) -> Result<PhoneRow, ApiError> {
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
    pub fn new(p: PhonesParts) -> Self {
        Self {
            db: p.db,
            clock: p.clock,
            codes: p.codes,
            reauth: p.reauth,
            phone_changes: p.phone_changes,
            lookup_ip: p.lookup_ip,
            rules: p.rules,
            streams: p.streams,
        }
    }

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
        client_ip: ClientNetworks,
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

    /// Adds the account's number and sends its first code, in one transaction. A number
    /// verified on another account is answered exactly like a free one (SPEC §10): only
    /// the right code tells, at verify.
    pub async fn add(
        &self,
        user_id: i64,
        number: PhoneNumber,
        client_ip: ClientNetworks,
        locale: Locale,
    ) -> Result<(PhoneRow, CodeState), ApiError> {
        self.count_change(user_id).await?;
        let codes = self.codes.clone();
        let clock = self.clock.clone();
        let (row, code) = self
            .db
            .write(move |c| {
                let now = clock.now();
                add_phone_with_code(c, &codes, user_id, &number, &client_ip, locale, now)
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

    /// A verified number is a credential: changing or removing it needs the password
    /// (SPEC §10). Missing: 422 on `current_password`; wrong: 401 `wrong-password`.
    async fn reauthenticate(
        &self,
        user_id: i64,
        row: &PhoneRow,
        password: Option<String>,
        client_ip: &ClientNetworks,
    ) -> Result<(), ApiError> {
        if row.status != VERIFIED {
            return Ok(());
        }
        let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
            ApiError::field(
                "current_password",
                "is required to change or remove a verified number",
            )
        })?;
        self.reauth.check(user_id, password, client_ip).await
    }

    /// PATCH: an unverified number is replaced at once; a verified one stays in force and
    /// the new number waits in `pending_e164` until it is verified, while the verified
    /// number is told at once. Either way the new number gets a code.
    pub async fn replace(&self, change: Change) -> Result<(PhoneRow, Option<CodeState>), ApiError> {
        let Change {
            user_id,
            id,
            number,
            current_password,
            client_ip,
            locale,
        } = change;
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        self.count_change(user_id).await?;
        let codes = self.codes.clone();
        let clock = self.clock.clone();
        let (row, code) = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == VERIFIED && current.status != VERIFIED {
                    // Verified since the password check was skipped for it: ask again.
                    return Err(ApiError::field(
                        "current_password",
                        "is required to change or remove a verified number",
                    ));
                }
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
                let masked = PhoneNumber::masked(&number.e164);
                if row.status == VERIFIED {
                    let detail = format!("{masked} awaiting verification");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::set_pending(c, id, Some(&number.e164), now)?;
                    events::phone_changed(c, user_id, id, now)?;
                    // The owner hears of it on the number still in force, whoever asked.
                    let tail = &number.e164[number.e164.len().saturating_sub(2)..];
                    codes.notify(
                        c,
                        &row,
                        &row.e164,
                        None,
                        Text::ChangeRequested,
                        tail,
                        locale,
                        now,
                    )?;
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
                let code = codes.issue_claim(
                    c,
                    &ClaimSend {
                        user_id,
                        phone_id: id,
                        e164: &number.e164,
                        country: Some(&number.country),
                        previous: previous.as_ref(),
                        client_ip: Some(&client_ip),
                        locale,
                        now,
                    },
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
        client_ip: ClientNetworks,
        locale: Locale,
    ) -> Result<CodeState, ApiError> {
        let codes = self.codes.clone();
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
                codes.issue_claim(
                    c,
                    &ClaimSend {
                        user_id,
                        phone_id: id,
                        e164: &target,
                        country: country.as_deref(),
                        previous: previous.as_ref(),
                        client_ip: Some(&client_ip),
                        locale,
                        now: clock.now(),
                    },
                )
            })
            .await?;
        Ok(code)
    }

    /// `POST …/test-message`: a short SMS to the verified number (even while a change is
    /// pending). An owner SMS (SPEC §10): the account's own hourly cap, not the cool-down,
    /// and not sent to a number that replied STOP.
    pub async fn send_test_message(
        &self,
        user_id: i64,
        id: i64,
        locale: Locale,
    ) -> Result<PhoneRow, ApiError> {
        let codes = self.codes.clone();
        let clock = self.clock.clone();
        self.db
            .write(move |c| {
                let now = clock.now();
                let row = phones::find_owned(c, user_id, id)?;
                if row.status != VERIFIED {
                    return Err(ApiError::Conflict(
                        "Only a verified number can receive a test message; verify it first."
                            .into(),
                    ));
                }
                if row.sms_opted_out {
                    return Err(ApiError::Conflict(
                        "This number replied STOP, so we don't text it. Text START to the sender, then verify again.".into(),
                    ));
                }
                codes.send_test_message(c, &row, locale, now)?;
                let masked = PhoneNumber::masked(&row.e164);
                phones::add_history(c, id, HistoryKind::TestSent, Some(&masked), now)?;
                phones::find_owned(c, user_id, id)
            })
            .await
    }

    /// `POST …/verify`: a malformed code is a field error and costs nothing; a wrong one
    /// costs an attempt; the right one verifies the number it was sent to. A number
    /// verified on another account is 409 `phone-taken` here, after the right code, and
    /// stays with its account. A verified replacement swaps in, tells the old number, and
    /// ends every other session of the account (`session`, the caller's, stays).
    pub async fn verify_code(
        &self,
        user_id: i64,
        id: i64,
        code: String,
        session: Option<String>,
        locale: Locale,
    ) -> Result<PhoneRow, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let codes = self.codes.clone();
        let clock = self.clock.clone();
        let default_region = self.rules.default_region.clone();
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (phone, row) = match codes.check_record(c, user_id, id, &code, now)? {
                    RecordCheck::Wrong(state) => return Ok(Verify::Wrong(state)),
                    RecordCheck::Right(right) => *right,
                };
                if phones::verified_on_other_account(c, &row.e164, user_id)? {
                    // Rolled back: the number stays with its account, the attempt unspent.
                    return Err(verified_elsewhere());
                }
                let current = row.e164 == phone.e164;
                let country = current.then_some(phone.country.as_str());
                codes.consume_record(c, &row, country, now)?;
                let masked = PhoneNumber::masked(&row.e164);
                let (verified, ended) = if current {
                    let verified = phones::mark_verified(c, id, now)?;
                    events::phone_changed(c, user_id, id, now)?;
                    (verified, Vec::new())
                } else {
                    let verified =
                        swap_in(c, &codes, &phone, &row.e164, &default_region, locale, now)?;
                    let ended =
                        refresh_tokens::revoke_others_of_user(c, user_id, session.as_deref(), now)?;
                    (verified, ended)
                };
                phones::add_history(c, id, HistoryKind::Verified, Some(&masked), now)?;
                Ok(Verify::Verified(Box::new(verified), ended))
            })
            .await?;
        match outcome {
            Verify::Verified(row, ended) => {
                for family in &ended {
                    self.streams.end_session(family);
                }
                tracing::info!(user.id = user_id, phone.id = id, "phone number verified");
                Ok(*row)
            }
            Verify::Wrong(left) => Err(ApiError::WrongCode(left)),
        }
    }

    /// DELETE: a verified number needs the password; while two-step sign-in uses it,
    /// 409 (turn that off first).
    pub async fn delete(
        &self,
        user_id: i64,
        id: i64,
        current_password: Option<String>,
        client_ip: ClientNetworks,
    ) -> Result<(), ApiError> {
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        self.db
            .write(move |c| {
                // Under the record's lock, like PATCH and verify: a verify committing
                // between the password check and the delete is seen here.
                let (row, _) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == VERIFIED && current.status != VERIFIED {
                    return Err(ApiError::field(
                        "current_password",
                        "is required to change or remove a verified number",
                    ));
                }
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

/// One PATCH of a phone record, its fields parsed.
pub struct Change {
    pub user_id: i64,
    pub id: i64,
    pub number: PhoneNumber,
    pub current_password: Option<String>,
    pub client_ip: ClientNetworks,
    pub locale: Locale,
}

enum Verify {
    Verified(Box<PhoneRow>, Vec<String>),
    Wrong(CodeState),
}

/// The pending number was verified: it replaces the old one, which gets a notice.
fn swap_in(
    conn: &mut Conn<'_>,
    codes: &Codes,
    phone: &PhoneRow,
    new_e164: &str,
    default_region: &str,
    locale: Locale,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    let number = PhoneNumber::parse(new_e164, default_region).map_err(|m| {
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
    if phone.status == VERIFIED {
        let tail = &new_e164[new_e164.len().saturating_sub(2)..];
        // Not the record's last message: it goes to the number being retired.
        let text = Text::ChangeNotice;
        codes.notify(conn, phone, &phone.e164, None, text, tail, locale, now)?;
    }
    Ok(verified)
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
