//! Operations: liveness, readiness, metrics, the API description.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{error::ApiError, state::AppState, telemetry};

/// The OpenAPI description, compiled in so it always matches this build.
const OPENAPI: &str = include_str!("../../../../openapi.yaml");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "readiness check failed");
        ApiError::Unavailable {
            detail: "The database is not reachable.".into(),
            retry_after: 5,
        }
    })?;
    Ok(HttpResponse::Ok().json(json!({"status": "ready", "database": state.db.backend()})))
}

/// The counters, then the gauges sampled now (SMS backlog, pool, hash queue, streams).
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut text = telemetry::render_metrics();
    text.push_str(&telemetry::gauges::render(&state).await);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI)
}
