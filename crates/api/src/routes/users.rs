//! `/api/v1/users/me` and its two-factor switch.

use actix_web::{HttpResponse, web};
use phonereg_types::{
    CodeRequest, DeleteAccountRequest, RecoveryCodesRequest, RecoveryCodesResponse,
    TwoFactorRequest, TwoFactorResponse, Verification, VerificationResponse,
};

use crate::{
    error::ApiError,
    extract::{AuthUser, ClientIp, Lang, OptionalJson, ValidJson},
    routes::dto,
    services::audit::Origin,
    state::AppState,
};

pub async fn get_me(state: web::Data<AppState>, user: AuthUser) -> Result<HttpResponse, ApiError> {
    let (row, phone) = state.accounts.me(user.0).await?;
    Ok(HttpResponse::Ok().json(dto::user(row, phone)))
}

/// `DELETE /users/me`: the password asked again; the account and all it holds go.
pub async fn delete_me(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    origin: Origin,
    ValidJson(body): ValidJson<DeleteAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    state
        .account_removal
        .delete_own(user.0, body.current_password, &ip.0, origin)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn set_two_factor(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    origin: Origin,
    ValidJson(body): ValidJson<TwoFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    let switched = state
        .two_factor
        .set(user.0, body.enabled, body.password, body.code, ip.0, origin)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(TwoFactorResponse {
            enabled: switched.enabled,
            recovery_codes: switched.recovery_codes,
        }))
}

pub async fn new_recovery_codes(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    origin: Origin,
    ValidJson(body): ValidJson<RecoveryCodesRequest>,
) -> Result<HttpResponse, ApiError> {
    let recovery_codes = state
        .two_factor
        .new_recovery_codes(user.0, body.password, ip.0, origin)
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(RecoveryCodesResponse { recovery_codes }))
}

pub async fn send_two_factor_code(
    state: web::Data<AppState>,
    user: AuthUser,
    ip: ClientIp,
    lang: Lang,
    OptionalJson(body): OptionalJson<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let channel = body.and_then(|b| b.channel);
    let code = state
        .two_factor
        .send_code(user.0, ip.0, lang.0, channel)
        .await?;
    Ok(HttpResponse::Accepted().json(VerificationResponse {
        verification: Verification::from(&code),
    }))
}
