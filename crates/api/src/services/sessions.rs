//! Sessions: where every way of signing in ends (register, password login, sign-in by
//! code, the two-step code, refresh). A session is a refresh-token family in the database
//! and the access tokens that name it (`sid`).

use std::sync::Arc;

use crate::{
    clock::Clock,
    domain::CodeState,
    error::ApiError,
    persistence::{
        Conn,
        models::{NewRefreshToken, PhoneRow, UserRow},
        refresh_tokens,
    },
    services::tokens::{Tokens, hash_refresh, random_token},
};

/// A signed-in account: what every way of signing in hands back.
pub struct Session {
    pub user: UserRow,
    pub phone: Option<PhoneRow>,
    /// The first code's state, when registration came with a phone.
    pub verification: Option<CodeState>,
    pub access_token: String,
    pub refresh_token: String,
}

/// A session stored in the caller's transaction, to be handed back after the commit.
pub struct Opened {
    pub user: UserRow,
    pub phone: Option<PhoneRow>,
    /// The refresh-token family, also the access tokens' `sid`.
    pub family: String,
}

/// A refresh token made before the transaction that stores it, so the transaction holds
/// only its hash; handed to [`Sessions::signed_in`] after the commit.
///
/// A token is `<family>.<secret>`: it names its session. Rotated tokens are deleted after
/// the reuse grace (SPEC §11: storage bounded however often a session refreshes), and a
/// token that is not stored but names a live family can only be one of its rotated
/// tokens, so its reuse still ends the session. The family is no secret from the token's
/// holder (access tokens carry it as `sid`); 128 random bits keep it from anyone else.
pub struct NewToken {
    token: String,
}

/// What a sign-in's transaction needs to store its session: moved into the transaction,
/// it holds the new refresh token's hash and family, never the token.
pub struct Opener {
    sessions: Sessions,
    hash: String,
    family: String,
}

impl Opener {
    /// Inside the caller's transaction: the session's new refresh token (the first of a
    /// new session, or the next of the rotated one).
    pub fn open(
        &self,
        conn: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        now: i64,
    ) -> Result<Opened, ApiError> {
        self.sessions
            .store(conn, user.id, &self.family, &self.hash, now)?;
        Ok(Opened {
            user,
            phone,
            family: self.family.clone(),
        })
    }
}

/// The family a presented refresh token names; `None` for a token made before tokens
/// named theirs, or for anything that is not a token.
pub fn family_of(presented: &str) -> Option<&str> {
    let (family, secret) = presented.split_once('.')?;
    (!family.is_empty() && !secret.is_empty()).then_some(family)
}

/// Opens sessions. Built in `startup` with exactly what it uses; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    tokens: Arc<Tokens>,
    clock: Clock,
    /// `REFRESH_TOKEN_TTL`.
    refresh_ttl: i64,
}

impl Sessions {
    pub fn new(tokens: Arc<Tokens>, clock: Clock, refresh_ttl: i64) -> Self {
        Self {
            tokens,
            clock,
            refresh_ttl,
        }
    }

    /// Every sign-in starts here, before its transaction: the refresh token of a new
    /// session, and the [`Opener`] that stores it inside the transaction.
    pub fn begin(&self) -> (NewToken, Opener) {
        self.begin_rotation(&random_token(16))
    }

    /// A refresh: the next token of session `family` and its [`Opener`].
    pub fn begin_rotation(&self, family: &str) -> (NewToken, Opener) {
        let token = format!("{family}.{}", random_token(32));
        let opener = Opener {
            sessions: self.clone(),
            hash: hash_refresh(&token),
            family: family.to_owned(),
        };
        (NewToken { token }, opener)
    }

    fn store(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        family: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), ApiError> {
        refresh_tokens::insert(
            conn,
            &NewRefreshToken {
                user_id,
                family,
                token_hash,
                created_at: now,
                expires_at: now + self.refresh_ttl,
            },
        )
    }

    /// After the commit: the access token, and the session as every sign-in answers it.
    pub fn signed_in(
        &self,
        opened: Opened,
        token: NewToken,
        verification: Option<CodeState>,
    ) -> Result<Session, ApiError> {
        let access_token =
            self.tokens
                .issue_access(opened.user.id, self.clock.now(), Some(&opened.family))?;
        Ok(Session {
            user: opened.user,
            phone: opened.phone,
            verification,
            access_token,
            refresh_token: token.token,
        })
    }
}
