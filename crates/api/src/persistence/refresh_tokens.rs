//! Refresh-token rows: only hashes are stored.

use diesel::prelude::*;

use super::{
    Conn, KeepPreparedDsl as _,
    models::{NewRefreshToken, RefreshTokenRow},
    schema::refresh_tokens,
    with_conn,
};
use crate::error::ApiError;

/// The advisory-lock namespace of an account's sessions (the two-key form, with the
/// account id folded into 32 bits; two accounts that collide only take turns).
const SESSION_LOCKS: i32 = 0x5345_5353; // "SESS"

/// What a transaction is about to do to an account's sessions.
#[derive(Clone, Copy)]
enum SessionLock {
    /// Rotate a token: rotations of one account's sessions may run side by side.
    Rotate,
    /// Revoke tokens: waits for every rotation in flight and keeps new ones out.
    End,
}

/// Serialises ending an account's sessions against rotating them, on PostgreSQL.
///
/// Under READ COMMITTED a revoking `UPDATE … WHERE revoked_at IS NULL` works from a
/// snapshot taken when it starts: a token that a concurrent rotation inserts and commits
/// meanwhile is not in it, and survived the reset, logout or reuse revocation (a thief
/// refreshing in a loop kept a live token in 6 of 20 logouts). With this lock a rotation
/// commits before the revocation's statements start (so they see its token), or starts
/// after the revocation committed (so its `mark_rotated` finds the token revoked).
/// Transaction-level advisory lock rather than `FOR UPDATE` on the user row, the same
/// choice as the phone-record lock: it orders against nothing else that locks users.
/// SQLite has one writer at a time.
fn lock_sessions(conn: &mut Conn<'_>, user_id: i64, how: SessionLock) -> Result<(), ApiError> {
    if let Conn::Postgres(c) = conn {
        let sql = match how {
            SessionLock::Rotate => "SELECT pg_advisory_xact_lock_shared($1, $2)",
            SessionLock::End => "SELECT pg_advisory_xact_lock($1, $2)",
        };
        diesel::sql_query(sql)
            .bind::<diesel::sql_types::Integer, _>(SESSION_LOCKS)
            .bind::<diesel::sql_types::Integer, _>((user_id ^ (user_id >> 32)) as i32)
            .execute(*c)?;
    }
    Ok(())
}

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

/// The account of session `family` while it holds a token neither revoked nor expired.
pub fn live_family_owner(
    conn: &mut Conn<'_>,
    family: &str,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(with_conn!(conn, c => refresh_tokens::table
        .filter(refresh_tokens::family.eq(family))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::expires_at.gt(now))
        .select(refresh_tokens::user_id)
        .load(c))?
    .into_iter()
    .next())
}

/// Marks the token rotated unless someone else already did (or it was revoked); true
/// when this call won. The `rotated_at IS NULL` guard is what lets exactly one of two
/// racing refreshes pass. Takes the account's session lock first, so a revocation in
/// flight either sees the token the caller inserts next or has already revoked this one.
pub fn mark_rotated(
    conn: &mut Conn<'_>,
    user_id: i64,
    id: i64,
    now: i64,
) -> Result<bool, ApiError> {
    lock_sessions(conn, user_id, SessionLock::Rotate)?;
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
pub fn revoke_family(
    conn: &mut Conn<'_>,
    user_id: i64,
    family: &str,
    now: i64,
) -> Result<(), ApiError> {
    lock_sessions(conn, user_id, SessionLock::End)?;
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
    lock_sessions(conn, user_id, SessionLock::End)?;
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
    lock_sessions(conn, user_id, SessionLock::End)?;
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

/// Sessions revoked at or after `since` (by any API process).
pub fn revoked_since(conn: &mut Conn<'_>, since: i64) -> Result<Vec<String>, ApiError> {
    Ok(with_conn!(conn, c => refresh_tokens::table
        .filter(refresh_tokens::revoked_at.ge(since))
        .select(refresh_tokens::family)
        .distinct()
        .load(c))?)
}
