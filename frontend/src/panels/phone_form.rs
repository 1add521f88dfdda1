//! Adding a number (`POST`) or replacing it (`PATCH`): country, number, live check, then
//! the saved record (which carries the new code's state) goes to `on_saved`. Replacing a
//! verified number also asks for the account's password (SPEC §10: a stolen access token
//! alone cannot move the credential); a wrong one is shown on that field.

use leptos::{ev::SubmitEvent, prelude::*};
use phonereg_types::{Phone, PhoneNumberRequest};

use crate::{
    api,
    components::{
        field::{SubmitButton, TextField, password_missing, password_refusal},
        password_check::PasswordCheck,
        phone_field::{DEFAULT_COUNTRY, phone_error},
    },
    panels::phone_entry::{PhoneEntry, PhoneEntryField},
    session::{Session, use_session},
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
    let number = RwSignal::new(String::new());
    let region = RwSignal::new(initial_region.unwrap_or_else(|| DEFAULT_COUNTRY.to_owned()));
    let submitted = RwSignal::new(false);
    let entry = PhoneEntry::new(number, region, submitted);
    // The form opens on a click ("Add phone number", "Replace number"): continue there.
    entry.focus_when_shown();
    let password = PasswordCheck::sharing(password_missing, submitted);
    let form = FormFields {
        entry,
        password,
        form_error: RwSignal::new(None),
    };
    let save = save_task(mode, use_session(), form, on_saved);
    let saving = save.pending();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if saving.get_untracked() {
            return;
        }
        submitted.set(true);
        if !entry.ready() {
            return;
        }
        let current_password = if ask_password {
            let Some(current) = password.submitted() else {
                return;
            };
            Some(current)
        } else {
            None
        };
        form.form_error.set(None);
        let (phone_number, phone_region) = entry.typed();
        save.dispatch(PhoneNumberRequest {
            phone_number,
            phone_region: Some(phone_region),
            current_password,
            captcha_token: None,
        });
    };

    let (label, submit_label, busy_label) = match mode {
        PhoneFormMode::Add => ("Phone number", "Add number", "Adding…"),
        PhoneFormMode::Replace(_) => ("New phone number", "Send code to new number", "Sending…"),
    };

    view! {
        <form class="phone-form" on:submit=submit novalidate>
            <PhoneEntryField entry id="phone-number" label disabled=saving />
            {ask_password.then(|| view! {
                <TextField id="current-password" label="Current password" state=password.state
                    input_type="password" error=password.error autocomplete="current-password"
                    hint="Replacing a verified number needs your password." disabled=saving
                    node_ref=password.node_ref />
            })}
            <p class="form-error" role="alert">{move || form.form_error.get()}</p>
            <div class="actions">
                <SubmitButton pending=saving label=submit_label busy_label />
                {on_cancel.map(|cb| view! {
                    <button type="button" class="btn" on:click=move |_| cb.run(())>"Cancel"</button>
                })}
            </div>
        </form>
    }
}

/// Where a refused save's message goes.
#[derive(Clone, Copy)]
struct FormFields {
    entry: PhoneEntry,
    password: PasswordCheck,
    form_error: RwSignal<Option<String>>,
}

/// `POST` (add) or `PATCH` (replace) the number; the session's record follows.
fn save_task(
    mode: PhoneFormMode,
    session: Session,
    form: FormFields,
    on_saved: Callback<Phone>,
) -> Task<PhoneNumberRequest> {
    Task::new(move |body: &PhoneNumberRequest| {
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
                        form.password.refused(message);
                        form.form_error.set(None);
                    } else if let Some(message) = phone_error(&e) {
                        form.entry.refused(message);
                        form.form_error.set(None);
                    } else {
                        form.form_error.set(Some(e.message()));
                    }
                }
            }
        }
    })
}
