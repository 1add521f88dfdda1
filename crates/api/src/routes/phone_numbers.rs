//! `/api/v1/users/me/phone-numbers*` and the public lookup `/api/v1/phone-numbers/parse`.

use actix_web::{HttpRequest, HttpResponse, web};
use phonereg_types::{
    DeletePhoneRequest, HistoryList, PhoneList, PhoneNumberRequest, ResendRequest, Verification,
    VerifyRequest,
};
use serde::Deserialize;

use crate::{
    domain::{PhoneNumber, phone_number},
    error::ApiError,
    extract::{AuthUser, CaptchaAnswer, ClientIp, Lang, OptionalJson, ValidJson},
    routes::dto,
    services::{audit::Origin, phones::Change},
    state::AppState,
};

fn parse_body(state: &AppState, body: &PhoneNumberRequest) -> Result<PhoneNumber, ApiError> {
    state
        .phones
        .rules()
        .parse(&body.phone_number, body.phone_region.as_deref())
        .map_err(ApiError::Validation)
}

pub async fn list_phone_numbers(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let rows = state.phones.list(user.0).await?;
    Ok(HttpResponse::Ok().json(PhoneList {
        items: rows.into_iter().map(dto::phone).collect(),
    }))
}

pub async fn create_phone_number(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    lang: Lang,
    captcha: CaptchaAnswer,
    origin: Origin,
    ValidJson(body): ValidJson<PhoneNumberRequest>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_body(&state, &body)?;
    let ask = captcha.ask(&number.e164, Some(&number.country), &ip, body.captcha_token);
    state.captcha.admit(ask).await?;
    let (row, code) = state
        .phones
        .add(user.0, number, ip.0, lang.0, origin)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/api/v1/users/me/phone-numbers/{}", row.id),
        ))
        .json(dto::phone_with_code(row, Some(&code))))
}

pub async fn get_phone_number(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = state.phones.get(user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(dto::phone(row)))
}

#[expect(
    clippy::too_many_arguments,
    reason = "actix extractors: one per fact of the request"
)]
pub async fn update_phone_number(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    lang: Lang,
    id: web::Path<i64>,
    captcha: CaptchaAnswer,
    origin: Origin,
    ValidJson(body): ValidJson<PhoneNumberRequest>,
) -> Result<HttpResponse, ApiError> {
    let number = parse_body(&state, &body)?;
    let ask = captcha.ask(&number.e164, Some(&number.country), &ip, body.captcha_token);
    state.captcha.admit(ask).await?;
    let (row, code) = state
        .phones
        .replace(Change {
            user_id: user.0,
            id: id.into_inner(),
            number,
            current_password: body.current_password,
            client_ip: ip.0,
            locale: lang.0,
            origin,
        })
        .await?;
    Ok(HttpResponse::Ok().json(dto::phone_with_code(row, code.as_ref())))
}

pub async fn send_verification_code(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    lang: Lang,
    id: web::Path<i64>,
    captcha: CaptchaAnswer,
    OptionalJson(body): OptionalJson<ResendRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    // Nothing to confirm sends nothing: the service answers that, unchallenged. Without
    // a bot challenge configured the destination is not looked up: a read per resend.
    let destination = match state.captcha.is_on() {
        true => state.phones.resend_destination(user.0, id).await?,
        false => None,
    };
    let body = body.unwrap_or_default();
    if let Some((e164, country)) = destination {
        let ask = captcha.ask(&e164, country.as_deref(), &ip, body.captcha_token);
        state.captcha.admit(ask).await?;
    }
    let code = state
        .phones
        .resend_code(user.0, id, ip.0, lang.0, body.channel)
        .await?;
    Ok(HttpResponse::Accepted().json(Verification::from(&code)))
}

pub async fn send_test_message(
    state: web::Data<AppState>,
    user: AuthUser,
    lang: Lang,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let row = state
        .phones
        .send_test_message(user.0, id.into_inner(), lang.0)
        .await?;
    Ok(HttpResponse::Accepted().json(dto::phone(row).last_message))
}

pub async fn verify_phone_number(
    state: web::Data<AppState>,
    req: HttpRequest,
    lang: Lang,
    origin: Origin,
    id: web::Path<i64>,
    ValidJson(body): ValidJson<VerifyRequest>,
) -> Result<HttpResponse, ApiError> {
    // The session too: a verified replacement ends every other one.
    let access = AuthUser::access(&state, &req)?;
    let row = state
        .phones
        .verify_code(
            access.user_id,
            id.into_inner(),
            body.code,
            access.session,
            lang.0,
            origin,
        )
        .await?;
    Ok(HttpResponse::Ok().json(dto::phone(row)))
}

pub async fn delete_phone_number(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    origin: Origin,
    id: web::Path<i64>,
    OptionalJson(body): OptionalJson<DeletePhoneRequest>,
) -> Result<HttpResponse, ApiError> {
    let password = body.and_then(|b| b.current_password);
    state
        .phones
        .delete(user.0, id.into_inner(), password, ip.0, origin)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn get_phone_history(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let rows = state.phones.history(user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(HistoryList {
        items: rows.into_iter().map(dto::history_item).collect(),
    }))
}

#[derive(Deserialize)]
pub struct LookupQuery {
    number: Option<String>,
    region: Option<String>,
}

pub async fn parse_phone_number(
    state: web::Data<AppState>,
    ip: ClientIp,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, ApiError> {
    let LookupQuery { number, region } = query.into_inner();
    let number = number
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::field("number", phonereg_types::validation::REQUIRED))?;
    let region = match region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => None,
        Some(r) => Some(
            phonereg_types::validation::parse_region(r)
                .ok()
                .filter(|r| phone_number::is_known_region(r))
                .ok_or_else(|| {
                    ApiError::field("region", "must be a two-letter country code such as US")
                })?,
        ),
    };
    let verdict = state.phones.lookup(number, region, ip.0).await?;
    Ok(HttpResponse::Ok().json(verdict))
}
