//! Typed client of the PhoneReg REST API (`/api/v1`, see `openapi.yaml`): one async fn
//! per endpoint, each answering `Result<T, ApiError>`. Callers that need a session go
//! through [`crate::session::Session::call`], which adds the bearer token and refreshes it.
//! Requests go through gloo-net's `fetch` (same origin, so the refresh cookie travels
//! with `/auth/*` calls); bodies are the `phonereg_types` DTOs, the API's own shapes.
//!
//! Long: one small function per endpoint (about 35), kept in one file so the client
//! reads like openapi.yaml; the last 40 lines are its unit tests.

use std::cell::Cell;

use gloo_net::http::{Method, Request, RequestBuilder};
use phonereg_types::{
    CAPTCHA_TOKEN_HEADER, Channel, CodeRequest, DeleteAccountRequest, DeletePhoneRequest, DevSms,
    DevSmsList, EventTicket, FieldErrors, HistoryItem, HistoryList, LastMessage, LoginRequest,
    LoginVerifyRequest, MfaRequired, ParseResponse, PasswordResetRequest, Phone,
    PhoneNumberRequest, Problem, ProblemType, RecoveryCodesRequest, RecoveryCodesResponse,
    RegisterRequest, ResendRequest, SecurityEvent, SecurityEventList, SmsSignInRequest,
    SmsStartRequest, TokenResponse, TwoFactorRequest, TwoFactorResponse, User, Verification,
    VerificationResponse, VerifyRequest,
};
use serde::de::DeserializeOwned;
use web_sys::AbortSignal;

use crate::{captcha, time};

const BASE: &str = "/api/v1";

/// On every answer of an API that keeps a development SMS inbox (console provider).
const DEV_INBOX_HEADER: &str = "x-dev-inbox";

thread_local! {
    static DEV_INBOX: Cell<bool> = const { Cell::new(false) };
}

/// Whether an answer so far came from an API with a development inbox (`GET /dev/sms`).
/// Learnt from a header rather than by asking: elsewhere the 404 would be an error in
/// every visitor's console.
pub fn has_dev_inbox() -> bool {
    DEV_INBOX.with(Cell::get)
}

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

    /// True when the answer is a problem of this type.
    pub fn is_problem(&self, kind: ProblemType) -> bool {
        self.problem()
            .is_some_and(|p| p.problem_type() == Some(kind))
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

    /// A password the endpoint re-checked was wrong (SPEC §10): a fact about the password
    /// field, never the end of the session.
    pub fn is_wrong_password(&self) -> bool {
        self.is_problem(ProblemType::WrongPassword)
    }

    /// The SMS fraud guard refused texts to this number's range (SPEC §9): a fact about
    /// the phone field, not the form.
    pub fn is_range_paused(&self) -> bool {
        self.is_problem(ProblemType::SmsRangePaused)
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

fn url(path: &str) -> String {
    format!("{BASE}{path}")
}

/// A request to `path` under `/api/v1`.
fn request(method: Method, path: &str) -> RequestBuilder {
    RequestBuilder::new(&url(path)).method(method)
}

/// A request with the access token.
fn authorized(method: Method, path: &str, token: &str) -> RequestBuilder {
    request(method, path).header("Authorization", &format!("Bearer {token}"))
}

/// Sends a request (built with or without its JSON body) and returns the body of a 2xx
/// answer; anything else becomes an [`ApiError`]. Not generic, so the async code exists
/// once in the wasm rather than once per answer type.
async fn exchange(request: Result<Request, gloo_net::Error>) -> Result<String, ApiError> {
    let response = request
        .map_err(|_| ApiError::Network)?
        .send()
        .await
        .map_err(|_| ApiError::Network)?;
    if let Some(date) = response.headers().get("date") {
        time::observe_server_date(&date);
    }
    if response.headers().has(DEV_INBOX_HEADER) {
        DEV_INBOX.with(|d| d.set(true));
    }
    let text = response.text().await;
    if response.ok() {
        return text.map_err(|_| ApiError::Network);
    }
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.trim().parse().ok());
    let problem = text
        .ok()
        .and_then(|t| serde_json::from_str::<Problem>(&t).ok())
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
            captcha: None,
        });
    Err(ApiError::Problem {
        problem: Box::new(problem),
        retry_after,
    })
}

