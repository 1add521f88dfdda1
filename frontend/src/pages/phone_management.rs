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

/// What the page's parts share: the open panel and the two messages above the overview.
#[derive(Clone, Copy)]
struct PageState {
    panel: RwSignal<Panel>,
    flash: RwSignal<Option<String>>,
    /// The refusal of a delete, with a link to where two-step sign-in is turned off.
    blocked: RwSignal<Option<String>>,
}

impl PageState {
    /// Opens `panel`, clearing the last outcome's message.
    fn open(self, panel: Panel) {
        self.flash.set(None);
        self.panel.set(panel);
    }

    fn close(self) {
        self.panel.set(Panel::None);
    }

    /// Closes the panel with `message` in the flash line, and moves focus to the heading.
    fn done(self, message: &str) {
        self.panel.set(Panel::None);
        self.flash.set(Some(message.to_owned()));
        focus_heading();
    }
}

#[component]
pub fn PhoneManagementPage() -> impl IntoView {
    set_title("Phone Number");
    let session = use_session();
    let phone = Signal::derive(move || session.phone());
    let page = PageState {
        panel: RwSignal::new(initial_panel()),
        flash: RwSignal::new(None),
        blocked: RwSignal::new(None),
    };
    close_panels_that_no_longer_fit(phone, page.panel);
    let delete = DeleteFlow::new(page);

    view! {
        <div class="page">
            <Breadcrumbs trail=vec![("Dashboard", Page::Dashboard.path()), ("Phone Number", Page::PhoneManagement.path())] />
            <h1 tabindex="-1">"Phone Number"</h1>
            <p class="flash" role="status">{move || page.flash.get()}</p>
            {move || page.blocked.get().map(|message| view! {
                <p class="notice" role="alert">
                    {message} " " <A href=Page::Security.path()>"Go to Security"</A>
                </p>
            })}
            <PhoneOverview phone />
            <PhoneActions phone page delete />
            {move || {
                let current = phone.get_untracked();
                open_panel(page.panel.get(), current, page, delete)
            }}
            <TestMessageCard phone />
            <HistoryCard phone />
        </div>
    }
}

/// `?action=` opens a panel once, when the page opens (links from the dashboard).
fn initial_panel() -> Panel {
    let action = use_query_map().with_untracked(|q| q.get("action"));
    match action.as_deref() {
        Some(action::REPLACE) => Panel::Replace,
        Some(action::VERIFY) => Panel::Verify(None),
        Some(action::ADD) => Panel::Add,
        _ => Panel::None,
    }
}

/// A panel that no longer fits the record (e.g. deleted in another tab) closes. The add
/// form stays when a number appears: its own save brings one, and the event stream can
/// announce it before the answer arrives, which would close the form and drop the
/// answer's code step (a form left open by another tab's add gets the API's refusal).
fn close_panels_that_no_longer_fit(phone: Signal<Option<Phone>>, panel: RwSignal<Panel>) {
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
}

/// The buttons under the overview: add without a number; otherwise verify (when there
/// is something to verify), replace and delete.
#[component]
fn PhoneActions(
    phone: Signal<Option<Phone>>,
    page: PageState,
    delete: DeleteFlow,
) -> impl IntoView {
    let action_key = Memo::new(move |_| {
        phone.with(|p| p.as_ref().map(|p| (p.status, p.pending_e164.is_some())))
    });
    move || match action_key.get() {
        None => view! {
            <div class="actions">
                <button class="btn btn-primary" on:click=move |_| page.open(Panel::Add)>
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
                        <button class="btn btn-primary" on:click=move |_| page.open(Panel::Verify(None))>
                            {label}
                        </button>
                    })}
                    <button class="btn" on:click=move |_| page.open(Panel::Replace)>
                        "Replace number"
                    </button>
                    <button class="btn btn-danger-outline" on:click=move |_| delete.open()>
                        "Delete number"
                    </button>
                </div>
            }
            .into_any()
        }
    }
}

/// The open panel's view, for the record as it is now.
fn open_panel(
    panel: Panel,
    current: Option<Phone>,
    page: PageState,
    delete: DeleteFlow,
) -> Option<AnyView> {
    let verify = move |p: Phone| page.panel.set(Panel::Verify(p.verification));
    Some(match (panel, current) {
        (Panel::None, _) => return None,
        (Panel::Add, _) => view! {
            <AddPhonePanel
                on_saved=Callback::new(verify)
                on_cancel=Callback::new(move |_| page.close())
            />
        }
        .into_any(),
        (Panel::Replace, Some(p)) => replace_panel(&p, page).into_any(),
        (Panel::Verify(initial), Some(p)) => view! {
            <VerificationStep
                phone=p
                initial
                on_verified=Callback::new(move |_| page.done("Your phone number is verified."))
                on_change_number=Callback::new(move |_| page.panel.set(Panel::Replace))
                dismiss_label="Later"
                on_dismiss=Callback::new(move |_| page.close())
            />
        }
        .into_any(),
        (Panel::ConfirmDelete, Some(p)) => delete.dialog(&p).into_any(),
        _ => return None,
    })
}

