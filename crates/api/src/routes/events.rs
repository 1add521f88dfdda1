//! `GET /api/v1/users/me/events` (Server-Sent Events) and its ticket.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use phonereg_types::{EventKind, EventTicket, MessageEvent};
use serde::Deserialize;

use crate::{
    domain::ClientNetworks,
    error::ApiError,
    extract::{AuthUser, ClientIp},
    persistence::events::Cursor,
    routes::dto,
    services::events::{Happened, TICKET_TTL},
    sms,
    state::AppState,
    streams::StreamSlot,
};

const HEARTBEAT: Duration = Duration::from_secs(15);
/// How soon a stream looks again for events that are committed but wait on an older
/// transaction still running (PostgreSQL), which wakes nobody when it ends.
const UNSETTLED_RETRY: Duration = Duration::from_millis(50);

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

struct Stream {
    state: web::Data<AppState>,
    /// Its place among the open streams; freed when the stream is dropped.
    slot: StreamSlot,
    user_id: i64,
    last: Cursor,
    queue: VecDeque<web::Bytes>,
    last_write: Instant,
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
    let stream = Stream {
        state,
        slot,
        user_id,
        last,
        queue: VecDeque::from([web::Bytes::from_static(b"retry: 3000\n: connected\n\n")]),
        last_write: Instant::now(),
    };
    let body = futures_util::stream::unfold(stream, |mut s| async move {
        loop {
            if let Some(chunk) = s.queue.pop_front() {
                s.last_write = Instant::now();
                return Some((Ok::<_, actix_web::Error>(chunk), s));
            }
            // Registered before looking, so a write that commits meanwhile still wakes us.
            let wake = std::sync::Arc::clone(&s.slot.wake);
            let woken = wake.notified();
            let mut soon = None;
            match s.state.events.batch(s.user_id, s.last).await {
                Ok(batch) if !batch.events.is_empty() => {
                    for event in batch.events {
                        s.last = event.cursor;
                        let Some((kind, data)) = render(event.happened) else {
                            continue;
                        };
                        s.queue.push_back(
                            format!("id: {}\nevent: {kind}\ndata: {data}\n\n", event.id).into(),
                        );
                    }
                    continue;
                }
                Ok(batch) => {
                    if batch.unsettled {
                        soon = Some(UNSETTLED_RETRY);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event stream ended; the client will reconnect");
                    return None;
                }
            }
            let idle = s.last_write.elapsed();
            if idle >= HEARTBEAT {
                s.queue
                    .push_back(web::Bytes::from_static(b": heartbeat\n\n"));
                continue;
            }
            // Other processes' events arrive through `streams::watch`, which wakes us.
            tokio::select! {
                () = woken => {}
                () = s.slot.close.notified() => return None,
                () = tokio::time::sleep(soon.unwrap_or(HEARTBEAT - idle).min(HEARTBEAT - idle)) => {}
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// An event as the client reads it: its `event:` and its `data:` JSON. None for one
/// there is nothing to send for (a deleted record, a fact from a newer build).
fn render(happened: Happened) -> Option<(EventKind, String)> {
    let (kind, data) = match happened {
        Happened::Phone(row) => (EventKind::Phone, serde_json::to_string(&dto::phone(row?))),
        Happened::Message { message, at } => (
            EventKind::Message,
            serde_json::to_string(&MessageEvent {
                phone_id: message.phone_id,
                status: message.status,
                error_code: message.error_code,
                guidance: sms::guidance(message.status, message.error_code).map(str::to_owned),
                updated_at: dto::rfc3339(at),
            }),
        ),
        Happened::Unreadable => return None,
    };
    data.ok().map(|data| (kind, data))
}
