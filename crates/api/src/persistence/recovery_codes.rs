//! Recovery codes of two-factor accounts (SPEC §10): keyed hashes, each used once.

use diesel::prelude::*;

use super::{
    Conn,
    schema::{recovery_codes, users},
    with_conn,
};
use crate::error::ApiError;

/// The advisory-lock namespace of an account's recovery codes (with the account id).
const USER_LOCKS: i32 = 0x5245_4353; // "RECS"

/// Replaces the account's set with `hashes` (a new set, or none when two-factor goes off).
pub fn replace_all(
    conn: &mut Conn<'_>,
    user_id: i64,
    hashes: &[String],
    now: i64,
) -> Result<(), ApiError> {
    // Two renewals (or a renewal and turning two-step off) take turns on PostgreSQL, so
    // each deletes what the other inserted and the count stays true.
    if let Conn::Postgres(c) = conn {
        diesel::sql_query("SELECT pg_advisory_xact_lock($1, $2)")
            .bind::<diesel::sql_types::Integer, _>(USER_LOCKS)
            .bind::<diesel::sql_types::Integer, _>((user_id ^ (user_id >> 32)) as i32)
            .execute(*c)?;
    }
    with_conn!(conn, c => diesel::delete(recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id)))
        .execute(c))?;
    let left = i32::try_from(hashes.len()).unwrap_or(i32::MAX);
    with_conn!(conn, c => diesel::update(users::table.find(user_id))
        .set(users::recovery_codes_left.eq(left))
        .execute(c))?;
    if hashes.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = hashes
        .iter()
        .map(|h| {
            (
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(h),
                recovery_codes::created_at.eq(now),
            )
        })
        .collect();
    with_conn!(conn, c => diesel::insert_into(recovery_codes::table)
        .values(&rows)
        .execute(c))?;
    Ok(())
}

/// Uses the code whose hash is `code_hash` if it is the account's and unused; true when
/// this call did. One conditional UPDATE: of two racing uses exactly one wins.
pub fn use_code(
    conn: &mut Conn<'_>,
    user_id: i64,
    code_hash: &str,
    now: i64,
) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(recovery_codes::table
        .find((user_id, code_hash))
        .filter(recovery_codes::used_at.is_null()))
        .set(recovery_codes::used_at.eq(now))
        .execute(c))?;
    if n == 1 {
        with_conn!(conn, c => diesel::update(users::table.find(user_id))
            .set(users::recovery_codes_left.eq(users::recovery_codes_left - 1))
            .execute(c))?;
    }
    Ok(n == 1)
}

/// Whether the account has this code, unused (read under the caller's transaction).
pub fn is_unused(conn: &mut Conn<'_>, user_id: i64, code_hash: &str) -> Result<bool, ApiError> {
    let n: i64 = with_conn!(conn, c => recovery_codes::table
        .find((user_id, code_hash))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(c))?;
    Ok(n == 1)
}
