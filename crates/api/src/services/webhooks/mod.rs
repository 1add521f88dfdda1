//! Outbound webhooks (SPEC §12). [`outbox::emit`] writes an event in the transaction of its
//! change (one row, only while an endpoint is enabled); [`worker::WebhookWorker`]
//! posts each endpoint's events in order, signed per Standard Webhooks; [`Webhooks`] is
//! what operators do through `/admin/webhooks`, each call recorded as `admin.webhooks.*`.
//!
//! Secrets must sign, so they are stored as given (`whsec_…`) and never returned after
//! creation or rotation: what protects them is what protects the database (its access
//! and backups), as for the provider credentials in the environment.

pub mod outbox;
pub mod target;
pub mod worker;

use base64::Engine as _;
use phonereg_types::{
    NewWebhookRequest, SecurityEventType, WebhookChanges, WebhookEventType, WebhookStatus,
};
use rand::RngCore as _;
use serde_json::{Map, Value};

use self::{outbox::at_ms, target::TargetRule};
use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{
        Db,
        webhooks::{self as rows, DeliveryRow, EndpointChanges, EndpointRow, NewEndpoint},
    },
    services::audit::{self, Entry, Origin},
};

/// Most rotation grace allowed: a week.
const MAX_GRACE: i64 = 7 * 86_400;
/// Most deliveries one page lists.
pub const MAX_DELIVERIES: i64 = 100;

/// A new signing secret: `whsec_` + base64 of 32 random bytes.
fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The operators' side. Built in `startup` with exactly what it uses.
pub struct Webhooks {
    db: Db,
    clock: Clock,
    rule: TargetRule,
}

/// A new endpoint and its secret, shown once.
pub struct Created {
    pub endpoint: EndpointRow,
    pub secret: String,
}

impl Webhooks {
    pub fn new(db: Db, clock: Clock, rule: TargetRule) -> Self {
        Self { db, clock, rule }
    }

    fn url(&self, raw: &str) -> Result<String, ApiError> {
        target::check_url(self.rule, raw.trim())
            .map(|u| u.to_string())
            .map_err(|m| ApiError::field("url", m))
    }

    /// The patterns as stored (a JSON array): 1..=64 known types or prefixes.
    fn event_types(patterns: &[String]) -> Result<String, ApiError> {
        if patterns.is_empty() || patterns.len() > 64 {
            return Err(ApiError::field("event_types", "give 1 to 64 event types"));
        }
        if let Some(bad) = patterns
            .iter()
            .find(|p| p.len() > 100 || !WebhookEventType::is_pattern(p))
        {
            return Err(ApiError::field(
                "event_types",
                format!("{bad:.100} names no event type (exact names, `prefix.*` or `*`)"),
            ));
        }
        Ok(Value::from(patterns.to_vec()).to_string())
    }

    fn description(text: Option<&str>) -> Result<Option<String>, ApiError> {
        match text.map(str::trim) {
            Some(d) if d.chars().count() > 200 => Err(ApiError::field(
                "description",
                "must be at most 200 characters",
            )),
            Some(d) if d.chars().any(char::is_control) => Err(ApiError::field(
                "description",
                "must not hold control characters",
            )),
            other => Ok(other.filter(|d| !d.is_empty()).map(str::to_owned)),
        }
    }

    pub async fn create(
        &self,
        operator: &str,
        origin: Origin,
        req: NewWebhookRequest,
    ) -> Result<Created, ApiError> {
        let url = self.url(&req.url)?;
        let types = Self::event_types(&req.event_types)?;
        let description = Self::description(req.description.as_deref())?;
        let (secret, clock, operator) = (new_secret(), self.clock.clone(), operator.to_owned());
        let stored = secret.clone();
        let endpoint = self
            .db
            .write(move |c| {
                let now = clock.now();
                // From now on: an endpoint gets the events written after it exists.
                let place = rows::newest_place(c)?;
                let row = rows::insert_endpoint(
                    c,
                    &NewEndpoint {
                        url: &url,
                        description: description.as_deref(),
                        event_types: &types,
                        status: WebhookStatus::Enabled,
                        secret: &stored,
                        created_at: now,
                        updated_at: now,
                        cursor_txid: place.txid,
                        cursor_id: place.id,
                    },
                )?;
                let entry = Entry::admin(SecurityEventType::AdminWebhookCreated, &operator)
                    .detail("webhook_id", row.id.to_string());
                audit::record(c, &origin, &entry, now)?;
                Ok(row)
            })
            .await?;
        Ok(Created { endpoint, secret })
    }

