//! Typed client of the PhoneReg REST API (`/api/v1`, see `openapi.yaml`): one async fn
//! per endpoint, each answering `Result<T, ApiError>`. Callers that need a session go
//! through [`crate::session::Session::call`], which adds the bearer token and refreshes it.
//! Requests go straight through the browser's `fetch` (same origin, so the refresh cookie
//! travels with `/auth/*` calls).

use phonereg_types::{
    FieldErrors, HistoryItem, LastMessage, LoginRequest, ParseResponse, Phone, PhoneNumberRequest,
    Problem, RegisterRequest, TokenResponse, User, Verification,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, RequestInit};

use crate::{
    json::{self, FromJs, Items},
    time,
};

const BASE: &str = "/api/v1";

/// Why a call failed.
#[derive(Clone, Debug, PartialEq)]
pub enum ApiError {
    /// No answer: offline, server down, or the request was aborted.
    Network,
    /// The server answered with an error status (body: problem+json when it could be read).
    Problem {
        problem: Box<Problem>,
        /// Seconds from `Retry-After`, on 429 and 503.
        retry_after: Option<u32>,
    },
}

impl ApiError {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Network => None,
            ApiError::Problem { problem, .. } => Some(problem.status),
        }
    }

    /// True for 401: the session is gone.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }

    /// The endpoint does not exist on this server (an older API).
    pub fn is_missing_endpoint(&self) -> bool {
        matches!(self.status(), Some(404 | 405))
    }

    /// The problem body, if any.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::Network => None,
            ApiError::Problem { problem, .. } => Some(problem),
        }
    }

    /// Field errors of a 422 (empty otherwise).
    pub fn field_errors(&self) -> FieldErrors {
        self.problem()
            .and_then(|p| p.errors.clone())
            .unwrap_or_default()
    }

    /// The SMS fraud guard refused texts to this number's range (SPEC §9): a fact about
    /// the phone field, not the form.
    pub fn is_range_paused(&self) -> bool {
        self.problem()
            .is_some_and(|p| p.kind.ends_with("/problems/sms-range-paused"))
    }

    /// `Retry-After` in seconds, on 429/503.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            ApiError::Problem { retry_after, .. } => *retry_after,
            ApiError::Network => None,
        }
    }

    /// One sentence for a person.
    pub fn message(&self) -> String {
        match self {
            ApiError::Network => {
                "Can't reach PhoneReg right now. Check your connection and try again.".to_owned()
            }
            ApiError::Problem {
                problem,
                retry_after,
            } => match (problem.status, retry_after) {
                (429 | 503, Some(secs)) => {
                    format!(
                        "{} Try again in {}.",
                        problem.detail,
                        time::duration_words(*secs)
                    )
                }
                (500..=599, _) if problem.detail.is_empty() => {
                    "Something went wrong on our side. Please try again.".to_owned()
                }
                _ => problem.detail.clone(),
            },
        }
    }
}

/// `POST /users/me/events/ticket`: a single-use ticket for `EventSource`, which cannot
/// send an `Authorization` header.
#[derive(Clone, Debug)]
pub struct EventTicket {
    /// Valid for `expires_in` (60) seconds, once.
    pub ticket: String,
}

/// `data:` of an `event: message` on the event stream.
#[derive(Clone, Debug)]
pub struct MessageEvent {
    pub phone_id: i64,
    pub status: String,
    pub error_code: Option<i64>,
    pub guidance: Option<String>,
    pub updated_at: String,
}

impl MessageEvent {
    /// The phone object's `last_message` this event describes.
    pub fn into_last_message(self) -> LastMessage {
        LastMessage {
            status: self.status,
            error_code: self.error_code,
            guidance: self.guidance,
            updated_at: self.updated_at,
        }
    }
}

/// One SMS in the development inbox.
#[derive(Clone, Debug, PartialEq)]
pub struct DevSms {
    pub to: String,
    pub body: String,
    pub created_at: String,
}

impl FromJs for EventTicket {
    fn from_js(v: &JsValue) -> Option<Self> {
        Some(EventTicket {
            ticket: js_sys::Reflect::get(v, &"ticket".into())
                .ok()?
                .as_string()?,
        })
    }
}

impl FromJs for MessageEvent {
    fn from_js(v: &JsValue) -> Option<Self> {
        let message = LastMessage::from_js(v)?;
        Some(MessageEvent {
            phone_id: js_sys::Reflect::get(v, &"phone_id".into()).ok()?.as_f64()? as i64,
            status: message.status,
            error_code: message.error_code,
            guidance: message.guidance,
            updated_at: message.updated_at,
        })
    }
}

