//! Re-authentication (SPEC §10): the password asked again of a signed-in account before
//! it changes what proves who it is (its number, two-step sign-in, recovery codes). A
//! stolen access token alone must not reach those.

use crate::{
    clock::Clock,
    domain::{ClientNetworks, Password},
    error::ApiError,
    persistence::{Conn, Db, users},
    services::{
        hashing::{Hasher, Lane},
        limits::LoginLimits,
    },
};

/// Checks a signed-in account's password. Built in `startup` with exactly what it uses.
#[derive(Clone)]
pub struct Reauth {
    db: Db,
    clock: Clock,
    hasher: Hasher,
    login: LoginLimits,
}

impl Reauth {
    pub fn new(db: Db, clock: Clock, hasher: Hasher, login: LoginLimits) -> Self {
        Self {
            db,
            clock,
            hasher,
            login,
        }
    }

    /// 401 `wrong-password` unless `password` is the account's. Counted like a login
    /// attempt of the account from `client_ip` (charged before the hash is checked,
    /// given back when right or never checked), so a stolen token cannot guess it faster
    /// than the login form can.
    pub async fn check(
        &self,
        user_id: i64,
        password: String,
        client_ip: &ClientNetworks,
    ) -> Result<(), ApiError> {
        let user = self
            .db
            .read(move |c| users::find(c, user_id))
            .await?
            .ok_or(ApiError::Unauthorized("This account no longer exists."))?;
        let limits = self.login;
        let failures = limits.failures(&user.email, client_ip);
        let charged_at = self.clock.now();
        let refund = {
            let failures = failures.clone();
            move |c: &mut Conn<'_>| failures.refund(c, charged_at)
        };
        let ip = client_ip.to_owned();
        self.db
            .write(move |c| {
                limits.login_ip.hit(c, &ip, charged_at)?;
                failures.charge(c, charged_at)
            })
            .await?;
        let checked = self
            .hasher
            .verify(
                Password::unchecked(password),
                Some(user.password_hash),
                // Not the lane reserved for known networks' logins: any signed-in
                // account can ask for re-checks, and must not crowd those out.
                Lane::Common,
            )
            .await;
        match checked {
            Ok(true) => self.db.write(refund).await,
            Ok(false) => Err(ApiError::WrongPassword),
            Err(e) => {
                // Never checked (the hash queue was full): no guess was made.
                self.db.write(refund).await?;
                Err(e)
            }
        }
    }
}
