//! The code step shared by registration, the dashboard and the management page: enter
//! the 6-digit SMS code, resend it (with the cool-down counting down), see the attempts
//! left, change the number, or leave it for later.

use leptos::prelude::*;
use phonereg_types::{Phone, Verification};

use crate::{
    api,
    components::{
        code_step::{CodeFields, CodeStep, ResendButton, TestNumberNotice},
        field::SubmitButton,
    },
    session::use_session,
    task::Task,
};

#[component]
pub fn VerificationStep(
    phone_id: i64,
    /// The number the code went to, as shown to the user.
    target: String,
    /// The code's state when it was just sent (unknown when resuming later).
    initial: Option<Verification>,
    on_verified: Callback<Phone>,
    #[prop(optional)] on_change_number: Option<Callback<()>>,
    /// "Skip for now" during signup, "Later" elsewhere.
    dismiss_label: &'static str,
    on_dismiss: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let test_number = initial.as_ref().is_some_and(|v| !v.sent);
    let step = CodeStep::new(initial);

    let verify = Task::new(move |code: &String| {
        let code = code.clone();
        async move {
            let result = session
                .call(|token| api::verify(token, phone_id, code.clone()))
                .await;
            match result {
                Ok(phone) => {
                    step.error.set(None);
                    step.info.set(Some("Your number is verified.".to_owned()));
                    session.apply_phone(phone.clone());
                    on_verified.try_run(phone);
                }
                Err(e) => {
                    step.rejected(&e);
                }
            }
        }
    });

    let target_for_resend = target.clone();
    let resend = Task::new(move |_: &()| {
        let target = target_for_resend.clone();
        async move {
            match session.call(|token| api::send_code(token, phone_id)).await {
                Ok(state) => {
                    let info = if state.sent {
                        format!("We sent a new code to {target}.")
                    } else {
                        "New code issued (test number: no SMS is sent).".to_owned()
                    };
                    step.sent(state, info);
                }
                Err(e) => step.resend_refused(&e),
            }
        }
    });

    let verifying = verify.pending();
    let submit = step.on_submit(verify);

    view! {
        <section class="card verify-step" aria-labelledby="verify-title">
            <h2 id="verify-title">"Verify your phone number"</h2>
            <p>
                "Enter the 6-digit code we sent by SMS to " <strong class="nowrap">{target}</strong> "."
            </p>
            <TestNumberNotice show=test_number />
            <form on:submit=submit novalidate>
                <CodeFields step disabled=verifying autosubmit=true />
                <div class="actions">
                    <SubmitButton pending=verifying label="Verify" busy_label="Verifying…" />
                    <ResendButton
                        step
                        pending=resend.pending()
                        on_click=Callback::new(move |_| resend.dispatch(()))
                    />
                </div>
                <div class="actions actions-secondary">
                    {on_change_number.map(|cb| view! {
                        <button type="button" class="btn-link" on:click=move |_| cb.run(())>
                            "Change number"
                        </button>
                    })}
                    <button type="button" class="btn-link" on:click=move |_| on_dismiss.run(())>
                        {dismiss_label}
                    </button>
                </div>
            </form>
        </section>
    }
}
