//! `/api/v1/auth/*`

use actix_web::{
    HttpRequest, HttpResponse,
    cookie::{Cookie, SameSite, time::Duration},
    http::StatusCode,
    web,
};
use phonereg_types::{
    LoginRequest, LoginVerifyRequest, MfaRequired, PasswordResetRequest, RefreshRequest,
    RegisterRequest, SmsSignInRequest, SmsStartRequest, TokenResponse, Verification,
    VerificationResponse,
};

use crate::{
    domain::PhoneNumber,
    error::ApiError,
    extract::{CaptchaAnswer, ClientIp, Lang, OptionalJson, ValidJson},
    routes::dto,
    services::{
        audit::Origin,
        auth::{Login, Registration},
        phone_credential::Reset,
        sessions::Session,
        two_factor::SecondFactor,
    },
    state::AppState,
};

pub const REFRESH_COOKIE: &str = "phonereg_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";
/// Set and cleared with the refresh cookie, readable by page scripts and holding no
/// secret: the SPA calls `/auth/refresh` on load only when it is there, so a visitor
/// without a session does not get (and log) a 401.
pub const SESSION_HINT_COOKIE: &str = "phonereg_session";

pub async fn register(
    state: web::Data<AppState>,
    ip: ClientIp,
    lang: Lang,
    captcha: CaptchaAnswer,
    origin: Origin,
    ValidJson(mut body): ValidJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.captcha_token.take();
    let registration = Registration::parse(body, state.phones.rules())?;
    if let Some(n) = registration.phone() {
        let ask = captcha.ask(&n.e164, Some(&n.country), &ip, token);
        state.captcha.admit(ask).await?;
    }
    let session = state
        .accounts
        .register(registration, ip.0, lang.0, origin)
        .await?;
    Ok(session_response(&state, StatusCode::CREATED, session, true))
}

pub async fn login(
    state: web::Data<AppState>,
    ip: ClientIp,
    lang: Lang,
    origin: Origin,
    ValidJson(body): ValidJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    match state
        .accounts
        .login(&body.email, body.password, ip.0, lang.0, origin)
        .await?
    {
        Login::Signed(session) => Ok(session_response(&state, StatusCode::OK, *session, true)),
        // No tokens and no cookie until the code is right.
        Login::CodeRequired {
            mfa_token,
            verification,
        } => Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(MfaRequired {
                mfa_required: true,
                mfa_token,
                verification: Verification::from(&verification),
            })),
    }
}

pub async fn login_verify(
    state: web::Data<AppState>,
    ip: ClientIp,
    origin: Origin,
    ValidJson(body): ValidJson<LoginVerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    let factor = SecondFactor::parse(body.code, body.recovery_code)?;
    let session = state
        .two_factor
        .verify_login(body.mfa_token, factor, &ip.0, origin)
        .await?;
    Ok(session_response(&state, StatusCode::OK, session, true))
}

fn parse_number(
    state: &AppState,
    raw: &str,
    region: Option<&str>,
) -> Result<PhoneNumber, ApiError> {
    state
        .phones
        .rules()
        .parse(raw, region)
        .map_err(ApiError::Validation)
}

pub async fn sms_start(
    state: web::Data<AppState>,
    ip: ClientIp,
    lang: Lang,
    captcha: CaptchaAnswer,
    origin: Origin,
    ValidJson(body): ValidJson<SmsStartRequest>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(&state, &body.phone_number, body.phone_region.as_deref())?;
    let ask = captcha.ask(&number.e164, Some(&number.country), &ip, body.captcha_token);
    state.captcha.admit(ask).await?;
    let code = state
        .credentials
        .start(
            number,
            body.purpose.into(),
            ip.0,
            lang.0,
            body.channel,
            origin,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(VerificationResponse {
        verification: Verification::from(&code),
    }))
}

pub async fn sms_sign_in(
    state: web::Data<AppState>,
    ip: ClientIp,
    origin: Origin,
    ValidJson(body): ValidJson<SmsSignInRequest>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(&state, &body.phone_number, body.phone_region.as_deref())?;
    let session = state
        .credentials
        .sign_in(number, body.code, ip.0, origin)
        .await?;
    Ok(session_response(&state, StatusCode::OK, session, true))
}

pub async fn password_reset(
    state: web::Data<AppState>,
    ip: ClientIp,
    lang: Lang,
    origin: Origin,
    ValidJson(body): ValidJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_number(&state, &body.phone_number, body.phone_region.as_deref())?;
    state
        .credentials
        .reset_password(Reset {
            number,
            code: body.code,
            new_password: body.new_password,
            recovery_code: body.recovery_code,
            client_ip: ip.0,
            locale: lang.0,
            origin,
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    ip: ClientIp,
    origin: Origin,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let (token, from) = presented_token(&req, body)?.ok_or(ApiError::Unauthorized(
        "Send a refresh token in the body or the cookie.",
    ))?;
    let session = state.accounts.refresh(token, &ip.0, origin).await?;
    Ok(session_response(
        &state,
        StatusCode::OK,
        session,
        from == Source::Body,
    ))
}

pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    ip: ClientIp,
    origin: Origin,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = presented_token(&req, body)?.map(|(t, _)| t);
    state.accounts.logout(token, &ip.0, origin).await?;
    let mut cookie = refresh_cookie(&state, String::new());
    cookie.make_removal();
    let mut hint = session_hint_cookie(&state, "");
    hint.make_removal();
    Ok(HttpResponse::NoContent()
        .cookie(cookie)
        .cookie(hint)
        .finish())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Body,
    Cookie,
}

/// The JSON field wins; the HttpOnly cookie is the SPA's way. A field that is present
/// but empty is a mistake, not a request to use the cookie: a page script able to send
/// `{"refresh_token": ""}` must not get the cookie's session handed back in JSON.
fn presented_token(
    req: &HttpRequest,
    body: Option<RefreshRequest>,
) -> Result<Option<(String, Source)>, ApiError> {
    match body.and_then(|b| b.refresh_token) {
        Some(t) if t.is_empty() => Err(ApiError::field("refresh_token", "must not be empty")),
        Some(t) => Ok(Some((t, Source::Body))),
        None => Ok(req
            .cookie(REFRESH_COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty())
            .map(|t| (t, Source::Cookie))),
    }
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

fn session_hint_cookie(state: &AppState, value: &'static str) -> Cookie<'static> {
    Cookie::build(SESSION_HINT_COOKIE, value)
        .path("/")
        .same_site(SameSite::Strict)
        .secure(state.config.secure_cookies())
        .max_age(Duration::seconds(state.refresh_ttl()))
        .finish()
}

/// The token response. `echo_refresh` is false when the refresh token came from the
/// cookie: it then stays in the HttpOnly cookie, out of reach of page scripts.
fn session_response(
    state: &AppState,
    status: StatusCode,
    session: Session,
    echo_refresh: bool,
) -> HttpResponse {
    let cookie = refresh_cookie(state, session.refresh_token.clone());
    HttpResponse::build(status)
        .cookie(cookie)
        .cookie(session_hint_cookie(state, "1"))
        .insert_header(("Cache-Control", "no-store"))
        .json(TokenResponse {
            user: dto::user(session.user, session.phone),
            access_token: session.access_token,
            refresh_token: echo_refresh.then_some(session.refresh_token),
            token_type: "Bearer".into(),
            expires_in: state.tokens.access_ttl,
            verification: session.verification.as_ref().map(Verification::from),
        })
}
