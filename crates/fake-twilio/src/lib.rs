//! A fake Twilio: a real HTTP server on loopback speaking the Messages API
//! (`POST /2010-04-01/Accounts/{sid}/Messages.json` to send, with `Body` or a WhatsApp
//! template's `ContentSid` and `ContentVariables`; `GET` on the same path to list
//! an account's messages newest first, filtered by `To`, `PageSize`; Basic auth, form
//! fields) and the Calls API (`POST …/Calls.json` with inline `Twiml`, recorded so a test
//! reads what the call said), recording every message and call, answering with the
//! failures tests need, and firing status callbacks (a message's `MessageStatus`, a
//! call's `CallStatus`) signed exactly as Twilio signs them. Used by the API's integration
//! tests and, as the `fake-twilio` binary, by browser tests, local development and
//! `scripts/faults.sh`.
//!
//! Long: one fake of one API (send, list, callbacks, signatures, the control
//! endpoints), in one place so a test author reads the whole fake at once.
//!
//! Control endpoints for other processes: `GET /_fake/messages` (and `held`: answers
//! held right now),
//! `POST /_fake/fail` `{"mode": "500"|"429"|"21211"|"21614"|"401", "times": n}`,
//! `POST /_fake/slow` `{"millis": n}`,
//! `POST /_fake/hold` `{"hold": true|false}` (accept messages but keep the HTTP answer
//! until released: the window in which a sender can die after Twilio took its message),
//! `POST /_fake/down` `{"down": true|false}` (every API call answers 503),
//! `POST /_fake/refuse` `{"prefix": "+44", "code": 21408}` (every message to a number
//! starting with `prefix` is refused with `code`, as Twilio refuses a country the
//! account is not enabled for; `{"prefix": null}` ends it), and
//! `POST /_fake/messages/{sid}/status` `{"status": "delivered", "error_code": null}` (a
//! call's sid `CA…` gets a call's callback: `completed`, `busy`, `no-answer`, …), and
//! `POST /_fake/drop` `{"to": "+1…"}` (SMS to that number are taken and never arrive:
//! recorded with `dropped` and an empty body, as a carrier that loses them; calls and
//! WhatsApp still reach it; `{"to": null}` ends it).

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{HttpRequest, HttpResponse, dev::ServerHandle, web};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac as _};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::Sha1;
use tokio::sync::watch;

/// A message the fake accepted.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub sid: String,
    /// `message` or `call`.
    pub kind: String,
    /// A call's `Twiml`: what it says.
    pub twiml: Option<String>,
    /// A template message's `ContentSid` and `ContentVariables` (WhatsApp).
    pub content_sid: Option<String>,
    pub content_variables: Option<String>,
    /// An SMS the carrier lost (`/_fake/drop`): its body never reached anyone.
    pub dropped: bool,
    pub to: String,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub body: String,
    pub status_callback: Option<String>,
    /// `ValidityPeriod`: seconds Twilio may keep the message queued.
    pub validity_period: Option<u32>,
    /// The last status reported for it (`queued` until a callback is fired).
    pub status: String,
    /// RFC 2822, as Twilio writes dates.
    pub date_created: String,
    /// Set once the message is reported `sent` or later; a queued message has none.
    pub date_sent: Option<String>,
    /// When the fake took it, in Unix milliseconds (for latency figures).
    pub accepted_ms: i64,
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
    /// Every API call answers 503 while set.
    down: bool,
    /// Messages to numbers starting with this are refused with this code.
    refuse: Option<(String, i64)>,
    /// SMS to this number are lost after Twilio took them.
    drop_to: Option<String>,
}

