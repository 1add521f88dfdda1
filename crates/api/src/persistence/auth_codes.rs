//! Codes that prove possession of a number (SPEC §8): one live row per number and
//! purpose, only the keyed hash stored.

use diesel::{
    prelude::*,
    sql_types::{BigInt, Text},
};
use sha2::{Digest as _, Sha256};

use super::{Conn, KeepPreparedDsl as _, models::AuthCodeRow, schema::auth_codes, with_conn};
use crate::{domain::CodePurpose, error::ApiError};

/// The number's live code for `purpose`, if any, for a write transaction that decides on
/// it (the cool-down before [`replace`], an attempt before [`take_attempt`]).
///
/// On PostgreSQL the number and purpose are locked first, until the transaction ends, and
/// the row is read after the lock is held: requests for one number and purpose take
/// turns, each reading what the one before it wrote, so the cool-down is checked and the
/// new code written in one step. The row cannot carry the lock, since before the first
/// code there is none, so it is a transaction-level advisory lock on a hash of the two.
/// Read under READ COMMITTED without it, parallel starts each saw the cool-down over and
/// each sent a code. SQLite has one writer at a time.
///
/// The lock and the read are one round trip: the function `phonereg_locked_auth_code`
/// (migration 2026-12-12-200001) reads in a statement of its own, with a snapshot taken
/// after the lock was granted (one statement would read from before it: see there).
pub fn find(
    conn: &mut Conn<'_>,
    e164: &str,
    purpose: CodePurpose,
) -> Result<Option<AuthCodeRow>, ApiError> {
    if let Conn::Postgres(c) = conn {
        return Ok(
            diesel::sql_query("SELECT * FROM phonereg_locked_auth_code($1, $2, $3)")
                .bind::<BigInt, _>(lock_key(e164, purpose))
                .bind::<Text, _>(e164)
                .bind::<Text, _>(purpose.as_str())
                .keep_prepared()
                .load::<AuthCodeRow>(*c)?
                .into_iter()
                .next(),
        );
    }
    Ok(with_conn!(conn, c => auth_codes::table
        .find((e164, purpose))
        .select(AuthCodeRow::as_select())
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

/// The advisory lock of a number and purpose: 64 bits of a hash, in a namespace of their
/// own. Two pairs that collide only take turns.
fn lock_key(e164: &str, purpose: CodePurpose) -> i64 {
    let digest =
        Sha256::digest(format!("phonereg auth_codes\n{e164}\n{}", purpose.as_str()).as_bytes());
    let mut bytes = [0; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
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

/// As `codes::add_channel`, for a number's credential code.
pub fn add_channel(conn: &mut Conn<'_>, row: &AuthCodeRow, to: &str) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(auth_codes::table
        .find((&row.e164, &row.purpose))
        .filter(auth_codes::code_hash.eq(&row.code_hash))
        .filter(auth_codes::channels.eq(&row.channels)))
        .set(auth_codes::channels.eq(to))
        .execute(c))?;
    Ok(n == 1)
}
