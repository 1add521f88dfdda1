//! One open event stream (SSE): the loop that turns the account's events into the
//! `text/event-stream` body, with heartbeats, and ends with its session.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::web;
use futures_util::Stream;
use phonereg_types::{EventKind, MessageEvent};

use crate::{
    persistence::events::Cursor,
    routes::dto,
    services::events::{Batch, Happened},
    sms,
    state::AppState,
    streams::StreamSlot,
};

const HEARTBEAT: Duration = Duration::from_secs(15);
/// How soon a stream looks again for events that are committed but wait on an older
/// transaction still running (PostgreSQL), which wakes nobody when it ends.
const UNSETTLED_RETRY: Duration = Duration::from_millis(50);

/// An open stream of one account's events.
pub struct EventStream {
    state: web::Data<AppState>,
    /// Its place among the open streams; freed when the stream is dropped.
    slot: StreamSlot,
    user_id: i64,
    /// Just after the last event sent.
    last: Cursor,
    /// Chunks rendered and not yet written.
    queue: VecDeque<web::Bytes>,
    last_write: Instant,
}

impl EventStream {
    /// A stream that sends the events after `last`, starting with the reconnect delay.
    pub fn new(state: web::Data<AppState>, slot: StreamSlot, user_id: i64, last: Cursor) -> Self {
        Self {
            state,
            slot,
            user_id,
            last,
            queue: VecDeque::from([web::Bytes::from_static(b"retry: 3000\n: connected\n\n")]),
            last_write: Instant::now(),
        }
    }

    /// The response body: chunks until the session ends, the process closes the stream
    /// or the database fails (the client reconnects).
    pub fn into_body(self) -> impl Stream<Item = Result<web::Bytes, actix_web::Error>> {
        futures_util::stream::unfold(self, |mut s| async move {
            let chunk = s.next_chunk().await?;
            Some((Ok(chunk), s))
        })
    }

    /// The next chunk to write: a queued one, else new events, else a heartbeat once the
    /// line has been quiet for [`HEARTBEAT`]; waits for a wake-up in between.
    async fn next_chunk(&mut self) -> Option<web::Bytes> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                self.last_write = Instant::now();
                return Some(chunk);
            }
            // Registered before looking, so a write that commits meanwhile still wakes us.
            let wake = Arc::clone(&self.slot.wake);
            let woken = wake.notified();
            let batch = match self.state.events.batch(self.user_id, self.last).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream ended; the client will reconnect");
                    return None;
                }
            };
            let unsettled = batch.unsettled;
            if self.queue_events(batch) {
                continue;
            }
            let idle = self.last_write.elapsed();
            if idle >= HEARTBEAT {
                self.queue
                    .push_back(web::Bytes::from_static(b": heartbeat\n\n"));
                continue;
            }
            let wait = if unsettled {
                UNSETTLED_RETRY.min(HEARTBEAT - idle)
            } else {
                HEARTBEAT - idle
            };
            // Other processes' events arrive through `streams::watch`, which wakes us.
            tokio::select! {
                () = woken => {}
                () = self.slot.close.notified() => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Renders a batch into the queue; false when it held no events.
    fn queue_events(&mut self, batch: Batch) -> bool {
        if batch.events.is_empty() {
            return false;
        }
        for event in batch.events {
            self.last = event.cursor;
            let Some((kind, data)) = render(event.happened) else {
                continue;
            };
            self.queue
                .push_back(format!("id: {}\nevent: {kind}\ndata: {data}\n\n", event.id).into());
        }
        true
    }
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
                guidance: sms::guidance_by(message.channel, message.status, message.error_code)
                    .map(str::to_owned),
                updated_at: dto::rfc3339(at),
                provider: message.provider,
                channel: message.channel,
            }),
        ),
        Happened::Unreadable => return None,
    };
    data.ok().map(|data| (kind, data))
}
