//! Live updates: `GET /api/v1/users/me/events` (Server-Sent Events) and its ticket.

use serde::{Deserialize, Serialize};

use crate::{
    phone::LastMessage,
    vocab::{Channel, MessageStatus, SmsProviderName},
};

/// `POST /api/v1/users/me/events/ticket`: stands in for the bearer token on `?ticket=`,
/// because `EventSource` cannot send an `Authorization` header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventTicket {
    /// Opaque and single use.
    pub ticket: String,
    /// Seconds the ticket stays valid (60).
    pub expires_in: i64,
}

/// `data:` of an `event: message`: the delivery status of a phone record's last SMS
/// changed. (`event: phone` carries the whole [`crate::Phone`].)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageEvent {
    /// The phone record the message was about.
    pub phone_id: i64,
    /// Twilio's status vocabulary, as in [`LastMessage::status`].
    pub status: MessageStatus,
    /// Twilio's error code, if any.
    pub error_code: Option<i64>,
    /// A plain sentence telling the user what to do about the error.
    pub guidance: Option<String>,
    /// RFC 3339 UTC.
    pub updated_at: String,
    /// As in [`LastMessage::provider`].
    #[serde(default)]
    pub provider: Option<SmsProviderName>,
    /// As in [`LastMessage::channel`].
    #[serde(default)]
    pub channel: Option<Channel>,
}

impl MessageEvent {
    /// The phone object's `last_message` this event describes.
    pub fn into_last_message(self) -> LastMessage {
        LastMessage {
            status: self.status,
            error_code: self.error_code,
            guidance: self.guidance,
            updated_at: self.updated_at,
            provider: self.provider,
            channel: self.channel,
        }
    }
}
