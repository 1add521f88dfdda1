//! Providers' delivery receipts: `POST /api/v1/webhooks/twilio/status` and
//! `…/twilio/voice-status` (Twilio's status callbacks of messages and calls) and `POST /api/v1/webhooks/sms/http/status` (the generic HTTP provider's).
//! The route only carries the request to its provider, which reads and checks it
//! (`sms`): no provider's wire format is known here.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use phonereg_types::SmsProviderName;

use crate::{
    error::ApiError,
    extract::BODY_LIMIT,
    sms::{ReceiptRequest, http::RECEIPT_PATH},
    state::AppState,
};

pub const STATUS_PATH: &str = "/api/v1/webhooks/twilio/status";
pub const VOICE_STATUS_PATH: &str = "/api/v1/webhooks/twilio/voice-status";

pub async fn twilio_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receipt(state, req, payload, SmsProviderName::Twilio, STATUS_PATH).await
}

/// Twilio's call status callbacks (SPEC §13): signed and read like the messages' ones,
/// by the same provider, which tells a call's form (`CallSid`) from a message's.
pub async fn twilio_voice_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receipt(
        state,
        req,
        payload,
        SmsProviderName::Twilio,
        VOICE_STATUS_PATH,
    )
    .await
}

pub async fn http_status(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    receipt(state, req, payload, SmsProviderName::Http, RECEIPT_PATH).await
}

/// Reads the body (at most [`BODY_LIMIT`]) and hands the request to `provider`; 204 for
/// anything well signed, repeats and unknown messages included.
async fn receipt(
    state: web::Data<AppState>,
    req: HttpRequest,
    mut payload: web::Payload,
    provider: SmsProviderName,
    path: &str,
) -> Result<HttpResponse, ApiError> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("The body could not be read: {e}.")))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    // Providers sign the URL they called: ours as the world sees it, plus any query.
    let mut url = format!("{}{path}", state.config.public_url);
    if !req.query_string().is_empty() {
        url = format!("{url}?{}", req.query_string());
    }
    let headers = req
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let request = ReceiptRequest {
        url,
        headers,
        body: &body,
    };
    state.delivery.receive(provider, &request).await?;
    Ok(HttpResponse::NoContent().finish())
}
