//! Password logins waiting for their second factor (`mfa_token`, hashed).

use diesel::prelude::*;

use super::{Conn, models::MfaChallengeRow, schema::mfa_challenges, with_conn};
use crate::error::ApiError;

pub fn insert(conn: &mut Conn<'_>, row: &MfaChallengeRow) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(mfa_challenges::table).values(row).execute(c))?;
    Ok(())
}

pub fn find(conn: &mut Conn<'_>, token_hash: &str) -> Result<Option<MfaChallengeRow>, ApiError> {
    Ok(with_conn!(conn, c => mfa_challenges::table
        .find(token_hash)
        .select(MfaChallengeRow::as_select())
        .load(c))?
    .into_iter()
    .next())
}

/// Marks the challenge used unless it already was; true when this call won, so of two
/// racing verifications exactly one signs in.
pub fn mark_used(conn: &mut Conn<'_>, token_hash: &str, now: i64) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(mfa_challenges::table
        .find(token_hash)
        .filter(mfa_challenges::used_at.is_null()))
        .set(mfa_challenges::used_at.eq(now))
        .execute(c))?;
    Ok(n == 1)
}
