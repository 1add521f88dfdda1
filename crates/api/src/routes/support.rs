//! `/api/v1/admin/users*`: the support API (SPEC §12). Operators find an account by an
//! exact email, number or id, read it (its messages without bodies, the limits in
//! force), and free its number, turn two-step sign-in off, end its sessions, clear its
//! login lock or delete it, each with a `reason` kept in the audit log.

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, web};
use futures_util::future::LocalBoxFuture;
use phonereg_types::{
    AdminMessage, AdminUser, AdminUserDetail, AdminUserList, LimitInForce, SessionsRevoked,
    SupportReason, SupportTwoFactorRequest, SupportTwoFactorResponse,
};
use serde::{Deserialize, de::DeserializeOwned};

use crate::{
    domain::{Reason, rfc3339},
    error::ApiError,
    extract::{Admin, ValidJson},
    persistence::models::MessageRow,
    routes::dto,
    services::{
        audit::Origin,
        support::{AccountView, Action, Counted},
    },
    sms,
    state::AppState,
};

#[derive(Deserialize)]
pub struct LookupQuery {
    id: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

pub async fn find_users(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    query: web::Query<LookupQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let lookup = state
        .support
        .lookup(q.id.as_deref(), q.email.as_deref(), q.phone.as_deref())?;
    let found = state.support.find(admin.name(), origin, lookup).await?;
    Ok(no_store().json(AdminUserList {
        items: found.into_iter().map(admin_user).collect(),
    }))
}

pub async fn get_user(
    state: web::Data<AppState>,
    admin: Admin,
    origin: Origin,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let detail = state
        .support
        .account(admin.name(), origin, id.into_inner())
        .await?;
    let provider = state.support.provider();
    Ok(no_store().json(AdminUserDetail {
        user: admin_user(detail.view),
        messages: detail
            .messages
            .into_iter()
            .map(|m| message(m, provider))
            .collect(),
        limits: detail.limits.into_iter().map(limit).collect(),
    }))
}

pub async fn release_phone(
    state: web::Data<AppState>,
    change: SupportChange<SupportReason>,
) -> Result<HttpResponse, ApiError> {
    state.support.release_phone(change.action).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn set_two_factor(
    state: web::Data<AppState>,
    change: SupportChange<SupportTwoFactorRequest>,
) -> Result<HttpResponse, ApiError> {
    // Turning it on would choose a second factor for someone: only its holder may.
    if change.body.enabled {
        return Err(ApiError::field(
            "enabled",
            "must be false: operators can only turn two-step sign-in off",
        ));
    }
    state.support.two_factor_off(change.action).await?;
    Ok(HttpResponse::Ok().json(SupportTwoFactorResponse { enabled: false }))
}

pub async fn revoke_sessions(
    state: web::Data<AppState>,
    change: SupportChange<SupportReason>,
) -> Result<HttpResponse, ApiError> {
    let revoked = state.support.revoke_sessions(change.action).await?;
    Ok(HttpResponse::Ok().json(SessionsRevoked {
        revoked: revoked as i64,
    }))
}

pub async fn unlock(
    state: web::Data<AppState>,
    change: SupportChange<SupportReason>,
) -> Result<HttpResponse, ApiError> {
    state.support.unlock(change.action).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_user(
    state: web::Data<AppState>,
    change: SupportChange<SupportReason>,
) -> Result<HttpResponse, ApiError> {
    state
        .account_removal
        .delete_by_operator(change.action)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What every support change starts with, in this order: the operator (404 or 401
/// first, as on every admin route), the client, the account's id, the JSON body and its
/// parsed `reason`.
pub struct SupportChange<B> {
    action: Action,
    body: B,
}

/// A support change's body: each carries the operator's reason.
pub trait WithReason {
    fn reason(&self) -> &str;
}

impl WithReason for SupportReason {
    fn reason(&self) -> &str {
        &self.reason
    }
}

impl WithReason for SupportTwoFactorRequest {
    fn reason(&self) -> &str {
        &self.reason
    }
}

impl<B: DeserializeOwned + WithReason + 'static> FromRequest for SupportChange<B> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let parts = <(Admin, Origin, web::Path<i64>, ValidJson<B>)>::from_request(req, payload);
        Box::pin(async move {
            let (admin, origin, id, ValidJson(body)) = parts.await?;
            let reason = Reason::parse(body.reason()).map_err(|m| ApiError::field("reason", m))?;
            Ok(Self {
                action: Action::new(admin.name(), origin, id.into_inner(), reason),
                body,
            })
        })
    }
}

/// What operators read of an account is not for caches on the way.
fn no_store() -> actix_web::HttpResponseBuilder {
    let mut r = HttpResponse::Ok();
    r.insert_header(("Cache-Control", "no-store"));
    r
}

fn admin_user(view: AccountView) -> AdminUser {
    AdminUser {
        id: view.user.id,
        email: view.user.email,
        created_at: rfc3339(view.user.created_at),
        phone: view.phone.map(dto::phone),
        two_factor: view.user.two_factor,
        recovery_codes_left: i64::from(view.user.recovery_codes_left),
        locked_until: view.locked_until.map(rfc3339),
    }
}

/// Never the body: it may still hold a code.
fn message(row: MessageRow, provider: &str) -> AdminMessage {
    AdminMessage {
        id: row.id,
        kind: row.kind,
        status: row.status,
        error_code: row.error_code,
        guidance: sms::guidance_by(Some(row.channel), row.status, row.error_code)
            .map(str::to_owned),
        // The message names its provider (SPEC §13); rows older than that column were
        // this process's provider's once handed over.
        provider: row
            .provider
            .map(|p| p.as_str().to_owned())
            .or_else(|| row.provider_sid.is_some().then(|| provider.to_owned())),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn limit(n: Counted) -> LimitInForce {
    LimitInForce {
        blocked: n.blocked(),
        name: n.name.to_owned(),
        scope: n.scope,
        used: n.used,
        max: n.max,
        resets_at: rfc3339(n.resets_at),
    }
}
