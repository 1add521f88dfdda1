//! A signed-in session: what every way of signing in hands back, and the refresh-token
//! family it starts.

use crate::{
    domain::CodeState,
    error::ApiError,
    persistence::{
        Conn,
        models::{NewRefreshToken, PhoneRow, UserRow},
        refresh_tokens,
    },
    services::tokens::random_token,
};

/// A signed-in account: what register, login and refresh hand back.
pub struct Session {
    pub user: UserRow,
    pub phone: Option<PhoneRow>,
    /// The first code's state, when registration came with a phone.
    pub verification: Option<CodeState>,
    pub access_token: String,
    pub refresh_token: String,
}

/// A new session; its family id also goes into the access tokens (`sid`).
pub fn start_family(
    conn: &mut Conn<'_>,
    user_id: i64,
    token_hash: &str,
    now: i64,
    ttl: i64,
) -> Result<String, ApiError> {
    let family = random_token(16);
    refresh_tokens::insert(
        conn,
        &NewRefreshToken {
            user_id,
            family: &family,
            token_hash,
            created_at: now,
            expires_at: now + ttl,
        },
    )?;
    Ok(family)
}
