//! Bot-challenge tokens already accepted (SPEC §11), as SHA-256 digests.

use diesel::prelude::*;

use super::{Conn, KeepPreparedDsl as _, schema::captcha_tokens, with_conn};
use crate::error::ApiError;

pub fn is_used(conn: &mut Conn<'_>, token_hash: &str) -> Result<bool, ApiError> {
    Ok(!with_conn!(conn, c => captcha_tokens::table
        .filter(captcha_tokens::token_hash.eq(token_hash))
        .select(captcha_tokens::expires_at)
        .keep_prepared()
        .load::<i64>(c))?
    .is_empty())
}

/// Marks the token used; false when it already was (a replay racing this one).
pub fn use_once(conn: &mut Conn<'_>, token_hash: &str, expires_at: i64) -> Result<bool, ApiError> {
    let inserted = with_conn!(conn, c => diesel::insert_into(captcha_tokens::table)
        .values((
            captcha_tokens::token_hash.eq(token_hash),
            captcha_tokens::expires_at.eq(expires_at),
        ))
        .on_conflict_do_nothing()
        .keep_prepared()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Forgets tokens that expired before `now`.
pub fn prune(conn: &mut Conn<'_>, now: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::delete(captcha_tokens::table
        .filter(captcha_tokens::expires_at.lt(now)))
        .execute(c))?)
}
