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
/// only its hash.
///
/// A token is `<family>.<secret>`: it names its session. Rotated tokens are deleted after
/// the reuse grace (SPEC §11: storage bounded however often a session refreshes), and a
/// token that is not stored but names a live family can only be one of its rotated
/// tokens, so its reuse still ends the session. The family is no secret from the token's
/// holder (access tokens carry it as `sid`); 128 random bits keep it from anyone else.
pub struct NewToken {
    token: String,
    stored: StoredToken,
}

/// What the database holds of a new token: its hash and its family.
#[derive(Clone, Debug)]
pub struct StoredToken {
    hash: String,
    family: String,
}

impl NewToken {
    /// What the transaction stores ([`Sessions::open`], [`Sessions::rotate`]).
    pub fn hash(&self) -> &StoredToken {
        &self.stored
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

    /// A refresh token of a new session, for [`Sessions::open`].
    pub fn new_token(&self) -> NewToken {
        self.new_token_of(&random_token(16))
    }

    /// The next refresh token of session `family`, for [`Sessions::rotate`].
    pub fn new_token_of(&self, family: &str) -> NewToken {
        let token = format!("{family}.{}", random_token(32));
        let hash = hash_refresh(&token);
        NewToken {
            token,
            stored: StoredToken {
                hash,
                family: family.to_owned(),
            },
        }
    }

    /// Inside the caller's transaction: a new session (refresh-token family) for the
    /// account, holding `token` ([`NewToken::hash`] of [`Sessions::new_token`]).
    pub fn open(
        &self,
        conn: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        token: &StoredToken,
        now: i64,
    ) -> Result<Opened, ApiError> {
        self.store(conn, user.id, &token.family, &token.hash, now)?;
        Ok(Opened {
            user,
            phone,
            family: token.family.clone(),
        })
    }

    /// Inside the caller's transaction: the next refresh token of an existing family
    /// ([`NewToken::hash`] of [`Sessions::new_token_of`]).
    pub fn rotate(
        &self,
        conn: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        token: &StoredToken,
        now: i64,
    ) -> Result<Opened, ApiError> {
        self.open(conn, user, phone, token, now)
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
