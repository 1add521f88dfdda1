//! `/api/v1/admin/sms/providers*`: operators read each SMS provider's circuit and last
//! hour, and switch a provider off or on for every process (SPEC §13).

use actix_web::{HttpResponse, web};
use phonereg_types::{SmsProviderStatus, SmsProviderSwitch};

use crate::{
    domain::{Reason, rfc3339},
    error::ApiError,
    extract::{Admin, OptionalJson},
    services::{
        audit::Origin,
        sms_providers::{ProviderView, Switch},
    },
    state::AppState,
};

pub async fn list_providers(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
) -> Result<HttpResponse, ApiError> {
    let views = state.sms_providers.list(admin.name(), origin).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(views.into_iter().map(status).collect::<Vec<_>>()))
}

pub async fn disable_provider(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    name: web::Path<String>,
    OptionalJson(body): OptionalJson<SmsProviderSwitch>,
) -> Result<HttpResponse, ApiError> {
    switch(&state, &admin, origin, &name, Switch::Off, body).await
}

pub async fn enable_provider(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    name: web::Path<String>,
    OptionalJson(body): OptionalJson<SmsProviderSwitch>,
) -> Result<HttpResponse, ApiError> {
    switch(&state, &admin, origin, &name, Switch::On, body).await
}

async fn switch(
    state: &AppState,
    admin: &Admin,
    origin: Origin,
    name: &str,
    to: Switch,
    body: Option<SmsProviderSwitch>,
) -> Result<HttpResponse, ApiError> {
    let reason = body
        .and_then(|b| b.reason)
        .map(|raw| Reason::parse(&raw).map_err(|m| ApiError::field("reason", m)))
        .transpose()?;
    let view = state
        .sms_providers
        .switch(admin.name(), origin, name, to, reason)
        .await?;
    Ok(HttpResponse::Ok().json(status(view)))
}

fn status(v: ProviderView) -> SmsProviderStatus {
    SmsProviderStatus {
        name: v.name,
        state: v.state,
        since: v.since.map(rfc3339),
        last_error: v.last_error,
        sent_1h: v.sent_1h,
        failed_1h: v.failed_1h,
    }
}