    /// Every endpoint (one id, with `id`); the read is recorded.
    pub async fn list(
        &self,
        operator: &str,
        origin: Origin,
        id: Option<i64>,
    ) -> Result<Vec<EndpointRow>, ApiError> {
        let (clock, operator) = (self.clock.clone(), operator.to_owned());
        self.db
            .write(move |c| {
                let found = match id {
                    Some(id) => rows::endpoint(c, id)?.into_iter().collect(),
                    None => rows::endpoints(c)?,
                };
                let mut entry = Entry::admin(SecurityEventType::AdminWebhooksRead, &operator);
                if let Some(id) = id {
                    entry = entry.detail("webhook_id", id.to_string());
                }
                audit::record(c, &origin, &entry, clock.now())?;
                Ok(found)
            })
            .await
    }

    pub async fn get(
        &self,
        operator: &str,
        origin: Origin,
        id: i64,
    ) -> Result<EndpointRow, ApiError> {
        self.list(operator, origin, Some(id))
            .await?
            .pop()
            .ok_or(ApiError::NotFound)
    }

    pub async fn update(
        &self,
        operator: &str,
        origin: Origin,
        id: i64,
        changes: WebhookChanges,
    ) -> Result<EndpointRow, ApiError> {
        let url = changes.url.as_deref().map(|u| self.url(u)).transpose()?;
        let types = changes
            .event_types
            .as_deref()
            .map(Self::event_types)
            .transpose()?;
        let description = changes
            .description
            .as_deref()
            .map(|d| Self::description(Some(d)))
            .transpose()?;
        let (clock, operator, status) = (self.clock.clone(), operator.to_owned(), changes.status);
        self.db
            .write(move |c| {
                let now = clock.now();
                let set = EndpointChanges {
                    url: url.as_deref(),
                    description: description.as_ref().map(|d| d.as_deref().unwrap_or("")),
                    event_types: types.as_deref(),
                    status,
                    // A status set by an operator clears PhoneReg's reason.
                    disabled_reason: status.map(|_| None),
                    updated_at: Some(now),
                };
                let Some(row) = rows::update_endpoint(c, id, &set)? else {
                    return Err(ApiError::NotFound);
                };
                if status == Some(WebhookStatus::Enabled) {
                    rows::reset_failures(c, id)?;
                }
                let entry = Entry::admin(SecurityEventType::AdminWebhookUpdated, &operator)
                    .detail("webhook_id", id.to_string());
                audit::record(c, &origin, &entry, now)?;
                Ok(row)
            })
            .await
    }

    pub async fn delete(&self, operator: &str, origin: Origin, id: i64) -> Result<(), ApiError> {
        let (clock, operator) = (self.clock.clone(), operator.to_owned());
        self.db
            .write(move |c| {
                if !rows::delete_endpoint(c, id)? {
                    return Err(ApiError::NotFound);
                }
                let entry = Entry::admin(SecurityEventType::AdminWebhookDeleted, &operator)
                    .detail("webhook_id", id.to_string());
                audit::record(c, &origin, &entry, clock.now())
            })
            .await?;
        Ok(())
    }

