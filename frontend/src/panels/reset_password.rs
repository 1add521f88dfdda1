//! The second step of a password reset: the code from the SMS with the new password
//! (twice), `POST /auth/password-reset`. Field errors land on their fields; a wrong or
//! dead code is reported like every code step; a resend is `POST /auth/sms/start` again.

use leptos::{html, prelude::*};
use phonereg_types::{PasswordResetRequest, SmsCodePurpose, validation};

use crate::{
    api::{self, ApiError},
    components::{
        code_step::{CodeFields, ResendButton, TestNumberNotice},
        field::{FieldState, SubmitButton, TextField, confirm_error, focus, sentence},
    },
    panels::send_code::SentCode,
    task::Task,
};

#[component]
pub fn ResetPasswordStep(
    sent: SentCode,
    on_done: Callback<()>,
    on_change_number: Callback<()>,
) -> impl IntoView {
    let test_number = !sent.verification.sent;
    let step = sent.step();
    let password = FieldState::new();
    let confirm = FieldState::new();
    let submitted = RwSignal::new(false);
    let password_ref = NodeRef::<html::Input>::new();
    let confirm_ref = NodeRef::<html::Input>::new();

    let password_error = Signal::derive(move || {
        let client = password
            .value
            .with(|v| validation::check_password(v).err().map(sentence));
        password.shown_error(client, submitted.get())
    });
    let confirm_error = Signal::derive(move || {
        let client = confirm
            .value
            .with(|c| password.value.with(|p| confirm_error(c, p).map(sentence)));
        confirm.shown_error(client, submitted.get())
    });

    let (number, region) = (sent.number.clone(), sent.region.clone());
    let reset = Task::new(move |(code, new_password): &(String, String)| {
        let body = PasswordResetRequest {
            phone_number: number.clone(),
            phone_region: Some(region.clone()),
            code: code.clone(),
            new_password: new_password.clone(),
            recovery_code: None,
        };
        async move {
            match api::password_reset(&body).await {
                Ok(()) => {
                    on_done.try_run(());
                }
                Err(e) => {
                    let on_password = e
                        .field_errors()
                        .get("new_password")
                        .and_then(|m| m.first())
                        .map(|m| sentence(m));
                    if about_code(&e) {
                        step.rejected(&e);
                    } else if on_password.is_none() {
                        step.error.set(Some(e.message()));
                    }
                    if let Some(message) = on_password {
                        password.server_error.set(Some(message));
                        focus(password_ref);
                    }
                }
            }
        }
    });

    let resend = sent.resend(SmsCodePurpose::PasswordReset, step);

    let resetting = reset.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if resetting.get_untracked() {
            return;
        }
        submitted.set(true);
        let Some(code) = step.code() else {
            return;
        };
        if password_error.get_untracked().is_some() {
            focus(password_ref);
            return;
        }
        if confirm_error.get_untracked().is_some() {
            focus(confirm_ref);
            return;
        }
        reset.dispatch((code, password.value.get_untracked()));
    };

    view! {
        <section class="code-step" aria-labelledby="new-password-title">
            <h2 id="new-password-title">"Choose a new password"</h2>
            <p>
                "If " <strong class="nowrap">{sent.shown}</strong>
                " is the verified number of a PhoneReg account, we have sent it a 6-digit code. Enter it with your new password."
            </p>
            <TestNumberNotice show=test_number />
            <form on:submit=submit novalidate>
                <CodeFields step disabled=resetting />
                <TextField id="new-password" label="New password" state=password input_type="password"
                    error=password_error autocomplete="new-password" hint="At least 8 characters."
                    disabled=resetting node_ref=password_ref />
                <TextField id="confirm-new-password" label="Confirm new password" state=confirm
                    input_type="password" error=confirm_error autocomplete="new-password"
                    disabled=resetting node_ref=confirm_ref />
                <div class="actions">
                    <SubmitButton pending=resetting label="Reset password" busy_label="Resetting…" />
                    <ResendButton
                        step
                        pending=resend.pending()
                        on_click=Callback::new(move |_| resend.dispatch(()))
                    />
                </div>
                <div class="actions actions-secondary">
                    <button type="button" class="btn-link" on:click=move |_| on_change_number.run(())>
                        "Use a different number"
                    </button>
                </div>
            </form>
        </section>
    }
}

/// Whether a refusal is about the code (wrong, dead, malformed) rather than the password.
fn about_code(e: &ApiError) -> bool {
    e.status() == Some(410)
        || e.problem().is_some_and(|p| p.verification.is_some())
        || e.field_errors().contains_key("code")
}
