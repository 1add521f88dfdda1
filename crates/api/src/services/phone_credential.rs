//! The verified number as a credential (SPEC §8): codes to start with, sign-in by code
//! and password reset. Nothing here tells a caller whether a number has an account: a
//! number without one takes the same steps (see `Codes::issue_credential`).
//!
//! Long: sign-in by code and the reset share the guess limits, `owner_of` and the audit
//! writes of each; the reset could move to a file of its own.

use std::{sync::Arc, time::Duration};

use phonereg_types::{Channel, FieldErrors, HistoryKind, SecurityEventType, validation};

use crate::{
    clock::Clock,
    domain::{
        ClientNetworks, CodePurpose, CodeState, Locale, Password, PhoneNumber, VerificationCode,
    },
    error::ApiError,
    persistence::{
        Conn, Db, auth_codes,
        models::{AuthCodeRow, PhoneRow, UserRow},
        phones, recovery_codes, refresh_tokens, users,
    },
    services::{
        audit::{self, Entry, Origin},
        client_limit::ClientLimit,
        codes::{CodeCheck, CodeOwner, CodeSend, Codes},
        delivery,
        hashing::Hasher,
        limits::{GuessDoor, GuessLimits},
        sessions::{Opened, Session, Sessions},
        sms_texts::Text,
        two_factor::recovery_hash,
    },
    streams::Streams,
};

/// How soon a start may answer, whatever happened. A number with an account makes the
/// transaction write a little more (the message, its record, history and live event):
/// about 2 ms more on PostgreSQL, a difference a script can measure. Every start is
/// held to this floor, far above that work, so both answer in one timing class (the
/// client is about to wait seconds for an SMS anyway).
const START_FLOOR: Duration = Duration::from_millis(50);

/// The verified number as a credential. Built in `startup` with exactly what it uses.
pub struct Credentials {
    db: Db,
    clock: Clock,
    codes: Codes,
    hasher: Hasher,
    sessions: Sessions,
    /// Every sign-in attempt per client (`LOGIN_PER_IP`).
    login_ip: ClientLimit,
    /// Wrong codes per number and per client.
    guesses: GuessLimits,
    /// To end this process's streams of the sessions a reset ends.
    streams: Arc<Streams>,
}

/// What [`Credentials::new`] is built from.
pub struct CredentialsParts {
    pub db: Db,
    pub clock: Clock,
    pub codes: Codes,
    pub hasher: Hasher,
    pub sessions: Sessions,
    pub login_ip: ClientLimit,
    pub guesses: GuessLimits,
    pub streams: Arc<Streams>,
}

impl Credentials {
    pub fn new(p: CredentialsParts) -> Self {
        Self {
            db: p.db,
            clock: p.clock,
            codes: p.codes,
            hasher: p.hasher,
            sessions: p.sessions,
            login_ip: p.login_ip,
            guesses: p.guesses,
            streams: p.streams,
        }
    }

    /// `POST /auth/sms/start`: a code for `purpose` to the number, when it is an account's
    /// verified number; the same answer, counted the same, when it is not.
    pub async fn start(
        &self,
        number: PhoneNumber,
        purpose: CodePurpose,
        client_ip: ClientNetworks,
        locale: Locale,
        channel: Option<Channel>,
        origin: Origin,
    ) -> Result<CodeState, ApiError> {
        let floor = tokio::time::Instant::now() + START_FLOOR;
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        let code = self
            .db
            .write(move |c| {
                let now = clock.now();
                let owner =
                    users::find_by_verified_number(c, &number.e164)?.map(|(user, phone)| {
                        CodeOwner {
                            user_id: user.id,
                            phone_id: phone.id,
                        }
                    });
                // Only an account's reset is recorded (a start for a number without one
                // is no event of anyone's); the answer and its time stay the same.
                if let Some(owner) = owner
                    .as_ref()
                    .filter(|_| purpose == CodePurpose::PasswordReset)
                {
                    let entry = Entry::user(
                        SecurityEventType::PasswordResetRequested,
                        Some(owner.user_id),
                    )
                    .phone(owner.phone_id);
                    audit::record(c, &origin, &entry, now)?;
                }
                codes.issue_credential(
                    c,
                    &CodeSend {
                        purpose,
                        e164: &number.e164,
                        country: Some(&number.country),
                        owner,
                        challenge: None,
                        client_ip: Some(&client_ip),
                        locale,
                        channel,
                        last_message: None,
                        now,
                    },
                )
            })
            .await;
        tokio::time::sleep_until(floor).await;
        code
    }

