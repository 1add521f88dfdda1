//! The code step shared by registration, the dashboard and the management page: enter
//! the 6-digit SMS code, resend it (with the cool-down counting down), see the attempts
//! left, change the number, or leave it for later. A number verified on another account
//! is refused only here, after the right code (SPEC §10: no oracle before possession);
//! the way out is to sign in to that account with a code.

use leptos::prelude::*;
use phonereg_types::{Channel, Phone, ProblemType, Verification};

use crate::{
    api,
    components::{
        code_step::{CodeActions, CodeFields, CodeStep, TestNumberNotice, sent_by},
        phone_widget::LastMessageStatus,
    },
    paths::login_method,
    session::{Session, use_session},
    task::Task,
};

/// The number a verification texts: the pending replacement, else the record's own.
pub fn target_of(p: &Phone) -> String {
    p.pending_e164
        .clone()
        .unwrap_or_else(|| p.international.clone())
}

/// SPEC §10's words for the 409 `phone-taken` at verify.
pub const PHONE_TAKEN: &str =
    "This number is verified on another account. If it is yours, sign in with a code.";

#[component]
pub fn VerificationStep(
    /// The record to verify; the code went to [`target_of`] it.
    phone: Phone,
    /// The code's state when it was just sent (unknown when resuming later).
    initial: Option<Verification>,
    on_verified: Callback<Phone>,
    #[prop(optional)] on_change_number: Option<Callback<()>>,
    /// "Skip for now" during signup, "Later" elsewhere.
    dismiss_label: &'static str,
    on_dismiss: Callback<()>,
) -> impl IntoView {
    let session = use_session();
    let target = target_of(&phone);
    let test_number = initial.as_ref().is_some_and(|v| !v.sent);
    let step = CodeStep::new(initial);
    // The code was right but the number belongs to another account.
    let taken = RwSignal::new(false);
    let verify = verify_task(session, phone.id, step, taken, on_verified);
    let resend = resend_task(session, phone.id, target.clone(), step);
    let switch = switch_task(session, phone.id, target.clone(), step);
    // The code's SMS as the live stream keeps the record.
    let phone_id = phone.id;
    let message = Signal::derive(move || {
        session
            .phone()
            .filter(|p| p.id == phone_id)
            .and_then(|p| p.last_message)
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
            // What became of the code's SMS, as the API reports it (status, guidance,
            // error, who carried it), live. A number that replied STOP gets the API's
            // guidance to text START; "Change number" is the other way out.
            <section class="code-delivery" aria-label="Code delivery">
                <LastMessageStatus message />
            </section>
            <form on:submit=submit novalidate>
                <CodeFields step disabled=verifying autosubmit=true />
                <Show when=move || taken.get()>
                    <TakenNotice session />
                </Show>
                <CodeActions step pending=verifying label="Verify" busy_label="Verifying…" resend switch />
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

/// `POST /users/me/phone-numbers/{id}/verify`; a right code for a number another
/// account has verified sets `taken`.
fn verify_task(
    session: Session,
    phone_id: i64,
    step: CodeStep,
    taken: RwSignal<bool>,
    on_verified: Callback<Phone>,
) -> Task<String> {
    Task::new(move |code: &String| {
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
                Err(e) if e.is_problem(ProblemType::PhoneTaken) => {
                    step.digits.set(Default::default());
                    step.info.set(None);
                    step.error.set(Some(PHONE_TAKEN.to_owned()));
                    taken.set(true);
                }
                Err(e) => {
                    step.rejected(&e);
                }
            }
        }
    })
}

/// "Resend code": `POST /users/me/phone-numbers/{id}/verification`.
fn resend_task(session: Session, phone_id: i64, target: String, step: CodeStep) -> Task<()> {
    Task::new(move |_: &()| {
        let target = target.clone();
        async move {
            match session
                .call(|token| api::send_code(token, phone_id, None))
                .await
            {
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
    })
}

/// "Call me instead", "Send by WhatsApp": the live code again by `channel` (SPEC §13).
fn switch_task(session: Session, phone_id: i64, target: String, step: CodeStep) -> Task<Channel> {
    Task::new(move |channel: &Channel| {
        let (target, channel) = (target.clone(), *channel);
        async move {
            match session
                .call(|token| api::send_code(token, phone_id, Some(channel)))
                .await
            {
                Ok(state) => step.sent(state, sent_by(channel, &target)),
                Err(e) => step.resend_refused(&e),
            }
        }
    })
}

/// The way out of a `phone-taken`: sign in to the account that has the number.
#[component]
fn TakenNotice(session: Session) -> impl IntoView {
    // Signing in to the other account means leaving this one: sign out, then a fresh
    // load of the code sign-in (a client-side move would race the signed-in pages'
    // own redirect to the password sign-in).
    let switch_account = Task::new(move |_: &()| async move {
        session.logout().await;
        let _ = window().location().assign(&login_method(true, None));
    });
    view! {
        <p class="notice">
            // `external`: the router must not move first (see `switch_account`).
            <a
                href=login_method(true, None)
                rel="external"
                on:click=move |ev| {
                    ev.prevent_default();
                    switch_account.dispatch(());
                }
            >
                "Sign in with a code"
            </a>
            " to the account that has this number (you'll be signed out here first), or use a different number."
        </p>
    }
}