/// [`exchange`] for a request that would send a code (SPEC §11): on 422
/// `captcha-required` the provider's widget is shown and the request goes again with its
/// token (a token the server refused asks again, a few times at most). `build` makes the
/// request with the token, or without one. Closing the widget answers the 422.
async fn exchange_challenged(
    build: &dyn Fn(Option<&str>) -> Result<Request, gloo_net::Error>,
) -> Result<String, ApiError> {
    let mut answer = exchange(build(None)).await;
    for _ in 0..3 {
        let challenge = match &answer {
            Err(ApiError::Problem { problem, .. }) => match &problem.captcha {
                Some(challenge) => challenge.clone(),
                None => break,
            },
            _ => break,
        };
        let Some(token) = captcha::solve(&challenge).await else {
            break;
        };
        answer = exchange(build(Some(&token))).await;
    }
    answer
}

/// `builder` carrying a bot-challenge token, when there is one.
fn with_token(builder: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => builder.header(CAPTCHA_TOKEN_HEADER, token),
        None => builder,
    }
}

/// The documented JSON of a 2xx answer.
fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    serde_json::from_str(text).map_err(|_| broken_answer())
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
            captcha: None,
        }),
        retry_after: None,
    }
}

/// `POST /auth/register`.
pub async fn register(body: &RegisterRequest) -> Result<TokenResponse, ApiError> {
    let build = |t: Option<&str>| with_token(request(Method::POST, "/auth/register"), t).json(body);
    parse(&exchange_challenged(&build).await?)
}

/// What a right password gets from `POST /auth/login`.
pub enum LoginAnswer {
    /// Signed in.
    Signed(Box<TokenResponse>),
    /// Two-step sign-in is on: a code was texted, `POST /auth/login/verify` finishes.
    CodeRequired(MfaRequired),
}

/// `POST /auth/login`.
pub async fn login(body: &LoginRequest) -> Result<LoginAnswer, ApiError> {
    login_answer(&exchange(request(Method::POST, "/auth/login").json(body)).await?)
}

/// The 200 of `/auth/login` is one of two documented shapes; `mfa_required` tells them
/// apart (a token answer never has it).
fn login_answer(text: &str) -> Result<LoginAnswer, ApiError> {
    match parse::<MfaRequired>(text) {
        Ok(mfa) if mfa.mfa_required => Ok(LoginAnswer::CodeRequired(mfa)),
        _ => parse(text).map(|tokens| LoginAnswer::Signed(Box::new(tokens))),
    }
}

/// `POST /auth/login/verify`: the code of a two-step sign-in.
pub async fn login_verify(body: &LoginVerifyRequest) -> Result<TokenResponse, ApiError> {
    parse(&exchange(request(Method::POST, "/auth/login/verify").json(body)).await?)
}

/// `POST /auth/sms/start`: a sign-in or password-reset code to the number. The answer is
/// the same whether or not the number belongs to an account (SPEC §8).
pub async fn sms_start(body: &SmsStartRequest) -> Result<Verification, ApiError> {
    let build =
        |t: Option<&str>| with_token(request(Method::POST, "/auth/sms/start"), t).json(body);
    let answer: VerificationResponse = parse(&exchange_challenged(&build).await?)?;
    Ok(answer.verification)
}

/// `POST /auth/sms/sign-in`.
pub async fn sms_sign_in(body: &SmsSignInRequest) -> Result<TokenResponse, ApiError> {
    parse(&exchange(request(Method::POST, "/auth/sms/sign-in").json(body)).await?)
}

/// `POST /auth/password-reset`: 204, and every session of the account is over.
pub async fn password_reset(body: &PasswordResetRequest) -> Result<(), ApiError> {
    exchange(request(Method::POST, "/auth/password-reset").json(body))
        .await
        .map(drop)
}

/// `POST /auth/refresh` with no body: the HttpOnly `phonereg_refresh` cookie is the token,
/// so the SPA never holds a refresh token in script-readable storage.
pub async fn refresh() -> Result<TokenResponse, ApiError> {
    parse(&exchange(request(Method::POST, "/auth/refresh").build()).await?)
}

