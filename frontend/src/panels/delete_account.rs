//! "Delete account" on the security page (SPEC §12): a confirmation that asks for the
//! password, then `DELETE /users/me`; the session ends here too and the sign-in page
//! says the account is gone.

use leptos::{html, prelude::*};
use leptos_router::{NavigateOptions, hooks::use_navigate};
use phonereg_types::DeleteAccountRequest;

use crate::{
    api,
    components::field::{
        FieldState, SubmitButton, TextField, focus, password_missing, password_refusal, refocus,
    },
    paths::{login_with_notice, notice},
    session::use_session,
    task::Task,
};

#[component]
pub fn DeleteAccountCard() -> impl IntoView {
    let form_open = RwSignal::new(false);
    let open_ref = NodeRef::<html::Button>::new();
    let close = Callback::new(move |_: ()| {
        form_open.set(false);
        if let Some(button) = open_ref.get_untracked() {
            let _ = button.focus();
        }
    });
    view! {
        <section class="card danger-zone" aria-labelledby="delete-account-title">
            <h2 id="delete-account-title">"Delete account"</h2>
            <p class="muted">
                "Deletes your account, your phone number and its history, and signs you out everywhere. This cannot be undone."
            </p>
            <Show
                when=move || form_open.get()
                fallback=move || view! {
                    <div class="actions">
                        <button type="button" class="btn btn-danger" node_ref=open_ref
                            on:click=move |_| form_open.set(true)>
                            "Delete account"
                        </button>
                    </div>
                }
            >
                <ConfirmDelete on_cancel=close />
            </Show>
        </section>
    }
}

/// The password, then the account goes.
#[component]
fn ConfirmDelete(on_cancel: Callback<()>) -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let password = FieldState::new();
    let submitted = RwSignal::new(false);
    let password_ref = NodeRef::<html::Input>::new();
    let form_error = RwSignal::new(None::<String>);
    let error = Signal::derive(move || {
        let client = password.value.with(|v| password_missing(v));
        password.shown_error(client, submitted.get())
    });
    Effect::new(move |_| {
        if password_ref.get().is_some() {
            focus(password_ref);
        }
    });

    let delete = Task::new(move |password_text: &String| {
        let body = DeleteAccountRequest {
            current_password: password_text.clone(),
        };
        let navigate = navigate.clone();
        async move {
            let result = session
                .call_with_password(|t| api::delete_account(t, body.clone()))
                .await;
            match result {
                Ok(()) => {
                    // The API ended every session; end this one here as well.
                    session.logout().await;
                    navigate(
                        &login_with_notice(notice::ACCOUNT_DELETED),
                        NavigateOptions::default(),
                    );
                }
                Err(e) => match password_refusal(&e, "current_password") {
                    Some(message) => {
                        password.server_error.set(Some(message));
                        form_error.set(None);
                        refocus(password_ref);
                    }
                    None => form_error.set(Some(e.message())),
                },
            }
        }
    });
    let pending = delete.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() {
            return;
        }
        submitted.set(true);
        if error.get_untracked().is_some() {
            focus(password_ref);
            return;
        }
        form_error.set(None);
        delete.dispatch(password.value.get_untracked());
    };

    view! {
        <section
            class="subform"
            aria-labelledby="delete-confirm-title"
            on:keydown=move |ev| if ev.key() == "Escape" { on_cancel.run(()) }
        >
            <h3 id="delete-confirm-title">"Delete your account?"</h3>
            <p>"Confirm it's you with your password."</p>
            <form on:submit=submit novalidate>
                <TextField id="delete-password" label="Password" state=password
                    input_type="password" error autocomplete="current-password"
                    disabled=pending node_ref=password_ref />
                <p class="form-error" role="alert">{move || form_error.get()}</p>
                <ConfirmActions pending on_cancel />
            </form>
        </section>
    }
}

/// Delete, or step back.
#[component]
fn ConfirmActions(pending: Signal<bool>, on_cancel: Callback<()>) -> impl IntoView {
    view! {
        <div class="actions">
            <SubmitButton pending=pending label="Delete my account" busy_label="Deleting…" />
            <button type="button" class="btn" on:click=move |_| on_cancel.run(())>"Cancel"</button>
        </div>
    }
}
