//! Live updates: the API's `GET /users/me/events` server-sent event stream.
//!
//! `EventSource` cannot send an `Authorization` header, so each connection uses a fresh
//! single-use ticket from `POST /users/me/events/ticket`. The browser's own reconnect would
//! reuse the spent ticket, so on any error the stream is closed and reopened here with a
//! new ticket (backing off), and the phone is fetched again to catch up on missed events.
//! A server without the stream gets polled instead.

use std::{cell::RefCell, time::Duration};

use leptos::{prelude::*, task::spawn_local};
use phonereg_types::{MessageEvent, Phone};
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, closure::Closure};
use web_sys::EventSource;

use crate::{
    api,
    session::{Session, Status},
};

/// Poll period when the server has no event stream.
const POLL: Duration = Duration::from_secs(10);
/// Longest wait between reconnects.
const MAX_BACKOFF_SECS: u64 = 30;

/// An open stream and the callbacks it holds (dropping them would detach the handlers).
struct Stream {
    source: EventSource,
    _on_phone: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_open: Closure<dyn FnMut(web_sys::Event)>,
    _on_error: Closure<dyn FnMut(web_sys::Event)>,
}

#[derive(Default)]
struct State {
    stream: Option<Stream>,
    /// Bumped whenever the session changes, so stale reconnects give up.
    generation: u64,
    failures: u32,
    poll: Option<IntervalHandle>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Keeps a stream open while someone is signed in.
pub fn follow_session(session: Session) {
    // Only signing in or out reconnects, not token refreshes or updates of the user's data.
    let account = Memo::new(move |_| {
        (session.status() == Status::SignedIn)
            .then(|| session.user().map(|u| u.id))
            .flatten()
    });
    Effect::new(move |_| {
        let account = account.get();
        let generation = STATE.with(|s| {
            let mut s = s.borrow_mut();
            close(&mut s);
            s.generation += 1;
            s.failures = 0;
            s.generation
        });
        if account.is_some() {
            spawn_local(connect(session, generation, false));
        }
    });
}

fn close(state: &mut State) {
    if let Some(stream) = state.stream.take() {
        stream.source.close();
    }
    if let Some(poll) = state.poll.take() {
        poll.clear();
    }
}

fn current(generation: u64) -> bool {
    STATE.with(|s| s.borrow().generation == generation)
}

async fn connect(session: Session, generation: u64, catch_up: bool) {
    let ticket = match session.call(api::events_ticket).await {
        Ok(t) => t,
        Err(e) if e.is_missing_endpoint() => return start_polling(session, generation),
        Err(_) => return reconnect_later(session, generation),
    };
    if !current(generation) {
        return;
    }
    let Ok(source) = EventSource::new(&api::events_url(&ticket.ticket)) else {
        return start_polling(session, generation);
    };

    let on_phone = Closure::<dyn FnMut(_)>::new(move |ev: web_sys::MessageEvent| {
        if let Some(phone) = data::<Phone>(&ev) {
            session.apply_phone(phone);
        }
    });
    let on_message = Closure::<dyn FnMut(_)>::new(move |ev: web_sys::MessageEvent| {
        if let Some(msg) = data::<MessageEvent>(&ev) {
            session.apply_message(msg.phone_id, msg.into_last_message());
        }
    });
    // A new stream starts at the API's latest event once it answers (`open`), so what
    // changed between the copy of the account already here and that moment is fetched
    // then: after a reconnect always; on a first connect while an SMS is still on its
    // way (a refused send is reported within milliseconds of signing up).
    let on_open = Closure::<dyn FnMut(_)>::new(move |_: web_sys::Event| {
        STATE.with(|s| s.borrow_mut().failures = 0);
        if catch_up || session.message_in_flight() {
            spawn_local(reload(session));
        }
    });
    let on_error = Closure::<dyn FnMut(_)>::new(move |_: web_sys::Event| {
        if !current(generation) {
            return;
        }
        STATE.with(|s| close(&mut s.borrow_mut()));
        reconnect_later(session, generation);
    });
    let _ = source.add_event_listener_with_callback("phone", on_phone.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    source.set_onerror(Some(on_error.as_ref().unchecked_ref()));

    STATE.with(|s| {
        s.borrow_mut().stream = Some(Stream {
            source,
            _on_phone: on_phone,
            _on_message: on_message,
            _on_open: on_open,
            _on_error: on_error,
        });
    });
}

fn reconnect_later(session: Session, generation: u64) {
    let failures = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.failures = s.failures.saturating_add(1);
        s.failures
    });
    let secs = (1_u64 << failures.min(5)).min(MAX_BACKOFF_SECS);
    let _ = set_timeout_with_handle(
        move || {
            if current(generation) {
                spawn_local(connect(session, generation, true));
            }
        },
        Duration::from_secs(secs),
    );
}

fn start_polling(session: Session, generation: u64) {
    if !current(generation) {
        return;
    }
    let handle = set_interval_with_handle(
        move || {
            if current(generation) {
                spawn_local(reload(session));
            }
        },
        POLL,
    );
    STATE.with(|s| s.borrow_mut().poll = handle.ok());
}

/// Fetches the account again; a failure waits for the next event or reconnect.
async fn reload(session: Session) {
    let _ = session.reload_user().await;
}

/// An event's `data:`, the same DTO the API serialised.
fn data<T: DeserializeOwned>(ev: &web_sys::MessageEvent) -> Option<T> {
    serde_json::from_str(&ev.data().as_string()?).ok()
}
