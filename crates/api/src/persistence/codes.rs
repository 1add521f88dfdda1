//! Verification codes: one live row per phone record, only the keyed hash stored.

use diesel::{OptionalExtension as _, prelude::*};
use phonereg_types::MessageKind;

use super::{Conn, KeepPreparedDsl as _, models::CodeRow, schema::verification_codes, with_conn};
use crate::error::ApiError;

/// The outbox `kind` of the SMS that carry these codes.
pub const CODE_KIND: MessageKind = MessageKind::Code;

/// Stores a new code for the record, replacing (and so killing) any previous one; the
/// caller retires the dead code's messages (`outbox::retire_codes`).
pub fn replace(conn: &mut Conn<'_>, row: &CodeRow) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(verification_codes::table)
        .values(row)
        .on_conflict(verification_codes::phone_id)
        .do_update()
        .set(row)
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Spends one attempt of the code whose hash is `code_hash`, if it still has one;
/// returns how many are left, or None when none was (or the code is gone).
///
/// One conditional UPDATE: on PostgreSQL it takes the row lock and a racer waiting on it
/// re-checks `attempts_left > 0` once the first commits, so parallel guesses get at most
/// the attempts left between them.
pub fn take_attempt(
    conn: &mut Conn<'_>,
    phone_id: i64,
    code_hash: &str,
) -> Result<Option<i32>, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::update(verification_codes::table
        .filter(verification_codes::phone_id.eq(phone_id))
        .filter(verification_codes::code_hash.eq(code_hash))
        .filter(verification_codes::attempts_left.gt(0)))
        .set(verification_codes::attempts_left.eq(verification_codes::attempts_left - 1))
        .returning(verification_codes::attempts_left)
        .keep_prepared()
        .get_result(c)
        .optional())?,
    )
}

/// Removes the record's code (it was used); the caller retires its messages.
pub fn delete(conn: &mut Conn<'_>, phone_id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::delete(verification_codes::table.find(phone_id)).execute(c))?;
    Ok(())
}

/// Records that the live code (`code_hash`) also went by another channel: `channels`
/// becomes `to`, if it is still `from`. False when a racing request changed it first (or
/// the code is gone), so each channel carries a code at most once.
pub fn add_channel(
    conn: &mut Conn<'_>,
    phone_id: i64,
    code_hash: &str,
    from: &str,
    to: &str,
) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(verification_codes::table
        .filter(verification_codes::phone_id.eq(phone_id))
        .filter(verification_codes::code_hash.eq(code_hash))
        .filter(verification_codes::channels.eq(from)))
        .set(verification_codes::channels.eq(to))
        .execute(c))?;
    Ok(n == 1)
}
