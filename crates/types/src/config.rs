//! `GET /api/v1/config`: what a client needs to know before its first request, and the
//! bot challenge a `captcha-required` problem asks for (SPEC §11).

use serde::{Deserialize, Serialize};

use crate::vocab::{CaptchaMode, CaptchaProvider, Channel};

/// The header that carries a bot-challenge token (or the body field `captcha_token`).
pub const CAPTCHA_TOKEN_HEADER: &str = "X-Captcha-Token";

/// `GET /api/v1/config`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The bot challenge, or null when the server asks for none.
    pub captcha: Option<CaptchaConfig>,
}

/// The bot challenge of this server and when it is asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptchaConfig {
    pub provider: CaptchaProvider,
    /// The public site key the widget is rendered with.
    pub site_key: String,
    pub mode: CaptchaMode,
}

/// What a `captcha-required` problem asks the client to show: the provider's widget with
/// this site key; its token goes in `X-Captcha-Token` (or `captcha_token`) on the retry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptchaChallenge {
    pub provider: CaptchaProvider,
    pub site_key: String,
}

/// `POST /users/me/phone-numbers/{id}/verification`: an optional body, for the token
/// and the channel.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ResendRequest {
    /// A bot-challenge token, when one is asked for (or `X-Captcha-Token`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
    /// How to send it (SPEC §13); absent: the number's first channel (SMS, or voice for a
    /// fixed line). Another channel resends the live code, with the same expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}

/// `POST /users/me/two-factor/code`: an optional body, for the channel.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CodeRequest {
    /// As [`ResendRequest::channel`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
}
