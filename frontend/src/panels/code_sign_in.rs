//! The code step of "Sign in with a code": `POST /auth/sms/sign-in` with the number and
//! the code, a resend (`POST /auth/sms/start` again, after the cool-down), and the one
//! answer that needs the password: an account with two-step sign-in on (401
//! `password-required`).

use leptos::prelude::*;
use leptos_router::components::A;
use phonereg_types::{ProblemType, SmsCodePurpose, SmsSignInRequest, TokenResponse};

use crate::{
    api,
    components::code_step::{CodeActions, CodeFields, TestNumberNotice},
    panels::send_code::{DifferentNumber, SentCode},
    task::Task,
};

#[component]
pub fn CodeSignInStep(
    sent: SentCode,
    on_signed: Callback<TokenResponse>,
    on_change_number: Callback<()>,
    /// `/login` with the password form (keeping `next`).
    password_href: String,
) -> impl IntoView {
    let test_number = !sent.verification.sent;
    let step = sent.step();
    // The API's answer once the code was right but the account wants its password too.
    let needs_password = RwSignal::new(false);

    let (number, region) = (sent.number.clone(), sent.region.clone());
    let sign_in = Task::new(move |code: &String| {
        let body = SmsSignInRequest {
            phone_number: number.clone(),
            phone_region: Some(region.clone()),
            code: code.clone(),
        };
        needs_password.set(false);
        async move {
            match api::sms_sign_in(&body).await {
                Ok(tokens) => {
                    on_signed.try_run(tokens);
                }
                Err(e) if e.is_problem(ProblemType::PasswordRequired) => {
                    step.digits.set(Default::default());
                    step.error.set(Some(
                        "This account uses two-step sign-in: sign in with your password."
                            .to_owned(),
                    ));
                    needs_password.set(true);
                }
                Err(e) => {
                    step.rejected(&e);
                }
            }
        }
    });

    let resend = sent.resend(SmsCodePurpose::SignIn, step);
    let switch = sent.switch(SmsCodePurpose::SignIn, step);

    let signing_in = sign_in.pending();
    let submit = step.on_submit(sign_in);

    view! {
        <section class="code-step" aria-labelledby="code-title">
            <h2 id="code-title">"Enter your code"</h2>
            <p>
                "If " <strong class="nowrap">{sent.shown}</strong>
                " is the verified number of a PhoneReg account, we have sent it a 6-digit code."
            </p>
            <TestNumberNotice show=test_number />
            <form on:submit=submit novalidate>
                <CodeFields step disabled=signing_in autosubmit=true />
                <Show when=move || needs_password.get()>
                    <p class="notice">
                        "A code alone is not enough for this account. "
                        <A href=password_href.clone()>"Sign in with your password"</A>
                        ", then enter the code we text you."
                    </p>
                </Show>
                <CodeActions step pending=signing_in label="Sign in" busy_label="Signing in…" resend switch />
                <DifferentNumber on_click=on_change_number />
            </form>
        </section>
    }
}