    /// `POST /auth/sms/sign-in`. Each guess is charged to the guess limits (per number and
    /// per client network, refunded when right) before it is compared, so codes cannot be
    /// guessed faster than passwords.
    pub async fn sign_in(
        &self,
        number: PhoneNumber,
        code: String,
        client_ip: ClientNetworks,
        origin: Origin,
    ) -> Result<Session, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let (login_ip, codes, clock) = (self.login_ip, self.codes.clone(), self.clock.clone());
        let guess = self
            .guesses
            .guess(GuessDoor::Anonymous, &number.e164, &client_ip);
        let (token, opener) = self.sessions.begin();
        charge_client(&self.db, login_ip, &client_ip, clock.now()).await?;
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                guess.charge(c, now)?;
                let check = codes.check_credential(
                    c,
                    CodePurpose::SignIn,
                    &number.e164,
                    None,
                    &code,
                    now,
                )?;
                let row = match check {
                    CodeCheck::Wrong(state) => {
                        // The number's account (if any) sees the wrong guess; looked up
                        // whether or not there is one.
                        let owner = users::find_by_verified_number(c, &number.e164)?;
                        let mut entry =
                            Entry::user(SecurityEventType::SmsSignInFailed, None).failed();
                        if let Some((user, phone)) = owner {
                            entry = entry.account(user.id).phone(phone.id);
                        }
                        audit::record(c, &origin, &entry, now)?;
                        return Ok(SignIn::Wrong(state));
                    }
                    CodeCheck::Right(row) => row,
                };
                guess.refund(c, now)?;
                let (user, phone) = owner_of(c, &row)?;
                if !codes.consume_credential(c, &row, &phone, now)? {
                    return Err(code_gone("This code was already used; request a new one."));
                }
                let entry = Entry::user(SecurityEventType::SmsSignInSucceeded, Some(user.id))
                    .phone(phone.id);
                // A second factor cannot be skipped by proving only the first.
                if user.two_factor {
                    let entry = entry.failed().detail("reason", "password_required");
                    audit::record(c, &origin, &entry, now)?;
                    return Ok(SignIn::PasswordRequired);
                }
                audit::record(c, &origin, &entry, now)?;
                let opened = opener.open(c, user, Some(phone), now)?;
                Ok(SignIn::Signed(Box::new(opened)))
            })
            .await?;
        let opened = match outcome {
            SignIn::Wrong(state) => return Err(ApiError::WrongCode(state)),
            SignIn::PasswordRequired => return Err(ApiError::PasswordRequired),
            SignIn::Signed(opened) => *opened,
        };
        tracing::info!(user.id = opened.user.id, "signed in by code");
        self.sessions.signed_in(opened, token, None)
    }

    /// `POST /auth/password-reset`: with a right code the password changes, every session of
    /// the account ends, and the number gets a notice, all in one transaction. Two-factor
    /// stays as it was; on such an account the SIM alone is not enough: a recovery code
    /// is needed too (SPEC §10), and without one the right SMS code stays usable.
    pub async fn reset_password(&self, reset: Reset) -> Result<(), ApiError> {
        let Reset {
            number,
            code,
            new_password,
            recovery_code,
            client_ip,
            locale,
            origin,
        } = reset;
        // Field errors first: they cost no attempt.
        let (code, password, recovery) =
            reset_fields(&code, new_password, recovery_code.as_deref())?;
        let (codes, clock, login_ip) = (self.codes.clone(), self.clock.clone(), self.login_ip);
        let guess = self
            .guesses
            .guess(GuessDoor::Anonymous, &number.e164, &client_ip);
        let check = {
            let (codes, clock, e164) = (codes.clone(), clock.clone(), number.e164.clone());
            let recovery = recovery.clone();
            charge_client(&self.db, login_ip, &client_ip, clock.now()).await?;
            self.db
                .write(move |c| {
                    let now = clock.now();
                    guess.charge(c, now)?;
                    let check = codes.check_credential(
                        c,
                        CodePurpose::PasswordReset,
                        &e164,
                        None,
                        &code,
                        now,
                    )?;
                    let row = match check {
                        CodeCheck::Wrong(state) => return Ok(ResetCheck::Wrong(state)),
                        CodeCheck::Right(row) => row,
                    };
                    let (user, _) = owner_of(c, &row)?;
                    if user.two_factor {
                        // An error rolls the attempt and the charge back: the code stays
                        // usable together with a recovery code.
                        let Some(recovery) = &recovery else {
                            return Err(ApiError::RecoveryCodeRequired);
                        };
                        let hash = recovery_hash(&codes, user.id, recovery);
                        if !recovery_codes::is_unused(c, user.id, &hash)? {
                            // A wrong recovery code is a guess: its charge stays.
                            return Ok(ResetCheck::WrongRecovery);
                        }
                    }
                    guess.refund(c, now)?;
                    Ok(ResetCheck::Right(row))
                })
                .await?
        };
        let row = match check {
            ResetCheck::Wrong(state) => return Err(ApiError::WrongCode(state)),
            ResetCheck::WrongRecovery => return Err(wrong_recovery_code()),
            ResetCheck::Right(row) => row,
        };
        // Hashed between the two transactions: Argon2id must not hold the write lock.
        let password_hash = self.hasher.hash(password).await?;
        let families = self
            .db
            .write(move |c| {
                let new = NewPassword {
                    row: &row,
                    recovery: recovery.as_deref(),
                    password_hash: &password_hash,
                    locale,
                };
                set_new_password(c, &codes, &new, &origin, clock.now())
            })
            .await?;
        // This process's streams end now; other processes' at their next poll.
        families.iter().for_each(|f| self.streams.end_session(f));
        tracing::info!(sessions = families.len(), "password reset by code");
        Ok(())
    }
}

