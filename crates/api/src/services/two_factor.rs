//! SMS as a second factor (SPEC §8): turning it on and off, and the code step of a
//! password login.

use std::sync::Arc;

use phonereg_types::HistoryKind;

use crate::{
    clock::Clock,
    domain::{CodePurpose, CodeState, Locale, Password, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, Db, mfa,
        models::{MfaChallengeRow, PhoneRow, UserRow},
        phones, users,
    },
    services::{
        hashing::{Hasher, Lane},
        rate_limit::LoginLimits,
        sessions::{Session, start_family},
        token_strikes::TokenStrikes,
        tokens::{Tokens, hash_refresh, random_token},
        verification::{CodeCheck, CodeOwner, CodeSend, Verifier},
    },
};

/// Two-step sign-in. Built in `startup` with exactly what it uses.
pub struct TwoFactor {
    pub db: Db,
    pub clock: Clock,
    pub verifier: Verifier,
    pub hasher: Hasher,
    pub tokens: Arc<Tokens>,
    /// Password checks are counted like logins.
    pub login: LoginLimits,
    /// Made-up `mfa_token`s, per client.
    pub token_strikes: Arc<TokenStrikes>,
    /// `REFRESH_TOKEN_TTL`.
    pub refresh_ttl: i64,
}

/// How long a password login waits for its code.
pub const MFA_TOKEN_TTL: i64 = 300;

fn verified_phone(conn: &mut Conn<'_>, user_id: i64) -> Result<(UserRow, PhoneRow), ApiError> {
    let (user, phone) = users::find_with_phone(conn, user_id)?
        .ok_or(ApiError::Unauthorized("This account no longer exists."))?;
    match phone {
        Some(phone) if phone.status == phones::VERIFIED => Ok((user, phone)),
        _ => Err(ApiError::Conflict(
            "Two-step sign-in needs a verified phone number: add and verify one first.".into(),
        )),
    }
}

