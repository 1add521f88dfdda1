//! `/reset-password` — "Forgot password?": the account's verified number, then the code
//! texted to it with a new password; then to `/login` with a notice. Every session of the
//! account ends with the reset, this browser's included.

use leptos::prelude::*;
use leptos_router::{NavigateOptions, components::A, hooks::use_navigate};
use phonereg_types::SmsCodePurpose;

use crate::{
    components::phone_field::DEFAULT_COUNTRY,
    pages::set_title,
    panels::{
        reset_password::ResetPasswordStep,
        send_code::{SendCodeForm, SentCode},
    },
    paths::{Page, login_with_notice, notice},
    session::{Status, use_session},
    task::Task,
};

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    set_title("Reset your password");
    let session = use_session();
    let navigate = use_navigate();
    // Kept here, so "Use a different number" comes back to what was typed.
    let number = RwSignal::new(String::new());
    let region = RwSignal::new(DEFAULT_COUNTRY.to_owned());
    let sent = RwSignal::new(None::<SentCode>);

    let done = Task::new(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            // The API has revoked this browser's session too: end it here as well.
            if session.status_untracked() == Status::SignedIn {
                session.logout().await;
            }
            navigate(
                &login_with_notice(notice::PASSWORD_CHANGED),
                NavigateOptions::default(),
            );
        }
    });

    let body = move || {
        match sent.get() {
        None => view! {
            <p>"Enter your account's verified phone number. We'll text it a code to choose a new password."</p>
            <SendCodeForm
                purpose=SmsCodePurpose::PasswordReset
                number
                region
                on_sent=Callback::new(move |s| sent.set(Some(s)))
            />
        }
        .into_any(),
        Some(s) => view! {
            <ResetPasswordStep
                sent=s
                on_done=Callback::new(move |_| done.dispatch(()))
                on_change_number=Callback::new(move |_| sent.set(None))
            />
        }
        .into_any(),
    }
    };

    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="reset-title">
                <h1 id="reset-title">"Reset your password"</h1>
                {body}
                <p class="switch">
                    "Remembered it? " <A href=Page::Login.path()>"Sign in"</A>
                </p>
            </section>
        </main>
    }
}
