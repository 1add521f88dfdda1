//! A fake bot-challenge siteverify (Turnstile, hCaptcha and reCAPTCHA share its shape): a
//! real HTTP server on loopback. `POST /siteverify` takes the form fields `secret`,
//! `response` and `remoteip`, records them, and answers `{"success": …, "error-codes":
//! […]}`: success for the configured secret and a token starting with [`PASSING_PREFIX`],
//! `invalid-input-secret` or `invalid-input-response` otherwise. It accepts a passing
//! token as often as it is sent (real providers refuse a second use), so a test sees the
//! API's own once-only rule.
//!
//! Control endpoints for other processes: `GET /_fake/requests` (what siteverify got) and
//! `POST /_fake/fail` `{"mode": "none"|"500"|"internal-error"|"slow"}` (until changed;
//! `slow` answers after 30 s).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpResponse, dev::ServerHandle, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// Tokens starting with this pass (the browser tests' stand-in widget makes such tokens).
pub const PASSING_PREFIX: &str = "pass-";

/// One siteverify call, as the fake read it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub secret: Option<String>,
    pub response: Option<String>,
    pub remoteip: Option<String>,
}

/// How siteverify misbehaves, until told otherwise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Failure {
    #[default]
    #[serde(rename = "none")]
    None,
    /// HTTP 500.
    #[serde(rename = "500")]
    ServerError,
    /// 200 with `success: false` and the provider's own `internal-error`.
    #[serde(rename = "internal-error")]
    InternalError,
    /// Answers after [`SLOW`], past any sane client timeout.
    #[serde(rename = "slow")]
    Slow,
}

const SLOW: Duration = Duration::from_secs(30);

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    failure: Failure,
}

#[derive(Clone)]
struct Shared {
    secret: String,
    state: Arc<Mutex<State>>,
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running fake.
pub struct FakeSiteverify {
    /// `http://127.0.0.1:port`
    pub base_url: String,
    /// Where the API's `CAPTCHA_VERIFY_URL` points.
    pub verify_url: String,
    shared: Shared,
    handle: ServerHandle,
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/siteverify", web::post().to(siteverify))
        .route("/_fake/requests", web::get().to(list_requests))
        .route("/_fake/fail", web::post().to(set_failure));
}

impl FakeSiteverify {
    /// Starts on `127.0.0.1:port` (0 = any free port), accepting `secret`.
    pub fn start(port: u16, secret: &str) -> anyhow::Result<Self> {
        let shared = Shared {
            secret: secret.to_owned(),
            state: Arc::default(),
        };
        let (base_url, handle) = fake_server::serve(port, web::Data::new(shared.clone()), routes)?;
        Ok(Self {
            verify_url: format!("{base_url}/siteverify"),
            base_url,
            shared,
            handle,
        })
    }

    /// Every siteverify call so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared).requests.clone()
    }

    pub fn fail(&self, failure: Failure) {
        lock(&self.shared).failure = failure;
    }

    pub async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn siteverify(shared: web::Data<Shared>, form: web::Form<Recorded>) -> HttpResponse {
    let form = form.into_inner();
    let failure = {
        let mut state = lock(&shared);
        state.requests.push(form.clone());
        state.failure
    };
    match failure {
        Failure::None => {}
        Failure::ServerError => return HttpResponse::InternalServerError().finish(),
        Failure::InternalError => {
            return HttpResponse::Ok()
                .json(json!({"success": false, "error-codes": ["internal-error"]}));
        }
        Failure::Slow => tokio::time::sleep(SLOW).await,
    }
    let error = if form.secret.as_deref() != Some(shared.secret.as_str()) {
        Some("invalid-input-secret")
    } else if !form
        .response
        .as_deref()
        .is_some_and(|t| t.starts_with(PASSING_PREFIX))
    {
        Some("invalid-input-response")
    } else {
        None
    };
    HttpResponse::Ok().json(match error {
        None => json!({"success": true, "error-codes": [], "hostname": "127.0.0.1"}),
        Some(code) => json!({"success": false, "error-codes": [code]}),
    })
}

async fn list_requests(shared: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(&lock(&shared).requests)
}

#[derive(Deserialize)]
struct FailRequest {
    mode: Failure,
}

async fn set_failure(shared: web::Data<Shared>, body: web::Json<FailRequest>) -> HttpResponse {
    lock(&shared).failure = body.mode;
    HttpResponse::NoContent().finish()
}
