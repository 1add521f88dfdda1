//! Hands each refusal by the SMS budget to `services::budget_alarm` once the request's
//! transaction has rolled back: the refused request cannot carry the event itself.

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};

use crate::{error::ApiError, state::AppState};

/// The middleware: after the handler, a `SmsBudgetSpent` answer rings the alarm (a write
/// at most once per window and process; nothing for any other answer).
pub async fn announce_spent_budget(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let res = next.call(req).await?;
    let spent = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .and_then(|e| match e {
            ApiError::SmsBudgetSpent { kind, .. } => Some(*kind),
            _ => None,
        });
    if let (Some(kind), Some(state)) = (spent, state) {
        state.budget_alarm.refused(kind).await;
    }
    Ok(res.map_into_boxed_body())
}
