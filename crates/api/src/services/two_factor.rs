//! SMS as a second factor (SPEC §8) and its recovery codes (SPEC §10): turning it on and
//! off, the code step of a password login, and the codes that stand in for the SIM.
//!
//! Long: the switch, the recovery codes and the login's code step share the code engine,
//! the guess limits and their audit writes; the code step could move to a file of its own.

use phonereg_types::PhoneStatus;
use std::sync::Arc;

use phonereg_types::{Channel, HistoryKind, SecurityEventType, validation};
use rand::{Rng as _, distributions::Uniform};

use crate::{
    clock::Clock,
    domain::{ClientNetworks, CodePurpose, CodeState, Locale, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, Db, mfa,
        models::{MfaChallengeRow, PhoneRow, UserRow},
        phones, recovery_codes, users,
    },
    services::{
        audit::{self, Entry, Origin},
        codes::{CodeCheck, CodeOwner, CodeSend, Codes},
        limits::{GuessCharge, GuessDoor, GuessLimits},
        reauth::Reauth,
        sessions::{Opened, Session, Sessions},
        token_strikes::TokenStrikes,
        tokens::{hash_refresh, random_token},
    },
};

/// Two-step sign-in. Built in `startup` with exactly what it uses.
pub struct TwoFactor {
    db: Db,
    clock: Clock,
    codes: Codes,
    reauth: Reauth,
    sessions: Sessions,
    /// Wrong codes (and recovery codes) at the login's code step.
    guesses: GuessLimits,
    /// Made-up `mfa_token`s, per client.
    token_strikes: Arc<TokenStrikes>,
}

/// What [`TwoFactor::new`] is built from.
pub struct TwoFactorParts {
    pub db: Db,
    pub clock: Clock,
    pub codes: Codes,
    pub reauth: Reauth,
    pub sessions: Sessions,
    pub guesses: GuessLimits,
    pub token_strikes: Arc<TokenStrikes>,
}

/// How many recovery codes a set holds (SPEC §10).
const RECOVERY_CODES: usize = 10;

/// The keyed hash a recovery code is stored as, bound to its account.
pub fn recovery_hash(codes: &Codes, user_id: i64, code: &str) -> String {
    codes.keyed_hash(&["recovery", &user_id.to_string(), code])
}

/// A new set: `xxxx-xxxx` of lower-case letters and digits (about 41 bits each), and
/// their hashes for `user_id`.
fn new_recovery_codes(codes: &Codes, user_id: i64) -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    let pick = Uniform::from(0..ALPHABET.len());
    let plain: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..8)
                .map(|_| char::from(ALPHABET[rng.sample(pick)]))
                .collect();
            format!("{}-{}", &chars[..4], &chars[4..])
        })
        .collect();
    let hashes = plain
        .iter()
        .map(|c| recovery_hash(codes, user_id, c))
        .collect();
    (plain, hashes)
}

/// What the login's code step was given: an SMS code or a recovery code.
pub enum SecondFactor {
    Code(VerificationCode),
    Recovery(String),
}

impl SecondFactor {
    /// Exactly one of the two, each parsed (422 names the field).
    pub fn parse(code: Option<String>, recovery_code: Option<String>) -> Result<Self, ApiError> {
        match (code, recovery_code) {
            (Some(code), None) => VerificationCode::parse(&code)
                .map(Self::Code)
                .map_err(|m| ApiError::field("code", m)),
            (None, Some(raw)) => validation::parse_recovery_code(&raw)
                .map(Self::Recovery)
                .map_err(|m| ApiError::field("recovery_code", m)),
            (None, None) => Err(ApiError::field(
                "code",
                "is required (or give recovery_code instead)",
            )),
            (Some(_), Some(_)) => Err(ApiError::field(
                "recovery_code",
                "give either code or recovery_code, not both",
            )),
        }
    }
}

/// How long a password login waits for its code.
pub const MFA_TOKEN_TTL: i64 = 300;

fn verified_phone(conn: &mut Conn<'_>, user_id: i64) -> Result<(UserRow, PhoneRow), ApiError> {
    let (user, phone) = users::find_with_phone(conn, user_id)?
        .ok_or(ApiError::Unauthorized("This account no longer exists."))?;
    match phone {
        Some(phone) if phone.status == PhoneStatus::Verified => Ok((user, phone)),
        _ => Err(ApiError::Conflict(
            "Two-step sign-in needs a verified phone number: add and verify one first.".into(),
        )),
    }
}

