//! `/login` — "Sign in", then back to the page that asked for it (`?next=`).

use leptos::{html, prelude::*};
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_query_map},
};
use phonereg_types::{LoginRequest, validation};

use crate::{
    api,
    app::replace,
    components::field::{FieldState, TextField, sentence},
    pages::set_title,
    paths::{Page, safe_next},
    session::{Status, use_session},
    task::Task,
};

#[component]
pub fn LoginPage() -> impl IntoView {
    set_title("Sign in");
    let session = use_session();
    let query = use_query_map();
    let next = Memo::new(move |_| safe_next(query.read().get_str("next")));
    let navigate = use_navigate();

    // Signed in already (a reload restored the session, or sign-in just succeeded).
    Effect::new(move |_| {
        if session.status() == Status::SignedIn {
            navigate(&next.get_untracked(), replace());
        }
    });

    let email = FieldState::new();
    let password = FieldState::new();
    let submitted = RwSignal::new(false);
    let form_error = RwSignal::new(session.notice().get_untracked());
    let email_ref = NodeRef::<html::Input>::new();
    let password_ref = NodeRef::<html::Input>::new();

    let email_error = Signal::derive(move || {
        let client = email
            .value
            .with(|v| validation::check_email(v).err().map(sentence));
        email.shown_error(client, submitted.get())
    });
    let password_error = Signal::derive(move || {
        let client = password
            .value
            .with(|v| v.is_empty().then(|| sentence(validation::REQUIRED)));
        password.shown_error(client, submitted.get())
    });

    let login = Task::new(move |body: &LoginRequest| {
        let body = body.clone();
        async move {
            match api::login(&body).await {
                Ok(tokens) => session.sign_in(tokens),
                Err(e) => {
                    form_error.set(Some(e.message()));
                    if let Some(input) = password_ref.get_untracked() {
                        let _ = input.focus();
                        input.select();
                    }
                }
            }
        }
    });
    let pending = login.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        submitted.set(true);
        if email_error.get_untracked().is_some() {
            if let Some(input) = email_ref.get_untracked() {
                let _ = input.focus();
            }
            return;
        }
        if password_error.get_untracked().is_some() {
            if let Some(input) = password_ref.get_untracked() {
                let _ = input.focus();
            }
            return;
        }
        form_error.set(None);
        login.dispatch(LoginRequest {
            email: email.value.get_untracked(),
            password: password.value.get_untracked(),
        });
    };

    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="login-title">
                <h1 id="login-title">"Sign in"</h1>
                <form on:submit=submit novalidate>
                    <TextField id="email" label="Email" state=email input_type="email"
                        error=email_error autocomplete="username" disabled=pending node_ref=email_ref />
                    <TextField id="password" label="Password" state=password input_type="password"
                        error=password_error autocomplete="current-password" disabled=pending
                        node_ref=password_ref />
                    <p class="form-error" role="alert">{move || form_error.get()}</p>
                    <button
                        type="submit"
                        class="btn btn-primary btn-block"
                        prop:disabled=move || pending.get() || session.status() == Status::Restoring
                        aria-busy=move || if pending.get() { "true" } else { "false" }
                    >
                        {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </form>
                <p class="switch">
                    "New to PhoneReg? " <A href=Page::Register.path()>"Create an account"</A>
                </p>
            </section>
        </main>
    }
}
