//! A fake SMS gateway behind PhoneReg's generic signed HTTP provider (SPEC §13): a real
//! HTTP server on loopback. `POST /sms` takes a message, `GET /sms/messages/{id}` finds
//! one by PhoneReg's id, and [`FakeSmsHttp::send_receipt`] posts a signed receipt to the
//! app. Every request it gets is checked, and every receipt signed, with Standard
//! Webhooks' own library (`standardwebhooks`), so a test proves PhoneReg's signatures
//! against the standard rather than against PhoneReg's own code.
//!
//! Control endpoints for other processes (the `fake-sms-http` binary, for
//! `scripts/faults.sh`): `GET /_fake/messages` (`{messages, held}`: answers held right
//! now), `POST /_fake/hold` `{"hold": true|false}` (take messages but keep the answer
//! until released) and `POST /_fake/down` `{"down": true|false}`.

use std::{
    collections::VecDeque,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{SystemTime, UNIX_EPOCH},
};

use actix_web::{HttpRequest, HttpResponse, dev::ServerHandle, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use standardwebhooks::Webhook;
use tokio::sync::watch;

/// A message the fake took, as PhoneReg sent it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Recorded {
    /// PhoneReg's id.
    pub id: i64,
    pub to: String,
    pub body: String,
    pub purpose: String,
    pub locale: String,
    pub channel: String,
    pub validity_seconds: Option<u32>,
    /// Filled in by the fake.
    #[serde(default)]
    pub provider_message_id: String,
    /// When the fake took it, in Unix milliseconds (filled in by the fake).
    #[serde(default)]
    pub accepted_ms: i64,
}

/// How the next send(s) are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 503.
    Unavailable,
    /// 4xx `{error_code, permanent}`.
    Refused { error_code: i64, permanent: bool },
    /// The message is taken, but the answer is a 502: an answer lost on the way back
    /// (a proxy between the two gave up).
    TakenButLost,
}

#[derive(Default)]
struct State {
    messages: Vec<Recorded>,
    failures: VecDeque<Failure>,
    /// Requests of any kind whose signature the standard's library refused.
    bad_signatures: u64,
    sends: u64,
    down: bool,
    /// Every message taken gets this id (a gateway with a bug).
    same_id: Option<String>,
}

struct Shared {
    /// Tells this fake's message ids from another's.
    tag: String,
    webhook: Webhook,
    secret: String,
    state: Mutex<State>,
    /// While true, taken messages wait for their HTTP answer.
    hold: watch::Sender<bool>,
    /// Answers being held right now.
    holding: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct FakeSmsHttp {
    /// What PhoneReg's `SMS_HTTP_URL` is set to.
    pub url: String,
    shared: web::Data<Shared>,
    receipt_url: String,
    client: reqwest::Client,
    handle: ServerHandle,
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sms", web::post().to(take))
        .route("/sms/messages/{id}", web::get().to(find))
        .route("/_fake/messages", web::get().to(list))
        .route("/_fake/hold", web::post().to(set_hold))
        .route("/_fake/down", web::post().to(set_down));
}

/// Whether the standard's library accepts the request's signature over `body`.
fn well_signed(shared: &Shared, req: &HttpRequest, body: &[u8]) -> bool {
    let mut headers = http::HeaderMap::new();
    for (name, value) in req.headers() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    let ok = shared.webhook.verify(body, &headers).is_ok();
    if !ok {
        shared.lock().bad_signatures += 1;
    }
    ok
}

async fn take(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if !well_signed(&shared, &req, &body) {
        return HttpResponse::Unauthorized().finish();
    }
    let Ok(msg) = serde_json::from_slice::<Recorded>(&body) else {
        return HttpResponse::BadRequest().json(json!({"error_code": 400, "permanent": true}));
    };
    let answer = {
        let mut state = shared.lock();
        state.sends += 1;
        if state.down {
            return HttpResponse::ServiceUnavailable().finish();
        }
        answer(&mut state, &shared.tag, msg)
    };
    // Taken (and found by a look-up) from now on; the answer may still be held back.
    if answer.status().is_success() || answer.status() == 502 {
        wait_while_held(&shared).await;
    }
    answer
}

/// Takes or refuses `msg` as the queued failures say.
fn answer(state: &mut State, tag: &str, mut msg: Recorded) -> HttpResponse {
    match state.failures.pop_front() {
        Some(Failure::Unavailable) => HttpResponse::ServiceUnavailable().finish(),
        Some(Failure::Refused {
            error_code,
            permanent,
        }) => HttpResponse::UnprocessableEntity()
            .json(json!({"error_code": error_code, "permanent": permanent})),
        failure => {
            // Unique across fakes too, as a real gateway's ids are (unless told otherwise).
            msg.provider_message_id = match &state.same_id {
                Some(id) => id.clone(),
                None => format!("gw-{}-{}", tag, state.messages.len() + 1),
            };
            msg.accepted_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64);
            let id = msg.provider_message_id.clone();
            state.messages.push(msg);
            if failure == Some(Failure::TakenButLost) {
                return HttpResponse::BadGateway().finish();
            }
            HttpResponse::Accepted().json(json!({"provider_message_id": id}))
        }
    }
}

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

