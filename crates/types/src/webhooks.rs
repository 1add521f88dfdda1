//! Outbound webhooks (SPEC §12): the endpoints operators register, the events PhoneReg
//! posts to them and the log of each attempt.

use serde::{Deserialize, Serialize};

use crate::vocab::{WebhookDeliveryResult, WebhookStatus};

/// `POST /admin/webhooks`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NewWebhookRequest {
    /// Where events are posted: `https://` in production; at most 2 048 characters.
    pub url: String,
    /// Exact event types (`phone.verified`) or whole prefixes (`phone.*`, `*` for all);
    /// 1..=64 entries.
    pub event_types: Vec<String>,
    /// Up to 200 characters, for operators.
    #[serde(default)]
    pub description: Option<String>,
}

/// `PATCH /admin/webhooks/{id}`: each field present is changed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    /// `enabled` resumes delivery where it stopped; `disabled` pauses it.
    pub status: Option<WebhookStatus>,
}

/// A registered endpoint (never its secret, except once in [`NewWebhookResponse`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// `enabled` or `disabled`.
    pub status: WebhookStatus,
    /// Why PhoneReg disabled it (`gone`: the receiver answered 410; `failing`: five
    /// days of failures); null when enabled or disabled by an operator.
    pub disabled_reason: Option<String>,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// `POST /admin/webhooks` -> 201: the endpoint and its signing secret, shown only here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NewWebhookResponse {
    pub id: i64,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub status: WebhookStatus,
    /// `whsec_` + base64 of 32 random bytes: give it to any Standard Webhooks verifier.
    pub secret: String,
    /// RFC 3339 UTC.
    pub created_at: String,
}

/// `GET /admin/webhooks`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

/// `POST /admin/webhooks/{id}/rotate-secret`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RotateSecretRequest {
    /// 0..=604 800 seconds during which the old secret signs too (two `v1,` entries).
    pub grace_seconds: i64,
}

/// `POST /admin/webhooks/{id}/rotate-secret` -> the new secret, shown only here.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RotateSecretResponse {
    pub secret: String,
    /// RFC 3339 UTC: until then the old secret also signs.
    pub previous_secret_expires_at: String,
}

/// `POST /admin/webhooks/{id}/test` and `…/redeliver` -> 202: the event queued.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookQueued {
    /// The event's id; the delivery's `webhook-id` is `msg_` + the id it was first sent as.
    pub event_id: i64,
}

/// One attempt to post an event (`GET /admin/webhooks/{id}/deliveries`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    pub id: i64,
    pub event_id: i64,
    /// The `webhook-id` header sent (the same on every attempt of an event).
    pub webhook_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// 1 for the first attempt of the event.
    pub attempt: i32,
    pub result: WebhookDeliveryResult,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<i32>,
    /// Why it failed, when it did (never the receiver's body).
    pub error: Option<String>,
    pub duration_ms: i64,
    /// RFC 3339 UTC.
    pub at: String,
}

/// `GET /admin/webhooks/{id}/deliveries`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookDeliveryList {
    pub items: Vec<WebhookDelivery>,
}
