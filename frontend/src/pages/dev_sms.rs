//! `/dev/sms` — the development inbox: SMS the API would have sent, when it runs with the
//! console provider (`GET /api/v1/dev/sms`); otherwise a note that it is off.

use std::time::Duration;

use leptos::{prelude::*, task::spawn_local};
use phonereg_types::DevSms;

use crate::{
    api,
    pages::set_title,
    time::{self, Clock},
};

#[component]
pub fn DevSmsPage() -> impl IntoView {
    set_title("SMS inbox (development)");
    let clock = Clock::get();
    let inbox = RwSignal::new(None::<Result<Option<Vec<DevSms>>, api::ApiError>>);
    let load = move || {
        spawn_local(async move {
            let result = api::dev_sms().await;
            // Unchanged answers don't re-render (and don't disturb a screen reader).
            if inbox.try_with_untracked(|old| old.as_ref() != Some(&result)) == Some(true) {
                inbox.try_set(Some(result));
            }
        });
    };
    load();
    // New messages arrive as the outbox works; a developer keeps this page open.
    if let Ok(handle) = set_interval_with_handle(load, Duration::from_secs(3)) {
        on_cleanup(move || handle.clear());
    }

    let count = move || match inbox.get() {
        Some(Ok(Some(items))) => format!("{} messages", items.len()),
        _ => String::new(),
    };
    let body = move || {
        match inbox.get() {
        None => view! { <p class="muted" aria-busy="true">"Loading…"</p> }.into_any(),
        Some(Err(e)) => view! { <p class="form-error" role="alert">{e.message()}</p> }.into_any(),
        Some(Ok(None)) => view! {
            <p>
                "The development inbox is off. It exists only when the API runs in development "
                "with " <code>"SMS_PROVIDER=console"</code> "."
            </p>
        }
        .into_any(),
        Some(Ok(Some(items))) if items.is_empty() => {
            view! { <p class="muted">"No messages yet. Sign up with a phone number to get one."</p> }
                .into_any()
        }
        Some(Ok(Some(items))) => view! {
            <ol class="inbox">
                {items
                    .into_iter()
                    .map(|m| {
                        let at = m.created_at.clone();
                        let title = time::local_datetime(&m.created_at);
                        view! {
                            <li class="card">
                                <p class="inbox-to">"To " <strong>{m.to}</strong></p>
                                <p class="inbox-body">{m.body}</p>
                                <time class="muted small" datetime=m.created_at title=title>{move || clock.ago(&at)}</time>
                            </li>
                        }
                    })
                    .collect_view()}
            </ol>
        }
        .into_any(),
    }
    };

    view! {
        <main id="main" class="page page-narrow">
            <h1>"SMS inbox (development)"</h1>
            <p class="visually-hidden" role="status">{count}</p>
            {body}
        </main>
    }
}
