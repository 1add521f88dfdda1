//! The request path's side of outbound webhooks: [`emit`] writes one event row in the
//! transaction of its change. Kept apart from the operators' side, which records its own
//! audit events, so the audit log can call it.

use phonereg_types::WebhookEventType;
use serde_json::{Map, Value};

use crate::{
    error::ApiError,
    persistence::{
        Conn,
        webhooks::{self as rows, NewEvent},
    },
};

/// Inside the caller's transaction: the webhook event `kind` about `user_id` and
/// `phone_id`, with `data` (ids and statuses only: never a code, token, password or
/// body). Written only while some endpoint is enabled; one row however many want it.
pub fn emit(
    conn: &mut Conn<'_>,
    kind: WebhookEventType,
    user_id: Option<i64>,
    phone_id: Option<i64>,
    data: &Map<String, Value>,
    now: i64,
) -> Result<(), ApiError> {
    let data = Value::Object(data.clone()).to_string();
    rows::queue(
        conn,
        &NewEvent {
            kind,
            at_ms: at_ms(now),
            user_id,
            phone_id,
            data: &data,
        },
    )?;
    Ok(())
}

/// The event's time in milliseconds, for the lag a receiver measures: the wall clock's
/// when it agrees with the injected `now` (production), else `now` itself (a test that
/// moved the clock).
pub(super) fn at_ms(now: i64) -> i64 {
    let wall = chrono::Utc::now().timestamp_millis();
    if (wall.div_euclid(1000) - now).abs() <= 1 {
        wall
    } else {
        now * 1000
    }
}
