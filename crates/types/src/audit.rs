//! The audit log (SPEC §12): the caller's own security events, and the operators' view.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::vocab::{AuditActor, AuditOutcome, SecurityEventType};

/// One event of the caller's own account (`GET /users/me/security-events`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// Increasing; pass the last one as `before=` for the next page.
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: SecurityEventType,
    /// `success` or `failure`.
    pub outcome: AuditOutcome,
    /// The client's IPv4 address or IPv6 /64, as the limits key it; null when unknown.
    pub client: Option<String>,
    /// The client's `User-Agent` (at most 256 characters).
    pub user_agent: Option<String>,
}

/// `GET /users/me/security-events`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityEventList {
    /// Newest first.
    pub items: Vec<SecurityEvent>,
}

/// One row of the audit log as operators see it (`GET /admin/audit-events`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Increasing.
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// What happened.
    #[serde(rename = "type")]
    pub event_type: SecurityEventType,
    /// `user`, `admin` or `system`.
    pub actor: AuditActor,
    /// The operator's token name, for `admin` events.
    pub actor_name: Option<String>,
    /// The account concerned, if any (kept after the account is deleted).
    pub user_id: Option<i64>,
    /// The phone record concerned, if any.
    pub phone_id: Option<i64>,
    /// The client's IPv4 address or IPv6 /64; null when unknown.
    pub client: Option<String>,
    /// The client's `User-Agent` (at most 256 characters).
    pub user_agent: Option<String>,
    /// The request's `X-Request-Id`, to find its log lines.
    pub request_id: Option<String>,
    /// `success` or `failure`.
    pub outcome: AuditOutcome,
    /// Small facts about the event (an operator's `reason`, why it failed); never a code,
    /// token, password or message body.
    pub detail: BTreeMap<String, String>,
}

/// `GET /admin/audit-events`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditEventList {
    /// Newest first.
    pub items: Vec<AuditEvent>,
    /// Pass as `cursor=` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
}
