//! Verification codes: one live row per phone record, only the keyed hash stored.

use diesel::prelude::*;

use super::{Conn, KeepPreparedDsl as _, models::CodeRow, schema::verification_codes, with_conn};
use crate::error::ApiError;

/// Stores a new code for the record, replacing (and so killing) any previous one.
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

/// Spends one attempt; returns how many are left.
pub fn spend_attempt(conn: &mut Conn<'_>, phone_id: i64) -> Result<i32, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::update(verification_codes::table.find(phone_id))
        .set(verification_codes::attempts_left.eq(verification_codes::attempts_left - 1))
        .returning(verification_codes::attempts_left)
        .keep_prepared()
        .get_result(c))?,
    )
}

pub fn delete(conn: &mut Conn<'_>, phone_id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::delete(verification_codes::table.find(phone_id)).execute(c))?;
    Ok(())
}
