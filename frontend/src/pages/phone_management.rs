//! `/dashboard/phone-management` — PhoneManagementPage: the overview cards, the actions
//! on the number (add / replace / verify / delete with confirmation) and the panel each
//! opens, the test-message card and the history card. Replacing or deleting a verified
//! number asks for the password (SPEC §10).

use leptos::{html, prelude::*};
use leptos_router::{components::A, hooks::use_query_map};
use phonereg_types::{DeletePhoneRequest, Phone, PhoneStatus, Verification};

use crate::{
    api,
    components::{
        breadcrumbs::Breadcrumbs,
        confirm::{ConfirmDialog, ConfirmPassword},
        field::{FieldState, password_missing, password_refusal, refocus},
        phone_overview::PhoneOverview,
    },
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
    let blocked = RwSignal::new(None::<String>);

    // A panel that no longer fits the record (e.g. deleted in another tab) closes. The add
    // form stays when a number appears: its own save brings one, and the event stream
    // can announce it before the answer arrives, which would close the form and drop the
    // answer's code step (a form left open by another tab's add gets the API's refusal).
    let has_phone = Memo::new(move |_| phone.with(Option::is_some));
    Effect::new(move |_| {
        let has_phone = has_phone.get();
        let fits = panel.with_untracked(|p| match p {
            Panel::None | Panel::Add => true,
            _ => has_phone,
        });
        if !fits {
            panel.set(Panel::None);
        }
    });

    // The delete dialog's password, for a verified number.
    let delete_password = FieldState::new();
    let delete_submitted = RwSignal::new(false);
    let delete_password_ref = NodeRef::<html::Input>::new();
    let delete_password_error = Signal::derive(move || {
        let client = delete_password.value.with(|v| password_missing(v));
        delete_password.shown_error(client, delete_submitted.get())
    });
    let open_delete = move || {
        flash.set(None);
        blocked.set(None);
        delete_password.value.set(String::new());
        delete_password.server_error.set(None);
        delete_submitted.set(false);
        panel.set(Panel::ConfirmDelete);
    };

    let delete = Task::new(move |(id, current_password): &(i64, Option<String>)| {
        let id = *id;
        let asked = current_password.is_some();
        let body = DeletePhoneRequest {
            current_password: current_password.clone(),
        };
        async move {
            let result = session
                .call_with_password(|t| api::delete_phone(t, id, body.clone()))
                .await;
            match result {
                Ok(()) => {
                    session.clear_phone();
                    panel.set(Panel::None);
                    flash.set(Some("Your phone number was deleted.".to_owned()));
                    focus_heading();
                }
                // 409: two-step sign-in uses the number; the message says so, the link
                // leads to where it is turned off.
                Err(e) if e.status() == Some(409) => {
                    panel.set(Panel::None);
                    blocked.set(Some(e.message()));
                }
                // A wrong password keeps the dialog open, the message on the field.
                Err(e) if asked && password_refusal(&e, "current_password").is_some() => {
                    delete_password
                        .server_error
                        .set(password_refusal(&e, "current_password"));
                    refocus(delete_password_ref);
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
                        <button class="btn btn-danger-outline" on:click=move |_| open_delete()>
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
                                ask_password=p.status == PhoneStatus::Verified
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
                let verified = p.status == PhoneStatus::Verified;
                let password = verified.then_some(ConfirmPassword {
                    id: "delete-password",
                    hint: "Your verified number is a way into your account: confirm it's you.",
                    state: delete_password,
                    error: delete_password_error,
                    node_ref: delete_password_ref,
                });
                Some(
                    view! {
                        <ConfirmDialog
                            id="delete-confirm"
                            title=format!("Delete {}?", p.international)
                            message="The number and its history are removed from your account. You can add a number again later.".to_owned()
                            confirm_label="Delete"
                            pending_label="Deleting…"
                            pending=delete.pending()
                            password
                            on_confirm=Callback::new(move |_| {
                                delete_submitted.set(true);
                                if !verified {
                                    delete.dispatch((id, None));
                                } else if delete_password_error.get_untracked().is_some() {
                                    if let Some(input) = delete_password_ref.get_untracked() {
                                        let _ = input.focus();
                                    }
                                } else {
                                    delete.dispatch((id, Some(delete_password.value.get_untracked())));
                                }
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
            {move || blocked.get().map(|message| view! {
                <p class="notice" role="alert">
                    {message} " " <A href=Page::Security.path()>"Go to Security"</A>
                </p>
            })}
            <PhoneOverview phone />
            {actions}
            {panel_view}
            <TestMessageCard phone />
            <HistoryCard phone />
        </div>
    }
}
