//! `/dashboard` — DashboardHome: a greeting, quick actions, and the phone widget with its
//! add form and code step opening right below it.

use leptos::prelude::*;
use leptos_router::{NavigateOptions, hooks::use_navigate};
use phonereg_types::{Phone, PhoneStatus, Verification};

use crate::{
    components::phone_widget::PhoneNumberRegistrationWidget,
    pages::{focus_heading, set_title},
    panels::{
        add_phone::AddPhonePanel,
        verification::{VerificationStep, target_of},
    },
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
    let first_name = move || {
        session
            .user()
            .map(|u| {
                u.full_name
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_default()
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

    let nudge = move || {
        phone.with(|p| match p {
            None => Some("Add a phone number to secure your account."),
            Some(p) if p.status == PhoneStatus::Unverified => {
                Some("Your phone number is not verified yet. Verify it to receive SMS.")
            }
            Some(p) if p.pending_e164.is_some() => {
                Some("Your new number is waiting for its code. Verify it to finish the change.")
            }
            Some(_) => None,
        })
    };

    let below = move || match panel.get() {
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
        Panel::Verify(initial) => phone.get_untracked().map(|p| {
            let target = target_of(&p);
            view! {
                <VerificationStep
                    phone_id=p.id
                    target
                    initial
                    on_verified
                    on_change_number=update
                    dismiss_label="Later"
                    on_dismiss=Callback::new(move |_| panel.set(Panel::None))
                />
            }
            .into_any()
        }),
    };

    view! {
        <div class="page">
            <h1 tabindex="-1">{move || format!("Welcome, {}", first_name())}</h1>
            <p class="flash" role="status">{move || flash.get()}</p>
            {move || nudge().map(|n| view! { <p class="nudge">{n}</p> })}
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
