//! A focused Twilio client (reqwest + rustls): Messages for SMS and WhatsApp, Calls for
//! codes said by voice (SPEC §13). The `twilio` crate is not used: it hard-codes the API
//! host, cannot set `StatusCallback` or `MessagingServiceSid`, and discards Twilio's
//! error body.
//!
//! Long: one provider's whole wire format (three channels, the lookup, receipts of
//! messages and calls, signatures) in the one place that may know it.

use std::time::Duration;

use phonereg_types::{Channel, MessageStatus, SmsProviderName};
use serde::Deserialize;

use super::{
    Accepted, CALL_TIMEOUT, ListFuture, Listed, OutgoingSms, Provider, Receipt, ReceiptError,
    ReceiptRequest, SendError, SendFuture,
};
use crate::{config::Secret, domain::phone_number::mask_numbers};

pub struct TwilioSender {
    client: reqwest::Client,
    messages_url: String,
    account_sid: String,
    auth_token: Secret,
    sender: Sender,
    status_callback: String,
    calls_url: String,
    voice_status_callback: String,
    channels: Channels,
}

/// The senders of the channels besides SMS (SPEC §13); a channel without its sender is
/// refused at start-up (`Config::check`), so a missing one here is a configuration fault.
#[derive(Clone, Debug, Default)]
pub struct Channels {
    /// `VOICE_FROM`, defaulting to `TWILIO_FROM`.
    pub voice_from: Option<String>,
    /// `WHATSAPP_FROM`, defaulting to `whatsapp:` + `TWILIO_FROM`.
    pub whatsapp_from: Option<String>,
    /// `WHATSAPP_CONTENT_SID`: the approved template whose `{{1}}` is the code.
    pub whatsapp_content_sid: Option<String>,
}

enum Sender {
    From(String),
    MessagingService(String),
}

#[derive(Deserialize)]
struct MessageResource {
    sid: String,
    status: String,
    #[serde(default)]
    body: Option<String>,
}

/// One page of `GET …/Messages.json` (Twilio's `ListMessageResponse`).
#[derive(Deserialize)]
struct MessagePage {
    messages: Vec<MessageResource>,
}

