//! "History": the number's events, newest first, loaded again whenever a fresh copy of
//! the record arrives (an answer or a live event).

use leptos::{prelude::*, task::spawn_local};
use phonereg_types::{HistoryItem, HistoryKind, Phone};

use crate::{
    api::{self, ApiError},
    session::use_session,
    time::{self, Clock},
};

#[component]
pub fn HistoryCard(#[prop(into)] phone: Signal<Option<Phone>>) -> impl IntoView {
    let session = use_session();
    let clock = Clock::get();
    // Timestamps have one-second resolution, so comparing them would miss a change made
    // within the same second as the previous one: any new copy of the record reloads.
    let key = Memo::new(move |_| {
        phone.with(|p| {
            p.as_ref().map(|p| {
                (
                    p.id,
                    p.updated_at.clone(),
                    p.last_message
                        .as_ref()
                        .map(|m| (m.status, m.updated_at.clone())),
                )
            })
        })
    });
    let history = RwSignal::new(None::<Result<Vec<HistoryItem>, ApiError>>);
    let loads = StoredValue::new(0_u64);
    let load = move || {
        let key = key.get_untracked();
        let this = loads.get_value() + 1;
        loads.set_value(this);
        spawn_local(async move {
            let result = match key {
                Some((id, _, _)) => session.call(|t| api::history(t, id)).await,
                None => Ok(Vec::new()),
            };
            // Only the newest load counts, and only while the page is still open.
            if loads.try_get_value() == Some(this) {
                history.try_set(Some(result));
            }
        });
    };
    Effect::new(move |_| {
        phone.track();
        load();
    });

    let body = move || {
        match history.get() {
        None => view! { <p class="muted" aria-busy="true">"Loading history…"</p> }.into_any(),
        Some(Err(e)) => view! {
            <p class="form-error" role="alert">{format!("Couldn't load the history: {}", e.message())}</p>
            <button class="btn" on:click=move |_| load()>"Try again"</button>
        }
        .into_any(),
        Some(Ok(items)) if items.is_empty() => {
            view! { <p class="muted">"Nothing yet."</p> }.into_any()
        }
        Some(Ok(items)) => view! {
            <ol class="history">
                {items.into_iter().map(|item| history_row(clock, item)).collect_view()}
            </ol>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card" aria-labelledby="history-title">
            <h2 id="history-title">"History"</h2>
            {body}
        </section>
    }
}

fn history_row(clock: Clock, item: HistoryItem) -> impl IntoView {
    let title = time::local_datetime(&item.at);
    let at = item.at.clone();
    view! {
        <li>
            <span class=format!("history-kind kind-{}", item.kind)>{history_kind_words(item.kind)}</span>
            {item.detail.map(|d| view! { <span class="history-detail">{d}</span> })}
            <time datetime=item.at.clone() title=title class="muted small">{move || clock.ago(&at)}</time>
        </li>
    }
}

/// A history item's `kind` in words.
pub fn history_kind_words(kind: HistoryKind) -> &'static str {
    match kind {
        HistoryKind::Added => "Number added",
        HistoryKind::CodeSent => "Code sent",
        HistoryKind::Delivered => "SMS delivered",
        HistoryKind::Failed => "SMS failed",
        HistoryKind::Verified => "Verified",
        HistoryKind::Changed => "Number changed",
        HistoryKind::Deleted => "Number deleted",
        HistoryKind::TestSent => "Test SMS sent",
        HistoryKind::SignInCodeSent => "Sign-in code sent",
        HistoryKind::PasswordResetCodeSent => "Password reset code sent",
        HistoryKind::PasswordReset => "Password reset",
        HistoryKind::TwoFactorCodeSent => "Two-step sign-in code sent",
        HistoryKind::TwoFactorOn => "Two-step sign-in turned on",
        HistoryKind::TwoFactorOff => "Two-step sign-in turned off",
        HistoryKind::RecoveryCodeUsed => "Recovery code used",
        HistoryKind::RecoveryCodesRenewed => "New recovery codes",
    }
}