impl FromJs for DevSms {
    fn from_js(v: &JsValue) -> Option<Self> {
        let text = |key: &str| js_sys::Reflect::get(v, &key.into()).ok()?.as_string();
        Some(DevSms {
            to: text("to")?,
            body: text("body")?,
            created_at: text("created_at")?,
        })
    }
}

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

/// One request: method, path under `/api/v1`, bearer token, JSON body, abort signal.
struct Call<'a> {
    method: &'static str,
    path: String,
    token: Option<&'a str>,
    body: Option<String>,
    signal: Option<&'a AbortSignal>,
}

impl<'a> Call<'a> {
    fn new(method: &'static str, path: impl Into<String>) -> Self {
        Call {
            method,
            path: url(&path.into()),
            token: None,
            body: None,
            signal: None,
        }
    }

    fn get(path: impl Into<String>) -> Self {
        Self::new("GET", path)
    }

    fn post(path: impl Into<String>) -> Self {
        Self::new("POST", path)
    }

    fn bearer(mut self, token: &'a str) -> Self {
        self.token = Some(token);
        self
    }

    fn body(mut self, body: String) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends it; a 2xx answer's body comes back, anything else becomes an [`ApiError`].
    async fn send(self) -> Result<String, ApiError> {
        let init = RequestInit::new();
        init.set_method(self.method);
        let headers = Headers::new().map_err(|_| ApiError::Network)?;
        if let Some(token) = self.token {
            let _ = headers.set("Authorization", &format!("Bearer {token}"));
        }
        if let Some(body) = &self.body {
            let _ = headers.set("Content-Type", "application/json");
            init.set_body(&JsValue::from_str(body));
        }
        init.set_headers(&headers);
        init.set_signal(self.signal);
        let window = web_sys::window().ok_or(ApiError::Network)?;
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(&self.path, &init))
                .await
                .map_err(|_| ApiError::Network)?
                .unchecked_into();
        let headers = response.headers();
        if let Ok(Some(date)) = headers.get("date") {
            time::observe_server_date(&date);
        }
        let text = match response.text() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .ok()
                .and_then(|t| t.as_string()),
            Err(_) => None,
        };
        if response.ok() {
            return text.ok_or(ApiError::Network);
        }
        let status = response.status();
        let retry_after = headers
            .get("retry-after")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse().ok());
        let problem = text
            .and_then(|t| json::parse::<Problem>(&t))
            // A proxy's HTML page or an empty body: still tell the caller what happened.
            .unwrap_or_else(|| Problem {
                kind: "about:blank".to_owned(),
                title: response.status_text(),
                status,
                detail: if status >= 500 {
                    String::new()
                } else {
                    format!("The server answered {status}.")
                },
                errors: None,
                verification: None,
            });
        Err(ApiError::Problem {
            problem: Box::new(problem),
            retry_after,
        })
    }

    /// Sends it and reads the JSON answer.
    async fn json<T: FromJs>(self) -> Result<T, ApiError> {
        let text = self.send().await?;
        json::parse(&text).ok_or_else(broken_answer)
    }

    /// Sends it, ignoring the (empty) answer.
    async fn empty(self) -> Result<(), ApiError> {
        self.send().await.map(|_| ())
    }
}

/// A 2xx answer that is not the documented JSON (e.g. an old or misrouted server).
fn broken_answer() -> ApiError {
    ApiError::Problem {
        problem: Box::new(Problem {
            kind: "about:blank".to_owned(),
            title: "Unexpected answer".to_owned(),
            status: 502,
            detail:
                "The server sent an answer this app doesn't understand. Please reload the page."
                    .to_owned(),
            errors: None,
            verification: None,
        }),
        retry_after: None,
    }
}

/// `POST /auth/register`.
pub async fn register(body: &RegisterRequest) -> Result<TokenResponse, ApiError> {
    let body = json::object(&[
        ("email", Some(&body.email)),
        ("password", Some(&body.password)),
        ("full_name", Some(&body.full_name)),
        ("phone_number", body.phone_number.as_deref()),
        ("phone_region", body.phone_region.as_deref()),
    ]);
    Call::post("/auth/register").body(body).json().await
}

/// `POST /auth/login`.
pub async fn login(body: &LoginRequest) -> Result<TokenResponse, ApiError> {
    let body = json::object(&[
        ("email", Some(&body.email)),
        ("password", Some(&body.password)),
    ]);
    Call::post("/auth/login").body(body).json().await
}

