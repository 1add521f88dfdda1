//! The phone-number record: one per account, replaced with a pending step once verified.

use phonereg_types::{HistoryKind, ParseResponse, PhoneStatus, SecurityEventType as Event};

use std::sync::Arc;

use crate::{
    clock::Clock,
    domain::{ClientNetworks, CodeState, Locale, PhoneNumber, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, Db, events,
        models::{HistoryRow, NewPhone, PhoneNumberChanges, PhoneRow},
        phones::{self, verified_elsewhere},
        refresh_tokens, users,
    },
    services::{
        audit::{self, Entry, Origin},
        client_limit::ClientLimit,
        codes::{ClaimSend, Codes, RecordCheck},
        number_rules::NumberRules,
        rate_limit::Limit,
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
            status: PhoneStatus::Unverified,
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
        origin: Origin,
    ) -> Result<(PhoneRow, CodeState), ApiError> {
        self.count_change(user_id).await?;
        let (row, code) = self
            .write_with_codes(move |c, codes, now| {
                let (row, code) =
                    add_phone_with_code(c, codes, user_id, &number, &client_ip, locale, now)?;
                let entry = Entry::user(Event::PhoneAdded, Some(user_id)).phone(row.id);
                audit::record(c, &origin, &entry, now)?;
                Ok((row, code))
            })
            .await?;
        tracing::info!(user.id = user_id, phone.id = row.id, "phone number added");
        Ok((row, code))
    }

    /// Runs `job` on the writer with the code engine and the time of the write: how every
    /// write of a record that sends or checks a code starts.
    async fn write_with_codes<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn<'_>, &Codes, i64) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        self.db.write(move |c| job(c, &codes, clock.now())).await
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
        if row.status != PhoneStatus::Verified {
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
            origin,
        } = change;
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        self.count_change(user_id).await?;
        let (row, code) = self
            .write_with_codes(move |c, codes, now| {
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == PhoneStatus::Verified && current.status != PhoneStatus::Verified {
                    // Verified since the password check was skipped for it: ask again.
                    return Err(ApiError::field(
                        "current_password",
                        "is required to change or remove a verified number",
                    ));
                }
                if number.e164 == row.e164 {
                    return Ok((cancel_pending(c, row, now)?, None));
                }
                let masked = PhoneNumber::masked(&number.e164);
                // A verified number stays until the new one is verified; an unverified
                // one is replaced at once.
                let kind = if row.status == PhoneStatus::Verified {
                    Event::PhoneChangeRequested
                } else {
                    Event::PhoneChanged
                };
                audit::record(c, &origin, &Entry::user(kind, Some(user_id)).phone(id), now)?;
                if row.status == PhoneStatus::Verified {
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
                    let detail = format!("replaced by {masked}");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::replace_number(c, id, &PhoneNumberChanges::from(&number), now)?;
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
    /// The number a resend of phone `id` would text (the pending one first), and its
    /// country when stored; None when there is nothing to confirm. Read-only, for the bot
    /// challenge, which runs before the resend writes anything.
    pub async fn resend_destination(
        &self,
        user_id: i64,
        id: i64,
    ) -> Result<Option<(String, Option<String>)>, ApiError> {
        let row = self.get(user_id, id).await?;
        Ok(
            match (row.pending_e164, row.status == PhoneStatus::Verified) {
                (Some(pending), _) => Some((pending, None)),
                (None, false) => Some((row.e164, Some(row.country))),
                (None, true) => None,
            },
        )
    }

    pub async fn resend_code(
        &self,
        user_id: i64,
        id: i64,
        client_ip: ClientNetworks,
        locale: Locale,
    ) -> Result<CodeState, ApiError> {
        let code = self
            .write_with_codes(move |c, codes, now| {
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                // The stored country belongs to the current number; a pending one is parsed.
                let (target, country) =
                    match (row.pending_e164, row.status == PhoneStatus::Verified) {
                        (Some(pending), _) => (pending, None),
                        (None, false) => (row.e164, Some(row.country)),
                        (None, true) => {
                            return Err(ApiError::Conflict(
                                "This number is already verified; there is nothing to confirm."
                                    .into(),
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
                        now,
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
        self.write_with_codes(move |c, codes, now| {
                let row = phones::find_owned(c, user_id, id)?;
                if row.status != PhoneStatus::Verified {
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
        origin: Origin,
    ) -> Result<PhoneRow, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let default_region = self.rules.default_region.clone();
        let outcome = self
            .write_with_codes(move |c, codes, now| {
                let (phone, row) = match codes.check_record(c, user_id, id, &code, now)? {
                    RecordCheck::Wrong(state) => {
                        let entry = Entry::user(Event::PhoneVerifyFailed, Some(user_id))
                            .phone(id)
                            .failed();
                        audit::record(c, &origin, &entry, now)?;
                        return Ok(Verify::Wrong(state));
                    }
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
                        swap_in(c, codes, &phone, &row.e164, &default_region, locale, now)?;
                    let ended =
                        refresh_tokens::revoke_others_of_user(c, user_id, session.as_deref(), now)?;
                    (verified, ended)
                };
                phones::add_history(c, id, HistoryKind::Verified, Some(&masked), now)?;
                let kind = if current {
                    Event::PhoneVerified
                } else {
                    Event::PhoneChanged
                };
                audit::record(c, &origin, &Entry::user(kind, Some(user_id)).phone(id), now)?;
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
        origin: Origin,
    ) -> Result<(), ApiError> {
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        let clock = self.clock.clone();
        self.db
            .write(move |c| {
                // Under the record's lock, like PATCH and verify: a verify committing
                // between the password check and the delete is seen here.
                let (row, _) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == PhoneStatus::Verified && current.status != PhoneStatus::Verified {
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
                let entry = Entry::user(Event::PhoneRemoved, Some(user_id)).phone(id);
                audit::record(c, &origin, &entry, clock.now())?;
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
    pub origin: Origin,
}

enum Verify {
    Verified(Box<PhoneRow>, Vec<String>),
    Wrong(CodeState),
}

/// A PATCH back to the current number: any pending change is dropped.
fn cancel_pending(c: &mut Conn<'_>, row: PhoneRow, now: i64) -> Result<PhoneRow, ApiError> {
    if row.pending_e164.is_none() {
        return Ok(row);
    }
    let detail = Some("pending change cancelled");
    phones::add_history(c, row.id, HistoryKind::Changed, detail, now)?;
    let cancelled = phones::set_pending(c, row.id, None, now)?;
    events::phone_changed(c, row.user_id, row.id, now)?;
    Ok(cancelled)
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
    phones::replace_number(conn, phone.id, &PhoneNumberChanges::from(&number), now)?;
    events::phone_changed(conn, phone.user_id, phone.id, now)?;
    let verified = phones::mark_verified(conn, phone.id, now)?;
    events::phone_changed(conn, phone.user_id, phone.id, now)?;
    let detail = format!(
        "{} replaced by {}",
        PhoneNumber::masked(&phone.e164),
        PhoneNumber::masked(new_e164)
    );
    phones::add_history(conn, phone.id, HistoryKind::Changed, Some(&detail), now)?;
    if phone.status == PhoneStatus::Verified {
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
