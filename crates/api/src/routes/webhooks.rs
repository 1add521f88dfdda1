//! `POST /api/v1/webhooks/twilio/status`: Twilio's delivery reports.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use futures_util::StreamExt as _;

use crate::{
    error::ApiError, extract::BODY_LIMIT, sms::twilio::signature_is_valid, state::AppState,
};

pub const STATUS_PATH: &str = "/api/v1/webhooks/twilio/status";

pub async fn twilio_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(ApiError::UnsupportedMediaType);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("The form body is malformed: {e}.")))?;

    // Twilio signs the URL it called: ours as the world sees it, plus any query.
    let mut url = format!("{}{STATUS_PATH}", state.config.public_url);
    if !req.query_string().is_empty() {
        url = format!("{url}?{}", req.query_string());
    }
    let presented = req
        .headers()
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let valid = state
        .config
        .twilio_auth_token
        .as_ref()
        .is_some_and(|token| signature_is_valid(token.expose(), &url, &params, presented));
    if !valid {
        tracing::warn!("Twilio status callback with a bad signature refused");
        return Err(ApiError::Forbidden);
    }

    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if let (Some(sid), Some(status)) = (field("MessageSid"), field("MessageStatus")) {
        let error_code = field("ErrorCode").and_then(|c| c.parse().ok());
        state.delivery.apply_status(sid, status, error_code).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}
