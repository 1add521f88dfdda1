//! `/dashboard` — DashboardHome: a greeting, quick actions, and the phone widget with its
//! add form and code step opening right below it.

use leptos::prelude::*;
use leptos_router::{NavigateOptions, hooks::use_navigate};
use phonereg_types::{Phone, PhoneStatus, Verification};

use crate::{
    components::phone_widget::PhoneNumberRegistrationWidget,
    pages::{focus_heading, set_title},
    panels::{add_phone::AddPhonePanel, verification::VerificationStep},
    paths::{Page, action, with_action},
    session::use_session,
};

/// What opens below the widget.
#[derive(Clone, Debug, PartialEq)]
enum Panel {
    None,
    Add,
    Verify(Option<Verification>),
}

#[component]
pub fn DashboardHome() -> impl IntoView {
    set_title("Dashboard");
    let session = use_session();
    let panel = RwSignal::new(Panel::None);
    let flash = RwSignal::new(None::<String>);
    let phone = Signal::derive(move || session.phone());
    let greeting = move || {
        let name = session
            .user()
            .map(|u| first_name(&u.full_name))
            .unwrap_or_default();
        format!("Welcome, {name}")
    };

    let navigate = use_navigate();
    let nav = move |to: String| {
        let navigate = navigate.clone();
        Callback::new(move |_: ()| navigate(&to, NavigateOptions::default()))
    };
    let manage = nav(Page::PhoneManagement.path().to_owned());
    let update = nav(with_action(Page::PhoneManagement, action::REPLACE));
    let test_sms = nav(Page::PhoneManagement.path().to_owned());

    let on_verified = Callback::new(move |_: Phone| {
        panel.set(Panel::None);
        flash.set(Some("Your phone number is verified.".to_owned()));
        focus_heading();
    });
    let below = move || open_panel(panel, phone.get_untracked(), on_verified, update);

    view! {
        <div class="page">
            <h1 tabindex="-1">{greeting}</h1>
            <p class="flash" role="status">{move || flash.get()}</p>
            {move || phone.with(nudge).map(|n| view! { <p class="nudge">{n}</p> })}
            <QuickActions manage test_sms />
            <PhoneNumberRegistrationWidget
                phone
                busy=Signal::derive(move || panel.with(|p| *p != Panel::None))
                on_add=Callback::new(move |_| { flash.set(None); panel.set(Panel::Add) })
                on_update=update
                on_verify=Callback::new(move |_| { flash.set(None); panel.set(Panel::Verify(None)) })
                on_manage=manage
            />
            {below}
        </div>
    }
}

/// The first word of a full name.
fn first_name(full_name: &str) -> String {
    full_name
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// What the account's number still needs, if anything.
fn nudge(phone: &Option<Phone>) -> Option<&'static str> {
    match phone {
        None => Some("Add a phone number to secure your account."),
        Some(p) if p.status == PhoneStatus::Unverified => {
            Some("Your phone number is not verified yet. Verify it to receive SMS.")
        }
        Some(p) if p.pending_e164.is_some() => {
            Some("Your new number is waiting for its code. Verify it to finish the change.")
        }
        Some(_) => None,
    }
}

/// The panel open below the widget: the add form, or the code step for the number.
fn open_panel(
    panel: RwSignal<Panel>,
    phone: Option<Phone>,
    on_verified: Callback<Phone>,
    change_number: Callback<()>,
) -> Option<AnyView> {
    match panel.get() {
        Panel::None => None,
        Panel::Add => Some(
            view! {
                <AddPhonePanel
                    on_saved=Callback::new(move |p: Phone| panel.set(Panel::Verify(p.verification)))
                    on_cancel=Callback::new(move |_| panel.set(Panel::None))
                />
            }
            .into_any(),
        ),
        Panel::Verify(initial) => phone.map(|p| {
            view! {
                <VerificationStep
                    phone=p
                    initial
                    on_verified
                    on_change_number=change_number
                    dismiss_label="Later"
                    on_dismiss=Callback::new(move |_| panel.set(Panel::None))
                />
            }
            .into_any()
        }),
    }
}

/// The tiles that lead to the management page.
#[component]
fn QuickActions(manage: Callback<()>, test_sms: Callback<()>) -> impl IntoView {
    view! {
        <section class="quick-actions" aria-labelledby="quick-title">
            <h2 id="quick-title" class="visually-hidden">"Quick actions"</h2>
            <ul>
                <li>
                    <button class="action-tile" on:click=move |_| manage.run(())>
                        <span class="tile-title">"Manage Phone Number"</span>
                        <span class="tile-text">"Replace, verify or delete your number"</span>
                    </button>
                </li>
                <li>
                    <button class="action-tile" on:click=move |_| test_sms.run(())>
                        <span class="tile-title">"Send a test SMS"</span>
                        <span class="tile-text">"Check that messages reach you"</span>
                    </button>
                </li>
            </ul>
        </section>
    }
}
