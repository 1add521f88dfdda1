//! `/api/v1/admin/webhooks*`: outbound webhooks as operators manage them (SPEC §12). The
//! secret is answered once, at creation and at rotation; never again.

use actix_web::{HttpResponse, web};
use phonereg_types::{
    NewWebhookRequest, NewWebhookResponse, RotateSecretRequest, RotateSecretResponse, Webhook,
    WebhookChanges, WebhookDelivery, WebhookDeliveryList, WebhookList, WebhookQueued,
};
use serde::Deserialize;

use crate::{
    domain::rfc3339,
    error::ApiError,
    extract::{Admin, ValidJson},
    persistence::webhooks::{DeliveryRow, EndpointRow},
    services::audit::Origin,
    state::AppState,
};

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

pub async fn create_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    ValidJson(body): ValidJson<NewWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state.webhooks.create(admin.name(), origin, body).await?;
    let view = webhook(created.endpoint);
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(NewWebhookResponse {
            id: view.id,
            url: view.url,
            event_types: view.event_types,
            description: view.description,
            status: view.status,
            secret: created.secret,
            created_at: view.created_at,
        }))
}

pub async fn list_webhooks(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
) -> Result<HttpResponse, ApiError> {
    let rows = state.webhooks.list(admin.name(), origin, None).await?;
    Ok(HttpResponse::Ok().json(WebhookList {
        items: rows.into_iter().map(webhook).collect(),
    }))
}

pub async fn get_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = state.webhooks.get(admin.name(), origin, *id).await?;
    Ok(HttpResponse::Ok().json(webhook(row)))
}

pub async fn update_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
    ValidJson(body): ValidJson<WebhookChanges>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .webhooks
        .update(admin.name(), origin, *id, body)
        .await?;
    Ok(HttpResponse::Ok().json(webhook(row)))
}

pub async fn delete_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    state.webhooks.delete(admin.name(), origin, *id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
    ValidJson(body): ValidJson<RotateSecretRequest>,
) -> Result<HttpResponse, ApiError> {
    let (secret, until) = state
        .webhooks
        .rotate_secret(admin.name(), origin, *id, body.grace_seconds)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(RotateSecretResponse {
            secret,
            previous_secret_expires_at: rfc3339(until),
        }))
}

pub async fn test_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let event_id = state.webhooks.test(admin.name(), origin, *id).await?;
    Ok(HttpResponse::Accepted().json(WebhookQueued { event_id }))
}

pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(50);
    let rows = state
        .webhooks
        .deliveries(admin.name(), origin, *id, limit)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        items: rows.into_iter().map(delivery).collect(),
    }))
}

pub async fn redeliver_webhook(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (id, event_id) = path.into_inner();
    let event_id = state
        .webhooks
        .redeliver(admin.name(), origin, id, event_id)
        .await?;
    Ok(HttpResponse::Accepted().json(WebhookQueued { event_id }))
}

fn webhook(row: EndpointRow) -> Webhook {
    Webhook {
        id: row.id,
        url: row.url,
        event_types: serde_json::from_str(&row.event_types).unwrap_or_default(),
        description: row.description.filter(|d| !d.is_empty()),
        status: row.status,
        disabled_reason: row.disabled_reason,
        created_at: rfc3339(row.created_at),
    }
}

fn delivery(row: DeliveryRow) -> WebhookDelivery {
    WebhookDelivery {
        id: row.id,
        event_id: row.event_id,
        webhook_id: row.webhook_id,
        event_type: row.event_type.as_str().to_owned(),
        attempt: row.attempt,
        result: row.result,
        status_code: row.status_code,
        error: row.error,
        duration_ms: row.duration_ms,
        at: rfc3339(row.at),
    }
}
