//! Accounts and sessions: register, login, refresh, logout.
//!
//! Long: register, login (in named steps), refresh and logout share the session and
//! limit handles and the audit writes of each; splitting by endpoint is the next step.

use std::sync::Arc;

use phonereg_types::{FieldErrors, RegisterRequest, SecurityEventType, validation};

use crate::{
    clock::Clock,
    domain::{ClientNetworks, CodeState, Email, Locale, Password, PhoneNumber},
    error::ApiError,
    persistence::{
        Conn, Db, known_sign_ins,
        models::{NewUser, PhoneRow, RefreshTokenRow, UserRow},
        refresh_tokens, users,
    },
    services::{
        audit::{self, Entry, Origin},
        client_limit::ClientLimit,
        codes::Codes,
        hashing::{Hasher, Lane},
        limits::{FailureCharge, LoginLimits},
        number_rules::NumberRules,
        phones::add_phone_with_code,
        sessions::{Opened, Opener, Session, Sessions, family_of},
        token_strikes::TokenStrikes,
        tokens::hash_refresh,
        two_factor,
    },
    streams::Streams,
};

/// A registration whose every field has been parsed.
#[derive(Debug)]
pub struct Registration {
    email: Email,
    password: Password,
    full_name: String,
    phone: Option<PhoneNumber>,
}

