//! Accounts.

use diesel::prelude::*;
use phonereg_types::PhoneStatus;

use super::{
    Conn, KeepPreparedDsl as _, is_unique_violation,
    models::{NewUser, PhoneRow, UserRow},
    schema::{phone_numbers, users},
    with_conn,
};
use crate::error::ApiError;

/// Inserts an account; a taken email is a conflict.
pub fn insert(conn: &mut Conn<'_>, new: &NewUser<'_>) -> Result<UserRow, ApiError> {
    with_conn!(conn, c => diesel::insert_into(users::table)
        .values(new)
        .returning(UserRow::as_returning())
        .keep_prepared()
        .get_result(c))
    .map_err(|e| {
        if is_unique_violation(&e, "email") {
            ApiError::Conflict("An account with this email address already exists.".into())
        } else {
            e.into()
        }
    })
}

pub fn find_by_email(conn: &mut Conn<'_>, email: &str) -> Result<Option<UserRow>, ApiError> {
    Ok(with_conn!(conn, c => users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .load(c))?
    .into_iter()
    .next())
}

/// The account and its phone record, in one query.
pub fn find_with_phone(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> Result<Option<(UserRow, Option<PhoneRow>)>, ApiError> {
    let rows = with_conn!(conn, c => users::table
        .left_join(phone_numbers::table)
        .filter(users::id.eq(user_id))
        .select((UserRow::as_select(), Option::<PhoneRow>::as_select()))
        .load(c))?;
    Ok(rows.into_iter().next())
}

/// The account whose **verified** number is `e164`, with that phone record: only a
/// verified number is a credential (SPEC §8).
pub fn find_by_verified_number(
    conn: &mut Conn<'_>,
    e164: &str,
) -> Result<Option<(UserRow, PhoneRow)>, ApiError> {
    Ok(with_conn!(conn, c => users::table
        .inner_join(phone_numbers::table)
        .filter(phone_numbers::e164.eq(e164))
        .filter(phone_numbers::status.eq(PhoneStatus::Verified))
        .select((UserRow::as_select(), PhoneRow::as_select()))
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

pub fn find(conn: &mut Conn<'_>, user_id: i64) -> Result<Option<UserRow>, ApiError> {
    Ok(with_conn!(conn, c => users::table
        .find(user_id)
        .select(UserRow::as_select())
        .load(c))?
    .into_iter()
    .next())
}

pub fn set_password_hash(conn: &mut Conn<'_>, user_id: i64, hash: &str) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(hash))
        .execute(c))?;
    Ok(())
}

/// Switches two-step sign-in unless it already is `on`; true when this call did. One
/// conditional UPDATE: of two racing "turn on"s exactly one hands out recovery codes.
pub fn set_two_factor(conn: &mut Conn<'_>, user_id: i64, on: bool) -> Result<bool, ApiError> {
    let n = with_conn!(conn, c => diesel::update(users::table
        .find(user_id)
        .filter(users::two_factor.ne(on)))
        .set(users::two_factor.eq(on))
        .execute(c))?;
    Ok(n == 1)
}
