//! The audit log (SPEC §12): `GET /users/me/security-events` (the caller's own) and
//! `GET /admin/audit-events` (operators, filtered, with a cursor).

use actix_web::{HttpResponse, web};
use phonereg_types::{
    AuditEvent, AuditEventList, SecurityEvent, SecurityEventList, SecurityEventType,
};
use serde::Deserialize;

use crate::{
    domain::rfc3339,
    error::ApiError,
    extract::{Admin, AuthUser},
    persistence::security_events::{AuditFilter, SecurityEventRow},
    services::{audit::Origin, audit_log},
    state::AppState,
};

#[derive(Deserialize)]
pub struct MineQuery {
    limit: Option<String>,
    before: Option<String>,
}

pub async fn list_my_security_events(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<MineQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_size(query.limit.as_deref(), 20, audit_log::MAX_USER_PAGE)?;
    let before = id_param("before", query.before.as_deref())?;
    let rows = state.audit_log.for_user(user.0, before, limit).await?;
    Ok(HttpResponse::Ok().json(SecurityEventList {
        items: rows.into_iter().map(own_event).collect(),
    }))
}

#[derive(Deserialize)]
pub struct SearchQuery {
    user_id: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn list_audit_events(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let (filter, limit) = search(query.into_inner())?;
    let page = state
        .audit_log
        .search(admin.name(), origin, filter, limit)
        .await?;
    Ok(HttpResponse::Ok().json(AuditEventList {
        items: page.rows.into_iter().map(audit_event).collect(),
        next_cursor: page.next.map(|id| id.to_string()),
    }))
}

/// The operators' query, every field checked (422 names the field).
fn search(q: SearchQuery) -> Result<(AuditFilter, i64), ApiError> {
    let types = match q.event_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(pattern) => {
            let types = SecurityEventType::matching(pattern);
            if types.is_empty() {
                return Err(ApiError::field(
                    "type",
                    "is not an event type (give one exactly, or `prefix.*`)",
                ));
            }
            Some(types)
        }
    };
    let filter = AuditFilter {
        user_id: id_param("user_id", q.user_id.as_deref())?,
        types,
        since: time_param("since", q.since.as_deref())?,
        until: time_param("until", q.until.as_deref())?,
        before: id_param("cursor", q.cursor.as_deref())?,
    };
    let limit = page_size(q.limit.as_deref(), 100, audit_log::MAX_ADMIN_PAGE)?;
    Ok((filter, limit))
}

fn page_size(raw: Option<&str>, default: i64, max: i64) -> Result<i64, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(default),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::field("limit", format!("must be a whole number from 1 to {max}"))
            }),
    }
}

fn id_param(field: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "must be a positive whole number")),
    }
}

/// An RFC 3339 time, as seconds since the epoch.
fn time_param(field: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(raw) => chrono::DateTime::parse_from_rfc3339(raw)
            .map(|t| Some(t.timestamp()))
            .map_err(|_| {
                ApiError::field(field, "must be an RFC 3339 time, e.g. 2026-12-10T00:00:00Z")
            }),
    }
}

fn own_event(row: SecurityEventRow) -> SecurityEvent {
    SecurityEvent {
        id: row.id,
        at: rfc3339(row.at),
        event_type: row.event_type,
        outcome: row.outcome,
        client: row.client,
        user_agent: row.user_agent,
    }
}

fn audit_event(row: SecurityEventRow) -> AuditEvent {
    AuditEvent {
        id: row.id,
        at: rfc3339(row.at),
        event_type: row.event_type,
        actor: row.actor,
        actor_name: row.actor_name,
        user_id: row.user_id,
        phone_id: row.phone_id,
        client: row.client,
        user_agent: row.user_agent,
        request_id: row.request_id,
        outcome: row.outcome,
        // Written by `audit::record` as an object of strings.
        detail: row
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default(),
    }
}