impl Registration {
    /// The number the registration would text, if one was given.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        self.phone.as_ref()
    }

    /// Parses every field and reports all problems at once.
    pub fn parse(req: RegisterRequest, rules: &NumberRules) -> Result<Self, ApiError> {
        let mut errors = FieldErrors::new();
        let mut fail = |field: &str, msg: String| errors.entry(field.into()).or_default().push(msg);
        let email = Email::parse(&req.email)
            .map_err(|m| fail("email", m.into()))
            .ok();
        let password = Password::parse(req.password)
            .map_err(|m| fail("password", m.into()))
            .ok();
        let full_name = validation::parse_full_name(&req.full_name)
            .map_err(|m| fail("full_name", m.into()))
            .ok();
        let phone = match req.phone_number.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => match rules.parse(raw, req.phone_region.as_deref()) {
                Ok(n) => Some(n),
                Err(field_errors) => {
                    for (field, messages) in field_errors {
                        for m in messages {
                            fail(&field, m);
                        }
                    }
                    None
                }
            },
        };
        match (email, password, full_name) {
            (Some(email), Some(password), Some(full_name)) if errors.is_empty() => Ok(Self {
                email,
                password,
                full_name,
                phone,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

/// Accounts and their sessions. Built in `startup` with exactly what it uses.
pub struct Accounts {
    db: Db,
    clock: Clock,
    hasher: Hasher,
    sessions: Sessions,
    codes: Codes,
    register_ip: ClientLimit,
    login: LoginLimits,
    /// Made-up refresh tokens, per client.
    token_strikes: Arc<TokenStrikes>,
    /// To end this process's streams of a session that ends.
    streams: Arc<Streams>,
    /// `REFRESH_REUSE_GRACE`.
    reuse_grace: i64,
}

/// What [`Accounts::new`] is built from.
pub struct AccountsParts {
    pub db: Db,
    pub clock: Clock,
    pub hasher: Hasher,
    pub sessions: Sessions,
    pub codes: Codes,
    pub register_ip: ClientLimit,
    pub login: LoginLimits,
    pub token_strikes: Arc<TokenStrikes>,
    pub streams: Arc<Streams>,
    pub reuse_grace: i64,
}

impl Accounts {
    pub fn new(p: AccountsParts) -> Self {
        Self {
            db: p.db,
            clock: p.clock,
            hasher: p.hasher,
            sessions: p.sessions,
            codes: p.codes,
            register_ip: p.register_ip,
            login: p.login,
            token_strikes: p.token_strikes,
            streams: p.streams,
            reuse_grace: p.reuse_grace,
        }
    }

    /// Creates the account (and its phone, when given) and a first session, in one transaction.
    pub async fn register(
        &self,
        reg: Registration,
        client_ip: ClientNetworks,
        locale: Locale,
        origin: Origin,
    ) -> Result<Session, ApiError> {
        let limit = self.register_ip;
        let ip = client_ip.clone();
        let clock = self.clock.clone();
        let now = clock.now();
        self.db.write(move |c| limit.hit(c, &ip, now)).await?;
        // A paused destination is refused before a password hash is spent on it; the
        // transaction below asks again, and that answer is the one that counts.
        if let Some(number) = &reg.phone {
            let (codes, e164, country) = (
                self.codes.clone(),
                number.e164.clone(),
                number.country.clone(),
            );
            self.db
                .read(move |c| {
                    let guard = codes.allowance().guard();
                    match guard.watch(&e164, Some(&country)) {
                        Some(dest) => guard.precheck(c, &dest, now),
                        None => Ok(()),
                    }
                })
                .await?;
        }
        let password_hash = self.hasher.hash(reg.password).await?;
        let (token, opener) = self.sessions.begin();
        let codes = self.codes.clone();
        let (opened, verification) = self
            .db
            .write(move |c| {
                let now = clock.now();
                let user = users::insert(
                    c,
                    &NewUser {
                        email: reg.email.as_str(),
                        password_hash: &password_hash,
                        full_name: &reg.full_name,
                        created_at: now,
                    },
                )?;
                let entry = Entry::user(SecurityEventType::Registered, Some(user.id));
                audit::record(c, &origin, &entry, now)?;
                // The first code is queued in the transaction that creates the user: a
                // refused SMS limit leaves no account behind.
                let (phone, verification) = match &reg.phone {
                    Some(number) => {
                        let (row, code) = add_phone_with_code(
                            c, &codes, user.id, number, &client_ip, locale, now,
                        )?;
                        let entry =
                            Entry::user(SecurityEventType::PhoneAdded, Some(user.id)).phone(row.id);
                        audit::record(c, &origin, &entry, now)?;
                        (Some(row), Some(code))
                    }
                    None => (None, None),
                };
                let opened = opener.open(c, user, phone, now)?;
                Ok((opened, verification))
            })
            .await?;
        tracing::info!(
            user.id = opened.user.id,
            with_phone = opened.phone.is_some(),
            "account registered"
        );
        self.sessions.signed_in(opened, token, verification)
    }

    /// Checks credentials; unknown emails and wrong passwords cost the same and read the same.
    ///
    /// Each attempt is charged to its limits *before* the hash is checked, in one statement
    /// under the counter rows' locks, so however many guesses arrive at once at most
    /// `LOGIN_FAILURES_PER_EMAIL` of them are checked; a right password gets its charge back.
    /// Failures count per email and client network, so a stranger's guesses do not lock the
    /// owner out on their own network, and per email across all networks under a much
    /// higher ceiling, which bounds a guesser who spreads over many networks.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        client_ip: ClientNetworks,
        locale: Locale,
        origin: Origin,
    ) -> Result<Login, ApiError> {
        // An address that cannot exist is just an unknown account.
        let email = validation::parse_email(email).unwrap_or_else(|_| email.trim().to_lowercase());
        let failures = self.login.failures(&email, &client_ip);
        let attempt = self.charge_login(&email, &failures, &client_ip).await?;
        let right = self.check_password(password, &attempt, &failures).await?;
        let user = match attempt.user {
            Some(user) if right => user,
            // The guess was counted up front; the failure is recorded alike for known and
            // unknown emails (the same write, so the same time), with the account's id
            // only when there is one, and never the email that was tried.
            user => {
                let now = self.clock.now();
                let entry = Entry::user(SecurityEventType::LoginFailed, user.map(|u| u.id))
                    .failed()
                    .detail("reason", "bad_credentials");
                self.db
                    .write(move |c| audit::record(c, &origin, &entry, now))
                    .await?;
                return Err(ApiError::Unauthorized(BAD_CREDENTIALS));
            }
        };
        let (token, opener) = self.sessions.begin();
        match self
            .after_password(user.id, failures, attempt.charged_at, opener, &origin)
            .await?
        {
            Step::Code(found) => self.code_step(*found, client_ip, locale).await,
            Step::Signed(opened) => {
                let session = self.sessions.signed_in(*opened, token, None)?;
                Ok(Login::Signed(Box::new(session)))
            }
        }
    }

    /// A login's first step: the attempt charged to its limits, and the account it names.
    async fn charge_login(
        &self,
        email: &str,
        failures: &FailureCharge,
        client_ip: &ClientNetworks,
    ) -> Result<Attempt, ApiError> {
        let (email, failures) = (email.to_owned(), failures.clone());
        let (client_ip, clock, limits) = (client_ip.clone(), self.clock.clone(), self.login);
        self.db
            .write(move |c| {
                let now = clock.now();
                limits.login_ip.hit(c, &client_ip, now)?;
                failures.charge(c, now)?;
                let user = users::find_by_email(c, &email)?;
                let known = user.is_some() && known_sign_ins::is_known(c, failures.pair())?;
                Ok(Attempt {
                    user,
                    charged_at: now,
                    known,
                })
            })
            .await
    }

    /// Whether the password is the account's (a dummy hash is checked for an unknown
    /// email, so both take the same time).
    async fn check_password(
        &self,
        password: String,
        attempt: &Attempt,
        failures: &FailureCharge,
    ) -> Result<bool, ApiError> {
        let stored_hash = attempt.user.as_ref().map(|u| u.password_hash.clone());
        // An email signing in again from a network it signed in from before waits in the
        // reserved lane, so a flood of logins from other addresses cannot refuse it.
        let lane = if attempt.known {
            Lane::Known
        } else {
            Lane::Common
        };
        match self
            .hasher
            .verify(Password::unchecked(password), stored_hash, lane)
            .await
        {
            Ok(ok) => Ok(ok),
            Err(e) => {
                // The password was never checked (the hash queue was full): no guess was
                // made, so the attempt is given back. Kept, these charges piled up under
                // load until the owner's own logins were refused for the whole window.
                let (failures, charged_at) = (failures.clone(), attempt.charged_at);
                self.db
                    .write(move |c| failures.refund(c, charged_at))
                    .await?;
                Err(e)
            }
        }
    }

    /// After a right password: the charge given back, the network remembered, the
    /// success recorded, and a session, or the account for the code step.
    async fn after_password(
        &self,
        user_id: i64,
        failures: FailureCharge,
        charged_at: i64,
        opener: Opener,
        origin: &Origin,
    ) -> Result<Step, ApiError> {
        let (clock, origin) = (self.clock.clone(), origin.clone());
        // The refund commits on its own: a right password is never a login failure, even
        // when the second factor's SMS is then refused (SPEC §10).
        self.db
            .write(move |c| {
                let now = clock.now();
                failures.refund(c, charged_at)?;
                known_sign_ins::remember(c, failures.pair(), now)?;
                let (user, phone) = users::find_with_phone(c, user_id)?
                    .ok_or(ApiError::Unauthorized(BAD_CREDENTIALS))?;
                let next = if user.two_factor { "code" } else { "session" };
                let entry = Entry::user(SecurityEventType::LoginSucceeded, Some(user_id))
                    .detail("next", next);
                audit::record(c, &origin, &entry, now)?;
                if user.two_factor {
                    return Ok(Step::Code(Box::new((user, phone))));
                }
                let opened = opener.open(c, user, phone, now)?;
                Ok(Step::Signed(Box::new(opened)))
            })
            .await
    }

    /// Two-step sign-in is on: a challenge and its code instead of a session.
    async fn code_step(
        &self,
        (user, phone): (UserRow, Option<PhoneRow>),
        client_ip: ClientNetworks,
        locale: Locale,
    ) -> Result<Login, ApiError> {
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        let (mfa_token, verification) = self
            .db
            .write(move |c| {
                two_factor::challenge(
                    c,
                    &codes,
                    &user,
                    phone.as_ref(),
                    &client_ip,
                    locale,
                    clock.now(),
                    two_factor::MFA_TOKEN_TTL,
                )
            })
            .await?;
        Ok(Login::CodeRequired {
            mfa_token,
            verification,
        })
    }

    /// Exchanges a refresh token for a new pair; the old one stops working.
    ///
    /// The token is looked up on the read side first: a made-up, expired or revoked token
    /// (or a rotated one inside the grace) is refused without queueing a write, and counts
    /// as a strike for the client. Only a token that names a live session reaches the
    /// write transaction, which checks everything again under its lock.
    pub async fn refresh(
        &self,
        presented: String,
        client: &ClientNetworks,
        origin: Origin,
    ) -> Result<Session, ApiError> {
        let clock = self.clock.clone();
        self.token_strikes.check(client, clock.now())?;
        let presented_hash = hash_refresh(&presented);
        let grace = self.reuse_grace;
        let found = {
            let hash = presented_hash.clone();
            self.db
                .read(move |c| refresh_tokens::find_by_hash(c, &hash))
                .await?
        };
        let now = clock.now();
        let Some(found) = found else {
            return Err(self.not_stored(&presented, client, now, origin).await?);
        };
        if !is_live(&found, now) || found.rotated_at.is_some_and(|at| now - at <= grace) {
            return Err(ApiError::Unauthorized(BAD_REFRESH));
        }
        let (token, opener) = self.sessions.begin_rotation(&found.family);
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                let Some(row) = refresh_tokens::find_by_hash(c, &presented_hash)? else {
                    return Ok(Rotation::Refused);
                };
                if !is_live(&row, now) {
                    return Ok(Rotation::Refused);
                }
                if let Some(rotated_at) = row.rotated_at {
                    // Two tabs racing on one token must not log the user out.
                    if now - rotated_at > grace {
                        refresh_tokens::revoke_family(c, row.user_id, &row.family, now)?;
                        record_reuse(c, &origin, row.user_id, now)?;
                        return Ok(Rotation::ReuseDetected {
                            user_id: row.user_id,
                            family: row.family,
                        });
                    }
                    return Ok(Rotation::Refused);
                }
                let Some((user, phone)) = users::find_with_phone(c, row.user_id)? else {
                    return Ok(Rotation::Refused);
                };
                if !refresh_tokens::mark_rotated(c, row.user_id, row.id, now)? {
                    return Ok(Rotation::Refused);
                }
                let opened = opener.open(c, user, phone, now)?;
                Ok(Rotation::Rotated(Box::new(opened)))
            })
            .await?;
        match outcome {
            Rotation::Rotated(opened) => self.sessions.signed_in(*opened, token, None),
            Rotation::Refused => Err(ApiError::Unauthorized(BAD_REFRESH)),
            Rotation::ReuseDetected { user_id, family } => {
                tracing::warn!(
                    user.id = user_id,
                    "rotated refresh token reused; session revoked"
                );
                self.streams.end_session(&family);
                Err(ApiError::Unauthorized(BAD_REFRESH))
            }
        }
    }

    /// A presented refresh token that is not stored. Rotated tokens are pruned after the
    /// reuse grace, so one that names a live session is a rotated token used again: the
    /// session ends, as when the row was still there. Anything else is made up (or long
    /// expired) and a strike for the client. The answer is 401 either way.
    async fn not_stored(
        &self,
        presented: &str,
        client: &ClientNetworks,
        now: i64,
        origin: Origin,
    ) -> Result<ApiError, ApiError> {
        let refused = ApiError::Unauthorized(BAD_REFRESH);
        let owner = match family_of(presented) {
            Some(family) => {
                let family = family.to_owned();
                self.db
                    .read(move |c| refresh_tokens::live_family_owner(c, &family, now))
                    .await?
            }
            None => None,
        };
        let (Some(user_id), Some(family)) = (owner, family_of(presented)) else {
            self.token_strikes.strike(client, now);
            return Ok(refused);
        };
        let family = family.to_owned();
        {
            let (family, clock) = (family.clone(), self.clock.clone());
            self.db
                .write(move |c| {
                    let now = clock.now();
                    refresh_tokens::revoke_family(c, user_id, &family, now)?;
                    record_reuse(c, &origin, user_id, now)
                })
                .await?;
        }
        tracing::warn!(
            user.id = user_id,
            "rotated refresh token reused; session revoked"
        );
        self.streams.end_session(&family);
        Ok(refused)
    }

    /// Revokes the session the token belongs to. Unknown tokens are fine: logging out twice
    /// is not an error. The lookup is on the read side, so a made-up token queues no write
    /// (it is a strike for the client instead).
    pub async fn logout(
        &self,
        presented: Option<String>,
        client: &ClientNetworks,
        origin: Origin,
    ) -> Result<(), ApiError> {
        let Some(presented) = presented else {
            return Ok(());
        };
        let now = self.clock.now();
        self.token_strikes.check(client, now)?;
        let hash = hash_refresh(&presented);
        let found = {
            let hash = hash.clone();
            self.db
                .read(move |c| refresh_tokens::find_by_hash(c, &hash))
                .await?
        };
        let Some(row) = found else {
            self.token_strikes.strike(client, now);
            return Ok(());
        };
        if row.revoked_at.is_some() {
            return Ok(());
        }
        let (family, clock) = (row.family, self.clock.clone());
        {
            let family = family.clone();
            let user_id = row.user_id;
            self.db
                .write(move |c| {
                    let now = clock.now();
                    refresh_tokens::revoke_family(c, user_id, &family, now)?;
                    let entry = Entry::user(SecurityEventType::Logout, Some(user_id));
                    audit::record(c, &origin, &entry, now).map(drop)
                })
                .await?;
        }
        // This process's streams of the session end now; other processes' at their poll.
        self.streams.end_session(&family);
        Ok(())
    }

    /// The caller's account and phone.
    pub async fn me(&self, user_id: i64) -> Result<(UserRow, Option<PhoneRow>), ApiError> {
        self.db
            .read(move |c| users::find_with_phone(c, user_id))
            .await?
            .ok_or(ApiError::Unauthorized("This account no longer exists."))
    }
}

