//! A fake Twilio: a real HTTP server on loopback speaking the Messages API
//! (`POST /2010-04-01/Accounts/{sid}/Messages.json`, Basic auth, form fields), recording
//! every message, answering with the failures tests need, and firing status callbacks
//! signed exactly as Twilio signs them. Used by the API's integration tests and, as
//! the `fake-twilio` binary, by browser tests and local development.
//!
//! Control endpoints for other processes: `GET /_fake/messages`,
//! `POST /_fake/fail` `{"mode": "500"|"429"|"21211"|"21614"|"401", "times": n}`,
//! `POST /_fake/slow` `{"millis": n}`, and
//! `POST /_fake/messages/{sid}/status` `{"status": "delivered", "error_code": null}`.

use std::{
    collections::{HashMap, VecDeque},
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::Sha1;

/// A message the fake accepted.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub sid: String,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status_callback: Option<String>,
    #[serde(skip)]
    accepted_at: Option<std::time::Instant>,
}

/// How the next request(s) fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum Failure {
    #[serde(rename = "500")]
    ServerError,
    #[serde(rename = "429")]
    TooManyRequests,
    #[serde(rename = "21211")]
    InvalidNumber,
    #[serde(rename = "21614")]
    NotMobile,
    #[serde(rename = "401")]
    BadCredentials,
}

#[derive(Default)]
struct State {
    messages: Vec<Recorded>,
    failures: VecDeque<Failure>,
    delay: Duration,
    /// Per recipient (`To`), over `delay`: one slow message among fast ones.
    delay_for: HashMap<String, Duration>,
    requests: u64,
}

#[derive(Clone)]
struct Shared {
    account_sid: String,
    auth_token: String,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
}

/// A running fake.
pub struct FakeTwilio {
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    shared: Shared,
    handle: ServerHandle,
}

/// Twilio's signature: HMAC-SHA1 keyed by the auth token over the full URL followed by
/// each POST parameter's name and value, sorted by name; base64.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
    #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
    let mut mac = Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).unwrap();
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

const CALLBACK_DELAY: Duration = Duration::from_millis(500);

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl FakeTwilio {
    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start(port: u16, account_sid: &str, auth_token: &str) -> anyhow::Result<Self> {
        let shared = Shared {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            state: Arc::default(),
            client: reqwest::Client::builder().no_proxy().build()?,
        };
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let data = web::Data::new(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/2010-04-01/Accounts/{sid}/Messages.json",
                    web::post().to(create_message),
                )
                .route("/_fake/messages", web::get().to(list_messages))
                .route("/_fake/fail", web::post().to(set_failure))
                .route("/_fake/slow", web::post().to(set_slow))
                .route("/_fake/messages/{sid}/status", web::post().to(fire_status))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            base_url,
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            shared,
            handle,
        })
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<Recorded> {
        lock(&self.shared).messages.clone()
    }

    /// How many message requests arrived, accepted or not.
    pub fn requests(&self) -> u64 {
        lock(&self.shared).requests
    }

    /// The next `times` message requests fail with `failure`.
    pub fn fail_next(&self, failure: Failure, times: usize) {
        let mut state = lock(&self.shared);
        state.failures.extend(std::iter::repeat_n(failure, times));
    }

    pub fn set_delay(&self, delay: Duration) {
        lock(&self.shared).delay = delay;
    }

    /// Answers messages to `to` only after `delay`; the others as `set_delay` says.
    pub fn set_delay_for(&self, to: &str, delay: Duration) {
        lock(&self.shared).delay_for.insert(to.to_owned(), delay);
    }

    /// Posts a signed status callback for `sid` to the URL the message named; returns
    /// the HTTP status the callback got.
    pub async fn send_status(
        &self,
        sid: &str,
        status: &str,
        error_code: Option<i64>,
    ) -> anyhow::Result<u16> {
        send_status(&self.shared, sid, status, error_code).await
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn send_status(
    shared: &Shared,
    sid: &str,
    status: &str,
    error_code: Option<i64>,
) -> anyhow::Result<u16> {
    let msg = lock(shared)
        .messages
        .iter()
        .find(|m| m.sid == sid)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("no message {sid}"))?;
    let url = msg
        .status_callback
        .clone()
        .ok_or_else(|| anyhow::anyhow!("message has no StatusCallback"))?;
    // Like Twilio, report no earlier than a moment after accepting the message: the
    // sender must have had the chance to record the MessageSid our 201 gave it, or the
    // callback names a message it cannot know yet.
    if let Some(wait) = msg
        .accepted_at
        .and_then(|at| CALLBACK_DELAY.checked_sub(at.elapsed()))
    {
        tokio::time::sleep(wait).await;
    }
    let mut params = vec![
        ("AccountSid".to_owned(), shared.account_sid.clone()),
        ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
        ("MessageSid".to_owned(), msg.sid.clone()),
        ("SmsSid".to_owned(), msg.sid.clone()),
        ("MessageStatus".to_owned(), status.to_owned()),
        ("SmsStatus".to_owned(), status.to_owned()),
        ("To".to_owned(), msg.to.clone()),
        ("From".to_owned(), msg.from.clone().unwrap_or_default()),
    ];
    if let Some(code) = error_code {
        params.push(("ErrorCode".to_owned(), code.to_string()));
    }
    let sig = signature(&shared.auth_token, &url, &params);
    let res = shared
        .client
        .post(&url)
        .header("X-Twilio-Signature", sig)
        .form(&params)
        .send()
        .await?;
    Ok(res.status().as_u16())
}