/// `POST /auth/refresh` with no body: the HttpOnly `phonereg_refresh` cookie is the token,
/// so the SPA never holds a refresh token in script-readable storage.
pub async fn refresh() -> Result<TokenResponse, ApiError> {
    Call::post("/auth/refresh").json().await
}

/// `POST /auth/logout`: revokes the cookie's session and clears the cookie.
pub async fn logout() -> Result<(), ApiError> {
    Call::post("/auth/logout").empty().await
}

/// `GET /users/me`.
pub async fn me(token: String) -> Result<User, ApiError> {
    Call::get("/users/me").bearer(&token).json().await
}

/// `GET /phone-numbers/parse` (no account needed); `signal` aborts a stale lookup.
pub async fn parse_phone(
    number: &str,
    region: &str,
    signal: Option<&AbortSignal>,
) -> Result<ParseResponse, ApiError> {
    let number = String::from(js_sys::encode_uri_component(number));
    let region = String::from(js_sys::encode_uri_component(region));
    let mut call = Call::get(format!(
        "/phone-numbers/parse?number={number}&region={region}"
    ));
    call.signal = signal;
    call.json().await
}

fn phone_body(body: &PhoneNumberRequest) -> String {
    json::object(&[
        ("phone_number", Some(&body.phone_number)),
        ("phone_region", body.phone_region.as_deref()),
    ])
}

/// `POST /users/me/phone-numbers`: adds the account's number and sends a code.
pub async fn add_phone(token: String, body: PhoneNumberRequest) -> Result<Phone, ApiError> {
    Call::post("/users/me/phone-numbers")
        .bearer(&token)
        .body(phone_body(&body))
        .json()
        .await
}

/// `PATCH /users/me/phone-numbers/{id}`: replaces the number (pending until verified when
/// the current one is verified) and sends a code to the new one.
pub async fn replace_phone(
    token: String,
    id: i64,
    body: PhoneNumberRequest,
) -> Result<Phone, ApiError> {
    Call::new("PATCH", format!("/users/me/phone-numbers/{id}"))
        .bearer(&token)
        .body(phone_body(&body))
        .json()
        .await
}

/// `DELETE /users/me/phone-numbers/{id}`.
pub async fn delete_phone(token: String, id: i64) -> Result<(), ApiError> {
    Call::new("DELETE", format!("/users/me/phone-numbers/{id}"))
        .bearer(&token)
        .empty()
        .await
}

/// `POST /users/me/phone-numbers/{id}/verification`: (re)sends a code.
pub async fn send_code(token: String, id: i64) -> Result<Verification, ApiError> {
    Call::post(format!("/users/me/phone-numbers/{id}/verification"))
        .bearer(&token)
        .json()
        .await
}

/// `POST /users/me/phone-numbers/{id}/verify`.
pub async fn verify(token: String, id: i64, code: String) -> Result<Phone, ApiError> {
    Call::post(format!("/users/me/phone-numbers/{id}/verify"))
        .bearer(&token)
        .body(json::object(&[("code", Some(&code))]))
        .json()
        .await
}

/// `GET /users/me/phone-numbers/{id}/history`, newest first.
pub async fn history(token: String, id: i64) -> Result<Vec<HistoryItem>, ApiError> {
    let Items(items) = Call::get(format!("/users/me/phone-numbers/{id}/history"))
        .bearer(&token)
        .json()
        .await?;
    Ok(items)
}

/// `POST /users/me/phone-numbers/{id}/test-message`: the message's first status.
pub async fn send_test_message(token: String, id: i64) -> Result<LastMessage, ApiError> {
    Call::post(format!("/users/me/phone-numbers/{id}/test-message"))
        .bearer(&token)
        .json()
        .await
}

/// `POST /users/me/events/ticket`.
pub async fn events_ticket(token: String) -> Result<EventTicket, ApiError> {
    Call::post("/users/me/events/ticket")
        .bearer(&token)
        .json()
        .await
}

/// The URL of the event stream for a ticket.
pub fn events_url(ticket: &str) -> String {
    let ticket = String::from(js_sys::encode_uri_component(ticket));
    url(&format!("/users/me/events?ticket={ticket}"))
}

/// `GET /dev/sms`: `None` when the server has no development inbox (404).
pub async fn dev_sms() -> Result<Option<Vec<DevSms>>, ApiError> {
    match Call::get("/dev/sms").json::<Items<DevSms>>().await {
        Ok(Items(items)) => Ok(Some(items)),
        Err(e) if e.is_missing_endpoint() => Ok(None),
        Err(e) => Err(e),
    }
}