const BAD_CREDENTIALS: &str = "The email address or password is incorrect.";

/// What a right password leads to: a session, or with two-factor on a code step.
pub enum Login {
    Signed(Box<Session>),
    CodeRequired {
        mfa_token: String,
        verification: CodeState,
    },
}

/// A login attempt charged to its limits, before its password is checked.
struct Attempt {
    user: Option<UserRow>,
    charged_at: i64,
    /// The email signed in from this client's network before.
    known: bool,
}

enum Step {
    Signed(Box<Opened>),
    /// Two-step sign-in is on: the account, for the code step.
    Code(Box<(UserRow, Option<PhoneRow>)>),
}

enum Rotation {
    Rotated(Box<Opened>),
    Refused,
    /// A rotated token came back after the grace period: probably stolen.
    ReuseDetected {
        user_id: i64,
        family: String,
    },
}

const BAD_REFRESH: &str = "The refresh token is invalid, expired or already used.";

/// Inside the transaction that revoked the session: a rotated token came back.
fn record_reuse(c: &mut Conn<'_>, origin: &Origin, user_id: i64, now: i64) -> Result<(), ApiError> {
    let entry = Entry::system(SecurityEventType::RefreshReuseDetected, Some(user_id)).failed();
    audit::record(c, origin, &entry, now).map(drop)
}

/// What a refresh token names, judged on the read side.
fn is_live(row: &RefreshTokenRow, now: i64) -> bool {
    row.revoked_at.is_none() && row.expires_at > now
}