/// Replacing: a verified number stays until the new one is verified, and the form asks
/// for the password; an unverified one is replaced at once.
fn replace_panel(p: &Phone, page: PageState) -> impl IntoView + use<> {
    let verified = p.status == PhoneStatus::Verified;
    let explain = if verified {
        "Your current number stays active until the new one is verified."
    } else {
        "The unverified number is replaced right away."
    };
    view! {
        <section class="card" aria-labelledby="replace-title">
            <h2 id="replace-title">"Replace your phone number"</h2>
            <p>{explain}</p>
            <PhoneNumberForm
                mode=PhoneFormMode::Replace(p.id)
                initial_region=p.country.clone()
                ask_password=verified
                on_saved=Callback::new(move |p: Phone| page.panel.set(Panel::Verify(p.verification)))
                on_cancel=Callback::new(move |_| page.close())
            />
        </section>
    }
}

/// Deleting: the confirmation dialog, its password for a verified number (SPEC §10),
/// and the request with what each answer does to the page.
#[derive(Clone, Copy)]
struct DeleteFlow {
    page: PageState,
    password: FieldState,
    submitted: RwSignal<bool>,
    password_ref: NodeRef<html::Input>,
    password_error: Signal<Option<String>>,
    task: Task<(i64, Option<String>)>,
}

impl DeleteFlow {
    fn new(page: PageState) -> Self {
        let session = use_session();
        let password = FieldState::new();
        let submitted = RwSignal::new(false);
        let password_ref = NodeRef::<html::Input>::new();
        let password_error = Signal::derive(move || {
            let client = password.value.with(|v| password_missing(v));
            password.shown_error(client, submitted.get())
        });
        let task = Task::new(move |(id, current_password): &(i64, Option<String>)| {
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
                        page.done("Your phone number was deleted.");
                    }
                    // 409: two-step sign-in uses the number; the message says so, the link
                    // leads to where it is turned off.
                    Err(e) if e.status() == Some(409) => {
                        page.close();
                        page.blocked.set(Some(e.message()));
                    }
                    // A wrong password keeps the dialog open, the message on the field.
                    Err(e) if asked && password_refusal(&e, "current_password").is_some() => {
                        password
                            .server_error
                            .set(password_refusal(&e, "current_password"));
                        refocus(password_ref);
                    }
                    Err(e) => {
                        page.close();
                        page.flash
                            .set(Some(format!("Couldn't delete the number: {}", e.message())));
                    }
                }
            }
        });
        Self {
            page,
            password,
            submitted,
            password_ref,
            password_error,
            task,
        }
    }

    /// Opens the dialog afresh: no message above, an empty password.
    fn open(self) {
        self.page.flash.set(None);
        self.page.blocked.set(None);
        self.password.value.set(String::new());
        self.password.server_error.set(None);
        self.submitted.set(false);
        self.page.panel.set(Panel::ConfirmDelete);
    }

    /// Sends the delete; for a verified number only with a password typed.
    fn confirm(self, id: i64, verified: bool) {
        self.submitted.set(true);
        if !verified {
            self.task.dispatch((id, None));
        } else if self.password_error.get_untracked().is_some() {
            if let Some(input) = self.password_ref.get_untracked() {
                let _ = input.focus();
            }
        } else {
            self.task
                .dispatch((id, Some(self.password.value.get_untracked())));
        }
    }

    fn dialog(self, p: &Phone) -> impl IntoView + use<> {
        let id = p.id;
        let verified = p.status == PhoneStatus::Verified;
        let password = verified.then_some(ConfirmPassword {
            id: "delete-password",
            hint: "Your verified number is a way into your account: confirm it's you.",
            state: self.password,
            error: self.password_error,
            node_ref: self.password_ref,
        });
        let page = self.page;
        view! {
            <ConfirmDialog
                id="delete-confirm"
                title=format!("Delete {}?", p.international)
                message="The number and its history are removed from your account. You can add a number again later.".to_owned()
                confirm_label="Delete"
                pending_label="Deleting…"
                pending=self.task.pending()
                password
                on_confirm=Callback::new(move |_| self.confirm(id, verified))
                on_cancel=Callback::new(move |_| page.close())
            />
        }
    }
}