/// A reset's fields, parsed: the code, the new password and the recovery code (when
/// given). Every field's error at once, before anything is spent.
fn reset_fields(
    code: &str,
    new_password: String,
    recovery_code: Option<&str>,
) -> Result<(VerificationCode, Password, Option<String>), ApiError> {
    let mut errors = FieldErrors::new();
    let code = VerificationCode::parse(code)
        .map_err(|m| errors.insert("code".into(), vec![m.into()]))
        .ok();
    let password = Password::parse(new_password)
        .map_err(|m| errors.insert("new_password".into(), vec![m.into()]))
        .ok();
    let recovery = match recovery_code.map(str::trim) {
        None | Some("") => None,
        Some(raw) => validation::parse_recovery_code(raw)
            .map_err(|m| errors.insert("recovery_code".into(), vec![m.into()]))
            .ok(),
    };
    match (code, password) {
        (Some(c), Some(p)) if errors.is_empty() => Ok((c, p, recovery)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// What the reset's second transaction applies.
struct NewPassword<'a> {
    /// The right code, checked in the first transaction.
    row: &'a AuthCodeRow,
    recovery: Option<&'a str>,
    password_hash: &'a str,
    locale: Locale,
}

/// Inside the reset's second transaction: the code (still live) and, on a two-factor
/// account, the recovery code are spent; the password changes, every session ends
/// (their families are returned), the number is told and the audit log records it.
fn set_new_password(
    c: &mut Conn<'_>,
    codes: &Codes,
    new: &NewPassword<'_>,
    origin: &Origin,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let row = new.row;
    let still = auth_codes::find(c, &row.e164, row.purpose)?
        .is_some_and(|live| live.code_hash == row.code_hash);
    let (user, phone) = owner_of(c, row)?;
    if !still || !codes.consume_credential(c, row, &phone, now)? {
        return Err(code_gone("This code was already used; request a new one."));
    }
    if user.two_factor {
        let recovery = new.recovery.ok_or(ApiError::RecoveryCodeRequired)?;
        let hash = recovery_hash(codes, user.id, recovery);
        if !recovery_codes::use_code(c, user.id, &hash, now)? {
            return Err(wrong_recovery_code());
        }
        let entry = Entry::user(SecurityEventType::RecoveryCodeUsed, Some(user.id)).phone(phone.id);
        audit::record(c, origin, &entry, now)?;
    }
    let entry =
        Entry::user(SecurityEventType::PasswordResetCompleted, Some(user.id)).phone(phone.id);
    audit::record(c, origin, &entry, now)?;
    users::set_password_hash(c, user.id, new.password_hash)?;
    let families = refresh_tokens::revoke_all_of_user(c, user.id, now)?;
    phones::add_history(c, phone.id, HistoryKind::PasswordReset, None, now)?;
    let about = delivery::About {
        user_id: user.id,
        phone_id: phone.id,
    };
    let text = Text::PasswordChanged;
    codes.notify(
        c,
        &phone,
        &phone.e164,
        Some(about),
        text,
        "",
        new.locale,
        now,
    )?;
    Ok(families)
}

/// One `POST /auth/password-reset`, its fields as received.
pub struct Reset {
    pub number: PhoneNumber,
    pub code: String,
    pub new_password: String,
    pub recovery_code: Option<String>,
    pub client_ip: ClientNetworks,
    pub locale: Locale,
    pub origin: Origin,
}

enum ResetCheck {
    Wrong(CodeState),
    WrongRecovery,
    Right(Box<AuthCodeRow>),
}

fn wrong_recovery_code() -> ApiError {
    ApiError::field(
        "recovery_code",
        "is not an unused recovery code of this account",
    )
}

fn code_gone(detail: &str) -> ApiError {
    ApiError::Gone {
        detail: detail.into(),
        verification: None,
    }
}

/// The account a right code was sent for, if the number still is its verified one.
fn owner_of(conn: &mut Conn<'_>, row: &AuthCodeRow) -> Result<(UserRow, PhoneRow), ApiError> {
    users::find_by_verified_number(conn, &row.e164)?
        .filter(|(user, _)| Some(user.id) == row.user_id)
        .ok_or_else(|| code_gone("This number no longer signs in to an account."))
}

enum SignIn {
    Wrong(CodeState),
    PasswordRequired,
    Signed(Box<Opened>),
}

/// Charges one request of `client` to `limit` in a write of its own, committed whatever
/// the request then meets: a check that fails (no live code, a wrong number) rolls its
/// own transaction back, and with it any charge made there, which left these doors
/// unlimited per client for requests that find no code (SPEC §11).
async fn charge_client(
    db: &Db,
    limit: ClientLimit,
    client: &ClientNetworks,
    now: i64,
) -> Result<(), ApiError> {
    let client = client.clone();
    db.write(move |c| limit.hit(c, &client, now)).await
}
