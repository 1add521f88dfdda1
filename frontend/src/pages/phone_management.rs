//! `/dashboard/phone-management` — PhoneManagementPage: overview cards, add / replace /
//! verify / delete (with confirmation), a test SMS with its live delivery status, and the
//! number's history.

use leptos::{prelude::*, task::spawn_local};
use leptos_router::hooks::use_query_map;
use phonereg_types::{HistoryItem, Phone, PhoneStatus, Verification};

use crate::{
    api::{self, ApiError},
    components::{
        breadcrumbs::Breadcrumbs,
        confirm::ConfirmDialog,
        phone_widget::{LastMessageStatus, PhoneBadges},
    },
    pages::{
        focus_heading,
        phone_form::{PhoneFormMode, PhoneNumberForm},
        set_title,
        verification::VerificationStep,
    },
    paths::{Page, action},
    session::use_session,
    task::Task,
    time::{self, Clock},
};

/// The panel open under the overview.
#[derive(Clone, Debug, PartialEq)]
enum Panel {
    None,
    Add,
    Replace,
    Verify(Option<Verification>),
    ConfirmDelete,
}

#[component]
pub fn PhoneManagementPage() -> impl IntoView {
    set_title("Phone Number");
    let session = use_session();
    let clock = Clock::get();
    let phone = Signal::derive(move || session.phone());
    // `?action=` opens a panel once, when the page opens (links from the dashboard).
    let action = use_query_map().with_untracked(|q| q.get("action"));
    let initial = match action.as_deref() {
        Some(action::REPLACE) => Panel::Replace,
        Some(action::VERIFY) => Panel::Verify(None),
        Some(action::ADD) => Panel::Add,
        _ => Panel::None,
    };
    let panel = RwSignal::new(initial);
    let flash = RwSignal::new(None::<String>);

    // A panel that no longer fits the record (e.g. deleted in another tab) closes.
    let has_phone = Memo::new(move |_| phone.with(Option::is_some));
    Effect::new(move |_| {
        let has_phone = has_phone.get();
        let fits = panel.with_untracked(|p| match p {
            Panel::None => true,
            Panel::Add => !has_phone,
            _ => has_phone,
        });
        if !fits {
            panel.set(Panel::None);
        }
    });

    let delete = Task::new(move |id: &i64| {
        let id = *id;
        async move {
            match session.call(|t| api::delete_phone(t, id)).await {
                Ok(()) => {
                    session.clear_phone();
                    panel.set(Panel::None);
                    flash.set(Some("Your phone number was deleted.".to_owned()));
                    focus_heading();
                }
                Err(e) => {
                    panel.set(Panel::None);
                    flash.set(Some(format!("Couldn't delete the number: {}", e.message())));
                }
            }
        }
    });

    let test_result = RwSignal::new(None::<Result<String, String>>);
    let test_message = Task::new(move |id: &i64| {
        let id = *id;
        async move {
            test_result.set(None);
            let result = match session.call(|t| api::send_test_message(t, id)).await {
                Ok(message) => {
                    session.apply_message(id, message);
                    Ok("Test SMS sent. Its delivery status updates below.".to_owned())
                }
                Err(e) => Err(e.message()),
            };
            test_result.try_set(Some(result));
        }
    });
    let testing = test_message.pending();

    // History reloads whenever a fresh copy of the record arrives (a reply or a live
    // event): timestamps have one-second resolution, so comparing them would miss a
    // change made within the same second as the previous one.
    let history_key = Memo::new(move |_| {
        phone.with(|p| {
            p.as_ref().map(|p| {
                (
                    p.id,
                    p.updated_at.clone(),
                    p.last_message
                        .as_ref()
                        .map(|m| (m.status.clone(), m.updated_at.clone())),
                )
            })
        })
    });
    let history = RwSignal::new(None::<Result<Vec<HistoryItem>, ApiError>>);
    let history_loads = StoredValue::new(0_u64);
    let load_history = move || {
        let key = history_key.get_untracked();
        let this = history_loads.get_value() + 1;
        history_loads.set_value(this);
        spawn_local(async move {
            let result = match key {
                Some((id, _, _)) => session.call(|t| api::history(t, id)).await,
                None => Ok(Vec::new()),
            };
            // Only the newest load counts, and only while the page is still open.
            if history_loads.try_get_value() == Some(this) {
                history.try_set(Some(result));
            }
        });
    };
    Effect::new(move |_| {
        phone.track();
        load_history();
    });

    let overview = move || {
        let p = phone.get();
        let current = p.as_ref().map_or_else(
            || view! { <p class="muted">"No phone number"</p> }.into_any(),
            |p| {
                view! {
                    <p class="number">{p.national.clone()}</p>
                    <p class="muted small">{p.international.clone()}</p>
                }
                .into_any()
            },
        );
        let updated = p.as_ref().map(|p| p.updated_at.clone());
        let verified = p.as_ref().and_then(|p| p.verified_at.clone());
        view! {
            <div class="cards">
                <section class="card stat" aria-labelledby="card-current">
                    <h2 id="card-current">"Current phone"</h2>
                    {current}
                </section>
                <section class="card stat" aria-labelledby="card-status">
                    <h2 id="card-status">"Status"</h2>
                    {if p.is_some() {
                        view! { <PhoneBadges phone /> }.into_any()
                    } else {
                        view! { <p class="muted">"—"</p> }.into_any()
                    }}
                    {p.as_ref().and_then(|p| p.pending_e164.clone()).map(|pending| view! {
                        <p class="small">"Waiting for " <strong>{pending}</strong> " to be verified"</p>
                    })}
                </section>
                <section class="card stat" aria-labelledby="card-updated">
                    <h2 id="card-updated">"Last updated"</h2>
                    {relative(clock, updated, "—")}
                </section>
                <section class="card stat" aria-labelledby="card-verified">
                    <h2 id="card-verified">"Last verified"</h2>
                    {relative(clock, verified, "Never")}
                </section>
            </div>
        }
    };

    let action_key = Memo::new(move |_| {
        phone.with(|p| p.as_ref().map(|p| (p.status, p.pending_e164.is_some())))
    });
    let actions = move || {
        match action_key.get() {
            None => view! {
                <div class="actions">
                    <button class="btn btn-primary" on:click=move |_| { flash.set(None); panel.set(Panel::Add) }>
                        "Add phone number"
                    </button>
                </div>
            }
            .into_any(),
            Some((status, pending)) => {
                let verify_label = if pending {
                    Some("Verify new number")
                } else if status == PhoneStatus::Unverified {
                    Some("Verify")
                } else {
                    None
                };
                view! {
                    <div class="actions">
                        {verify_label.map(|label| view! {
                            <button class="btn btn-primary" on:click=move |_| { flash.set(None); panel.set(Panel::Verify(None)) }>
                                {label}
                            </button>
                        })}
                        <button class="btn" on:click=move |_| { flash.set(None); panel.set(Panel::Replace) }>
                            "Replace number"
                        </button>
                        <button class="btn btn-danger-outline" on:click=move |_| { flash.set(None); panel.set(Panel::ConfirmDelete) }>
                            "Delete number"
                        </button>
                    </div>
                }
                .into_any()
            }
        }
    };

    let panel_view = move || {
        let current = phone.get_untracked();
        match (panel.get(), current) {
            (Panel::None, _) => None,
            (Panel::Add, _) => Some(
                view! {
                    <section class="card" aria-labelledby="add-title">
                        <h2 id="add-title">"Add a phone number"</h2>
                        <PhoneNumberForm
                            mode=PhoneFormMode::Add
                            on_saved=Callback::new(move |p: Phone| panel.set(Panel::Verify(p.verification)))
                            on_cancel=Callback::new(move |_| panel.set(Panel::None))
                        />
                    </section>
                }
                .into_any(),
            ),
            (Panel::Replace, Some(p)) => {
                let explain = if p.status == PhoneStatus::Verified {
                    "Your current number stays active until the new one is verified."
                } else {
                    "The unverified number is replaced right away."
                };
                Some(
                    view! {
                        <section class="card" aria-labelledby="replace-title">
                            <h2 id="replace-title">"Replace your phone number"</h2>
                            <p>{explain}</p>
                            <PhoneNumberForm
                                mode=PhoneFormMode::Replace(p.id)
                                initial_region=p.country.clone()
                                on_saved=Callback::new(move |p: Phone| panel.set(Panel::Verify(p.verification)))
                                on_cancel=Callback::new(move |_| panel.set(Panel::None))
                            />
                        </section>
                    }
                    .into_any(),
                )
            }
            (Panel::Verify(initial), Some(p)) => {
                let target = p.pending_e164.clone().unwrap_or_else(|| p.international.clone());
                Some(
                    view! {
                        <VerificationStep
                            phone_id=p.id
                            target
                            initial
                            on_verified=Callback::new(move |_| {
                                panel.set(Panel::None);
                                flash.set(Some("Your phone number is verified.".to_owned()));
                                focus_heading();
                            })
                            on_change_number=Callback::new(move |_| panel.set(Panel::Replace))
                            dismiss_label="Later"
                            on_dismiss=Callback::new(move |_| panel.set(Panel::None))
                        />
                    }
                    .into_any(),
                )
            }
            (Panel::ConfirmDelete, Some(p)) => {
                let id = p.id;
                Some(
                    view! {
                        <ConfirmDialog
                            id="delete-confirm"
                            title=format!("Delete {}?", p.international)
                            message="The number and its history are removed from your account. You can add a number again later.".to_owned()
                            confirm_label="Delete"
                            pending_label="Deleting…"
                            pending=delete.pending()
                            on_confirm=Callback::new(move |_| {
                                delete.dispatch(id);
                            })
                            on_cancel=Callback::new(move |_| panel.set(Panel::None))
                        />
                    }
                    .into_any(),
                )
            }
            _ => None,
        }
    };

    // Rebuilt only when these change, so live status updates don't steal focus.
    let test_key = Memo::new(move |_| {
        phone.with(|p| {
            p.as_ref()
                .map(|p| (p.id, p.status == PhoneStatus::Verified, p.sms_opted_out))
        })
    });
    let test_card = move || {
        let (id, verified, opted_out) = test_key.get()?;
        let last_message = Signal::derive(move || phone.get().and_then(|p| p.last_message));
        Some(view! {
            <section class="card" aria-labelledby="test-title">
                <h2 id="test-title">"Test message"</h2>
                <p class="muted">
                    {if !verified {
                        "Verify your number to send yourself a test SMS."
                    } else if opted_out {
                        "This number replied STOP; text START to the sender, then verify again."
                    } else {
                        "Send yourself a short SMS to check that messages reach you."
                    }}
                </p>
                <div class="actions">
                    <button
                        class="btn"
                        prop:disabled=move || testing.get() || !verified
                        aria-busy=move || if testing.get() { "true" } else { "false" }
                        on:click=move |_| {
                            if !testing.get_untracked() {
                                test_message.dispatch(id);
                            }
                        }
                    >
                        {move || if testing.get() { "Sending…" } else { "Send test SMS" }}
                    </button>
                </div>
                <p class="form-info" role="status">
                    {move || test_result.get().and_then(Result::ok)}
                </p>
                <p class="form-error" role="alert">
                    {move || test_result.get().and_then(Result::err)}
                </p>
                <h3>"Delivery status"</h3>
                <LastMessageStatus message=last_message />
            </section>
        })
    };

    let history_view = move || {
        let items = history.get();
        match items {
            None => view! { <p class="muted" aria-busy="true">"Loading history…"</p> }.into_any(),
            Some(Err(e)) => view! {
                <p class="form-error" role="alert">{format!("Couldn't load the history: {}", e.message())}</p>
                <button class="btn" on:click=move |_| load_history()>"Try again"</button>
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
        <div class="page">
            <Breadcrumbs trail=vec![("Dashboard", Page::Dashboard.path()), ("Phone Number", Page::PhoneManagement.path())] />
            <h1 tabindex="-1">"Phone Number"</h1>
            <p class="flash" role="status">{move || flash.get()}</p>
            {overview}
            {actions}
            {panel_view}
            {test_card}
            <section class="card" aria-labelledby="history-title">
                <h2 id="history-title">"History"</h2>
                {history_view}
            </section>
        </div>
    }
}

fn relative(clock: Clock, at: Option<String>, none: &'static str) -> AnyView {
    match at {
        Some(at) => {
            let title = time::local_datetime(&at);
            let shown = at.clone();
            view! { <p><time datetime=at title=title>{move || clock.ago(&shown)}</time></p> }
                .into_any()
        }
        None => view! { <p class="muted">{none}</p> }.into_any(),
    }
}

fn history_row(clock: Clock, item: HistoryItem) -> impl IntoView {
    let title = time::local_datetime(&item.at);
    let at = item.at.clone();
    view! {
        <li>
            <span class=format!("history-kind kind-{}", item.kind)>{history_kind_words(&item.kind)}</span>
            {item.detail.map(|d| view! { <span class="history-detail">{d}</span> })}
            <time datetime=item.at.clone() title=title class="muted small">{move || clock.ago(&at)}</time>
        </li>
    }
}

/// A history item's `kind` in words.
pub fn history_kind_words(kind: &str) -> &'static str {
    match kind {
        "added" => "Number added",
        "code_sent" => "Code sent",
        "delivered" => "SMS delivered",
        "failed" => "SMS failed",
        "verified" => "Verified",
        "changed" => "Number changed",
        "deleted" => "Number deleted",
        "test_sent" => "Test SMS sent",
        _ => "Update",
    }
}