/// Messages listed when looking for one that may have been sent: more than could go to
/// one number between a send and its lookup (a lease), with the per-number caps.
const RECENT_PAGE: u32 = 50;

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
            (None, None) => {
                anyhow::bail!("TWILIO_FROM or TWILIO_MESSAGING_SERVICE_SID is required")
            }
        };
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(CALL_TIMEOUT)
            .build()?;
        let api_base = api_base.trim_end_matches('/');
        Ok(Self {
            client,
            messages_url: format!("{api_base}/2010-04-01/Accounts/{account_sid}/Messages.json"),
            calls_url: format!("{api_base}/2010-04-01/Accounts/{account_sid}/Calls.json"),
            account_sid,
            auth_token,
            sender,
            status_callback: format!("{public_url}/api/v1/webhooks/twilio/status"),
            voice_status_callback: format!("{public_url}/api/v1/webhooks/twilio/voice-status"),
            channels: Channels::default(),
        })
    }

    /// With the senders of voice and WhatsApp.
    pub fn with_channels(mut self, channels: Channels) -> Self {
        self.channels = channels;
        self
    }

    async fn post(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        match sms.channel {
            Channel::Sms => self.text(sms).await,
            Channel::Voice => self.call(sms).await,
            Channel::Whatsapp => self.whatsapp(sms).await,
        }
    }

    /// `POST …/Calls.json`: a call that says the code (the body: the sentence, digit by
    /// digit) twice, in the message's language. Its outcome comes to the voice status
    /// callback.
    async fn call(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let from = self
            .channels
            .voice_from
            .as_deref()
            .ok_or_else(|| missing_sender("VOICE_FROM"))?;
        let twiml = twiml(&sms.body, &sms.locale);
        let form = [
            ("To", sms.to.as_str()),
            ("From", from),
            ("Twiml", twiml.as_str()),
            ("StatusCallback", self.voice_status_callback.as_str()),
        ];
        self.create(&self.calls_url, &form).await
    }

    /// `POST …/Messages.json` to `whatsapp:+…`: the approved template, its one variable
    /// the code (the body).
    async fn whatsapp(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let from = self
            .channels
            .whatsapp_from
            .as_deref()
            .ok_or_else(|| missing_sender("WHATSAPP_FROM"))?;
        let content = self
            .channels
            .whatsapp_content_sid
            .as_deref()
            .ok_or_else(|| missing_sender("WHATSAPP_CONTENT_SID"))?;
        let to = format!("whatsapp:{}", sms.to);
        let variables = serde_json::json!({ "1": sms.body }).to_string();
        let validity = sms.validity.map(|v| v.clamp(1, 36_000).to_string());
        let mut form = vec![
            ("To", to.as_str()),
            ("From", from),
            ("ContentSid", content),
            ("ContentVariables", variables.as_str()),
            ("StatusCallback", self.status_callback.as_str()),
        ];
        if let Some(validity) = &validity {
            form.push(("ValidityPeriod", validity));
        }
        self.create(&self.messages_url, &form).await
    }

    /// Posts a form that creates a resource (a message, a call) and reads its sid and
    /// status, or the refusal.
    async fn create(&self, url: &str, form: &[(&str, &str)]) -> Result<Accepted, SendError> {
        let res = self
            .client
            .post(url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .form(form)
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if status.is_success() {
            let msg: MessageResource = serde_json::from_slice(&body)
                .map_err(|e| SendError::Retry(format!("unreadable Twilio response: {e}")))?;
            return Ok(Accepted {
                id: msg.sid,
                status: accepted_status(&msg.status),
            });
        }
        Err(refusal(status, &body))
    }

    async fn text(&self, sms: &OutgoingSms) -> Result<Accepted, SendError> {
        let validity = sms.validity.map(|v| v.clamp(1, 36_000).to_string());
        let mut form = vec![
            ("To", sms.to.as_str()),
            ("Body", sms.body.as_str()),
            ("StatusCallback", self.status_callback.as_str()),
        ];
        match &self.sender {
            Sender::From(from) => form.push(("From", from)),
            Sender::MessagingService(sid) => form.push(("MessagingServiceSid", sid)),
        }
        // Twilio drops the message itself if its own queue holds it past the code's life.
        if let Some(validity) = &validity {
            form.push(("ValidityPeriod", validity));
        }
        self.create(&self.messages_url, &form).await
    }

    /// `GET …/Messages.json?To=…&PageSize=…`: newest first. A message Twilio still
    /// queues has no `date_sent`, so the list is not narrowed by date.
    async fn list(&self, to: &str) -> Result<Vec<Listed>, SendError> {
        let page = RECENT_PAGE.to_string();
        let res = self
            .client
            .get(&self.messages_url)
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .query(&[("To", to), ("PageSize", page.as_str())])
            .send()
            .await
            .map_err(unreachable)?;
        let status = res.status();
        let body = res.bytes().await.unwrap_or_default();
        if !status.is_success() {
            // Whatever Twilio says, we could not look: the caller tries later.
            return Err(SendError::Retry(refusal(status, &body).to_string()));
        }
        let page: MessagePage = serde_json::from_slice(&body)
            .map_err(|e| SendError::Retry(format!("unreadable Twilio message list: {e}")))?;
        Ok(page
            .messages
            .into_iter()
            .map(|m| Listed {
                id: m.sid,
                status: accepted_status(&m.status),
                body: Some(m.body.unwrap_or_default()),
            })
            .collect())
    }
}

/// A channel's sender is not configured: every message by it would fail alike.
fn missing_sender(setting: &str) -> SendError {
    SendError::Misconfigured(format!("{setting} is not set"))
}

/// The TwiML of a code call: `said` twice with a pause between, in `locale`'s language
/// (Twilio's `<Say>` voices are per language and region).
pub fn twiml(said: &str, locale: &str) -> String {
    let language = match locale {
        "es" => "es-ES",
        "fr" => "fr-FR",
        "de" => "de-DE",
        "pt" => "pt-BR",
        _ => "en-US",
    };
    let said = said
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<Response><Say language=\"{language}\">{said}</Say><Pause length=\"1\"/>\
         <Say language=\"{language}\">{said}</Say></Response>"
    )
}