    /// A new secret; the old one also signs for `grace` seconds. The new secret and when
    /// the old one stops.
    pub async fn rotate_secret(
        &self,
        operator: &str,
        origin: Origin,
        id: i64,
        grace: i64,
    ) -> Result<(String, i64), ApiError> {
        if !(0..=MAX_GRACE).contains(&grace) {
            return Err(ApiError::field(
                "grace_seconds",
                format!("must be 0 to {MAX_GRACE} seconds"),
            ));
        }
        let (secret, clock, operator) = (new_secret(), self.clock.clone(), operator.to_owned());
        let stored = secret.clone();
        let until = self
            .db
            .write(move |c| {
                let now = clock.now();
                if !rows::rotate_secret(c, id, &stored, now + grace, now)? {
                    return Err(ApiError::NotFound);
                }
                let entry = Entry::admin(SecurityEventType::AdminWebhookSecretRotated, &operator)
                    .detail("webhook_id", id.to_string())
                    .detail("grace_seconds", grace.to_string());
                audit::record(c, &origin, &entry, now)?;
                Ok(now + grace)
            })
            .await?;
        Ok((secret, until))
    }

    /// Queues a `webhook.test` event for this endpoint only; its id.
    pub async fn test(&self, operator: &str, origin: Origin, id: i64) -> Result<i64, ApiError> {
        let (clock, operator) = (self.clock.clone(), operator.to_owned());
        self.db
            .write(move |c| {
                let now = clock.now();
                if rows::endpoint(c, id)?.is_none() {
                    return Err(ApiError::NotFound);
                }
                let probe = rows::EventRow {
                    id: 0,
                    txid: 0,
                    event_type: WebhookEventType::Test,
                    at_ms: at_ms(now),
                    user_id: None,
                    phone_id: None,
                    e164: None,
                    data: Value::Object(Map::from_iter([(
                        "webhook_id".to_owned(),
                        Value::from(id),
                    )]))
                    .to_string(),
                    endpoint_id: None,
                    replay_of: None,
                };
                let event_id = rows::queue_for(c, id, &probe, None)?;
                let entry = Entry::admin(SecurityEventType::AdminWebhookTested, &operator)
                    .detail("webhook_id", id.to_string());
                audit::record(c, &origin, &entry, now)?;
                Ok(event_id)
            })
            .await
    }

    /// Queues an event this endpoint was sent again, after the endpoint's current ones,
    /// with the same `webhook-id`; the new event's id.
    pub async fn redeliver(
        &self,
        operator: &str,
        origin: Origin,
        id: i64,
        event_id: i64,
    ) -> Result<i64, ApiError> {
        let (clock, operator) = (self.clock.clone(), operator.to_owned());
        self.db
            .write(move |c| {
                let now = clock.now();
                let sent = rows::endpoint(c, id)?.is_some() && rows::was_sent(c, id, event_id)?;
                let Some(original) = rows::event(c, event_id)?.filter(|_| sent) else {
                    // Never sent here, or pruned since (DATA_RETENTION).
                    return Err(ApiError::NotFound);
                };
                let first = original.replay_of.unwrap_or(original.id);
                let queued = rows::queue_for(c, id, &original, Some(first))?;
                let entry = Entry::admin(SecurityEventType::AdminWebhookRedelivered, &operator)
                    .detail("webhook_id", id.to_string())
                    .detail("event_id", event_id.to_string());
                audit::record(c, &origin, &entry, now)?;
                Ok(queued)
            })
            .await
    }

    /// The endpoint's newest attempts, at most `limit` (1..=100).
    pub async fn deliveries(
        &self,
        operator: &str,
        origin: Origin,
        id: i64,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, ApiError> {
        if !(1..=MAX_DELIVERIES).contains(&limit) {
            return Err(ApiError::field(
                "limit",
                format!("must be 1 to {MAX_DELIVERIES}"),
            ));
        }
        let (clock, operator) = (self.clock.clone(), operator.to_owned());
        self.db
            .write(move |c| {
                if rows::endpoint(c, id)?.is_none() {
                    return Err(ApiError::NotFound);
                }
                let found = rows::deliveries(c, id, limit)?;
                let entry = Entry::admin(SecurityEventType::AdminWebhooksRead, &operator)
                    .detail("webhook_id", id.to_string())
                    .detail("deliveries", "true");
                audit::record(c, &origin, &entry, clock.now())?;
                Ok(found)
            })
            .await
    }
}
