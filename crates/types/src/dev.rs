//! `GET /api/v1/dev/sms`: the development inbox of the console SMS provider.

use serde::{Deserialize, Serialize};

/// One SMS the API would have sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DevSms {
    /// E.164 destination.
    pub to: String,
    /// The text, code included (development only).
    pub body: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// `GET /api/v1/dev/sms`: newest first, at most 50.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DevSmsList {
    /// The messages.
    pub items: Vec<DevSms>,
}
