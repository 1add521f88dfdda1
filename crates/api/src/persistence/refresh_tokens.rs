//! Refresh-token rows: only hashes are stored.

use diesel::prelude::*;

use super::{
    Conn, KeepPreparedDsl as _,
    models::{NewRefreshToken, RefreshTokenRow},
    schema::refresh_tokens,
    with_conn,
};
use crate::error::ApiError;

pub fn insert(conn: &mut Conn<'_>, new: &NewRefreshToken<'_>) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(refresh_tokens::table).values(new).keep_prepared().execute(c))?;
    Ok(())
}

pub fn find_by_hash(conn: &mut Conn<'_>, hash: &str) -> Result<Option<RefreshTokenRow>, ApiError> {
    Ok(with_conn!(conn, c => refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .load(c))?
    .into_iter()
    .next())
}

/// Marks the token rotated unless someone else already did; true when this call won.
/// The `rotated_at IS NULL` guard is what lets exactly one of two racing refreshes pass.
pub fn mark_rotated(conn: &mut Conn<'_>, id: i64, now: i64) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(refresh_tokens::table
        .filter(refresh_tokens::id.eq(id))
        .filter(refresh_tokens::rotated_at.is_null())
        .filter(refresh_tokens::revoked_at.is_null()))
        .set(refresh_tokens::rotated_at.eq(now))
        .keep_prepared()
        .execute(c))?;
    Ok(n == 1)
}

/// Revokes every token of a session (a family shares one login).
pub fn revoke_family(conn: &mut Conn<'_>, family: &str, now: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(refresh_tokens::table
        .filter(refresh_tokens::family.eq(family))
        .filter(refresh_tokens::revoked_at.is_null()))
        .set(refresh_tokens::revoked_at.eq(now))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Revokes every session of an account (a password reset); returns the families, so
/// their live streams can be ended.
pub fn revoke_all_of_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let families: Vec<String> = with_conn!(conn, c => diesel::update(refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null()))
        .set(refresh_tokens::revoked_at.eq(now))
        .returning(refresh_tokens::family)
        .load(c))?;
    let mut families = families;
    families.sort();
    families.dedup();
    Ok(families)
}

/// Revokes every session of an account but `keep` (the caller's, after a number change);
/// returns the families revoked.
pub fn revoke_others_of_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    keep: Option<&str>,
    now: i64,
) -> Result<Vec<String>, ApiError> {
    let keep = keep.unwrap_or("");
    let mut families: Vec<String> = with_conn!(conn, c => diesel::update(refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::family.ne(keep))
        .filter(refresh_tokens::revoked_at.is_null()))
        .set(refresh_tokens::revoked_at.eq(now))
        .returning(refresh_tokens::family)
        .load(c))?;
    families.sort();
    families.dedup();
    Ok(families)
}

/// Deletes tokens that expired or were revoked before `before`. A rotated token is kept
/// until it expires, so its reuse is still recognised (and revokes its family) meanwhile.
pub fn prune(conn: &mut Conn<'_>, before: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::delete(refresh_tokens::table
        .filter(refresh_tokens::expires_at.lt(before).or(refresh_tokens::revoked_at.lt(before))))
        .execute(c))?)
}

/// Sessions revoked at or after `since` (by any API process).
pub fn revoked_since(conn: &mut Conn<'_>, since: i64) -> Result<Vec<String>, ApiError> {
    Ok(with_conn!(conn, c => refresh_tokens::table
        .filter(refresh_tokens::revoked_at.ge(since))
        .select(refresh_tokens::family)
        .distinct()
        .load(c))?)
}
