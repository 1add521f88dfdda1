//! The audit log (SPEC §12): every service that changes something a user or an operator
//! must be able to account for appends its event here, inside the transaction of the
//! change, so the row exists exactly when the change does. The JSON line of
//! `AUDIT_LOG_STDOUT` and the metric follow the commit (`persistence::committed`).
//!
//! [`record`] is the one door every event goes through, inside its transaction; it also
//! writes the event's outbound webhook there (`services::webhooks`), so the webhook
//! exists exactly when the change does.

use std::collections::BTreeMap;

use phonereg_types::{AuditActor, AuditOutcome, SecurityEventType, WebhookEventType};

use crate::{
    domain::{ClientNetworks, rfc3339},
    error::ApiError,
    persistence::{
        Conn, committed,
        security_events::{self, NewSecurityEvent},
    },
    services::webhooks::outbox,
};

/// SPEC §12: `user_agent` is kept to 256 characters.
const USER_AGENT_CHARS: usize = 256;

/// Where a request came from, as the audit log records it: the client as the limits key
/// it (IPv4, or an IPv6 /64), its `User-Agent` and the request's id.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    client: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl Origin {
    /// A request's origin; the user agent is cut to 256 characters (on a character
    /// boundary) and control characters are dropped, so a log line stays one line.
    pub fn of_request(
        client: &ClientNetworks,
        user_agent: Option<&str>,
        request_id: Option<String>,
    ) -> Self {
        let user_agent = user_agent
            .map(|ua| {
                ua.chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_CHARS)
                    .collect::<String>()
            })
            .filter(|ua| !ua.is_empty());
        Self {
            client: Some(client.key().to_owned()).filter(|k| k != "unknown"),
            user_agent,
            request_id,
        }
    }

    /// No request: PhoneReg itself (a provider's callback, the fraud guard).
    pub fn system() -> Self {
        Self::default()
    }
}

/// One event to record: what, by whom, about which account and number, how it ended,
/// and a few facts (never a code, token, password or message body).
#[derive(Debug, Clone)]
pub struct Entry {
    kind: SecurityEventType,
    actor: AuditActor,
    actor_name: Option<String>,
    user_id: Option<i64>,
    phone_id: Option<i64>,
    outcome: AuditOutcome,
    detail: BTreeMap<String, String>,
}

impl Entry {
    /// Caused by the account's holder (or whoever presented its credentials).
    pub fn user(kind: SecurityEventType, user_id: Option<i64>) -> Self {
        Self {
            kind,
            actor: AuditActor::User,
            actor_name: None,
            user_id,
            phone_id: None,
            outcome: AuditOutcome::Success,
            detail: BTreeMap::new(),
        }
    }

    /// Caused by an operator, by their token's name.
    pub fn admin(kind: SecurityEventType, operator: &str) -> Self {
        Self {
            actor: AuditActor::Admin,
            actor_name: Some(operator.to_owned()),
            ..Self::user(kind, None)
        }
    }

    /// Caused by PhoneReg itself.
    pub fn system(kind: SecurityEventType, user_id: Option<i64>) -> Self {
        Self {
            actor: AuditActor::System,
            ..Self::user(kind, user_id)
        }
    }

    pub fn account(mut self, user_id: i64) -> Self {
        self.user_id = Some(user_id);
        self
    }

    pub fn phone(mut self, phone_id: i64) -> Self {
        self.phone_id = Some(phone_id);
        self
    }

    /// The attempt failed.
    pub fn failed(mut self) -> Self {
        self.outcome = AuditOutcome::Failure;
        self
    }

    /// A fact about the event. Callers pass ids, words of a vocabulary or an operator's
    /// `reason`: never a secret.
    pub fn detail(mut self, key: &str, value: impl Into<String>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

/// Inside the caller's transaction: appends `entry`; its id. After the commit the metric
/// counts it and, with `AUDIT_LOG_STDOUT`, its JSON line is written (see
/// [`committed`]): a rolled-back change is never reported.
pub fn record(
    conn: &mut Conn<'_>,
    origin: &Origin,
    entry: &Entry,
    now: i64,
) -> Result<i64, ApiError> {
    let detail = (!entry.detail.is_empty())
        .then(|| serde_json::to_string(&entry.detail))
        .transpose()
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("audit detail")))?;
    let id = security_events::insert(
        conn,
        &NewSecurityEvent {
            at: now,
            event_type: entry.kind,
            actor: entry.actor,
            actor_name: entry.actor_name.as_deref(),
            user_id: entry.user_id,
            phone_id: entry.phone_id,
            client: origin.client.as_deref(),
            user_agent: origin.user_agent.as_deref(),
            request_id: origin.request_id.as_deref(),
            outcome: entry.outcome,
            detail: detail.as_deref(),
        },
    )?;
    if let Some(kind) = WebhookEventType::of_audit(entry.kind) {
        webhook(conn, kind, id, entry, now)?;
    }
    let (origin, entry) = (origin.clone(), entry.clone());
    committed::note_audit(
        entry.kind.as_str(),
        Box::new(move || json_line(id, &origin, &entry, now)),
    );
    Ok(id)
}

/// The event's webhook, in the same transaction (SPEC §12): ids, who acted and how it
/// ended, plus the fraud guard's pause facts. Other detail (an operator's `reason`) stays
/// in the audit log.
fn webhook(
    conn: &mut Conn<'_>,
    kind: WebhookEventType,
    audit_id: i64,
    entry: &Entry,
    now: i64,
) -> Result<(), ApiError> {
    let mut data = serde_json::Map::new();
    data.insert("audit_event_id".into(), audit_id.into());
    data.insert("actor".into(), entry.actor.as_str().into());
    data.insert("outcome".into(), entry.outcome.as_str().into());
    for key in ["pause_id", "scope", "key"] {
        if let Some(value) = entry.detail.get(key) {
            data.insert(key.into(), value.clone().into());
        }
    }
    outbox::emit(conn, kind, entry.user_id, entry.phone_id, &data, now)
}

/// The `AUDIT_LOG_STDOUT` line: the row as operators read it.
fn json_line(id: i64, origin: &Origin, entry: &Entry, now: i64) -> String {
    let event = phonereg_types::AuditEvent {
        id,
        at: rfc3339(now),
        event_type: entry.kind,
        actor: entry.actor,
        actor_name: entry.actor_name.clone(),
        user_id: entry.user_id,
        phone_id: entry.phone_id,
        client: origin.client.clone(),
        user_agent: origin.user_agent.clone(),
        request_id: origin.request_id.clone(),
        outcome: entry.outcome,
        detail: entry.detail.clone(),
    };
    // A struct of strings and numbers always serializes.
    serde_json::to_string(&event).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::*;

    #[test]
    fn user_agents_are_cut_to_256_characters_on_one_line() {
        let ip: IpAddr = "2001:db8::1".parse().expect("ip");
        let long = format!("é\n{}", "a".repeat(400));
        let origin = Origin::of_request(&ClientNetworks::of(ip), Some(&long), None);
        let ua = origin.user_agent.expect("kept");
        assert_eq!(ua.chars().count(), 256);
        assert!(ua.starts_with("éa"), "the newline is dropped: {ua}");
        assert_eq!(origin.client.as_deref(), Some("2001:db8::/64"));
    }

    #[test]
    fn an_unknown_client_is_recorded_as_none() {
        let origin = Origin::of_request(&ClientNetworks::unknown(), Some(""), None);
        assert_eq!(origin.client, None);
        assert_eq!(origin.user_agent, None);
    }
}
