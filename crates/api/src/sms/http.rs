//! The generic signed HTTP provider (SPEC §13), for any gateway an operator puts behind
//! a small adapter. Every call is signed like SPEC §12's outbound webhooks (Standard
//! Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` = `v1,` + base64
//! HMAC-SHA256 of `id.timestamp.body` under `SMS_HTTP_SECRET`), with the standard's own
//! library rather than our own HMAC code.
//!
//! - send: `POST {SMS_HTTP_URL}` `{id, to, body, purpose, locale, channel,
//!   validity_seconds}`; 200/202 `{provider_message_id}` took it, 4xx `{error_code,
//!   permanent}` refused it (for good when `permanent`), 5xx, 408, 429 and timeouts are
//!   tried again (401/403 too: our secret or their setup is wrong, never the user's
//!   fault, and the provider's circuit opens at once);
//! - lookup: `GET {SMS_HTTP_URL}/messages/{id}` (PhoneReg's id): 200
//!   `{provider_message_id, status?}` found, 404 not found;
//! - receipts: `POST /api/v1/webhooks/sms/http/status` `{provider_message_id, status,
//!   error_code?}` signed the same way, `status` in PhoneReg's words.
//!
//! The `webhook-id` of a send is PhoneReg's message id, the same on every try, so the
//! gateway can drop a repeat; signatures carry the wall-clock time (the standard's
//! five-minute replay window is about real time, not the clock tests move).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use phonereg_types::{MessageStatus, SmsProviderName};
use serde::{Deserialize, Serialize};
use standardwebhooks::Webhook;

use super::{
    Accepted, CALL_TIMEOUT, ListFuture, Listed, OutgoingSms, Provider, Receipt, ReceiptError,
    ReceiptRequest, SendError, SendFuture,
};
use crate::config::Secret;

/// Where receipts for this provider are posted.
pub const RECEIPT_PATH: &str = "/api/v1/webhooks/sms/http/status";

pub struct HttpProvider {
    client: reqwest::Client,
    url: String,
    webhook: Webhook,
}

/// What the gateway is sent.
#[derive(Serialize)]
struct Outgoing<'a> {
    id: i64,
    to: &'a str,
    body: &'a str,
    purpose: &'a str,
    locale: &'a str,
    channel: &'a str,
    validity_seconds: Option<u32>,
}

#[derive(Deserialize)]
struct Taken {
    provider_message_id: String,
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize, Default)]
struct Refusal {
    #[serde(default)]
    error_code: Option<i64>,
    #[serde(default)]
    permanent: Option<bool>,
}

#[derive(Deserialize)]
struct Incoming {
    provider_message_id: String,
    status: String,
    #[serde(default)]
    error_code: Option<i64>,
}

impl HttpProvider {
    /// `secret` is `whsec_` + base64 (or bare base64) of the key.
    pub fn new(url: &str, secret: &Secret) -> anyhow::Result<Self> {
        let webhook =
            Webhook::new(secret.expose()).map_err(|e| anyhow::anyhow!("SMS_HTTP_SECRET: {e}"))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .build()?;
        Ok(Self {
            client,
            url: url.trim_end_matches('/').to_owned(),
            webhook,
        })
    }

    /// The three Standard Webhooks headers for `payload`, as message `id`.
    fn signed(
        &self,
        req: reqwest::RequestBuilder,
        id: &str,
        payload: &[u8],
    ) -> Result<reqwest::RequestBuilder, SendError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let signature = self
            .webhook
            .sign(id, now, payload)
            .map_err(|e| SendError::Retry(format!("could not sign: {e}")))?;
        Ok(req
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, now.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature))
    }

    async fn post(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let payload = serde_json::to_vec(&Outgoing {
            id: sms.id,
            to: &sms.to,
            body: &sms.body,
            purpose: sms.purpose.as_str(),
            locale: &sms.locale,
            channel: sms.channel.as_str(),
            validity_seconds: sms.validity,
        })
        .map_err(|e| SendError::Retry(format!("could not encode: {e}")))?;
        let req = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let res = self
            .signed(req, &format!("msg_{}", sms.id), &payload)?
            .body(payload)
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if status.is_success() {
            let taken: Taken = serde_json::from_slice(&body)
                .map_err(|e| SendError::Retry(format!("unreadable answer: {e}")))?;
            return Ok(Accepted {
                id: taken.provider_message_id,
                status: reported(taken.status.as_deref()),
            });
        }
        Err(refusal(status, &body))
    }

    async fn find(&self, sms: &OutgoingSms) -> Result<Vec<Listed>, SendError> {
        let req = self.client.get(format!("{}/messages/{}", self.url, sms.id));
        let res = self
            .signed(req, &format!("lookup_{}", sms.id), b"")?
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let body = res.bytes().await.unwrap_or_default();
        if !status.is_success() {
            // Whatever it says, we could not look: the caller tries later.
            return Err(SendError::Retry(refusal(status, &body).to_string()));
        }
        let found: Taken = serde_json::from_slice(&body)
            .map_err(|e| SendError::Retry(format!("unreadable lookup: {e}")))?;
        Ok(vec![Listed {
            id: found.provider_message_id,
            status: reported(found.status.as_deref()),
            // Found by our own id: no body to match.
            body: None,
        }])
    }
}

