//! Rows as diesel reads and writes them.

use diesel::prelude::*;
use phonereg_types::{
    Channel, CodePurpose, FraudAction, FraudScope, HistoryKind, MessageKind, MessageStatus,
    NumberType, PhoneStatus, SmsProviderName,
};

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
    pub two_factor: bool,
    /// Unused recovery codes, kept with the account so every `user` answer has it.
    pub recovery_codes_left: i32,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub struct NewUser<'a> {
    pub email: &'a str,
    pub password_hash: &'a str,
    pub full_name: &'a str,
    pub created_at: i64,
}

// By name too: PostgreSQL reads it with its lock (`phones::find_owned_with_code`).
#[derive(Clone, Debug, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = phone_numbers)]
pub struct PhoneRow {
    pub id: i64,
    pub user_id: i64,
    pub e164: String,
    pub national: String,
    pub international: String,
    pub country: String,
    pub number_type: NumberType,
    pub status: PhoneStatus,
    pub verified_at: Option<i64>,
    pub pending_e164: Option<String>,
    pub sms_opted_out: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_message_id: Option<i64>,
    pub last_message_status: Option<MessageStatus>,
    pub last_message_error: Option<i64>,
    pub last_message_at: Option<i64>,
    /// Who carries the last message; None while it is queued.
    pub last_message_provider: Option<SmsProviderName>,
    pub last_message_channel: Option<Channel>,
}

impl PhoneRow {
    /// The record's last message, status and time, for the code engine: a failed first
    /// message opens a code's other channels at once (SPEC §13).
    pub fn last_message(&self) -> Option<(MessageStatus, i64)> {
        self.last_message_status.zip(self.last_message_at)
    }
}

#[derive(Insertable)]
#[diesel(table_name = phone_numbers)]
pub struct NewPhone<'a> {
    pub user_id: i64,
    pub e164: &'a str,
    pub national: &'a str,
    pub international: &'a str,
    pub country: &'a str,
    pub number_type: NumberType,
    pub status: PhoneStatus,
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
    pub number_type: NumberType,
}

impl<'a> From<&'a crate::domain::PhoneNumber> for PhoneNumberChanges<'a> {
    fn from(number: &'a crate::domain::PhoneNumber) -> Self {
        Self {
            e164: &number.e164,
            national: &number.national,
            international: &number.international,
            country: &number.country,
            number_type: number.number_type,
        }
    }
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = phone_history)]
pub struct HistoryRow {
    pub id: i64,
    pub phone_id: i64,
    pub at: i64,
    pub kind: HistoryKind,
    pub detail: Option<String>,
    /// For a message's outcome: who carried it, and how.
    pub provider: Option<SmsProviderName>,
    pub channel: Option<Channel>,
}

#[derive(Insertable)]
#[diesel(table_name = phone_history)]
pub struct NewHistory<'a> {
    pub phone_id: i64,
    pub at: i64,
    pub kind: HistoryKind,
    pub detail: Option<&'a str>,
    pub provider: Option<SmsProviderName>,
    pub channel: Option<Channel>,
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
#[diesel(table_name = verification_codes, treat_none_as_null = true)]
pub struct CodeRow {
    pub phone_id: i64,
    pub e164: String,
    pub code_hash: String,
    pub attempts_left: i32,
    pub expires_at: i64,
    pub resend_after: i64,
    pub sent: bool,
    pub created_at: i64,
    /// The code sealed for a resend on another channel (`services::codes`); None when
    /// nobody may read it again.
    pub code_sealed: Option<String>,
    /// The channels it went by, first first, comma-separated (`sms`, `sms,voice`).
    pub channels: String,
}

#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = sms_messages)]
pub struct MessageRow {
    pub id: i64,
    pub phone_id: Option<i64>,
    pub to_e164: String,
    pub body: String,
    pub kind: MessageKind,
    pub status: MessageStatus,
    pub attempts: i32,
    pub next_attempt_ms: i64,
    /// The lease of the worker sending it; its value identifies that claim.
    pub claimed_until: Option<i64>,
    pub provider_sid: Option<String>,
    pub error_code: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set once a send was tried: the message may be at the provider (see the migration).
    pub fingerprint: Option<String>,
    /// When the code it carries dies; None for a message without a code.
    pub code_expires_at: Option<i64>,
    /// The `traceparent` of the span that queued it, so its sending joins that trace.
    pub trace_context: Option<String>,
    /// Who it was (last) given to; set when it is claimed, before anything is sent, so a
    /// send that may have landed is looked for at the provider it went to.
    pub provider: Option<SmsProviderName>,
    pub channel: Channel,
    /// The language the body was written in.
    pub locale: String,
    /// Retryable failures at its current provider (failover moves it past a number).
    pub provider_tries: i32,
}

