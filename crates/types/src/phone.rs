//! The phone-number record, lookups and verification state.

use serde::{Deserialize, Serialize};

use crate::vocab::{Channel, HistoryKind, MessageStatus, NumberType, PhoneStatus, SmsProviderName};

/// `POST /users/me/phone-numbers` and `PATCH /users/me/phone-numbers/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhoneNumberRequest {
    /// The number in any format the parser understands.
    pub phone_number: String,
    /// Region hint for a national-format number (ISO alpha-2, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_region: Option<String>,
    /// The account's password: needed to replace a verified number (SPEC §10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_password: Option<String>,
    /// A bot-challenge token, when one is asked for (or the `X-Captcha-Token` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha_token: Option<String>,
}

/// `POST /users/me/phone-numbers/{id}/verify`.
#[derive(Clone, Serialize, Deserialize)]
pub struct VerifyRequest {
    /// Six ASCII digits.
    pub code: String,
}

/// The phone object of SPEC §4/§7.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phone {
    /// Record id.
    pub id: i64,
    /// E.164 form, e.g. `+14155552671`.
    pub e164: String,
    /// National format, e.g. `(415) 555-2671`.
    pub national: String,
    /// International format, e.g. `+1 415-555-2671`.
    pub international: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    /// One of the `number_type` values of SPEC §7.
    pub number_type: NumberType,
    /// `unverified` or `verified`.
    pub status: PhoneStatus,
    /// When the current number was verified (RFC 3339 UTC).
    pub verified_at: Option<String>,
    /// The replacement number awaiting verification, in E.164.
    pub pending_e164: Option<String>,
    /// True after the number replied STOP (Twilio 21610).
    pub sms_opted_out: bool,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Delivery state of the last SMS sent about this record.
    pub last_message: Option<LastMessage>,
    /// Present on POST and PATCH: the state of the code just sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// Delivery state of the last message, in Twilio's status vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastMessage {
    /// `queued`, `sending`, `sent`, `delivered`, `undelivered`, `failed` or `canceled`.
    pub status: MessageStatus,
    /// Twilio's error code, if any.
    pub error_code: Option<i64>,
    /// A plain sentence telling the user what to do about the error.
    pub guidance: Option<String>,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// Who carries it; null until a provider has reported on it (while `queued`).
    #[serde(default)]
    pub provider: Option<SmsProviderName>,
    /// How it travels (`sms`).
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// State of the current verification code.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// False only for configured test numbers, which send nothing.
    pub sent: bool,
    /// When the code stops working (RFC 3339 UTC).
    pub expires_at: String,
    /// When a new code may be requested (RFC 3339 UTC).
    pub resend_after: String,
    /// Wrong tries left before the code dies.
    pub attempts_remaining: i64,
    /// How the live code was last sent.
    #[serde(default)]
    pub channel: Channel,
    /// The channels this code (or the next one) may be sent by, and from when: the
    /// first channel's `available_at` is `resend_after` (a new code); another channel's
    /// is when it may carry the live code (SPEC §13). A channel already used for the
    /// live code is left out until a new code is sent.
    #[serde(default)]
    pub channels: Vec<ChannelOffer>,
}

/// One way a code may be sent (`verification.channels`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelOffer {
    pub channel: Channel,
    /// From when it may be asked for (RFC 3339 UTC).
    pub available_at: String,
}

/// `GET /users/me/phone-numbers`: zero or one item.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PhoneList {
    /// The account's phone records.
    pub items: Vec<Phone>,
}

/// `GET /phone-numbers/parse`: the server's parser's verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParseResponse {
    /// Whether the number is a possible, valid number.
    pub valid: bool,
    /// E.164 form when valid.
    pub e164: Option<String>,
    /// National format when valid.
    pub national: Option<String>,
    /// International format when valid.
    pub international: Option<String>,
    /// ISO 3166-1 alpha-2 when valid.
    pub country: Option<String>,
    /// `number_type` when valid.
    pub number_type: Option<NumberType>,
    /// Whether PhoneReg would send SMS to it (type and allowed countries).
    pub sms_capable: bool,
    /// What is wrong with the number, for a person; null when it can be used.
    pub message: Option<String>,
}

/// One entry of `GET /users/me/phone-numbers/{id}/history`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryItem {
    /// RFC 3339 UTC.
    pub at: String,
    /// What happened.
    pub kind: HistoryKind,
    /// Extra detail, or null.
    pub detail: Option<String>,
    /// For a message's outcome (`delivered`, `failed`): who carried it; else null.
    #[serde(default)]
    pub provider: Option<SmsProviderName>,
    /// For a message's outcome: how it travelled (`sms`); else null.
    #[serde(default)]
    pub channel: Option<Channel>,
}

/// `GET /users/me/phone-numbers/{id}/history`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryList {
    /// Newest first.
    pub items: Vec<HistoryItem>,
}
