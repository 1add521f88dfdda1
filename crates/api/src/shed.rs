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
//! Memory is bounded: at most [`MAX_CLIENTS`] remembered refusals; past it expired ones
//! are dropped, and if none have expired everything is forgotten (a flood from more
//! clients than that reaches the database again, which refuses it correctly).

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
};

use actix_web::{
    HttpResponse, ResponseError as _,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};

use crate::{error::ApiError, extract::client_of, state::AppState};

const MAX_CLIENTS: usize = 100_000;

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

/// Refusals the database gave, per endpoint and client key, until their window ends.
#[derive(Default)]
pub struct Shedder {
    refused: Mutex<HashMap<(&'static str, String), Refusal>>,
}

#[derive(Clone, Copy)]
struct Refusal {
    limit: &'static str,
    until: i64,
}

impl Shedder {
    fn refusal(&self, path: &'static str, client: &str, now: i64) -> Option<ApiError> {
        let refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        let r = refused.get(&(path, client.to_owned()))?;
        (r.until > now).then(|| {
            crate::telemetry::rate_limited(r.limit);
            ApiError::RateLimited {
                limit: r.limit,
                retry_after: (r.until - now) as u64,
            }
        })
    }

    fn remember(&self, path: &'static str, client: &str, refusal: Refusal, now: i64) {
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= MAX_CLIENTS {
            refused.retain(|_, r| r.until > now);
            if refused.len() >= MAX_CLIENTS {
                refused.clear();
            }
        }
        refused.insert((path, client.to_owned()), refusal);
    }
}

/// The middleware: answers a remembered refusal before the handler, and remembers the
/// refusals of the gated limits it sees.
pub async fn shed_refused_clients(
    req: ServiceRequest,
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
        let refusal = Refusal { limit, until };
        state
            .shedder
            .remember(gate.path, client.key(), refusal, now);
    }
    Ok(res.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_lasts_until_its_window_ends_for_its_endpoint_and_client_only() {
        let s = Shedder::default();
        let r = Refusal {
            limit: "login_ip",
            until: 1_000,
        };
        s.remember("/login", "192.0.2.1", r, 900);
        match s.refusal("/login", "192.0.2.1", 950) {
            Some(ApiError::RateLimited { retry_after, limit }) => {
                assert_eq!((retry_after, limit), (50, "login_ip"));
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            s.refusal("/login", "192.0.2.2", 950).is_none(),
            "another client"
        );
        assert!(
            s.refusal("/register", "192.0.2.1", 950).is_none(),
            "another endpoint"
        );
        assert!(
            s.refusal("/login", "192.0.2.1", 1_000).is_none(),
            "the window ended"
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let s = Shedder::default();
        let r = |until| Refusal {
            limit: "login_ip",
            until,
        };
        for i in 0..MAX_CLIENTS + 10 {
            s.remember("/login", &format!("c{i}"), r(2_000), 1_000);
        }
        assert!(s.refused.lock().expect("lock").len() <= MAX_CLIENTS);
    }
}
