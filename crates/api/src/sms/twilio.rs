//! A focused Twilio Messages API client (reqwest + rustls). The `twilio` crate is not
//! used: it hard-codes the API host, cannot set `StatusCallback` or
//! `MessagingServiceSid`, and discards Twilio's error body.

use std::time::Duration;

use serde::Deserialize;

use super::{Accepted, OutgoingSms, SendError, SendFuture, SmsSender};
use crate::config::Secret;

pub struct TwilioSender {
    client: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: Secret,
    sender: Sender,
    status_callback: String,
}

enum Sender {
    From(String),
    MessagingService(String),
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
    status: String,
}

/// Twilio's error body: `{"code": 21211, "message": "...", "status": 400, ...}`.
#[derive(Deserialize)]
struct TwilioError {
    code: Option<i64>,
    message: Option<String>,
}

impl TwilioSender {
    pub fn new(
        api_base: &str,
        account_sid: String,
        auth_token: Secret,
        from: Option<String>,
        messaging_service_sid: Option<String>,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let sender = match (messaging_service_sid, from) {
            (Some(sid), _) => Sender::MessagingService(sid),
            (None, Some(from)) => Sender::From(from),
            (None, None) => anyhow::bail!("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required"),
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()?;
        Ok(Self {
            client,
            messages_url: format!(
                "{}/2010-04-01/Accounts/{account_sid}/Messages.json",
                api_base.trim_end_matches('/')
            ),
            account_sid,
            auth_token,
            sender,
            status_callback: format!("{public_url}/api/v1/webhooks/twilio/status"),
        })
    }

    async fn post(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let mut form = vec![
            ("To", sms.to.as_str()),
            ("Body", sms.body.as_str()),
            ("StatusCallback", self.status_callback.as_str()),
        ];
        match &self.sender {
            Sender::From(from) => form.push(("From", from)),
            Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
        }
        let res = self
            .client
            .post(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError::Retry(format!("Twilio unreachable: {e}")))?;
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if status.is_success() {
            let msg: MessageResource = serde_json::from_slice(&body)
                .map_err(|e| SendError::Retry(format!("unreadable Twilio response: {e}")))?;
            return Ok(Accepted { sid: msg.sid, status: msg.status });
        }
        let err: Option<TwilioError> = serde_json::from_slice(&body).ok();
        let code = err.as_ref().and_then(|e| e.code);
        let message = err
            .and_then(|e| e.message)
            .unwrap_or_else(|| format!("HTTP {status}"));
        if status.as_u16() == 401 || status.as_u16() == 403 {
            // Our credentials or account are wrong: never the user's fault.
            tracing::error!(http.status = status.as_u16(), code, "Twilio refused our credentials; check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN");
            crate::telemetry::sms_config_fault();
            return Err(SendError::Retry(format!("Twilio authentication failed: {message}")));
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(SendError::Retry(format!("Twilio {status}: {message}")));
        }
        Err(SendError::Rejected { code, message })
    }
}

impl SmsSender for TwilioSender {
    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }
}