impl TwoFactor {
    pub fn new(p: TwoFactorParts) -> Self {
        Self {
            db: p.db,
            clock: p.clock,
            codes: p.codes,
            reauth: p.reauth,
            sessions: p.sessions,
            guesses: p.guesses,
            token_strikes: p.token_strikes,
        }
    }

    /// `POST /users/me/two-factor/code`: a code to the verified number (to turn it off).
    pub async fn send_code(
        &self,
        user_id: i64,
        client_ip: ClientNetworks,
        locale: Locale,
        channel: Option<Channel>,
    ) -> Result<CodeState, ApiError> {
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        let code = self
            .db
            .write(move |c| {
                let (_, phone) = verified_phone(c, user_id)?;
                codes.issue_credential(
                    c,
                    &CodeSend {
                        purpose: CodePurpose::TwoFactor,
                        e164: &phone.e164,
                        country: Some(&phone.country),
                        owner: Some(CodeOwner {
                            user_id,
                            phone_id: phone.id,
                        }),
                        challenge: None,
                        client_ip: Some(&client_ip),
                        locale,
                        channel,
                        last_message: phone.last_message(),
                        now: clock.now(),
                    },
                )
            })
            .await?;
        Ok(code)
    }

    /// `PUT /users/me/two-factor`: the password first (401), then for turning it off the
    /// code (422/410). Turning it on needs a verified number (409).
    pub async fn set(
        &self,
        user_id: i64,
        enabled: bool,
        password: String,
        code: Option<String>,
        client_ip: ClientNetworks,
        origin: Origin,
    ) -> Result<Switched, ApiError> {
        let code = code
            .map(|c| VerificationCode::parse(&c).map_err(|m| ApiError::field("code", m)))
            .transpose()?;
        let code = match (enabled, code) {
            (true, _) => None,
            (false, None) => {
                return Err(ApiError::field(
                    "code",
                    "is required to turn two-step sign-in off: request one first",
                ));
            }
            (false, Some(code)) => Some(code),
        };
        self.reauth.check(user_id, password, &client_ip).await?;
        let (codes, clock, guesses) = (self.codes.clone(), self.clock.clone(), self.guesses);
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (user, phone) = match verified_phone(c, user_id) {
                    // Turning off what is already off needs no number.
                    Err(ApiError::Conflict(_)) if !enabled => return Ok(Switch::Done(false, None)),
                    other => other?,
                };
                if user.two_factor == enabled {
                    return Ok(Switch::Done(enabled, None));
                }
                if let Some(code) = code {
                    // Guesses here count like at the login's code step (same door).
                    let guess = guesses.guess(GuessDoor::AfterPassword, &phone.e164, &client_ip);
                    if let Some(state) = spend_off_code(c, &codes, &guess, &phone, &code, now)? {
                        let entry =
                            Entry::user(SecurityEventType::TwoFactorChallengeFailed, Some(user_id))
                                .phone(phone.id)
                                .failed()
                                .detail("step", "turn_off");
                        audit::record(c, &origin, &entry, now)?;
                        return Ok(Switch::Wrong(state));
                    }
                }
                let switched = switch(c, &codes, user_id, phone.id, enabled, now)?;
                if let Switch::Raced(on) = switched {
                    return Ok(Switch::Done(on, None));
                }
                record_switch(c, &origin, user_id, phone.id, enabled, now)?;
                Ok(switched)
            })
            .await?;
        match outcome {
            Switch::Done(on, recovery_codes) => {
                tracing::info!(user.id = user_id, enabled = on, "two-step sign-in set");
                Ok(Switched {
                    enabled: on,
                    recovery_codes,
                })
            }
            Switch::Wrong(state) => Err(ApiError::WrongCode(state)),
            Switch::Raced(on) => Ok(Switched {
                enabled: on,
                recovery_codes: None,
            }),
        }
    }

    /// `POST /users/me/recovery-codes`: the password, then a new set replaces the old one
    /// (shown once). Only while two-step sign-in is on (409 otherwise).
    pub async fn new_recovery_codes(
        &self,
        user_id: i64,
        password: String,
        client_ip: ClientNetworks,
        origin: Origin,
    ) -> Result<Vec<String>, ApiError> {
        self.reauth.check(user_id, password, &client_ip).await?;
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        self.db
            .write(move |c| {
                let user = users::find(c, user_id)?
                    .ok_or(ApiError::Unauthorized("This account no longer exists."))?;
                if !user.two_factor {
                    return Err(ApiError::Conflict(
                        "Recovery codes belong to two-step sign-in: turn it on first.".into(),
                    ));
                }
                let now = clock.now();
                let (plain, hashes) = new_recovery_codes(&codes, user_id);
                recovery_codes::replace_all(c, user_id, &hashes, now)?;
                let entry = Entry::user(SecurityEventType::RecoveryCodesCreated, Some(user_id));
                audit::record(c, &origin, &entry, now)?;
                if let Some((_, Some(phone))) = users::find_with_phone(c, user_id)? {
                    let kind = HistoryKind::RecoveryCodesRenewed;
                    phones::add_history(c, phone.id, kind, None, now)?;
                }
                Ok(plain)
            })
            .await
    }

    /// `POST /auth/login/verify`: the code of a password login, or one of the account's
    /// recovery codes in its place. The `mfa_token` is single use and bound to the login
    /// that made it (its code was hashed with it). Every guess is charged to the guess
    /// limits first (refunded when right); a wrong one is recorded in the audit log in the
    /// transaction that keeps its charge.
    pub async fn verify_login(
        &self,
        mfa_token: String,
        factor: SecondFactor,
        client: &ClientNetworks,
        origin: Origin,
    ) -> Result<Session, ApiError> {
        let token_hash = hash_refresh(&mfa_token);
        self.live_challenge(&token_hash, client).await?;
        let step = LoginStep {
            codes: self.codes.clone(),
            guesses: self.guesses,
            origin,
            client: client.to_owned(),
            token_hash,
        };
        let clock = self.clock.clone();
        let (token, opener) = self.sessions.begin();
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                match step.spend(c, &factor, now)? {
                    Spent::Right(found) => {
                        let (user, phone) = *found;
                        let opened = opener.open(c, user, Some(phone), now)?;
                        Ok(Verified::Signed(Box::new(opened)))
                    }
                    Spent::Wrong(state) => Ok(Verified::Wrong(state)),
                    Spent::WrongRecovery => Ok(Verified::WrongRecovery),
                }
            })
            .await?;
        let opened = match outcome {
            Verified::Wrong(state) => return Err(ApiError::WrongCode(state)),
            Verified::WrongRecovery => {
                return Err(ApiError::field(
                    "recovery_code",
                    "is not an unused recovery code of this account",
                ));
            }
            Verified::Signed(opened) => *opened,
        };
        tracing::info!(user.id = opened.user.id, "signed in with a second factor");
        self.sessions.signed_in(opened, token, None)
    }

    /// On the read side: a made-up `mfa_token` is refused without a write and is a
    /// strike for the client; a used or expired one is gone.
    async fn live_challenge(
        &self,
        token_hash: &str,
        client: &ClientNetworks,
    ) -> Result<(), ApiError> {
        let now = self.clock.now();
        self.token_strikes.check(client, now)?;
        let found = {
            let hash = token_hash.to_owned();
            self.db.read(move |c| mfa::find(c, &hash)).await?
        };
        let Some(found) = found else {
            self.token_strikes.strike(client, now);
            return Err(login_expired());
        };
        if found.used_at.is_some() || found.expires_at <= now {
            return Err(login_expired());
        }
        Ok(())
    }
}