impl TwoFactor {
    /// `POST /users/me/two-factor/code`: a code to the verified number (to turn it off).
    pub async fn send_code(
        &self,
        user_id: i64,
        client_ip: String,
        locale: Locale,
    ) -> Result<CodeState, ApiError> {
        let (verifier, clock) = (self.verifier.clone(), self.clock.clone());
        let code = self
            .db
            .write(move |c| {
                let (_, phone) = verified_phone(c, user_id)?;
                verifier.issue_credential(
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
                        now: clock.now(),
                    },
                )
            })
            .await?;
        Ok(code)
    }

    /// Checks the signed-in account's password, counted like a login attempt (refunded
    /// when right), so a stolen access token cannot be used to guess it.
    async fn check_password(
        &self,
        user_id: i64,
        password: String,
        client_ip: &str,
    ) -> Result<(), ApiError> {
        let limits = self.login;
        let clock = self.clock.clone();
        let user = {
            self.db
                .read(move |c| users::find(c, user_id))
                .await?
                .ok_or(ApiError::Unauthorized("This account no longer exists."))?
        };
        let failures = limits.failures(&user.email, client_ip);
        let charged_at = clock.now();
        let refund = {
            let failures = failures.clone();
            move |c: &mut Conn<'_>| failures.refund(c, charged_at)
        };
        self.db
            .write(move |c| failures.charge(c, charged_at))
            .await?;
        let checked = self
            .hasher
            .verify(
                Password::unchecked(password),
                Some(user.password_hash),
                Lane::Known,
            )
            .await;
        match checked {
            Ok(true) => self.db.write(refund).await,
            Ok(false) => Err(ApiError::Unauthorized("The password is incorrect.")),
            Err(e) => {
                // Never checked (the hash queue was full): no guess was made.
                self.db.write(refund).await?;
                Err(e)
            }
        }
    }

    /// `PUT /users/me/two-factor`: the password first (401), then for turning it off the
    /// code (422/410). Turning it on needs a verified number (409).
    pub async fn set(
        &self,
        user_id: i64,
        enabled: bool,
        password: String,
        code: Option<String>,
        client_ip: String,
    ) -> Result<bool, ApiError> {
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
        self.check_password(user_id, password, &client_ip).await?;
        let (verifier, clock) = (self.verifier.clone(), self.clock.clone());
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                let (user, phone) = match verified_phone(c, user_id) {
                    // Turning off what is already off needs no number.
                    Err(ApiError::Conflict(_)) if !enabled => return Ok(Switch::Done(false)),
                    other => other?,
                };
                if user.two_factor == enabled {
                    return Ok(Switch::Done(enabled));
                }
                if let Some(code) = code {
                    let check = verifier.check_credential(
                        c,
                        CodePurpose::TwoFactor,
                        &phone.e164,
                        None,
                        &code,
                        now,
                    )?;
                    match check {
                        CodeCheck::Wrong(state) => return Ok(Switch::Wrong(state)),
                        CodeCheck::Right(row) => {
                            if !verifier.consume_credential(c, &row, &phone, now)? {
                                return Err(ApiError::Gone {
                                    detail: "This code was already used; request a new one.".into(),
                                    verification: None,
                                });
                            }
                        }
                    }
                }
                users::set_two_factor(c, user_id, enabled)?;
                let kind = if enabled {
                    HistoryKind::TwoFactorOn
                } else {
                    HistoryKind::TwoFactorOff
                };
                phones::add_history(c, phone.id, kind, None, now)?;
                Ok(Switch::Done(enabled))
            })
            .await?;
        match outcome {
            Switch::Done(on) => {
                tracing::info!(user.id = user_id, enabled = on, "two-step sign-in set");
                Ok(on)
            }
            Switch::Wrong(state) => Err(ApiError::WrongCode(state)),
        }
    }

    /// `POST /auth/login/verify`: the code of a password login. The `mfa_token` is single
    /// use and bound to the login that made it (its code was hashed with it).
    pub async fn verify_login(
        &self,
        mfa_token: String,
        code: String,
        client: &str,
    ) -> Result<Session, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let now = self.clock.now();
        self.token_strikes.check(client, now)?;
        let token_hash = hash_refresh(&mfa_token);
        let expired = || ApiError::Gone {
            detail: "This sign-in has expired or was already used; log in again.".into(),
            verification: None,
        };
        // A made-up token is refused on the read side and is a strike for the client.
        let found = {
            let hash = token_hash.clone();
            self.db.read(move |c| mfa::find(c, &hash)).await?
        };
        let Some(found) = found else {
            self.token_strikes.strike(client, now);
            return Err(expired());
        };
        if found.used_at.is_some() || found.expires_at <= now {
            return Err(expired());
        }
        let (verifier, clock) = (self.verifier.clone(), self.clock.clone());
        let refresh_token = random_token(32);
        let new_hash = hash_refresh(&refresh_token);
        let refresh_ttl = self.refresh_ttl;
        let outcome = self
            .db
            .write(move |c| {
                let now = clock.now();
                let live = mfa::find(c, &token_hash)?
                    .filter(|ch| ch.used_at.is_none() && ch.expires_at > now)
                    .ok_or_else(expired)?;
                let (user, phone) = verified_phone(c, live.user_id).map_err(|_| expired())?;
                let check = verifier.check_credential(
                    c,
                    CodePurpose::Login,
                    &phone.e164,
                    Some(&token_hash),
                    &code,
                    now,
                );
                let row = match check {
                    Ok(CodeCheck::Wrong(state)) => return Ok(Verified::Wrong(state)),
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
                if !mfa::mark_used(c, &token_hash, now)?
                    || !verifier.consume_credential(c, &row, &phone, now)?
                {
                    return Err(expired());
                }
                let family = start_family(c, user.id, &new_hash, now, refresh_ttl)?;
                Ok(Verified::Signed(Box::new((user, Some(phone), family))))
            })
            .await?;
        let (user, phone, family) = match outcome {
            Verified::Wrong(state) => return Err(ApiError::WrongCode(state)),
            Verified::Signed(signed) => *signed,
        };
        tracing::info!(user.id = user.id, "signed in with a second factor");
        let access_token = self
            .tokens
            .issue_access(user.id, self.clock.now(), Some(&family))?;
        Ok(Session {
            user,
            phone,
            verification: None,
            access_token,
            refresh_token,
        })
    }
}

enum Switch {
    Done(bool),
    Wrong(CodeState),
}

/// Inside the password login's transaction: a challenge and a code to the verified
/// number, instead of a session. Returns the `mfa_token` and the code's state.
#[expect(clippy::too_many_arguments, reason = "one login's facts, all needed")]
pub fn challenge(
    conn: &mut Conn<'_>,
    verifier: &Verifier,
    user: &UserRow,
    phone: Option<&PhoneRow>,
    client_ip: &str,
    locale: Locale,
    now: i64,
    ttl: i64,
) -> Result<(String, CodeState), ApiError> {
    let phone = phone
        .filter(|p| p.status == phones::VERIFIED)
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
    let code = verifier.issue_credential(
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
            now,
        },
    )?;
    Ok((mfa_token, code))
}

enum Verified {
    Wrong(CodeState),
    Signed(Box<(UserRow, Option<PhoneRow>, String)>),
}
