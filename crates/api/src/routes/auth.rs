//! `/api/v1/auth/*`

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration},
    http::StatusCode,
    web,
};
use phonereg_types::{LoginRequest, RefreshRequest, RegisterRequest, TokenResponse, Verification};

use crate::{
    error::ApiError,
    extract::{ClientIp, OptionalJson, ValidJson},
    routes::dto,
    services::auth::{self, Registration, Session},
    state::AppState,
};

pub const REFRESH_COOKIE: &str = "phonereg_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

pub async fn register(
    state: web::Data<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let registration = Registration::parse(body, &state)?;
    let session = auth::register(&state, registration, ip.0).await?;
    Ok(session_response(&state, StatusCode::CREATED, session))
}

pub async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let session = auth::login(&state, &body.email, body.password, ip.0).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = presented_token(&req, body).ok_or(ApiError::Unauthorized(
        "Send a refresh token in the body or the cookie.",
    ))?;
    let session = auth::refresh(&state, token).await?;
    Ok(session_response(&state, StatusCode::OK, session))
}

pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    auth::logout(&state, presented_token(&req, body)).await?;
    let mut cookie = refresh_cookie(&state, String::new());
    cookie.make_removal();
    Ok(HttpResponse::NoContent().cookie(cookie).finish())
}

/// The JSON field wins; the HttpOnly cookie is the SPA's way.
fn presented_token(req: &HttpRequest, body: Option<RefreshRequest>) -> Option<String> {
    body.and_then(|b| b.refresh_token)
        .filter(|t| !t.is_empty())
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty())
}

fn refresh_cookie(state: &AppState, value: String) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies())
        .max_age(Duration::seconds(state.refresh_ttl()))
        .finish()
}

fn session_response(state: &AppState, status: StatusCode, session: Session) -> HttpResponse {
    let cookie = refresh_cookie(state, session.refresh_token.clone());
    HttpResponse::build(status)
        .cookie(cookie)
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            user: dto::user(session.user, session.phone),
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            token_type: "Bearer".into(),
            expires_in: state.tokens.access_ttl,
            verification: session.verification.as_ref().map(Verification::from),
        })
}
