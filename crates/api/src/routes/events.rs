//! `GET /api/v1/users/me/events` (Server-Sent Events) and its ticket.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::ApiError,
    extract::{AuthUser, ClientIp},
    persistence::events::{MESSAGE, PHONE, WAKE},
    routes::dto,
    services::events::{self, TICKET_TTL},
    state::AppState,
};

const HEARTBEAT: Duration = Duration::from_secs(15);
/// How often a stream looks for events written by other API processes.
const POLL: Duration = Duration::from_secs(1);

pub async fn create_event_ticket(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let ticket = events::issue_ticket(&state, user.0).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "ticket": ticket, "expires_in": TICKET_TTL })))
}

#[derive(Deserialize)]
pub struct StreamQuery {
    ticket: Option<String>,
    /// For clients that open a new EventSource (with a new ticket) to reconnect: the
    /// browser sends the `Last-Event-ID` header only on its own reconnects.
    last_event_id: Option<i64>,
}

/// The bearer header, or a ticket for EventSource, which cannot send headers.
async fn stream_user(
    state: &AppState,
    req: &HttpRequest,
    ticket: Option<String>,
    client: &str,
) -> Result<i64, ApiError> {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return Ok(AuthUser::from_headers(state, req)?.0);
    }
    match ticket {
        Some(ticket) => events::redeem_ticket(state, &ticket, client).await,
        None => Err(ApiError::Unauthorized(
            "Send a bearer token, or a ticket from POST /api/v1/users/me/events/ticket.",
        )),
    }
}

struct Stream {
    state: web::Data<AppState>,
    user_id: i64,
    last_id: i64,
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
    let user_id = stream_user(&state, &req, ticket, &ip.0).await?;
    // Reconnecting clients resume after the last event they saw; new ones start now.
    let resume = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(last_event_id);
    let last_id = match resume {
        Some(id) => id,
        None => events::latest_id(&state, user_id).await?,
    };
    let stream = Stream {
        state,
        user_id,
        last_id,
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
            let woken = WAKE.notified();
            match events::batch(&s.state, s.user_id, s.last_id).await {
                Ok(batch) if !batch.is_empty() => {
                    for (event, phone) in batch {
                        s.last_id = event.id;
                        let data = match (event.kind.as_str(), phone) {
                            (PHONE, Some(row)) => {
                                serde_json::to_string(&dto::phone(row)).unwrap_or_default()
                            }
                            (MESSAGE, _) => event.data,
                            _ => continue,
                        };
                        s.queue.push_back(
                            format!("id: {}\nevent: {}\ndata: {data}\n\n", event.id, event.kind)
                                .into(),
                        );
                    }
                    continue;
                }
                Ok(_) => {}
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
            tokio::select! {
                () = woken => {}
                () = tokio::time::sleep(POLL.min(HEARTBEAT - idle)) => {}
            }
        }
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