fn login_expired() -> ApiError {
    ApiError::Gone {
        detail: "This sign-in has expired or was already used; log in again.".into(),
        verification: None,
    }
}

/// The code step of one password login, moved into its transaction.
struct LoginStep {
    codes: Codes,
    guesses: GuessLimits,
    origin: Origin,
    client: ClientNetworks,
    token_hash: String,
}

/// What the second factor given at the code step turned out to be.
enum Spent {
    /// Right and used up: the account (read after the use) and its number.
    Right(Box<(UserRow, PhoneRow)>),
    Wrong(CodeState),
    WrongRecovery,
}

impl LoginStep {
    /// Inside the transaction: the challenge checked again under the lock, the guess
    /// charged, the factor checked and used up, the outcome recorded.
    fn spend(&self, c: &mut Conn<'_>, factor: &SecondFactor, now: i64) -> Result<Spent, ApiError> {
        let live = mfa::find(c, &self.token_hash)?
            .filter(|ch| ch.used_at.is_none() && ch.expires_at > now)
            .ok_or_else(login_expired)?;
        let (user, phone) = verified_phone(c, live.user_id).map_err(|_| login_expired())?;
        let guess = self
            .guesses
            .guess(GuessDoor::AfterPassword, &phone.e164, &self.client);
        guess.charge(c, now)?;
        let wrong = match factor {
            SecondFactor::Code(code) => self.spend_code(c, &phone, code, now)?,
            SecondFactor::Recovery(recovery) => {
                self.spend_recovery(c, &user, &phone, recovery, now)?
            }
        };
        if let Some(wrong) = wrong {
            // A wrong code is a guess: its charge stays, and so does its record.
            let entry = Entry::user(SecurityEventType::TwoFactorChallengeFailed, Some(user.id))
                .phone(phone.id)
                .failed();
            audit::record(c, &self.origin, &entry, now)?;
            return Ok(wrong);
        }
        // The row was read before a recovery code was used: read it again.
        let user = users::find(c, user.id)?.ok_or_else(login_expired)?;
        guess.refund(c, now)?;
        Ok(Spent::Right(Box::new((user, phone))))
    }