/// A call's status (Twilio's `CallStatus`) as PhoneReg's: `completed` is delivered (the
/// code was said to whoever answered); `busy`, `no-answer`, `failed` and `canceled` are
/// failed; a call ringing or in progress is sent.
pub fn call_status(text: &str) -> Option<MessageStatus> {
    match text {
        "queued" | "initiated" => Some(MessageStatus::Queued),
        "ringing" | "in-progress" => Some(MessageStatus::Sent),
        "completed" => Some(MessageStatus::Delivered),
        "busy" | "no-answer" | "failed" | "canceled" => Some(MessageStatus::Failed),
        _ => None,
    }
}

/// Twilio could not be reached. The URL is left out: a message list's names the number
/// (`?To=…`), and the reason is logged.
fn unreachable(e: reqwest::Error) -> SendError {
    let refused = e.is_connect();
    let why = format!("Twilio unreachable: {}", e.without_url());
    // A refused connection never carried the message; a timeout may have.
    if refused {
        SendError::Unavailable(why)
    } else {
        SendError::Retry(why)
    }
}

/// What a non-2xx answer from Twilio means for the message. Twilio's text often names
/// the number ("The 'To' number +1… is not a valid phone number."): it is masked here,
/// so no full number leaves this module for the logs.
fn refusal(status: reqwest::StatusCode, body: &[u8]) -> SendError {
    let err: Option<TwilioError> = serde_json::from_slice(body).ok();
    let code = err.as_ref().and_then(|e| e.code);
    let message = err
        .and_then(|e| e.message)
        .map(|m| mask_numbers(&m))
        .unwrap_or_else(|| format!("HTTP {status}"));
    if status.as_u16() == 401 || status.as_u16() == 403 {
        // Our credentials or account are wrong: never the user's fault.
        tracing::error!(
            http.status = status.as_u16(),
            code,
            "Twilio refused our credentials; check TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN"
        );
        crate::telemetry::sms_config_fault();
        return SendError::Misconfigured(format!("Twilio authentication failed: {message}"));
    }
    // 503 and 429 say the request was not taken; another 5xx might have been.
    if status.as_u16() == 503 || status.as_u16() == 429 {
        return SendError::Unavailable(format!("Twilio {status}: {message}"));
    }
    if status.is_server_error() {
        return SendError::Retry(format!("Twilio {status}: {message}"));
    }
    SendError::Rejected { code, message }
}

/// Twilio's word for a status, including the ones it uses that PhoneReg folds into its
/// own (`accepted`/`scheduled` are still queued; `read` was delivered).
pub fn status_from_twilio(text: &str) -> Option<MessageStatus> {
    match text {
        "accepted" | "scheduled" => Some(MessageStatus::Queued),
        "read" => Some(MessageStatus::Delivered),
        other => MessageStatus::parse(other),
    }
}

/// The status of a message Twilio has: Messaging Services answer `accepted` (or
/// `scheduled`), still "queued" for the user. A word this build does not know is taken
/// as queued too: Twilio has the message, and its callbacks will say.
fn accepted_status(text: &str) -> MessageStatus {
    status_from_twilio(text).unwrap_or(MessageStatus::Queued)
}

impl Provider for TwilioSender {
    fn name(&self) -> SmsProviderName {
        SmsProviderName::Twilio
    }

    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a> {
        Box::pin(self.post(sms))
    }

    /// Texts are found among the number's recent messages. A call or a WhatsApp message
    /// is not looked for (its body is not what Twilio lists): one whose send may have
    /// landed is tried again, so a crash at that moment can repeat a call.
    fn lookup<'a>(&'a self, sms: &'a OutgoingSms) -> ListFuture<'a> {
        match sms.channel {
            Channel::Sms => Box::pin(self.list(&sms.to)),
            Channel::Voice | Channel::Whatsapp => Box::pin(async { Ok(Vec::new()) }),
        }
    }

