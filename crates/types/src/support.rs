//! The support API (SPEC §12, `/api/v1/admin/users*`) and an account's own deletion
//! (`DELETE /api/v1/users/me`).

use serde::{Deserialize, Serialize};

use crate::{
    phone::Phone,
    vocab::{MessageKind, MessageStatus},
};

/// Longest `reason` an operator may give (characters).
pub const REASON_MAX_CHARS: usize = 500;

/// An account as operators see it: no password hash, no codes, no tokens.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUser {
    pub id: i64,
    pub email: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The phone object of SPEC §4, or null.
    pub phone: Option<Phone>,
    /// Two-step sign-in is on.
    pub two_factor: bool,
    /// Unused recovery codes (0 while two-step sign-in is off).
    pub recovery_codes_left: i64,
    /// Password sign-in is refused until then (RFC 3339 UTC) because of wrong
    /// passwords, from every network or from one the account's recent failures came
    /// from; null when it is not locked.
    pub locked_until: Option<String>,
}

/// `GET /admin/users?phone=|email=|id=`: every account matching exactly (a number may be
/// unverified on several accounts, and verified on at most one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUserList {
    pub items: Vec<AdminUser>,
}

/// One SMS of an account, as operators see it: never its body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminMessage {
    pub id: i64,
    /// What the message was for (a verification code, a sign-in code, a notice…).
    pub kind: MessageKind,
    /// In Twilio's vocabulary, plus `canceled` for a code that died in the queue.
    pub status: MessageStatus,
    /// The provider's error code, if it failed.
    pub error_code: Option<i64>,
    /// A plain sentence about the failure, or null.
    pub guidance: Option<String>,
    /// The provider that took it (`twilio`, `console`), or null while nothing was sent.
    pub provider: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// A limit that currently counts against the account or its number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitInForce {
    /// The limit's name (`login_email_all_networks`, `sms_account`, `resend_cooldown`…).
    pub name: String,
    /// What it counts: `account`, `number`, or `network <client>` for one network's
    /// wrong passwords.
    pub scope: String,
    /// Events counted in the current window.
    pub used: i64,
    /// The most the window allows.
    pub max: i64,
    /// When the window (or the cool-down) ends, RFC 3339 UTC.
    pub resets_at: String,
    /// True when the next event would be refused.
    pub blocked: bool,
}

/// `GET /admin/users/{id}`: the account, its last 50 messages and the limits in force.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUserDetail {
    #[serde(flatten)]
    pub user: AdminUser,
    /// Newest first, at most 50.
    pub messages: Vec<AdminMessage>,
    /// The counters with something counted in their current window.
    pub limits: Vec<LimitInForce>,
}

/// The body of every support action: why the operator acts (kept in the audit log).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupportReason {
    /// 1..=500 characters, e.g. a ticket number and what was checked.
    pub reason: String,
}

/// `PUT /admin/users/{id}/two-factor`: operators may only turn it off.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SupportTwoFactorRequest {
    /// Must be false: only the account's holder turns two-step sign-in on.
    pub enabled: bool,
    /// 1..=500 characters.
    pub reason: String,
}

/// `200` from `PUT /admin/users/{id}/two-factor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SupportTwoFactorResponse {
    pub enabled: bool,
}

/// `200` from `POST /admin/users/{id}/sessions/revoke`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionsRevoked {
    /// Sessions (refresh-token families) ended; their access tokens run out on their own.
    pub revoked: i64,
}

/// `DELETE /users/me`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DeleteAccountRequest {
    /// The account's password, asked again (SPEC §10).
    pub current_password: String,
}
