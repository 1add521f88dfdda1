//! Codes that prove possession of a number (SPEC §8): one live row per number and
//! purpose, only the keyed hash stored.

use diesel::prelude::*;

use super::{Conn, KeepPreparedDsl as _, models::AuthCodeRow, schema::auth_codes, with_conn};
use crate::error::ApiError;

pub fn find(
    conn: &mut Conn<'_>,
    e164: &str,
    purpose: &str,
) -> Result<Option<AuthCodeRow>, ApiError> {
    Ok(with_conn!(conn, c => auth_codes::table
        .find((e164, purpose))
        .select(AuthCodeRow::as_select())
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

/// Stores a new code for the number and purpose, killing any previous one.
pub fn replace(conn: &mut Conn<'_>, row: &AuthCodeRow) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(auth_codes::table)
        .values(row)
        .on_conflict((auth_codes::e164, auth_codes::purpose))
        .do_update()
        .set(row)
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Spends one attempt of the code whose hash is `code_hash`, if it still has one; the
/// number left, or None. One conditional UPDATE, so parallel guesses on PostgreSQL wait
/// on the row lock and get at most the attempts left between them.
pub fn take_attempt(conn: &mut Conn<'_>, row: &AuthCodeRow) -> Result<Option<i32>, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(auth_codes::table
        .find((&row.e164, &row.purpose))
        .filter(auth_codes::code_hash.eq(&row.code_hash))
        .filter(auth_codes::attempts_left.gt(0)))
        .set(auth_codes::attempts_left.eq(auth_codes::attempts_left - 1))
        .returning(auth_codes::attempts_left)
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

/// Removes the code if it is still the one read (`code_hash`); true when this call did.
/// Two requests racing with the same right code: exactly one of them uses it.
pub fn consume(conn: &mut Conn<'_>, row: &AuthCodeRow) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::delete(auth_codes::table
        .find((&row.e164, &row.purpose))
        .filter(auth_codes::code_hash.eq(&row.code_hash)))
        .keep_prepared()
        .execute(c))?;
    Ok(n == 1)
}

/// Deletes codes that died before `before` (retention).
pub fn prune(conn: &mut Conn<'_>, before: i64) -> Result<usize, ApiError> {
    Ok(with_conn!(conn, c => diesel::delete(auth_codes::table
        .filter(auth_codes::expires_at.lt(before)))
        .execute(c))?)
}