    /// A status callback: a form signed with `X-Twilio-Signature` over the URL Twilio
    /// called. A well-signed callback whose status this build does not know is no receipt.
    fn receipts(&self, request: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let form = request
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        if !form {
            return Err(ReceiptError::UnsupportedMediaType);
        }
        let params: Vec<(String, String)> = serde_urlencoded::from_bytes(request.body)
            .map_err(|e| ReceiptError::Malformed(format!("The form body is malformed: {e}.")))?;
        let presented = request.header("x-twilio-signature").unwrap_or("");
        if !signature_is_valid(self.auth_token.expose(), &request.url, &params, presented) {
            return Err(ReceiptError::BadSignature);
        }
        let field = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        if let (None, Some(sid), Some(status)) =
            (field("MessageSid"), field("CallSid"), field("CallStatus"))
        {
            return Ok(call_status(status)
                .map(|status| Receipt {
                    id: sid.to_owned(),
                    status,
                    error_code: None,
                })
                .into_iter()
                .collect());
        }
        let (Some(sid), Some(status)) = (field("MessageSid"), field("MessageStatus")) else {
            return Ok(Vec::new());
        };
        Ok(status_from_twilio(status)
            .map(|status| Receipt {
                id: sid.to_owned(),
                status,
                error_code: field("ErrorCode").and_then(|c| c.parse().ok()),
            })
            .into_iter()
            .collect())
    }
}

/// `X-Twilio-Signature` as Twilio computes it: HMAC-SHA1 keyed by the auth token over the
/// full URL followed by every POST parameter's name and value, sorted by name; base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use base64::{Engine as _, engine::general_purpose::STANDARD};
    use hmac::{Hmac, Mac as _};

    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `presented` is the right signature, compared in constant time.
pub fn signature_is_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    presented: &str,
) -> bool {
    use subtle::ConstantTimeEq as _;
    signature(auth_token, url, params)
        .as_bytes()
        .ct_eq(presented.as_bytes())
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_words_fold_into_phoneregs_statuses() {
        assert_eq!(status_from_twilio("read"), Some(MessageStatus::Delivered));
        assert_eq!(status_from_twilio("accepted"), Some(MessageStatus::Queued));
        assert_eq!(
            status_from_twilio("delivered"),
            Some(MessageStatus::Delivered)
        );
        assert_eq!(status_from_twilio("partially_delivered"), None);
        assert_eq!(
            accepted_status("partially_delivered"),
            MessageStatus::Queued
        );
    }

    #[test]
    fn a_call_says_the_code_twice_in_the_requests_language() {
        let said = "Votre code PhoneReg est : 4, 8, 2, 9, 1, 3.";
        let xml = twiml(said, "fr");
        assert_eq!(xml.matches(said).count(), 2, "{xml}");
        assert_eq!(xml.matches("language=\"fr-FR\"").count(), 2, "{xml}");
        assert!(twiml("a < b & c", "en").contains("a &lt; b &amp; c"));
        assert_eq!(call_status("completed"), Some(MessageStatus::Delivered));
        for failed in ["busy", "no-answer", "failed", "canceled"] {
            assert_eq!(call_status(failed), Some(MessageStatus::Failed), "{failed}");
        }
    }

    #[test]
    fn refusals_carry_the_number_masked() {
        let body = br#"{"code": 21211, "message": "The 'To' number +14155552671 is not a valid phone number."}"#;
        let SendError::Rejected { code, message } = refusal(reqwest::StatusCode::BAD_REQUEST, body)
        else {
            panic!("a 400 is a rejection");
        };
        assert_eq!(code, Some(21211));
        assert_eq!(
            message,
            "The 'To' number +•••••••2671 is not a valid phone number."
        );
        let body = br#"{"code": 20500, "message": "Internal error sending to +14155552671"}"#;
        let SendError::Retry(reason) = refusal(reqwest::StatusCode::BAD_GATEWAY, body) else {
            panic!("a 502 is retried");
        };
        assert!(!reason.contains("4155552671"), "{reason}");
    }

    fn example_params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// The worked example of Twilio's webhook-security documentation.
    #[test]
    fn accepts_twilios_documented_example() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params = example_params();
        assert_eq!(
            signature("12345", url, &params),
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        );
        assert!(signature_is_valid(
            "12345",
            url,
            &params,
            "RSOYDt4T1cUTdK1PDd93/VVr8B8="
        ));
    }

    #[test]
    fn rejects_any_change_to_token_url_or_parameters() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let good = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
        assert!(!signature_is_valid("12346", url, &example_params(), good));
        assert!(!signature_is_valid(
            "12345",
            "https://mycompany.com/myapp.php",
            &example_params(),
            good
        ));
        let mut params = example_params();
        params[2].1 = "1235".into();
        assert!(!signature_is_valid("12345", url, &params, good));
        assert!(!signature_is_valid("12345", url, &example_params(), ""));
    }
}
