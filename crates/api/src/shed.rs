//! The cheap per-client check before any database write (SPEC §11 bounded work).
//!
//! A client past a per-client limit is refused by the database, but each refusal still
//! costs a write transaction (the counter is bumped, then rolled back) and a place in
//! the SQLite writer's queue: 3 000 refused requests are 3 000 writes. So when the
//! database refuses a client by a limit that *every* request to that endpoint is charged
//! before anything else, the refusal is remembered here, and the client's further
//! requests to that endpoint are answered the same 429, with the remaining `Retry-After`,
//! without reaching a handler until the window ends.
//!
//! Never stricter than the database: an endpoint is gated only by limits each of its
//! requests is charged first (a refusal of a per-number or per-email limit is never
//! remembered), and the refusal lasts exactly until the window the database named
//! ends. The one difference: a charge refunded after the refusal (a right code, in
//! flight at the same moment) frees a slot the database would give and memory does not,
//! for the rest of that window.
//!
//! The refusals are kept by `services::shedder::Shedder`, bounded in memory.

use actix_web::{
    HttpResponse, ResponseError as _,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};

use crate::{error::ApiError, extract::client_of, services::shedder::Refusal, state::AppState};

/// An endpoint and the per-client limits every request to it is charged before any
/// other work (so a refusal by one holds for the client's next request too).
struct Gate {
    method: Method,
    path: &'static str,
    limits: &'static [&'static str],
}

/// The anonymous endpoints that write on every request. The rest answer from memory
/// already (refresh, logout and tickets: `TokenStrikes`) or need an account.
fn gates() -> [Gate; 6] {
    let gate = |method, path, limits| Gate {
        method,
        path,
        limits,
    };
    [
        gate(Method::POST, "/api/v1/auth/register", &["register_ip"]),
        gate(Method::POST, "/api/v1/auth/login", &["login_ip"]),
        gate(
            Method::POST,
            "/api/v1/auth/sms/sign-in",
            &["login_ip", "code_failures_ip"],
        ),
        gate(
            Method::POST,
            "/api/v1/auth/password-reset",
            &["login_ip", "code_failures_ip"],
        ),
        gate(
            Method::POST,
            "/api/v1/auth/login/verify",
            &["code_failures_ip"],
        ),
        gate(Method::GET, "/api/v1/phone-numbers/parse", &["lookup_ip"]),
    ]
}

/// The middleware: answers a remembered refusal before the handler, and remembers the
/// refusals of the gated limits it sees.
pub async fn shed_refused_clients(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let gate = gates()
        .into_iter()
        .find(|g| g.method == req.method() && g.path == req.path());
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(gate), Some(state)) = (gate, state) else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let client = client_of(req.request());
    let now = state.clock.now();
    if let Some(refusal) = state.shedder.refusal(gate.path, client.key(), now) {
        drain_body(&mut req).await;
        let res: HttpResponse = refusal.error_response();
        return Ok(req.into_response(res));
    }
    let res = next.call(req).await?;
    let refused = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>());
    if let Some(ApiError::RateLimited { limit, retry_after }) = refused
        && gate.limits.contains(limit)
    {
        let until = now + i64::try_from(*retry_after).unwrap_or(i64::MAX / 2);
        let refusal = Refusal::new(limit, until);
        state
            .shedder
            .remember(gate.path, client.key(), refusal, now);
    }
    Ok(res.map_into_boxed_body())
}

/// Reads and drops the request's body (at most the API's body limit): a response sent
/// before the body is read makes the server close the connection, and a client that must
/// reconnect for every refused request costs more than reading 16 KiB at most.
async fn drain_body(req: &mut ServiceRequest) {
    use actix_web::HttpMessage as _;
    use futures_util::StreamExt as _;
    let mut payload = req.take_payload();
    let mut read = 0;
    while let Some(Ok(chunk)) = payload.next().await {
        read += chunk.len();
        if read > crate::extract::BODY_LIMIT {
            break;
        }
    }
}