/// `POST /auth/logout`: revokes the cookie's session and clears the cookie.
pub async fn logout() -> Result<(), ApiError> {
    exchange(request(Method::POST, "/auth/logout").build())
        .await
        .map(drop)
}

/// `GET /users/me`.
pub async fn me(token: String) -> Result<User, ApiError> {
    parse(&exchange(authorized(Method::GET, "/users/me", &token).build()).await?)
}

/// `GET /phone-numbers/parse` (no account needed); `signal` aborts a stale lookup.
pub async fn parse_phone(
    number: &str,
    region: &str,
    signal: Option<&AbortSignal>,
) -> Result<ParseResponse, ApiError> {
    let lookup = request(Method::GET, "/phone-numbers/parse")
        .query([("number", number), ("region", region)])
        .abort_signal(signal);
    parse(&exchange(lookup.build()).await?)
}

/// `POST /users/me/phone-numbers`: adds the account's number and sends a code.
pub async fn add_phone(token: String, body: PhoneNumberRequest) -> Result<Phone, ApiError> {
    let build = |t: Option<&str>| {
        let add = authorized(Method::POST, "/users/me/phone-numbers", &token);
        with_token(add, t).json(&body)
    };
    parse(&exchange_challenged(&build).await?)
}

/// `PATCH /users/me/phone-numbers/{id}`: replaces the number (pending until verified when
/// the current one is verified) and sends a code to the new one.
pub async fn replace_phone(
    token: String,
    id: i64,
    body: PhoneNumberRequest,
) -> Result<Phone, ApiError> {
    let path = format!("/users/me/phone-numbers/{id}");
    let build =
        |t: Option<&str>| with_token(authorized(Method::PATCH, &path, &token), t).json(&body);
    parse(&exchange_challenged(&build).await?)
}

/// `DELETE /users/me/phone-numbers/{id}`; a verified number needs `current_password`
/// in the body (SPEC §10).
pub async fn delete_phone(
    token: String,
    id: i64,
    body: DeletePhoneRequest,
) -> Result<(), ApiError> {
    let path = format!("/users/me/phone-numbers/{id}");
    let delete = authorized(Method::DELETE, &path, &token);
    let request = if body.current_password.is_some() {
        delete.json(&body)
    } else {
        delete.build()
    };
    exchange(request).await.map(drop)
}

/// `POST /users/me/phone-numbers/{id}/verification`: (re)sends a code; with a `channel`
/// other than the number's first, the live code again by that channel (SPEC §13).
pub async fn send_code(
    token: String,
    id: i64,
    channel: Option<Channel>,
) -> Result<Verification, ApiError> {
    let path = format!("/users/me/phone-numbers/{id}/verification");
    let body = ResendRequest {
        channel,
        ..ResendRequest::default()
    };
    let build =
        |t: Option<&str>| with_token(authorized(Method::POST, &path, &token), t).json(&body);
    parse(&exchange_challenged(&build).await?)
}

/// `POST /users/me/phone-numbers/{id}/verify`.
pub async fn verify(token: String, id: i64, code: String) -> Result<Phone, ApiError> {
    let path = format!("/users/me/phone-numbers/{id}/verify");
    let body = VerifyRequest { code };
    parse(&exchange(authorized(Method::POST, &path, &token).json(&body)).await?)
}

/// `GET /users/me/phone-numbers/{id}/history`, newest first.
pub async fn history(token: String, id: i64) -> Result<Vec<HistoryItem>, ApiError> {
    let path = format!("/users/me/phone-numbers/{id}/history");
    let list: HistoryList =
        parse(&exchange(authorized(Method::GET, &path, &token).build()).await?)?;
    Ok(list.items)
}

/// `POST /users/me/phone-numbers/{id}/test-message`: the message's first status.
pub async fn send_test_message(token: String, id: i64) -> Result<LastMessage, ApiError> {
    let path = format!("/users/me/phone-numbers/{id}/test-message");
    parse(&exchange(authorized(Method::POST, &path, &token).build()).await?)
}

/// `PUT /users/me/two-factor`: the switch's new position, and the recovery codes when it
/// was just turned on (shown once).
pub async fn set_two_factor(
    token: String,
    body: TwoFactorRequest,
) -> Result<TwoFactorResponse, ApiError> {
    let put = authorized(Method::PUT, "/users/me/two-factor", &token);
    parse(&exchange(put.json(&body)).await?)
}