#[derive(Insertable)]
#[diesel(table_name = sms_messages)]
pub struct NewMessage<'a> {
    pub phone_id: Option<i64>,
    pub to_e164: &'a str,
    pub body: &'a str,
    pub kind: MessageKind,
    pub channel: Channel,
    pub locale: &'a str,
    pub status: MessageStatus,
    pub next_attempt_ms: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub code_expires_at: Option<i64>,
    pub trace_context: Option<&'a str>,
}

/// A pause of the SMS fraud guard (SPEC §9).
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = super::schema::sms_fraud_pauses)]
pub struct PauseRow {
    pub id: i64,
    pub scope: FraudScope,
    /// `+55119` for a range, `BR` for a country.
    pub key: String,
    pub country: String,
    pub since: i64,
    pub until: i64,
    /// Codes sent and verified in the window that caused the pause.
    pub sent: i64,
    pub verified: i64,
    /// False for a pause taken in record mode: shown to operators, never applied.
    pub enforced: bool,
    pub lifted_at: Option<i64>,
    /// The operator who lifted it (their name in `ADMIN_TOKENS`).
    pub lifted_by: Option<String>,
}

impl PauseRow {
    /// When the pause stops (or stopped) applying: lifted, or run out.
    pub fn end(&self) -> i64 {
        self.lifted_at
            .map_or(self.until, |lifted| lifted.min(self.until))
    }

    pub fn in_force(&self, now: i64) -> bool {
        self.end() > now
    }
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::sms_fraud_pauses)]
pub struct NewPause<'a> {
    pub scope: FraudScope,
    pub key: &'a str,
    pub country: &'a str,
    pub since: i64,
    pub until: i64,
    pub sent: i64,
    pub verified: i64,
    pub enforced: bool,
}

/// One decision of the SMS fraud guard, for operators.
#[derive(Clone, Debug, Queryable, Selectable)]
#[diesel(table_name = super::schema::sms_fraud_decisions)]
pub struct DecisionRow {
    pub id: i64,
    pub at: i64,
    pub action: FraudAction,
    pub scope: FraudScope,
    pub key: String,
    pub country: String,
    pub sent: i64,
    pub verified: i64,
    pub pause_id: Option<i64>,
    /// The operator who acted; `None` for the guard's own decisions.
    pub operator: Option<String>,
}

#[derive(Insertable)]
#[diesel(table_name = super::schema::sms_fraud_decisions)]
pub struct NewDecision<'a> {
    pub at: i64,
    pub action: FraudAction,
    pub scope: FraudScope,
    pub key: &'a str,
    pub country: &'a str,
    pub sent: i64,
    pub verified: i64,
    pub pause_id: Option<i64>,
    pub operator: Option<&'a str>,
}

/// A code proving possession of a number for one purpose (SPEC §8). `user_id` is None
/// for a decoy: a number without an account, answered as if it had a live code.
// By name too: PostgreSQL reads it with its lock (`auth_codes::find`).
#[derive(Clone, Debug, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = super::schema::auth_codes, treat_none_as_null = true)]
pub struct AuthCodeRow {
    pub e164: String,
    pub purpose: CodePurpose,
    pub user_id: Option<i64>,
    pub code_hash: String,
    pub challenge: Option<String>,
    pub attempts_left: i32,
    pub expires_at: i64,
    pub resend_after: i64,
    pub sent: bool,
    pub created_at: i64,
    /// As [`CodeRow::code_sealed`]; None for a decoy.
    pub code_sealed: Option<String>,
    /// As [`CodeRow::channels`].
    pub channels: String,
}

/// A password login waiting for its second factor.
#[derive(Clone, Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::mfa_challenges)]
pub struct MfaChallengeRow {
    pub token_hash: String,
    pub user_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub created_at: i64,
}
