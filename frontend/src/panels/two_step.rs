//! The code step of a password login on an account with two-step sign-in on: the
//! `mfa_required` answer's code goes to `POST /auth/login/verify`. The API has no resend
//! for these codes (each is bound to its login), so "Send a new code" logs in again with
//! the same password. A dead code or login (410, or no attempts left) ends it: the page
//! goes back to the password with the reason.

use leptos::prelude::*;
use phonereg_types::{LoginRequest, LoginVerifyRequest, MfaRequired, TokenResponse};

use crate::{
    api::{self, LoginAnswer},
    components::{
        code_step::{CodeFields, CodeStep, Rejection, ResendButton, TestNumberNotice},
        field::SubmitButton,
    },
    task::Task,
};

const LOGIN_OVER: &str =
    "That sign-in has expired or its code was used up. Sign in again to get a new code.";

#[component]
pub fn TwoStepCode(
    challenge: MfaRequired,
    /// The login that made it, to send it again for a new code.
    login: LoginRequest,
    on_signed: Callback<TokenResponse>,
    /// Back to the password form, with the reason when there is one.
    on_restart: Callback<Option<String>>,
) -> impl IntoView {
    let test_number = !challenge.verification.sent;
    let step = CodeStep::new(Some(challenge.verification));
    let mfa_token = StoredValue::new(challenge.mfa_token);

    let verify = Task::new(move |code: &String| {
        let body = LoginVerifyRequest {
            mfa_token: mfa_token.get_value(),
            code: Some(code.clone()),
            recovery_code: None,
        };
        async move {
            match api::login_verify(&body).await {
                Ok(tokens) => {
                    on_signed.try_run(tokens);
                }
                Err(e) => match step.rejected(&e) {
                    Rejection::Gone | Rejection::Wrong(0) => {
                        on_restart.try_run(Some(LOGIN_OVER.to_owned()));
                    }
                    Rejection::Wrong(_) | Rejection::Other => {}
                },
            }
        }
    });

    let new_code = Task::new(move |_: &()| {
        let login = login.clone();
        async move {
            match api::login(&login).await {
                Ok(LoginAnswer::CodeRequired(challenge)) => {
                    mfa_token.set_value(challenge.mfa_token);
                    step.sent(
                        challenge.verification,
                        "We sent a new code to your phone.".to_owned(),
                    );
                }
                // Two-step sign-in was turned off meanwhile: the password is enough.
                Ok(LoginAnswer::Signed(tokens)) => {
                    on_signed.try_run(*tokens);
                }
                Err(e) if e.is_unauthorized() => {
                    on_restart.try_run(Some(e.message()));
                }
                Err(e) => step.resend_refused(&e),
            }
        }
    });

    let verifying = verify.pending();
    let submit = step.on_submit(verify);

    view! {
        <section class="code-step" aria-labelledby="two-step-title">
            <h2 id="two-step-title">"Two-step sign-in"</h2>
            <p>
                "Your password is right. This account also needs the 6-digit code we just sent by SMS to its verified phone number."
            </p>
            <TestNumberNotice show=test_number />
            <form on:submit=submit novalidate>
                <CodeFields step disabled=verifying autosubmit=true />
                <div class="actions">
                    <SubmitButton pending=verifying label="Sign in" busy_label="Signing in…" />
                    <ResendButton
                        step
                        pending=new_code.pending()
                        label="Send a new code"
                        on_click=Callback::new(move |_| new_code.dispatch(()))
                    />
                </div>
                <p class="muted small">
                    "A new code needs a new sign-in: “Send a new code” checks your password again and texts another code."
                </p>
                <div class="actions actions-secondary">
                    <button type="button" class="btn-link" on:click=move |_| on_restart.run(None)>
                        "Back to the password"
                    </button>
                </div>
            </form>
        </section>
    }
}