/// `POST /users/me/recovery-codes`: a new set of recovery codes replaces the old one.
pub async fn new_recovery_codes(
    token: String,
    body: RecoveryCodesRequest,
) -> Result<Vec<String>, ApiError> {
    let post = authorized(Method::POST, "/users/me/recovery-codes", &token);
    let answer: RecoveryCodesResponse = parse(&exchange(post.json(&body)).await?)?;
    Ok(answer.recovery_codes)
}

/// `DELETE /users/me`: the account and all it holds go (the password asked again).
pub async fn delete_account(token: String, body: DeleteAccountRequest) -> Result<(), ApiError> {
    let delete = authorized(Method::DELETE, "/users/me", &token);
    exchange(delete.json(&body)).await.map(drop)
}

/// `GET /users/me/security-events`: the account's recent activity, newest first.
pub async fn security_events(token: String) -> Result<Vec<SecurityEvent>, ApiError> {
    let get = authorized(Method::GET, "/users/me/security-events?limit=20", &token);
    let list: SecurityEventList = parse(&exchange(get.build()).await?)?;
    Ok(list.items)
}

/// `POST /users/me/two-factor/code`: a code to the verified number, to turn it off; with
/// a `channel`, the live code again by that channel.
pub async fn two_factor_code(
    token: String,
    channel: Option<Channel>,
) -> Result<Verification, ApiError> {
    let post = authorized(Method::POST, "/users/me/two-factor/code", &token);
    let answer: VerificationResponse =
        parse(&exchange(post.json(&CodeRequest { channel })).await?)?;
    Ok(answer.verification)
}

/// `POST /users/me/events/ticket`.
pub async fn events_ticket(token: String) -> Result<EventTicket, ApiError> {
    parse(&exchange(authorized(Method::POST, "/users/me/events/ticket", &token).build()).await?)
}

/// The URL of the event stream for a ticket.
pub fn events_url(ticket: &str) -> String {
    let ticket = String::from(js_sys::encode_uri_component(ticket));
    url(&format!("/users/me/events?ticket={ticket}"))
}

/// `GET /dev/sms`: `None` when the server has no development inbox (404).
pub async fn dev_sms() -> Result<Option<Vec<DevSms>>, ApiError> {
    let list = exchange(request(Method::GET, "/dev/sms").build())
        .await
        .and_then(|text| parse::<DevSmsList>(&text));
    match list {
        Ok(list) => Ok(Some(list.items)),
        Err(e) if e.is_missing_endpoint() => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(status: u16, kind: &str) -> ApiError {
        ApiError::Problem {
            problem: Box::new(Problem {
                kind: kind.to_owned(),
                title: String::new(),
                status,
                detail: String::new(),
                errors: None,
                verification: None,
                captcha: None,
            }),
            retry_after: None,
        }
    }

    #[test]
    fn a_login_answer_is_tokens_or_a_code_step() {
        let mfa = r#"{"mfa_required":true,"mfa_token":"t","verification":{"sent":true,
            "expires_at":"2026-01-01T00:10:00Z","resend_after":"2026-01-01T00:00:30Z",
            "attempts_remaining":5}}"#;
        assert!(
            matches!(login_answer(mfa), Ok(LoginAnswer::CodeRequired(m)) if m.mfa_token == "t")
        );
        let tokens = r#"{"user":{"id":1,"email":"a@b.c","full_name":"A","created_at":"x",
            "phone":null,"two_factor":false},"access_token":"a","token_type":"Bearer",
            "expires_in":900}"#;
        assert!(
            matches!(login_answer(tokens), Ok(LoginAnswer::Signed(t)) if t.access_token == "a")
        );
        assert!(login_answer("{}").is_err());
    }

    #[test]
    fn problem_types_match_the_whole_type() {
        let e = problem(401, "https://phonereg.dev/problems/password-required");
        assert!(e.is_problem(ProblemType::PasswordRequired));
        assert!(!e.is_problem(ProblemType::WrongPassword));
        assert!(!problem(401, "about:blank").is_problem(ProblemType::PasswordRequired));
    }
}
