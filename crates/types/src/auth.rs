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
    /// A bot-challenge token, when one is asked for (or the `X-Captcha-Token` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
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
    /// Whether signing in also needs a code sent to the verified number (SPEC §8).
    #[serde(default)]
    pub two_factor: bool,
    /// Unused recovery codes (SPEC §10); 0 when two-factor is off.
    #[serde(default)]
    pub recovery_codes_left: i64,
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

/// What a code sent by `POST /auth/sms/start` is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsCodePurpose {
    /// `POST /auth/sms/sign-in`.
    SignIn,
    /// `POST /auth/password-reset`.
    PasswordReset,
}

/// `POST /api/v1/auth/sms/start`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmsStartRequest {
    /// The number in any format the parser understands.
    pub phone_number: String,
    /// Region hint for a national-format number (ISO alpha-2, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
    /// What the code will be good for (and only that).
    pub purpose: SmsCodePurpose,
    /// A bot-challenge token, when one is asked for (or the `X-Captcha-Token` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
    /// How to send it (SPEC §13); absent: the number's first channel. Another channel
    /// resends the live code, with the same expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<crate::vocab::Channel>,
}

/// `202` from `POST /auth/sms/start` and `POST /users/me/two-factor/code`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerificationResponse {
    /// The code's state; the same whether or not the number has an account.
    pub verification: Verification,
}

/// `POST /api/v1/auth/sms/sign-in`.
#[derive(Clone, Serialize, Deserialize)]
pub struct SmsSignInRequest {
    pub phone_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
    /// Six ASCII digits.
    pub code: String,
}

/// `POST /api/v1/auth/password-reset`. The password never appears in `Debug` output.
#[derive(Clone, Serialize, Deserialize)]
pub struct PasswordResetRequest {
    pub phone_number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
    /// Six ASCII digits from a `password_reset` start.
    pub code: String,
    /// 8..=128 Unicode scalar values, not trimmed.
    pub new_password: String,
    /// On a two-factor account the SIM alone is not enough: one of the account's
    /// recovery codes (`xxxx-xxxx`) is needed too (SPEC §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

/// `200` from `POST /auth/login` when the account has two-factor on: no tokens yet.
#[derive(Clone, Serialize, Deserialize)]
pub struct MfaRequired {
    /// Always `true`.
    pub mfa_required: bool,
    /// Single use, 5 minutes; send it with the code to `POST /auth/login/verify`.
    pub mfa_token: String,
    /// The code sent to the account's verified number.
    pub verification: Verification,
}

/// `POST /api/v1/auth/login/verify`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginVerifyRequest {
    pub mfa_token: String,
    /// Six ASCII digits; or give `recovery_code` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One of the account's recovery codes (`xxxx-xxxx`), used up by this sign-in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
}

/// `PUT /api/v1/users/me/two-factor`.
#[derive(Clone, Serialize, Deserialize)]
pub struct TwoFactorRequest {
    pub enabled: bool,
    /// The account's password, needed either way.
    pub password: String,
    /// A code from `POST /users/me/two-factor/code`, needed to turn it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// `200` from `PUT /api/v1/users/me/two-factor`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorResponse {
    pub enabled: bool,
    /// Ten single-use codes, shown this once: present when two-factor was just turned on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// `POST /api/v1/users/me/recovery-codes`: a new set replaces the old one.
#[derive(Clone, Serialize, Deserialize)]
pub struct RecoveryCodesRequest {
    /// The account's password.
    pub password: String,
}

/// `201` from `POST /api/v1/users/me/recovery-codes`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryCodesResponse {
    /// Ten single-use codes (`xxxx-xxxx`), shown this once.
    pub recovery_codes: Vec<String>,
}

/// `DELETE /api/v1/users/me/phone-numbers/{id}`: the body is needed only for a verified
/// number, whose removal needs the password (SPEC §10).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct DeletePhoneRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
}
