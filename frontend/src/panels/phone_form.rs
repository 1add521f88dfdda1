//! Adding a number (`POST`) or replacing it (`PATCH`): country, number, live check, then
//! the saved record (which carries the new code's state) goes to `on_saved`. Replacing a
//! verified number also asks for the account's password (SPEC §10: a stolen access token
//! alone cannot move the credential); a wrong one is shown on that field.

use leptos::{html, prelude::*};
use phonereg_types::{Phone, PhoneNumberRequest, validation};

use crate::{
    api,
    components::{
        field::{
            FieldState, SubmitButton, TextField, focus, password_missing, password_refusal,
            refocus, sentence,
        },
        phone_field::{DEFAULT_COUNTRY, PhoneField, phone_error},
    },
    lookup::phone_lookup,
    session::use_session,
    task::Task,
};

/// What the form does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneFormMode {
    Add,
    /// Replace the number of this record.
    Replace(i64),
}

#[component]
pub fn PhoneNumberForm(
    mode: PhoneFormMode,
    on_saved: Callback<Phone>,
    #[prop(optional)] on_cancel: Option<Callback<()>>,
    /// The picker's first country (the current number's, when replacing).
    #[prop(optional)]
    initial_region: Option<String>,
    /// Ask for the current password (replacing a verified number).
    #[prop(optional)]
    ask_password: bool,
) -> impl IntoView {
    let session = use_session();
    let number = RwSignal::new(String::new());
    let region = RwSignal::new(initial_region.unwrap_or_else(|| DEFAULT_COUNTRY.to_owned()));
    let lookup = phone_lookup(number.into(), region.into());
    let touched = RwSignal::new(false);
    let submitted = RwSignal::new(false);
    let server_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let input_ref = NodeRef::<html::Input>::new();
    let password = FieldState::new();
    let password_ref = NodeRef::<html::Input>::new();
    let password_error = Signal::derive(move || {
        let client = password.value.with(|v| password_missing(v));
        password.shown_error(client, submitted.get())
    });

    let client_error = move || {
        number
            .with(|n| validation::check_phone_input(n).err().map(sentence))
            .or_else(|| lookup.with(|l| l.problem()))
    };
    let shown_error = Signal::derive(move || {
        server_error.get().or_else(|| {
            (touched.get() || submitted.get())
                .then(client_error)
                .flatten()
        })
    });

    let save = Task::new(move |body: &PhoneNumberRequest| {
        let body = body.clone();
        async move {
            let result = match mode {
                PhoneFormMode::Add => session.call(|t| api::add_phone(t, body.clone())).await,
                // A wrong password is this form's answer, not a dead session.
                PhoneFormMode::Replace(id) => {
                    session
                        .call_with_password(|t| api::replace_phone(t, id, body.clone()))
                        .await
                }
            };
            match result {
                Ok(phone) => {
                    session.apply_phone(phone.clone());
                    on_saved.try_run(phone);
                }
                Err(e) => {
                    if let Some(message) = password_refusal(&e, "current_password") {
                        password.server_error.set(Some(message));
                        form_error.set(None);
                        refocus(password_ref);
                    } else if let Some(message) = phone_error(&e) {
                        server_error.set(Some(message));
                        form_error.set(None);
                        focus(input_ref);
                    } else {
                        form_error.set(Some(e.message()));
                    }
                }
            }
        }
    });
    let saving = save.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if saving.get_untracked() {
            return;
        }
        submitted.set(true);
        if client_error().is_some() || server_error.get_untracked().is_some() {
            focus(input_ref);
            return;
        }
        if ask_password && password_error.get_untracked().is_some() {
            focus(password_ref);
            return;
        }
        form_error.set(None);
        save.dispatch(PhoneNumberRequest {
            phone_number: number.get_untracked().trim().to_owned(),
            phone_region: Some(region.get_untracked()),
            current_password: ask_password.then(|| password.value.get_untracked()),
            captcha_token: None,
        });
    };

    // The form opens on a click ("Add phone number", "Replace number"): continue there.
    Effect::new(move |_| {
        if let Some(input) = input_ref.get() {
            let _ = input.focus();
        }
    });

    let (label, submit_label, busy_label) = match mode {
        PhoneFormMode::Add => ("Phone number", "Add number", "Adding…"),
        PhoneFormMode::Replace(_) => ("New phone number", "Send code to new number", "Sending…"),
    };

    view! {
        <form class="phone-form" on:submit=submit novalidate>
            <PhoneField
                id="phone-number"
                label=label
                number
                region
                lookup
                error=shown_error
                disabled=saving
                on_blur=Callback::new(move |_| touched.set(true))
                on_change=Callback::new(move |_| server_error.set(None))
                node_ref=input_ref
            />
            {ask_password.then(|| view! {
                <TextField id="current-password" label="Current password" state=password
                    input_type="password" error=password_error autocomplete="current-password"
                    hint="Replacing a verified number needs your password." disabled=saving
                    node_ref=password_ref />
            })}
            <p class="form-error" role="alert">{move || form_error.get()}</p>
            <div class="actions">
                <SubmitButton pending=saving label=submit_label busy_label />
                {on_cancel.map(|cb| view! {
                    <button type="button" class="btn" on:click=move |_| cb.run(())>"Cancel"</button>
                })}
            </div>
        </form>
    }
}
