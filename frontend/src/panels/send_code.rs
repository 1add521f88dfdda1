//! The first step of signing in with a code and of a password reset: the number (with its
//! country and the server's as-you-type verdict), then `POST /auth/sms/start`. The answer
//! is the same whether or not the number has an account, and so is what this shows.

use leptos::{html, prelude::*};
use phonereg_types::{SmsCodePurpose, SmsStartRequest, Verification, validation};

use crate::{
    api::{self, ApiError},
    components::{
        code_step::CodeStep,
        field::{SubmitButton, focus, sentence},
        phone_field::{PhoneField, phone_error},
    },
    lookup::{Lookup, phone_lookup},
    task::Task,
};

/// A code asked for: the number as sent and as shown, and the code's state.
#[derive(Clone, Debug, PartialEq)]
pub struct SentCode {
    pub number: String,
    pub region: String,
    /// The number as a person reads it (international format when the server knows it).
    pub shown: String,
    pub verification: Verification,
    /// A code was already live (the cool-down refused a new one): the user should enter
    /// that one.
    pub earlier: bool,
}

impl SentCode {
    /// The code step for this code; a code sent earlier is explained.
    pub fn step(&self) -> CodeStep {
        let step = CodeStep::new(Some(self.verification.clone()));
        if self.earlier {
            step.info.set(Some(
                "A code was sent a moment ago: enter it, or ask for a new one when the countdown ends."
                    .to_owned(),
            ));
        }
        step
    }

    /// "Resend code": `POST /auth/sms/start` again for the same number and purpose.
    pub fn resend(&self, purpose: SmsCodePurpose, step: CodeStep) -> Task<()> {
        let (body, shown) = (self.start(purpose), self.shown.clone());
        Task::new(move |_: &()| {
            let (body, shown) = (body.clone(), shown.clone());
            async move {
                match api::sms_start(&body).await {
                    Ok(state) => step.sent(
                        state,
                        format!("New code requested. It goes to {shown} if that is an account's verified number."),
                    ),
                    Err(e) => step.resend_refused(&e),
                }
            }
        })
    }

    /// The request that asks for another code to the same number.
    pub fn start(&self, purpose: SmsCodePurpose) -> SmsStartRequest {
        SmsStartRequest {
            phone_number: self.number.clone(),
            phone_region: Some(self.region.clone()),
            purpose,
            captcha_token: None,
        }
    }
}

/// "Use a different number": from a code step back to [`SendCodeForm`], which keeps what
/// was typed.
#[component]
pub fn DifferentNumber(on_click: Callback<()>) -> impl IntoView {
    view! {
        <div class="actions actions-secondary">
            <button type="button" class="btn-link" on:click=move |_| on_click.run(())>
                "Use a different number"
            </button>
        </div>
    }
}

#[component]
pub fn SendCodeForm(
    purpose: SmsCodePurpose,
    /// Kept by the page, so "Use a different number" comes back to what was typed.
    number: RwSignal<String>,
    region: RwSignal<String>,
    on_sent: Callback<SentCode>,
) -> impl IntoView {
    let lookup = phone_lookup(number.into(), region.into());
    let touched = RwSignal::new(false);
    let submitted = RwSignal::new(false);
    let server_error = RwSignal::new(None::<String>);
    let form_error = RwSignal::new(None::<String>);
    let input_ref = NodeRef::<html::Input>::new();

    let client_error = move || {
        number
            .with(|n| validation::check_phone_input(n).err().map(sentence))
            .or_else(|| lookup.with(Lookup::problem))
    };
    let shown_error = Signal::derive(move || {
        server_error.get().or_else(|| {
            (touched.get() || submitted.get())
                .then(client_error)
                .flatten()
        })
    });

    let send = Task::new(move |body: &SmsStartRequest| {
        let body = body.clone();
        let shown = lookup.with_untracked(|l| match l {
            Lookup::Done(p) => p.international.clone(),
            _ => None,
        });
        async move {
            let sent = |verification, earlier| SentCode {
                shown: shown.clone().unwrap_or_else(|| body.phone_number.clone()),
                number: body.phone_number.clone(),
                region: body.phone_region.clone().unwrap_or_default(),
                verification,
                earlier,
            };
            match api::sms_start(&body).await {
                Ok(verification) => {
                    on_sent.try_run(sent(verification, false));
                }
                Err(e) => match earlier_code(&e) {
                    // Asked again within the cool-down: the code sent then still works.
                    Some(verification) => {
                        on_sent.try_run(sent(verification, true));
                    }
                    None => match phone_error(&e) {
                        Some(message) => {
                            server_error.set(Some(message));
                            focus(input_ref);
                        }
                        None => form_error.set(Some(e.message())),
                    },
                },
            }
        }
    });
    let sending = send.pending();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        submitted.set(true);
        if client_error().is_some() || server_error.get_untracked().is_some() {
            focus(input_ref);
            return;
        }
        form_error.set(None);
        send.dispatch(SmsStartRequest {
            phone_number: number.get_untracked().trim().to_owned(),
            phone_region: Some(region.get_untracked()),
            purpose,
            captcha_token: None,
        });
    };

    view! {
        <form on:submit=submit novalidate>
            <PhoneField
                id="phone-number"
                label="Phone number"
                number
                region
                lookup
                error=shown_error
                disabled=sending
                hint="Your account's verified number. Pick the country, or type the number with its + country code."
                on_blur=Callback::new(move |_| touched.set(true))
                on_change=Callback::new(move |_| server_error.set(None))
                node_ref=input_ref
            />
            <p class="form-error" role="alert">{move || form_error.get()}</p>
            <SubmitButton pending=sending label="Text me a code" busy_label="Sending…" class="btn btn-primary btn-block" />
        </form>
    }
}

/// A 429 of the resend cool-down carries the live code's state: that code can be used.
fn earlier_code(e: &ApiError) -> Option<Verification> {
    e.problem()
        .filter(|p| p.status == 429)
        .and_then(|p| p.verification.clone())
        .filter(|v| v.attempts_remaining > 0)
}
