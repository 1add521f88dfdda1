//! Accounts and tokens (`/api/v1/auth/*`, `/api/v1/users/me`).

use serde::{Deserialize, Serialize};

use crate::phone::{Phone, Verification};

/// `POST /api/v1/auth/register`. Passwords never appear in `Debug` output.
#[derive(Clone, Serialize, Deserialize)]
pub struct RegisterRequest {
    /// Normalised by [`crate::validation::parse_email`].
    pub email: String,
    /// 8..=128 Unicode scalar values, not trimmed.
    pub password: String,
    /// Trimmed, 1..=100 characters.
    pub full_name: String,
    /// Optional phone number, in any format the parser understands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Region hint for a national-format `phone_number` (ISO alpha-2, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
}

/// `POST /api/v1/auth/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// Normalised like at registration.
    pub email: String,
    /// Checked against the stored Argon2id hash.
    pub password: String,
}

/// `POST /api/v1/auth/refresh` and `/logout`; the token may come from the cookie instead.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct RefreshRequest {
    /// The refresh token from a previous token response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An account as every endpoint returns it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Account id.
    pub id: i64,
    /// Normalised email address.
    pub email: String,
    /// Trimmed full name.
    pub full_name: String,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// The account's phone number, if it has one.
    pub phone: Option<Phone>,
}

/// Register, login and refresh answer with this shape.
#[derive(Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The signed-in account.
    pub user: User,
    /// JWT HS256 bearer token.
    pub access_token: String,
    /// Opaque, single-use refresh token (also set as the `phonereg_refresh` cookie).
    /// Absent when a refresh was answered from the cookie: a page that never saw the
    /// token (the SPA) must not be handed it in readable JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: i64,
    /// Present on registration with a phone number: the first code's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}
