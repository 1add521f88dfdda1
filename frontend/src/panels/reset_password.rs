//! The second step of a password reset: the code from the SMS with the new password
//! (twice), `POST /auth/password-reset`. Field errors land on their fields; a wrong or
//! dead code is reported like every code step; a resend is `POST /auth/sms/start` again.
//! On a two-step account the SIM alone is not enough (SPEC §10): the API answers 401
//! `recovery-code-required` and the form asks for a recovery code too, keeping the SMS
//! code and the new password as typed (the SMS code stays usable).

use leptos::{ev::SubmitEvent, html, prelude::*};
use phonereg_types::{PasswordResetRequest, ProblemType, SmsCodePurpose, validation};

use crate::{
    api::{self, ApiError},
    components::{
        code_step::{CodeActions, CodeFields, CodeStep, TestNumberNotice},
        field::{FieldState, TextField, confirm_error, focus, sentence},
        recovery_code_field::{
            NOT_RIGHT, RecoveryCodeField, RecoveryCodeInput, recovery_code_refusal,
        },
    },
    panels::send_code::{DifferentNumber, SentCode},
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
    let submitted = RwSignal::new(false);
    let new_password = NewPassword::new(submitted);
    let needs_recovery = RwSignal::new(false);
    let recovery = RecoveryCodeField::new();
    recovery.focus_when(move || needs_recovery.get());
    let fields = ResetFields {
        step,
        new_password,
        needs_recovery,
        recovery,
    };
    let reset = reset_task(&sent, fields, on_done);
    let resend = sent.resend(SmsCodePurpose::PasswordReset, step);
    let switch = sent.switch(SmsCodePurpose::PasswordReset, step);

    let resetting = reset.pending();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if resetting.get_untracked() {
            return;
        }
        submitted.set(true);
        let Some(code) = step.code() else {
            return;
        };
        let Some(password) = new_password.checked() else {
            return;
        };
        let recovery_code = if needs_recovery.get_untracked() {
            let Some(recovery_code) = recovery.submitted_code() else {
                return;
            };
            Some(recovery_code)
        } else {
            None
        };
        reset.dispatch((code, password, recovery_code));
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
                <NewPasswordInputs fields=new_password disabled=resetting />
                <Show when=move || needs_recovery.get()>
                    <p class="notice" id="recovery-needed">
                        "This account uses two-step sign-in, so a texted code alone cannot reset its password. Enter one of the recovery codes you saved when you turned it on."
                    </p>
                    <RecoveryCodeInput field=recovery disabled=resetting
                        hint="Like abcd-1234. Each code works once." />
                </Show>
                <CodeActions step pending=resetting label="Reset password" busy_label="Resetting…" resend switch />
                <DifferentNumber on_click=on_change_number />
            </form>
        </section>
    }
}

/// The SMS code, the new password, and the recovery code once the account asked for one.
type ResetInput = (String, String, Option<String>);

/// The step's fields, where the answers to a reset land.
#[derive(Clone, Copy)]
struct ResetFields {
    step: CodeStep,
    new_password: NewPassword,
    /// The API asked for a recovery code too (a two-step account).
    needs_recovery: RwSignal<bool>,
    recovery: RecoveryCodeField,
}

/// `POST /auth/password-reset` for the number the code went to.
fn reset_task(sent: &SentCode, fields: ResetFields, on_done: Callback<()>) -> Task<ResetInput> {
    let (number, region) = (sent.number.clone(), sent.region.clone());
    Task::new(move |(code, new_password, recovery_code): &ResetInput| {
        let body = PasswordResetRequest {
            phone_number: number.clone(),
            phone_region: Some(region.clone()),
            code: code.clone(),
            new_password: new_password.clone(),
            recovery_code: recovery_code.clone(),
        };
        async move {
            match api::password_reset(&body).await {
                Ok(()) => {
                    on_done.try_run(());
                }
                // The code was right; the account wants a recovery code as well.
                Err(e) if e.is_problem(ProblemType::RecoveryCodeRequired) => {
                    fields.step.error.set(None);
                    if body.recovery_code.is_some() {
                        fields.recovery.refused(NOT_RIGHT.to_owned());
                    } else {
                        fields.needs_recovery.set(true);
                    }
                }
                Err(e) => match recovery_code_refusal(&e) {
                    Some(message) => fields.recovery.refused(message),
                    None => refused(&e, fields),
                },
            }
        }
    })
}

/// A refusal of the code or of the new password: each under its own field, anything
/// else under the code.
fn refused(e: &ApiError, fields: ResetFields) {
    let on_password = e
        .field_errors()
        .get("new_password")
        .and_then(|m| m.first())
        .map(|m| sentence(m));
    if about_code(e) {
        fields.step.rejected(e);
    } else if on_password.is_none() {
        fields.step.error.set(Some(e.message()));
    }
    if let Some(message) = on_password {
        fields.new_password.refused(message);
    }
}

/// Whether a refusal is about the code (wrong, dead, malformed) rather than the password.
fn about_code(e: &ApiError) -> bool {
    e.status() == Some(410)
        || e.problem().is_some_and(|p| p.verification.is_some())
        || e.field_errors().contains_key("code")
}

/// The new password, typed twice.
#[derive(Clone, Copy)]
struct NewPassword {
    password: FieldState,
    confirm: FieldState,
    password_ref: NodeRef<html::Input>,
    confirm_ref: NodeRef<html::Input>,
    password_error: Signal<Option<String>>,
    confirm_error: Signal<Option<String>>,
}

impl NewPassword {
    fn new(submitted: RwSignal<bool>) -> Self {
        let password = FieldState::new();
        let confirm = FieldState::new();
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
        NewPassword {
            password,
            confirm,
            password_ref: NodeRef::new(),
            confirm_ref: NodeRef::new(),
            password_error,
            confirm_error,
        }
    }

    /// The new password when both fields pass; else the first to fix takes focus.
    fn checked(self) -> Option<String> {
        if self.password_error.get_untracked().is_some() {
            focus(self.password_ref);
            return None;
        }
        if self.confirm_error.get_untracked().is_some() {
            focus(self.confirm_ref);
            return None;
        }
        Some(self.password.value.get_untracked())
    }

    /// The API refused the new password: `message` under it, focused.
    fn refused(self, message: String) {
        self.password.server_error.set(Some(message));
        focus(self.password_ref);
    }
}

#[component]
fn NewPasswordInputs(fields: NewPassword, disabled: Signal<bool>) -> impl IntoView {
    view! {
        <TextField id="new-password" label="New password" state=fields.password input_type="password"
            error=fields.password_error autocomplete="new-password" hint="At least 8 characters."
            disabled node_ref=fields.password_ref />
        <TextField id="confirm-new-password" label="Confirm new password" state=fields.confirm
            input_type="password" error=fields.confirm_error autocomplete="new-password"
            disabled node_ref=fields.confirm_ref />
    }
}
