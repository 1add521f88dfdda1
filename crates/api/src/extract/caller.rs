//! Who is calling: the account of a bearer token, or an operator of the admin API.

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::{Ready, ready};
use sha2::Digest as _;

use super::client::client_of;
use crate::{error::ApiError, services::tokens::Access, state::AppState};

/// The authenticated caller's user id, from `Authorization: Bearer <jwt>`.
pub struct AuthUser(pub i64);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(AuthUser))
    }
}

impl AuthUser {
    /// Everything the bearer token says (its expiry and session too).
    pub fn access(state: &AppState, req: &HttpRequest) -> Result<Access, ApiError> {
        let token = bearer_token(req).ok_or(ApiError::Unauthorized(
            "Send an access token as 'Authorization: Bearer <token>'.",
        ))?;
        state.tokens.verify(token)
    }
}

/// An operator holding a token of `ADMIN_TOKEN` or `ADMIN_TOKENS` (SPEC §9, §11), by
/// name. Without either setting there is no admin API: 404, as for any path that does
/// not exist. Wrong tokens are limited per client and logged with the client (SPEC §11).
pub struct Admin {
    name: String,
}

impl Admin {
    /// The operator's name, for the rows they change and the log.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req))
    }
}

fn admin(req: &HttpRequest) -> Result<Admin, ApiError> {
    use subtle::ConstantTimeEq as _;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::NotFound)?;
    // Checked at start-up; an unparsable list would have stopped it.
    let operators = state.config.admin_operators().unwrap_or_default();
    if operators.is_empty() {
        return Err(ApiError::NotFound);
    }
    // A client past its allowance is refused before the compare, the right token
    // included: guessing stays bounded however the guesses are spread over time.
    let client = client_of(req);
    let now = state.clock.now();
    state.admin_strikes.check(&client, now)?;
    let presented = bearer_token(req).unwrap_or("");
    // Compared as SHA-256 digests: equal lengths, so the compare takes the same
    // time whatever was presented and leaks nothing about the token's length.
    // Every operator's token is compared, whichever matches, so the time says nothing
    // about which one (or how many) there are.
    let digest = |s: &str| sha2::Sha256::digest(s.as_bytes());
    let presented = digest(presented);
    let mut matched = None;
    for op in &operators {
        if bool::from(presented.ct_eq(&digest(op.token))) {
            matched = Some(op.name);
        }
    }
    if let Some(name) = matched {
        return Ok(Admin {
            name: name.to_owned(),
        });
    }
    state.admin_strikes.strike(&client, now);
    // The client key (IPv4, or an IPv6 /64) as every limit keys it; never the token.
    tracing::warn!(client = %client, "wrong admin token");
    Err(ApiError::Unauthorized(
        "Send the operator token as 'Authorization: Bearer <ADMIN_TOKEN>'.",
    ))
}

fn authenticate(req: &HttpRequest) -> Result<i64, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    bearer(state, req)
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
}

fn bearer(state: &AppState, req: &HttpRequest) -> Result<i64, ApiError> {
    let token = bearer_token(req).ok_or(ApiError::Unauthorized(
        "Send an access token as 'Authorization: Bearer <token>'.",
    ))?;
    state.tokens.verify_access(token)
}
