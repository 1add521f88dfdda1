//! `/api/v1/dev/sms`: the console provider's inbox, so a developer can sign up end to
//! end without a phone. Registered only with `SMS_PROVIDER=console` in development.

use actix_web::{HttpRequest, HttpResponse, web};
use phonereg_types::{DevSms, DevSmsList};

use crate::{error::ApiError, routes::dto::rfc3339, state::AppState};

/// Loopback peers only (SPEC §10): a development server bound to a public address must
/// not hand its codes to the network. The peer address is the TCP one, never a
/// forwarded header; and a request that came through a proxy (it carries
/// `X-Forwarded-For` or `Forwarded`) is refused too, since a proxy on the same host
/// (nginx, `trunk serve --address 0.0.0.0`) makes every peer look like loopback.
pub async fn list_dev_sms(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let loopback = req.peer_addr().is_some_and(|a| match a.ip() {
        std::net::IpAddr::V4(ip) => ip.is_loopback(),
        std::net::IpAddr::V6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    });
    let proxied =
        req.headers().contains_key("x-forwarded-for") || req.headers().contains_key("forwarded");
    if !loopback || proxied {
        return Err(ApiError::NotFound);
    }
    let inbox = state.inbox.as_ref().ok_or(ApiError::NotFound)?;
    let items = inbox
        .items()
        .into_iter()
        .map(|m| DevSms {
            to: m.to,
            body: m.body,
            created_at: rfc3339(m.created_at),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(DevSmsList { items }))
}
