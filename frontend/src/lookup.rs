//! As-you-type phone number feedback from `GET /phone-numbers/parse`: the server's parser
//! is the only one (libphonenumber's metadata would add ~450 KB gzip to the app).
//! Lookups wait for a pause in typing and abort the previous request, so a slow answer
//! for "+1 41" can never overwrite the answer for "+1 415 555 2671".

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};
use phonereg_types::{ParseResponse, validation};
use web_sys::AbortController;

use crate::api;

/// Wait this long after the last keystroke before asking the server.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What is known about the typed number.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// Nothing typed.
    Empty,
    /// Fails the client-side rule (e.g. too long); not sent to the server.
    Invalid(&'static str),
    /// Waiting for the typing to pause or for the server.
    Checking,
    /// The server's verdict.
    Done(ParseResponse),
    /// The lookup failed; the number is checked again on submit.
    Unavailable(String),
}

impl Lookup {
    /// The message to show when the number cannot be used, if the server said so.
    pub fn problem(&self) -> Option<String> {
        match self {
            Lookup::Invalid(message) => Some(crate::components::field::sentence(message)),
            Lookup::Done(p) if !p.valid || !p.sms_capable => Some(
                p.message
                    .clone()
                    .unwrap_or_else(|| "This number can't receive text messages.".to_owned()),
            ),
            _ => None,
        }
    }
}

/// Watches `number` and `region` and keeps the returned signal up to date.
pub fn phone_lookup(number: Signal<String>, region: Signal<String>) -> ReadSignal<Lookup> {
    let (state, set_state) = signal(Lookup::Empty);
    let generation = StoredValue::new(0_u64);
    let in_flight = StoredValue::new_local(None::<AbortController>);
    let timer = StoredValue::new(None::<TimeoutHandle>);

    let cancel = move || {
        if let Some(handle) = timer.try_update_value(Option::take).flatten() {
            handle.clear();
        }
        if let Some(controller) = in_flight.try_update_value(Option::take).flatten() {
            controller.abort();
        }
    };

    Effect::new(move |_| {
        let number = number.get();
        let region = region.get();
        cancel();
        let this = generation.get_value().wrapping_add(1);
        generation.set_value(this);
        if number.trim().is_empty() {
            set_state.set(Lookup::Empty);
            return;
        }
        if let Err(message) = validation::check_phone_input(&number) {
            set_state.set(Lookup::Invalid(message));
            return;
        }
        set_state.set(Lookup::Checking);
        let handle = set_timeout_with_handle(
            move || {
                let controller = AbortController::new().ok();
                let signal = controller.as_ref().map(AbortController::signal);
                in_flight.set_value(controller);
                spawn_local(async move {
                    let result = api::parse_phone(&number, &region, signal.as_ref()).await;
                    if generation.try_get_value() != Some(this) {
                        return; // superseded by newer typing
                    }
                    set_state.set(match result {
                        Ok(parsed) => Lookup::Done(parsed),
                        Err(e) if e.status() == Some(422) => Lookup::Done(ParseResponse {
                            valid: false,
                            e164: None,
                            national: None,
                            international: None,
                            country: None,
                            number_type: None,
                            sms_capable: false,
                            message: e.field_errors().into_values().flatten().next(),
                        }),
                        Err(_) => Lookup::Unavailable(
                            "Couldn't check the number just now; it will be checked when you continue."
                                .to_owned(),
                        ),
                    });
                });
            },
            DEBOUNCE,
        );
        timer.set_value(handle.ok());
    });

    on_cleanup(move || {
        if let Some(handle) = timer.try_update_value(Option::take).flatten() {
            handle.clear();
        }
        if let Some(controller) = in_flight.try_update_value(Option::take).flatten() {
            controller.abort();
        }
    });

    state
}
