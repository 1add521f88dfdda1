//! Accounts as the support API finds them (exact matches only), their messages as
//! operators see them, and an account's removal.

use diesel::prelude::*;

use super::{
    Conn,
    models::{MessageRow, PhoneRow, UserRow},
    schema::{auth_codes, phone_numbers, rate_counters, sms_messages, users},
    with_conn,
};
use crate::error::ApiError;

/// The account with exactly this (normalised) email, with its phone.
pub fn by_email(
    conn: &mut Conn<'_>,
    email: &str,
) -> Result<Vec<(UserRow, Option<PhoneRow>)>, ApiError> {
    Ok(with_conn!(conn, c => users::table
        .left_join(phone_numbers::table)
        .filter(users::email.eq(email))
        .select((UserRow::as_select(), Option::<PhoneRow>::as_select()))
        .load(c))?)
}

/// The accounts whose record holds `e164`, as its number or as a pending change, at most
/// `limit` of them, oldest account first.
pub fn by_number(
    conn: &mut Conn<'_>,
    e164: &str,
    limit: i64,
) -> Result<Vec<(UserRow, Option<PhoneRow>)>, ApiError> {
    let rows: Vec<(UserRow, PhoneRow)> = with_conn!(conn, c => users::table
        .inner_join(phone_numbers::table)
        .filter(
            phone_numbers::e164
                .eq(e164)
                .or(phone_numbers::pending_e164.eq(e164)),
        )
        .order(users::id.asc())
        .limit(limit)
        .select((UserRow::as_select(), PhoneRow::as_select()))
        .load(c))?;
    Ok(rows.into_iter().map(|(u, p)| (u, Some(p))).collect())
}

/// The record's newest `limit` messages, newest first.
pub fn recent_messages(
    conn: &mut Conn<'_>,
    phone_id: i64,
    limit: i64,
) -> Result<Vec<MessageRow>, ApiError> {
    Ok(with_conn!(conn, c => sms_messages::table
        .filter(sms_messages::phone_id.eq(phone_id))
        .order(sms_messages::id.desc())
        .limit(limit)
        .select(MessageRow::as_select())
        .load(c))?)
}

/// Inside the caller's transaction, the record already locked: the account and all it
/// holds. Its messages first (their foreign key would only be set to null, and a queued
/// one would still be sent), its sign-in and reset codes (keyed by number, no foreign
/// key), then the account row, which takes its sessions, number, history, codes,
/// recovery codes, challenges, events and stream tickets with it (ON DELETE CASCADE).
/// The audit log keeps its rows: they hold ids, never an email or a number.
pub fn remove(conn: &mut Conn<'_>, user_id: i64, phone_id: Option<i64>) -> Result<(), ApiError> {
    if let Some(phone_id) = phone_id {
        with_conn!(conn, c => diesel::delete(sms_messages::table
            .filter(sms_messages::phone_id.eq(phone_id)))
            .execute(c))?;
    }
    drop_sign_in_codes(conn, user_id)?;
    with_conn!(conn, c => diesel::delete(users::table.find(user_id)).execute(c))?;
    Ok(())
}

/// Clears the counters stored under `keys` (every window): an operator's unlock.
pub fn clear_counters(conn: &mut Conn<'_>, keys: &[String]) -> Result<usize, ApiError> {
    if keys.is_empty() {
        return Ok(0);
    }
    Ok(with_conn!(conn, c => diesel::delete(rate_counters::table
        .filter(rate_counters::key.eq_any(keys)))
        .execute(c))?)
}

/// The account's live sign-in and reset codes (its number was released).
pub fn drop_sign_in_codes(conn: &mut Conn<'_>, user_id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::delete(auth_codes::table
        .filter(auth_codes::user_id.eq(Some(user_id))))
        .execute(c))?;
    Ok(())
}