    /// The SMS code; `Some` when wrong.
    fn spend_code(
        &self,
        c: &mut Conn<'_>,
        phone: &PhoneRow,
        code: &VerificationCode,
        now: i64,
    ) -> Result<Option<Spent>, ApiError> {
        let check = self.codes.check_credential(
            c,
            CodePurpose::Login,
            &phone.e164,
            Some(&self.token_hash),
            code,
            now,
        );
        let row = match check {
            Ok(CodeCheck::Wrong(state)) => return Ok(Some(Spent::Wrong(state))),
            Ok(CodeCheck::Right(row)) => row,
            // Out of attempts or expired: this login is over.
            Err(ApiError::Gone { verification, .. }) => {
                return Err(ApiError::Gone {
                    detail: "This code can no longer be used; log in again.".into(),
                    verification,
                });
            }
            Err(e) => return Err(e),
        };
        if !mfa::mark_used(c, &self.token_hash, now)?
            || !self.codes.consume_credential(c, &row, phone, now)?
        {
            return Err(login_expired());
        }
        Ok(None)
    }

    /// A recovery code in place of the SMS code; `Some` when wrong.
    fn spend_recovery(
        &self,
        c: &mut Conn<'_>,
        user: &UserRow,
        phone: &PhoneRow,
        recovery: &str,
        now: i64,
    ) -> Result<Option<Spent>, ApiError> {
        let hash = recovery_hash(&self.codes, user.id, recovery);
        if !recovery_codes::use_code(c, user.id, &hash, now)? {
            return Ok(Some(Spent::WrongRecovery));
        }
        if !mfa::mark_used(c, &self.token_hash, now)? {
            return Err(login_expired());
        }
        phones::add_history(c, phone.id, HistoryKind::RecoveryCodeUsed, None, now)?;
        let entry = Entry::user(SecurityEventType::RecoveryCodeUsed, Some(user.id)).phone(phone.id);
        audit::record(c, &self.origin, &entry, now)?;
        Ok(None)
    }
}

/// Inside the transaction that turns two-step sign-in off: the code sent for it,
/// charged as a guess first. The state of a wrong code; None once it is spent.
fn spend_off_code(
    c: &mut Conn<'_>,
    codes: &Codes,
    guess: &GuessCharge,
    phone: &PhoneRow,
    code: &VerificationCode,
    now: i64,
) -> Result<Option<CodeState>, ApiError> {
    guess.charge(c, now)?;
    match codes.check_credential(c, CodePurpose::TwoFactor, &phone.e164, None, code, now)? {
        CodeCheck::Wrong(state) => Ok(Some(state)),
        CodeCheck::Right(row) => {
            if !codes.consume_credential(c, &row, phone, now)? {
                return Err(ApiError::Gone {
                    detail: "This code was already used; request a new one.".into(),
                    verification: None,
                });
            }
            guess.refund(c, now)?;
            Ok(None)
        }
    }
}

