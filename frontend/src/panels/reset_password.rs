//! The second step of a password reset: the code from the SMS with the new password
//! (twice), `POST /auth/password-reset`. Field errors land on their fields; a wrong or
//! dead code is reported like every code step; a resend is `POST /auth/sms/start` again.
//! On a two-step account the SIM alone is not enough (SPEC §10): the API answers 401
//! `recovery-code-required` and the form asks for a recovery code too, keeping the SMS
//! code and the new password as typed (the SMS code stays usable).

use leptos::{html, prelude::*};
use phonereg_types::{PasswordResetRequest, ProblemType, SmsCodePurpose, validation};

use crate::{
    api::{self, ApiError},
    components::{
        code_step::{CodeFields, ResendButton, TestNumberNotice},
        field::{
            FieldState, SubmitButton, TextField, confirm_error, field_sentence, focus, refocus,
            sentence,
        },
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
    let needs_recovery = RwSignal::new(false);
    let recovery = FieldState::new();
    let recovery_ref = NodeRef::<html::Input>::new();
    // Its own flag: the field appears after a submit and must not open with an error.
    let recovery_submitted = RwSignal::new(false);
    let recovery_error = Signal::derive(move || {
        let client = recovery
            .value
            .with(|v| validation::parse_recovery_code(v).err().map(sentence));
        recovery.shown_error(client, recovery_submitted.get())
    });
    Effect::new(move |_| {
        if needs_recovery.get() && recovery_ref.get().is_some() {
            focus(recovery_ref);
        }
    });

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
    let reset = Task::new(move |(code, new_password, recovery_code): &ResetInput| {
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
                    step.error.set(None);
                    if body.recovery_code.is_some() {
                        recovery.server_error.set(Some(
                            "That recovery code is not right, or was used already.".to_owned(),
                        ));
                        refocus(recovery_ref);
                    } else {
                        needs_recovery.set(true);
                    }
                }
                Err(e) if recovery_code_refusal(&e).is_some() => {
                    recovery.server_error.set(recovery_code_refusal(&e));
                    refocus(recovery_ref);
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
        let recovery_code = if needs_recovery.get_untracked() {
            recovery_submitted.set(true);
            match validation::parse_recovery_code(&recovery.value.get_untracked()) {
                Ok(code) => Some(code),
                Err(_) => {
                    focus(recovery_ref);
                    return;
                }
            }
        } else {
            None
        };
        reset.dispatch((code, password.value.get_untracked(), recovery_code));
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
                <Show when=move || needs_recovery.get()>
                    <p class="notice" id="recovery-needed">
                        "This account uses two-step sign-in, so a texted code alone cannot reset its password. Enter one of the recovery codes you saved when you turned it on."
                    </p>
                    <TextField id="recovery-code" label="Recovery code" state=recovery
                        error=recovery_error autocomplete="off"
                        hint="Like abcd-1234. Each code works once."
                        disabled=resetting node_ref=recovery_ref />
                </Show>
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

/// The SMS code, the new password, and the recovery code once the account asked for one.
type ResetInput = (String, String, Option<String>);

/// A refusal of the recovery code itself (422 on its field), as a sentence.
fn recovery_code_refusal(e: &ApiError) -> Option<String> {
    e.field_errors()
        .get("recovery_code")
        .and_then(|m| m.first())
        .map(|m| field_sentence("That", m))
}

/// Whether a refusal is about the code (wrong, dead, malformed) rather than the password.
fn about_code(e: &ApiError) -> bool {
    e.status() == Some(410)
        || e.problem().is_some_and(|p| p.verification.is_some())
        || e.field_errors().contains_key("code")
}
