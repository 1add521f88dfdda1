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
pub struct NewToken {
    token: String,
    hash: String,
}

impl NewToken {
    pub fn hash(&self) -> &str {
        &self.hash
    }
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

    /// A fresh refresh token, for [`Sessions::open`] or [`Sessions::rotate`].
    pub fn new_token(&self) -> NewToken {
        let token = random_token(32);
        let hash = hash_refresh(&token);
        NewToken { token, hash }
    }

    /// Inside the caller's transaction: a new session (refresh-token family) for the
    /// account, holding the token whose hash is `token_hash` ([`NewToken::hash`]).
    pub fn open(
        &self,
        conn: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        token_hash: &str,
        now: i64,
    ) -> Result<Opened, ApiError> {
        let family = random_token(16);
        self.store(conn, user.id, &family, token_hash, now)?;
        Ok(Opened {
            user,
            phone,
            family,
        })
    }

    /// Inside the caller's transaction: the next refresh token of an existing family.
    pub fn rotate(
        &self,
        conn: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        family: String,
        token_hash: &str,
        now: i64,
    ) -> Result<Opened, ApiError> {
        self.store(conn, user.id, &family, token_hash, now)?;
        Ok(Opened {
            user,
            phone,
            family,
        })
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
