//! `/dashboard/phone-management` — PhoneManagementPage: the overview cards, the actions
//! on the number (add / replace / verify / delete with confirmation) and the panel each
//! opens, the test-message card and the history card.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use phonereg_types::{Phone, PhoneStatus, Verification};

use crate::{
    api,
    components::{breadcrumbs::Breadcrumbs, confirm::ConfirmDialog, phone_overview::PhoneOverview},
    pages::{focus_heading, set_title},
    panels::{
        add_phone::AddPhonePanel,
        history::HistoryCard,
        phone_form::{PhoneFormMode, PhoneNumberForm},
        test_message::TestMessageCard,
        verification::VerificationStep,
    },
    paths::{Page, action},
    session::use_session,
    task::Task,
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
                    <AddPhonePanel
                        on_saved=Callback::new(move |p: Phone| panel.set(Panel::Verify(p.verification)))
                        on_cancel=Callback::new(move |_| panel.set(Panel::None))
                    />
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

    view! {
        <div class="page">
            <Breadcrumbs trail=vec![("Dashboard", Page::Dashboard.path()), ("Phone Number", Page::PhoneManagement.path())] />
            <h1 tabindex="-1">"Phone Number"</h1>
            <p class="flash" role="status">{move || flash.get()}</p>
            <PhoneOverview phone />
            {actions}
            {panel_view}
            <TestMessageCard phone />
            <HistoryCard phone />
        </div>
    }
}
