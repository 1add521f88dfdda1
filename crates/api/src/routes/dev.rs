//! `/api/v1/dev/sms`: the console provider's inbox, so a developer can sign up end to
//! end without a phone. Registered only with `SMS_PROVIDER=console` in development.

use actix_web::{HttpResponse, web};
use phonereg_types::{DevSms, DevSmsList};

use crate::{error::ApiError, routes::dto::rfc3339, state::AppState};

pub async fn list_dev_sms(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let inbox = state.inbox.as_ref().ok_or(ApiError::NotFound)?;
    let items = inbox
        .items()
        .into_iter()
        .map(|m| DevSms {
            to: m.to,
            body: m.body,
            created_at: rfc3339(m.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(DevSmsList { items }))
}
