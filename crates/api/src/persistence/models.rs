//! Rows as diesel reads and writes them.

use diesel::prelude::*;

use super::schema::{
    phone_history, phone_numbers, refresh_tokens, sms_messages, users, verification_codes,
};

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub full_name: String,
    pub created_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub full_name: &'a str,
    pub created_at: i64,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneRow {
    pub id: i64,
    pub user_id: i64,
    pub e164: String,
    pub national: String,
    pub international: String,
    pub country: String,
    pub number_type: String,
    pub status: String,
    pub verified_at: Option<i64>,
    pub pending_e164: Option<String>,
    pub sms_opted_out: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_id: Option<i64>,
    pub last_message_status: Option<String>,
    pub last_message_error: Option<i64>,
    pub last_message_at: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = phone_numbers)]
pub struct NewPhone<'a> {
    pub user_id: i64,
    pub e164: &'a str,
    pub national: &'a str,
    pub international: &'a str,
    pub country: &'a str,
    pub number_type: &'a str,
    pub status: &'a str,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The parsed number's columns, for an in-place replacement.
#[derive(AsChangeset)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneNumberChanges<'a> {
    pub e164: &'a str,
    pub national: &'a str,
    pub international: &'a str,
    pub country: &'a str,
    pub number_type: &'a str,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = phone_history)]
pub struct HistoryRow {
    pub id: i64,
    pub phone_id: i64,
    pub at: i64,
    pub kind: String,
    pub detail: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = phone_history)]
pub struct NewHistory<'a> {
    pub phone_id: i64,
    pub at: i64,
    pub kind: &'a str,
    pub detail: Option<&'a str>,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: i64,
    pub user_id: i64,
    pub family: String,
    pub token_hash: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct NewRefreshToken<'a> {
    pub user_id: i64,
    pub family: &'a str,
    pub token_hash: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Clone, Debug, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = verification_codes)]
pub struct CodeRow {
    pub phone_id: i64,
    pub e164: String,
    pub code_hash: String,
    pub attempts_left: i32,
    pub expires_at: i64,
    pub resend_after: i64,
    pub sent: bool,
    pub created_at: i64,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sms_messages)]
pub struct MessageRow {
    pub id: i64,
    pub phone_id: Option<i64>,
    pub to_e164: String,
    pub body: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub claimed_until: Option<i64>,
    pub provider_sid: Option<String>,
    pub error_code: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Insertable)]
#[diesel(table_name = sms_messages)]
pub struct NewMessage<'a> {
    pub phone_id: Option<i64>,
    pub to_e164: &'a str,
    pub body: &'a str,
    pub kind: &'a str,
    pub status: &'a str,
    pub next_attempt_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}
