//! `GET /api/v1/users/me/events` (Server-Sent Events) and its ticket.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use phonereg_types::EventTicket;
use serde::Deserialize;

use crate::{
    domain::ClientNetworks,
    error::ApiError,
    extract::{AuthUser, ClientIp},
    routes::event_stream::EventStream,
    services::events::TICKET_TTL,
    state::AppState,
};

pub async fn create_event_ticket(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let access = AuthUser::access(&state, &req)?;
    let ticket = state.events.issue_ticket(&access).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(EventTicket {
            ticket,
            expires_in: TICKET_TTL,
        }))
}

#[derive(Deserialize)]
pub struct StreamQuery {
    ticket: Option<String>,
    /// For clients that open a new EventSource (with a new ticket) to reconnect: the
    /// browser sends the `Last-Event-ID` header only on its own reconnects.
    last_event_id: Option<i64>,
}

/// The bearer header, or a ticket for EventSource, which cannot send headers: the
/// account, and the session and expiry the stream must end with.
async fn stream_user(
    state: &AppState,
    req: &HttpRequest,
    ticket: Option<String>,
    client: &ClientNetworks,
) -> Result<(i64, Option<String>, i64), ApiError> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        let access = AuthUser::access(state, req)?;
        return Ok((access.user_id, access.session, access.expires_at));
    }
    match ticket {
        Some(ticket) => {
            let grant = state.events.redeem_ticket(&ticket, client).await?;
            // A ticket from before tickets carried the token's expiry lives as long as
            // an access token would have.
            let expires_at = grant
                .token_expires_at
                .unwrap_or_else(|| state.clock.now() + state.tokens.access_ttl);
            Ok((grant.user_id, grant.session, expires_at))
        }
        None => Err(ApiError::Unauthorized(
            "Send a bearer token, or a ticket from POST /api/v1/users/me/events/ticket.",
        )),
    }
}

pub async fn stream_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    ip: ClientIp,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let StreamQuery {
        ticket,
        last_event_id,
    } = query.into_inner();
    let (user_id, session, expires_at) = stream_user(&state, &req, ticket, &ip.0).await?;
    // Taken before any read, so streams past the cap cost nothing.
    let slot = state.streams.open(user_id, &ip.0, session, expires_at)?;
    // Reconnecting clients resume after the last event they saw; new ones start now.
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(last_event_id);
    let last = match resume {
        Some(id) => state.events.resume_at(user_id, id).await?,
        None => state.events.latest(user_id).await?,
    };
    let body = EventStream::new(state, slot, user_id, last).into_body();
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
