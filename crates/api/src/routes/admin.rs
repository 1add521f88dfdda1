//! `/api/v1/admin/sms/*`: operators look at and lift the fraud guard's pauses (SPEC §9).

use actix_web::{HttpResponse, web};
use phonereg_types::{
    SecurityEventType, SmsFraudDecision, SmsFraudDecisionList, SmsPause, SmsPauseList,
};
use serde::Deserialize;

use crate::{
    domain::rfc3339,
    error::ApiError,
    extract::Admin,
    persistence::models::{DecisionRow, PauseRow},
    services::{
        audit::{Entry, Origin},
        fraud_guard,
    },
    state::AppState,
};

fn pause(row: PauseRow) -> SmsPause {
    SmsPause {
        id: row.id,
        scope: row.scope,
        key: row.key,
        country: row.country,
        since: rfc3339(row.since),
        until: rfc3339(row.until),
        sent: row.sent,
        verified: row.verified,
        enforced: row.enforced,
    }
}

fn decision(row: DecisionRow) -> SmsFraudDecision {
    SmsFraudDecision {
        id: row.id,
        at: rfc3339(row.at),
        action: row.action,
        scope: row.scope,
        key: row.key,
        country: row.country,
        sent: row.sent,
        verified: row.verified,
        pause_id: row.pause_id,
        operator: row.operator,
    }
}

pub async fn list_sms_pauses(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
) -> Result<HttpResponse, ApiError> {
    let entry = Entry::admin(SecurityEventType::AdminFraudRead, admin.name());
    state.audit_log.admin_call(origin, entry).await?;
    let rows = fraud_guard::active_pauses(&state.db, state.clock.now()).await?;
    Ok(HttpResponse::Ok().json(SmsPauseList {
        items: rows.into_iter().map(pause).collect(),
    }))
}

pub async fn lift_sms_pause(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let now = state.clock.now();
    // The audit events are written in the lift's own transaction.
    fraud_guard::lift_pause(&state.db, id.into_inner(), admin.name(), origin, now).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
pub struct DecisionsQuery {
    limit: Option<String>,
}

pub async fn list_sms_decisions(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    query: web::Query<DecisionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = match query.into_inner().limit.as_deref().map(str::trim) {
        None | Some("") => 50,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=500).contains(n))
            .ok_or_else(|| ApiError::field("limit", "must be a whole number from 1 to 500"))?,
    };
    let entry = Entry::admin(SecurityEventType::AdminFraudRead, admin.name());
    state.audit_log.admin_call(origin, entry).await?;
    let rows = fraud_guard::recent_decisions(&state.db, limit).await?;
    Ok(HttpResponse::Ok().json(SmsFraudDecisionList {
        items: rows.into_iter().map(decision).collect(),
    }))
}