fn twilio_error(status: u16, code: i64, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default()).json(
        json!({
            "code": code,
            "message": message,
            "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
            "status": status,
        }),
    )
}

async fn create_message(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let (failure, delay) = {
        let mut state = lock(&shared);
        state.requests += 1;
        let to = form
            .iter()
            .find(|(k, _)| k == "To")
            .map(|(_, v)| v.as_str());
        let delay = to
            .and_then(|to| state.delay_for.get(to).copied())
            .unwrap_or(state.delay);
        (state.failures.pop_front(), delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", shared.account_sid, shared.auth_token))
    );
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized || *path != shared.account_sid || failure == Some(Failure::BadCredentials) {
        return twilio_error(401, 20003, "Authenticate");
    }
    match failure {
        Some(Failure::ServerError) => return twilio_error(500, 20500, "Internal Server Error"),
        Some(Failure::TooManyRequests) => return twilio_error(429, 20429, "Too Many Requests"),
        Some(Failure::InvalidNumber) => {
            return twilio_error(400, 21211, "The 'To' number is not a valid phone number.");
        }
        Some(Failure::NotMobile) => {
            return twilio_error(400, 21614, "'To' number is not a valid mobile number");
        }
        _ => {}
    }
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(to), Some(body)) = (field("To"), field("Body")) else {
        return twilio_error(400, 21604, "A 'To' phone number and a 'Body' are required.");
    };
    let (from, mss) = (field("From"), field("MessagingServiceSid"));
    if from.is_none() && mss.is_none() {
        return twilio_error(
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required",
        );
    }
    let sid = format!("SM{:032x}", rand::random::<u128>());
    let recorded = Recorded {
        sid: sid.clone(),
        to: to.clone(),
        from: from.clone(),
        messaging_service_sid: mss.clone(),
        body: body.clone(),
        status_callback: field("StatusCallback"),
        accepted_at: Some(std::time::Instant::now()),
    };
    lock(&shared).messages.push(recorded);
    HttpResponse::Created().json(json!({
        "sid": sid,
        "account_sid": shared.account_sid,
        "to": to,
        "from": from,
        "messaging_service_sid": mss,
        "body": body,
        "status": "queued",
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "error_code": null,
        "error_message": null,
        "uri": format!("/2010-04-01/Accounts/{}/Messages/{sid}.json", shared.account_sid),
    }))
}

async fn list_messages(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "messages": lock(&shared).messages.clone() }))
}

#[derive(Deserialize)]
struct FailRequest {
    mode: Failure,
    #[serde(default = "one")]
    times: usize,
}

fn one() -> usize {
    1
}

async fn set_failure(shared: web::Data<Shared>, body: web::Json<FailRequest>) -> HttpResponse {
    let mut state = lock(&shared);
    state
        .failures
        .extend(std::iter::repeat_n(body.mode, body.times));
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct SlowRequest {
    millis: u64,
}

async fn set_slow(shared: web::Data<Shared>, body: web::Json<SlowRequest>) -> HttpResponse {
    lock(&shared).delay = Duration::from_millis(body.millis);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct StatusRequest {
    status: String,
    error_code: Option<i64>,
}

async fn fire_status(
    shared: web::Data<Shared>,
    sid: web::Path<String>,
    body: web::Json<StatusRequest>,
) -> HttpResponse {
    match send_status(&shared, &sid, &body.status, body.error_code).await {
        Ok(status) => HttpResponse::Ok().json(json!({ "callback_status": status })),
        Err(e) => HttpResponse::NotFound().json(json!({ "error": e.to_string() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Twilio's webhook-security documentation (twilio-php
    /// RequestValidator docs): token 12345, this URL and these parameters.
    #[test]
    fn signature_matches_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let sig = signature(
            "12345",
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            &params,
        );
        assert_eq!(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    }
}