#[derive(Clone)]
struct Shared {
    account_sid: String,
    auth_token: String,
    state: Arc<Mutex<State>>,
    client: reqwest::Client,
    /// While true, accepted messages wait for their HTTP answer.
    hold: Arc<watch::Sender<bool>>,
    /// Answers being held right now.
    holding: Arc<AtomicUsize>,
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

fn routes(cfg: &mut web::ServiceConfig) {
    const MESSAGES: &str = "/2010-04-01/Accounts/{sid}/Messages.json";
    const CALLS: &str = "/2010-04-01/Accounts/{sid}/Calls.json";
    cfg.route(MESSAGES, web::post().to(create_message))
        .route(CALLS, web::post().to(create_call))
        .route("/_fake/drop", web::post().to(set_drop))
        .route(MESSAGES, web::get().to(read_messages))
        .route("/_fake/messages", web::get().to(list_messages))
        .route("/_fake/fail", web::post().to(set_failure))
        .route("/_fake/slow", web::post().to(set_slow))
        .route("/_fake/hold", web::post().to(set_hold))
        .route("/_fake/down", web::post().to(set_down))
        .route("/_fake/refuse", web::post().to(set_refuse))
        .route("/_fake/messages/{sid}/status", web::post().to(fire_status));
}

impl FakeTwilio {
    /// Starts on `127.0.0.1:port` (0 = any free port).
    pub fn start(port: u16, account_sid: &str, auth_token: &str) -> anyhow::Result<Self> {
        let shared = Shared {
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            state: Arc::default(),
            client: reqwest::Client::builder().no_proxy().build()?,
            hold: Arc::new(watch::Sender::new(false)),
            holding: Arc::default(),
        };
        let (base_url, handle) = fake_server::serve(port, web::Data::new(shared.clone()), routes)?;
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

    /// While `hold` is true, accepted messages are recorded (and listed) at once but
    /// their HTTP answer waits until it is set false again.
    pub fn hold_answers(&self, hold: bool) {
        self.shared.hold.send_replace(hold);
    }

    /// Answers being held right now.
    pub fn held(&self) -> usize {
        self.shared.holding.load(Ordering::SeqCst)
    }

    /// SMS to `to` are taken and lost from now on (None: no more).
    pub fn drop_sms_to(&self, to: Option<&str>) {
        lock(&self.shared).drop_to = to.map(str::to_owned);
    }

    /// The calls placed so far, oldest first.
    pub fn calls(&self) -> Vec<Recorded> {
        self.messages()
            .into_iter()
            .filter(|m| m.kind == "call")
            .collect()
    }

    /// While down, every API call (send and list) answers 503.
    pub fn set_down(&self, down: bool) {
        lock(&self.shared).down = down;
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
    let msg = {
        let mut state = lock(shared);
        let msg = state
            .messages
            .iter_mut()
            .find(|m| m.sid == sid)
            .ok_or_else(|| anyhow::anyhow!("no message {sid}"))?;
        msg.status = status.to_owned();
        if msg.date_sent.is_none() && !matches!(status, "queued" | "accepted" | "sending") {
            msg.date_sent = Some(rfc2822_now());
        }
        msg.clone()
    };
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
    let mut params = if msg.kind == "call" {
        vec![
            ("AccountSid".to_owned(), shared.account_sid.clone()),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ("CallSid".to_owned(), msg.sid.clone()),
            ("CallStatus".to_owned(), status.to_owned()),
            ("Direction".to_owned(), "outbound-api".to_owned()),
            ("To".to_owned(), msg.to.clone()),
            ("From".to_owned(), msg.from.clone().unwrap_or_default()),
        ]
    } else {
        vec![
            ("AccountSid".to_owned(), shared.account_sid.clone()),
            ("ApiVersion".to_owned(), "2010-04-01".to_owned()),
            ("MessageSid".to_owned(), msg.sid.clone()),
            ("SmsSid".to_owned(), msg.sid.clone()),
            ("MessageStatus".to_owned(), status.to_owned()),
            ("SmsStatus".to_owned(), status.to_owned()),
            ("To".to_owned(), msg.to.clone()),
            ("From".to_owned(), msg.from.clone().unwrap_or_default()),
        ]
    };
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

fn rfc2822_now() -> String {
    chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string()
}

fn authorized(req: &HttpRequest, shared: &Shared, account: &str) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", shared.account_sid, shared.auth_token))
    );
    account == shared.account_sid
        && req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == expected)
}

fn unavailable() -> HttpResponse {
    twilio_error(503, 20503, "Service Unavailable")
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
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let to = field("To");
    let (failure, delay, down, refused) = {
        let mut state = lock(&shared);
        state.requests += 1;
        let delay = to
            .as_ref()
            .and_then(|to| state.delay_for.get(to).copied())
            .unwrap_or(state.delay);
        let refused = match (&state.refuse, &to) {
            (Some((prefix, code)), Some(to)) if to.starts_with(prefix.as_str()) => Some(*code),
            _ => None,
        };
        (state.failures.pop_front(), delay, state.down, refused)
    };
    if down {
        return unavailable();
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if !authorized(&req, &shared, &path) || failure == Some(Failure::BadCredentials) {
        return twilio_error(401, 20003, "Authenticate");
    }
    if let Some(refusal) = failure.and_then(|f| injected_refusal(f, to.as_deref())) {
        return refusal;
    }
    if let Some(code) = refused {
        let message = "Permission to send an SMS has not been enabled for the region";
        return twilio_error(400, code, message);
    }
    let mut recorded = match accepted_message(field) {
        Ok(recorded) => recorded,
        Err((status, code, message)) => return twilio_error(status, code, message),
    };
    {
        let mut state = lock(&shared);
        if state.drop_to.as_deref() == Some(recorded.to.as_str()) {
            // Taken, then lost by the carrier: nobody ever reads it.
            recorded.dropped = true;
            recorded.body.clear();
        }
        state.messages.push(recorded.clone());
    }
    // Taken, and listed from now on; the answer may still be held back.
    wait_while_held(&shared).await;
    HttpResponse::Created().json(message_resource(&shared.account_sid, &recorded))
}

/// The answer a test asked the next message request to get, if it is a refusal.
fn injected_refusal(failure: Failure, to: Option<&str>) -> Option<HttpResponse> {
    let to = to.unwrap_or_default();
    Some(match failure {
        Failure::ServerError => twilio_error(500, 20500, "Internal Server Error"),
        Failure::TooManyRequests => twilio_error(429, 20429, "Too Many Requests"),
        // Twilio names the number in these texts, so a client that logs them leaks it.
        Failure::InvalidNumber => {
            let message = format!("The 'To' number {to} is not a valid phone number.");
            twilio_error(400, 21211, &message)
        }
        Failure::NotMobile => {
            let message = format!("'To' number {to} is not a valid mobile number");
            twilio_error(400, 21614, &message)
        }
        // Answered before: the credentials are checked first.
        Failure::BadCredentials => return None,
    })
}

/// The message the form fields describe, queued; or Twilio's answer to what is missing
/// or out of range (Twilio's status, error code and message).
fn accepted_message(
    field: impl Fn(&str) -> Option<String>,
) -> Result<Recorded, (u16, i64, &'static str)> {
    // A template message (WhatsApp) carries its content instead of a body.
    let content_sid = field("ContentSid");
    let body = field("Body").or_else(|| content_sid.as_ref().map(|_| String::new()));
    let (Some(to), Some(body)) = (field("To"), body) else {
        return Err((400, 21604, "A 'To' phone number and a 'Body' are required."));
    };
    let (from, mss) = (field("From"), field("MessagingServiceSid"));
    if from.is_none() && mss.is_none() {
        return Err((
            400,
            21603,
            "A 'From' or 'MessagingServiceSid' parameter is required",
        ));
    }
    let validity_period = match field("ValidityPeriod").map(|v| v.parse::<u32>()) {
        None => None,
        Some(Ok(v)) if (1..=36_000).contains(&v) => Some(v),
        Some(_) => {
            return Err((
                400,
                21617,
                "ValidityPeriod must be an integer from 1 to 36000",
            ));
        }
    };
    Ok(Recorded {
        sid: format!("SM{:032x}", rand::random::<u128>()),
        kind: "message".into(),
        twiml: None,
        content_variables: field("ContentVariables"),
        content_sid,
        dropped: false,
        to,
        from,
        messaging_service_sid: mss,
        body,
        status_callback: field("StatusCallback"),
        validity_period,
        status: "queued".into(),
        date_created: rfc2822_now(),
        date_sent: None,
        accepted_ms: chrono::Utc::now().timestamp_millis(),
        accepted_at: Some(std::time::Instant::now()),
    })
}

/// `POST …/Calls.json`: a call with inline `Twiml`, recorded (its TwiML is what the
/// callee hears); answered with a Call resource.
async fn create_call(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    form: web::Form<Vec<(String, String)>>,
) -> HttpResponse {
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (failure, down) = {
        let mut state = lock(&shared);
        state.requests += 1;
        (state.failures.pop_front(), state.down)
    };
    if down {
        return unavailable();
    }
    if !authorized(&req, &shared, &path) || failure == Some(Failure::BadCredentials) {
        return twilio_error(401, 20003, "Authenticate");
    }
    if let Some(refusal) = failure.and_then(|f| injected_refusal(f, field("To").as_deref())) {
        return refusal;
    }
    let (Some(to), Some(from)) = (field("To"), field("From")) else {
        return twilio_error(400, 21201, "A 'To' and a 'From' phone number are required.");
    };
    let Some(twiml) = field("Twiml") else {
        return twilio_error(
            400,
            21205,
            "Either 'Url', 'Twiml' or 'ApplicationSid' is required.",
        );
    };
    let recorded = Recorded {
        sid: format!("CA{:032x}", rand::random::<u128>()),
        kind: "call".into(),
        twiml: Some(twiml),
        content_sid: None,
        content_variables: None,
        dropped: false,
        to,
        from: Some(from),
        messaging_service_sid: None,
        body: String::new(),
        status_callback: field("StatusCallback"),
        validity_period: None,
        status: "queued".into(),
        date_created: rfc2822_now(),
        date_sent: None,
        accepted_ms: chrono::Utc::now().timestamp_millis(),
        accepted_at: Some(std::time::Instant::now()),
    };
    lock(&shared).messages.push(recorded.clone());
    let account = &shared.account_sid;
    HttpResponse::Created().json(json!({
        "sid": recorded.sid,
        "account_sid": account,
        "to": recorded.to,
        "from": recorded.from,
        "status": "queued",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": recorded.date_created,
        "uri": format!("/2010-04-01/Accounts/{account}/Calls/{}.json", recorded.sid),
    }))
}

#[derive(Deserialize)]
struct DropRequest {
    to: Option<String>,
}

async fn set_drop(shared: web::Data<Shared>, body: web::Json<DropRequest>) -> HttpResponse {
    lock(&shared).drop_to = body.into_inner().to;
    HttpResponse::NoContent().finish()
}

/// Keeps the HTTP answer back while `/_fake/hold` says so (counted in `held`).
async fn wait_while_held(shared: &Shared) {
    let mut hold = shared.hold.subscribe();
    if *hold.borrow_and_update() {
        shared.holding.fetch_add(1, Ordering::SeqCst);
        while *hold.borrow_and_update() {
            if hold.changed().await.is_err() {
                break;
            }
        }
        shared.holding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A Message resource as Twilio renders it.
fn message_resource(account_sid: &str, m: &Recorded) -> serde_json::Value {
    json!({
        "sid": m.sid,
        "account_sid": account_sid,
        "to": m.to,
        "from": m.from,
        "messaging_service_sid": m.messaging_service_sid,
        "body": m.body,
        "status": m.status,
        "num_segments": "1",
        "direction": "outbound-api",
        "api_version": "2010-04-01",
        "date_created": m.date_created,
        "date_updated": m.date_created,
        "date_sent": m.date_sent,
        "error_code": null,
        "error_message": null,
        "uri": format!("/2010-04-01/Accounts/{account_sid}/Messages/{}.json", m.sid),
    })
}

#[derive(Deserialize)]
struct ReadQuery {
    #[serde(rename = "To")]
    to: Option<String>,
    #[serde(rename = "PageSize")]
    page_size: Option<usize>,
}

/// `GET …/Messages.json`: the account's messages newest first, one page (`PageSize`,
/// default 50, at most 1000), optionally only those to `To`.
async fn read_messages(
    req: HttpRequest,
    shared: web::Data<Shared>,
    path: web::Path<String>,
    query: web::Query<ReadQuery>,
) -> HttpResponse {
    if lock(&shared).down {
        return unavailable();
    }
    if !authorized(&req, &shared, &path) {
        return twilio_error(401, 20003, "Authenticate");
    }
    let page_size = query.page_size.unwrap_or(50);
    if !(1..=1000).contains(&page_size) {
        return twilio_error(400, 20001, "PageSize must be from 1 to 1000");
    }
    let messages: Vec<serde_json::Value> = lock(&shared)
        .messages
        .iter()
        .rev()
        .filter(|m| m.kind == "message")
        .filter(|m| query.to.as_ref().is_none_or(|to| &m.to == to))
        .take(page_size)
        .map(|m| message_resource(&shared.account_sid, m))
        .collect();
    let uri = format!(
        "/2010-04-01/Accounts/{}/Messages.json?PageSize={page_size}&Page=0",
        shared.account_sid
    );
    HttpResponse::Ok().json(json!({
        "end": messages.len().saturating_sub(1),
        "first_page_uri": uri,
        "next_page_uri": null,
        "page": 0,
        "page_size": page_size,
        "previous_page_uri": null,
        "start": 0,
        "uri": uri,
        "messages": messages,
    }))
}

async fn list_messages(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "messages": lock(&shared).messages.clone(),
        "held": shared.holding.load(Ordering::SeqCst),
    }))
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
struct RefuseRequest {
    prefix: Option<String>,
    #[serde(default = "region_not_enabled")]
    code: i64,
}

fn region_not_enabled() -> i64 {
    21408
}

async fn set_refuse(shared: web::Data<Shared>, body: web::Json<RefuseRequest>) -> HttpResponse {
    let RefuseRequest { prefix, code } = body.into_inner();
    lock(&shared).refuse = prefix.map(|p| (p, code));
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
struct HoldRequest {
    hold: bool,
}

async fn set_hold(shared: web::Data<Shared>, body: web::Json<HoldRequest>) -> HttpResponse {
    shared.hold.send_replace(body.hold);
    HttpResponse::NoContent().finish()
}

#[derive(Deserialize)]
struct DownRequest {
    down: bool,
}

async fn set_down(shared: web::Data<Shared>, body: web::Json<DownRequest>) -> HttpResponse {
    lock(&shared).down = body.down;
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