async fn list(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "messages": shared.lock().messages.clone(),
        "held": shared.holding.load(Ordering::SeqCst),
    }))
}

#[derive(Deserialize)]
struct Switch {
    #[serde(alias = "hold", alias = "down")]
    on: bool,
}

async fn set_hold(shared: web::Data<Shared>, body: web::Json<Switch>) -> HttpResponse {
    shared.hold.send_replace(body.on);
    HttpResponse::NoContent().finish()
}

async fn set_down(shared: web::Data<Shared>, body: web::Json<Switch>) -> HttpResponse {
    shared.lock().down = body.on;
    HttpResponse::NoContent().finish()
}

async fn find(shared: web::Data<Shared>, req: HttpRequest, path: web::Path<i64>) -> HttpResponse {
    if !well_signed(&shared, &req, b"") {
        return HttpResponse::Unauthorized().finish();
    }
    let state = shared.lock();
    if state.down {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let id = path.into_inner();
    match state.messages.iter().rev().find(|m| m.id == id) {
        Some(m) => HttpResponse::Ok()
            .json(json!({"provider_message_id": m.provider_message_id, "status": "queued"})),
        None => HttpResponse::NotFound().finish(),
    }
}

impl FakeSmsHttp {
    /// Starts on `127.0.0.1:port` (0 = any free port). `secret` is the shared
    /// `whsec_…` secret; receipts go to `receipt_url`.
    pub fn start(port: u16, secret: &str, receipt_url: &str) -> anyhow::Result<Self> {
        let shared = web::Data::new(Shared {
            tag: format!(
                "{:x}",
                SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos()
            ),
            webhook: Webhook::new(secret).map_err(|e| anyhow::anyhow!("secret: {e}"))?,
            secret: secret.to_owned(),
            state: Mutex::default(),
            hold: watch::Sender::new(false),
            holding: AtomicUsize::new(0),
        });
        let (base_url, handle) = fake_server::serve(port, shared.clone(), routes)?;
        Ok(Self {
            url: format!("{base_url}/sms"),
            shared,
            receipt_url: receipt_url.to_owned(),
            client: reqwest::Client::builder().no_proxy().build()?,
            handle,
        })
    }

    /// Every message taken, oldest first.
    pub fn messages(&self) -> Vec<Recorded> {
        self.shared.lock().messages.clone()
    }

    /// Send requests that arrived well signed, taken or not.
    pub fn sends(&self) -> u64 {
        self.shared.lock().sends
    }

    /// Requests refused for their signature.
    pub fn bad_signatures(&self) -> u64 {
        self.shared.lock().bad_signatures
    }

    /// The next `times` sends are answered with `failure`.
    pub fn fail_next(&self, failure: Failure, times: usize) {
        self.shared
            .lock()
            .failures
            .extend(std::iter::repeat_n(failure, times));
    }

    /// Answers every message it takes with the same id, as a buggy gateway might.
    pub fn reuse_id(&self, id: &str) {
        self.shared.lock().same_id = Some(id.to_owned());
    }

    /// While down, sends and look-ups answer 503.
    pub fn set_down(&self, down: bool) {
        self.shared.lock().down = down;
    }

    /// Posts a receipt for `provider_message_id`, signed with the shared secret; the
    /// app's HTTP status.
    pub async fn send_receipt(
        &self,
        provider_message_id: &str,
        status: &str,
        error_code: Option<i64>,
    ) -> anyhow::Result<u16> {
        let body = json!({"provider_message_id": provider_message_id, "status": status, "error_code": error_code});
        self.post_receipt(&self.shared.secret, &body).await
    }

    /// Posts `body` as a receipt signed with `secret` (a wrong one, for tests).
    pub async fn post_receipt(
        &self,
        secret: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<u16> {
        let payload = serde_json::to_vec(body)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
        let id = format!("rcpt_{now}_{}", payload.len());
        let webhook = Webhook::new(secret).map_err(|e| anyhow::anyhow!("secret: {e}"))?;
        let signature = webhook
            .sign(&id, now, &payload)
            .map_err(|e| anyhow::anyhow!("sign: {e}"))?;
        let res = self
            .client
            .post(&self.receipt_url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, now.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(payload)
            .send()
            .await?;
        Ok(res.status().as_u16())
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}
