//! The code step shared by registration, the dashboard and the management page: enter
//! the 6-digit SMS code, resend it (with the cool-down counting down), see the attempts
//! left, change the number, or leave it for later.

use leptos::prelude::*;
use phonereg_types::{Phone, Verification, validation};

use crate::{
    api,
    components::{
        code_input::{CodeDigits, CodeInput},
        field::sentence,
    },
    session::use_session,
    task::Task,
    time::{self, Clock},
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
    let clock = Clock::get();
    let digits = RwSignal::new(CodeDigits::default());
    let resend_at = RwSignal::new(
        initial
            .as_ref()
            .and_then(|v| time::parse_ms(&v.resend_after)),
    );
    let test_number = initial.as_ref().is_some_and(|v| !v.sent);
    let verification = RwSignal::new(initial);
    let error = RwSignal::new(None::<String>);
    let info = RwSignal::new(None::<String>);
    let focus_first = RwSignal::new(0_u32);

    let verify = Task::new(move |code: &String| {
        let code = code.clone();
        async move {
            let result = session
                .call(|token| api::verify(token, phone_id, code.clone()))
                .await;
            match result {
                Ok(phone) => {
                    error.set(None);
                    info.set(Some("Your number is verified.".to_owned()));
                    session.apply_phone(phone.clone());
                    on_verified.try_run(phone);
                }
                Err(e) => {
                    digits.set(CodeDigits::default());
                    focus_first.update(|n| *n += 1);
                    info.set(None);
                    let message = match e.status() {
                        Some(422) => match e.problem().and_then(|p| p.verification.clone()) {
                            Some(state) => {
                                let left = state.attempts_remaining;
                                verification.set(Some(state));
                                if left == 0 {
                                    "That code is not right and no attempts are left. Request a new code."
                                        .to_owned()
                                } else {
                                    e.message()
                                }
                            }
                            None => e
                                .field_errors()
                                .get("code")
                                .and_then(|m| m.first())
                                .map_or_else(|| e.message(), |m| sentence(m)),
                        },
                        Some(410) => {
                            verification.update(|v| {
                                if let Some(v) = v {
                                    v.attempts_remaining = 0;
                                }
                            });
                            "This code has expired or was used up. Request a new code.".to_owned()
                        }
                        _ => e.message(),
                    };
                    error.set(Some(message));
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
                    resend_at.set(time::parse_ms(&state.resend_after));
                    let sent = state.sent;
                    verification.set(Some(state));
                    digits.set(CodeDigits::default());
                    error.set(None);
                    info.set(Some(if sent {
                        format!("We sent a new code to {target}.")
                    } else {
                        "New code issued (test number: no SMS is sent).".to_owned()
                    }));
                    focus_first.update(|n| *n += 1);
                }
                Err(e) => {
                    if let Some(secs) = e.retry_after().filter(|_| e.status() == Some(429)) {
                        resend_at.set(Some(time::now_ms() + f64::from(secs) * 1000.0));
                    }
                    info.set(None);
                    error.set(Some(e.message()));
                }
            }
        }
    });

    let wait = move || {
        resend_at
            .get()
            .map_or(0, |t| time::seconds_until(t, clock.now()))
    };
    let verifying = verify.pending();
    let resending = resend.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if verifying.get_untracked() {
            return;
        }
        // The API's own rule and message; a malformed code never costs an attempt.
        let code = digits.with_untracked(CodeDigits::typed);
        match validation::check_code(&code) {
            Ok(()) => {
                error.set(None);
                verify.dispatch(code);
            }
            Err(message) => {
                error.set(Some(format!("The code {message}.")));
                focus_first.update(|n| *n += 1);
            }
        }
    };

    let attempts = move || {
        verification.with(|v| {
            v.as_ref().map(|v| match v.attempts_remaining {
                0 => "No attempts left on this code.".to_owned(),
                1 => "1 attempt left.".to_owned(),
                n => format!("{n} attempts left."),
            })
        })
    };
    let expiry = move || {
        verification.with(|v| {
            v.as_ref()
                .map(|v| match clock.seconds_until(&v.expires_at) {
                    0 => "This code has expired.".to_owned(),
                    secs => format!("The code expires in {}.", time::duration_words(secs)),
                })
        })
    };

    view! {
        <section class="card verify-step" aria-labelledby="verify-title">
            <h2 id="verify-title">"Verify your phone number"</h2>
            <p>
                "Enter the 6-digit code we sent by SMS to " <strong class="nowrap">{target}</strong> "."
            </p>
            {test_number.then(|| view! {
                <p class="notice">"This is a test number: no SMS is sent; use its fixed code."</p>
            })}
            <form on:submit=submit novalidate>
                <CodeInput
                    digits
                    disabled=verifying
                    invalid=Signal::derive(move || error.with(Option::is_some))
                    described_by="code-help code-error"
                    focus_first
                    autofocus=true
                />
                <p id="code-help" class="muted small">
                    {attempts} " " {expiry}
                </p>
                <p id="code-error" class="form-error" role="alert">{move || error.get()}</p>
                <p class="form-info" role="status">{move || info.get()}</p>
                <div class="actions">
                    <button
                        type="submit"
                        class="btn btn-primary"
                        prop:disabled=move || verifying.get()
                        aria-busy=move || if verifying.get() { "true" } else { "false" }
                    >
                        {move || if verifying.get() { "Verifying…" } else { "Verify" }}
                    </button>
                    <button
                        type="button"
                        class="btn"
                        prop:disabled=move || { resending.get() || wait() > 0 }
                        on:click=move |_| {
                            if !resending.get_untracked() {
                                resend.dispatch(());
                            }
                        }
                    >
                        {move || match (resending.get(), wait()) {
                            (true, _) => "Sending a new code…".to_owned(),
                            (false, 0) => "Resend code".to_owned(),
                            (false, secs) => format!("Resend code in {}", time::countdown(secs)),
                        }}
                    </button>
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