/// Inside the transaction: two-step sign-in switched, in the record's history, with a
/// fresh set of recovery codes when on (shown once) and none when off.
fn switch(
    c: &mut Conn<'_>,
    codes: &Codes,
    user_id: i64,
    phone_id: i64,
    enabled: bool,
    now: i64,
) -> Result<Switch, ApiError> {
    if !users::set_two_factor(c, user_id, enabled)? {
        // A racing request switched it first (and made its codes and its record).
        return Ok(Switch::Raced(enabled));
    }
    let kind = if enabled {
        HistoryKind::TwoFactorOn
    } else {
        HistoryKind::TwoFactorOff
    };
    phones::add_history(c, phone_id, kind, None, now)?;
    let (plain, hashes) = if enabled {
        new_recovery_codes(codes, user_id)
    } else {
        (Vec::new(), Vec::new())
    };
    recovery_codes::replace_all(c, user_id, &hashes, now)?;
    Ok(Switch::Done(enabled, enabled.then_some(plain)))
}

/// Inside the transaction that switched two-step sign-in: its record, and the new set
/// of recovery codes that turning it on made.
fn record_switch(
    c: &mut Conn<'_>,
    origin: &Origin,
    user_id: i64,
    phone_id: i64,
    enabled: bool,
    now: i64,
) -> Result<(), ApiError> {
    let kind = if enabled {
        SecurityEventType::TwoFactorEnabled
    } else {
        SecurityEventType::TwoFactorDisabled
    };
    audit::record(
        c,
        origin,
        &Entry::user(kind, Some(user_id)).phone(phone_id),
        now,
    )?;
    if enabled {
        let entry = Entry::user(SecurityEventType::RecoveryCodesCreated, Some(user_id));
        audit::record(c, origin, &entry, now)?;
    }
    Ok(())
}

enum Switch {
    Done(bool, Option<Vec<String>>),
    /// Another request switched it first.
    Raced(bool),
    Wrong(CodeState),
}

/// Two-step sign-in as set: on with a fresh set of recovery codes, shown once.
pub struct Switched {
    pub enabled: bool,
    pub recovery_codes: Option<Vec<String>>,
}

/// Inside the password login's transaction: a challenge and a code to the verified
/// number, instead of a session. Returns the `mfa_token` and the code's state.
#[expect(clippy::too_many_arguments, reason = "one login's facts, all needed")]
pub fn challenge(
    conn: &mut Conn<'_>,
    codes: &Codes,
    user: &UserRow,
    phone: Option<&PhoneRow>,
    client_ip: &ClientNetworks,
    locale: Locale,
    now: i64,
    ttl: i64,
) -> Result<(String, CodeState), ApiError> {
    let phone = phone
        .filter(|p| p.status == PhoneStatus::Verified)
        .ok_or_else(|| {
            ApiError::Conflict(
                "Two-step sign-in is on but the account has no verified number.".into(),
            )
        })?;
    let mfa_token = random_token(32);
    let token_hash = hash_refresh(&mfa_token);
    mfa::insert(
        conn,
        &MfaChallengeRow {
            token_hash: token_hash.clone(),
            user_id: user.id,
            expires_at: now + ttl,
            used_at: None,
            created_at: now,
        },
    )?;
    let code = codes.issue_credential(
        conn,
        &CodeSend {
            purpose: CodePurpose::Login,
            e164: &phone.e164,
            country: Some(&phone.country),
            owner: Some(CodeOwner {
                user_id: user.id,
                phone_id: phone.id,
            }),
            challenge: Some(&token_hash),
            client_ip: Some(client_ip),
            locale,
            channel: None,
            last_message: None,
            now,
        },
    )?;
    Ok((mfa_token, code))
}

enum Verified {
    Wrong(CodeState),
    WrongRecovery,
    Signed(Box<Opened>),
}