/// A status the gateway reports on taking or finding a message; anything else (or
/// nothing) is `queued`: it has the message, and its receipts will say more.
fn reported(status: Option<&str>) -> MessageStatus {
    status
        .and_then(MessageStatus::parse)
        .unwrap_or(MessageStatus::Queued)
}

fn unreachable(e: reqwest::Error) -> SendError {
    let refused = e.is_connect();
    let why = format!("SMS gateway unreachable: {}", e.without_url());
    // A refused connection never carried the message; a timeout may have.
    if refused {
        SendError::Unavailable(why)
    } else {
        SendError::Retry(why)
    }
}

fn refusal(status: reqwest::StatusCode, body: &[u8]) -> SendError {
    let refusal: Refusal = serde_json::from_slice(body).unwrap_or_default();
    let code = status.as_u16();
    if code == 401 || code == 403 {
        tracing::error!(
            http.status = code,
            "the SMS gateway refused our signature; check SMS_HTTP_SECRET"
        );
        crate::telemetry::sms_config_fault();
        return SendError::Misconfigured(format!("SMS gateway refused our signature ({status})"));
    }
    // 503 and 429 say the request was not taken; another 5xx or a 408 might have been.
    if code == 503 || code == 429 {
        return SendError::Unavailable(format!("SMS gateway {status}"));
    }
    if status.is_server_error() || code == 408 {
        return SendError::Retry(format!("SMS gateway {status}"));
    }
    // A 4xx that does not say otherwise is for good: trying the same request again
    // would only be refused again.
    if refusal.permanent == Some(false) {
        return SendError::Unavailable(format!(
            "SMS gateway {status}, code {:?}, temporary",
            refusal.error_code
        ));
    }
    SendError::Rejected {
        code: refusal.error_code,
        message: format!("SMS gateway {status}"),
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> SmsProviderName {
        SmsProviderName::Http
    }

    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }

    fn lookup<'a>(&'a self, sms: &'a OutgoingSms) -> ListFuture<'a> {
        Box::pin(self.find(sms))
    }

    fn receipts(&self, request: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let json = request
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return Err(ReceiptError::UnsupportedMediaType);
        }
        let mut headers = http::HeaderMap::new();
        for (name, value) in &request.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        self.webhook
            .verify(request.body, &headers)
            .map_err(|_| ReceiptError::BadSignature)?;
        let incoming: Incoming = serde_json::from_slice(request.body)
            .map_err(|e| ReceiptError::Malformed(format!("The receipt is malformed: {e}.")))?;
        // A status this build does not know changes nothing.
        Ok(MessageStatus::parse(&incoming.status)
            .map(|status| Receipt {
                id: incoming.provider_message_id,
                status,
                error_code: incoming.error_code,
            })
            .into_iter()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(status: u16, body: &str) -> Result<Option<i64>, String> {
        let status = reqwest::StatusCode::from_u16(status).expect("status");
        match refusal(status, body.as_bytes()) {
            SendError::Rejected { code, .. } => Ok(code),
            SendError::Retry(why) | SendError::Unavailable(why) | SendError::Misconfigured(why) => {
                Err(why)
            }
        }
    }

    #[test]
    fn refusals_follow_the_gateways_word() {
        assert_eq!(
            code_of(400, r#"{"error_code": 21211, "permanent": true}"#),
            Ok(Some(21211))
        );
        assert_eq!(code_of(422, "not json"), Ok(None));
        assert!(code_of(400, r#"{"error_code": 30007, "permanent": false}"#).is_err());
        for retried in [500, 503, 408, 429, 401, 403] {
            assert!(code_of(retried, "{}").is_err(), "{retried} is tried again");
        }
        for ours in [401, 403] {
            let status = reqwest::StatusCode::from_u16(ours).expect("status");
            assert!(
                matches!(refusal(status, b"{}"), SendError::Misconfigured(_)),
                "{ours} is our configuration: the circuit opens at once"
            );
        }
    }
}
