//! The first step of signing in with a code and of a password reset: the number (with its
//! country and the server's as-you-type verdict), then `POST /auth/sms/start`. The answer
//! is the same whether or not the number has an account, and so is what this shows.

use leptos::{ev::SubmitEvent, prelude::*};
use phonereg_types::{Channel, SmsCodePurpose, SmsStartRequest, Verification};

use crate::{
    api::{self, ApiError},
    components::{code_step::CodeStep, field::SubmitButton, phone_field::phone_error},
    panels::phone_entry::{PhoneEntry, PhoneEntryField},
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

    /// "Call me instead", "Send by WhatsApp": the live code again by `channel` (SPEC §13),
    /// told as guardedly as a resend.
    pub fn switch(&self, purpose: SmsCodePurpose, step: CodeStep) -> Task<Channel> {
        let (body, shown) = (self.start(purpose), self.shown.clone());
        Task::new(move |channel: &Channel| {
            let body = SmsStartRequest {
                channel: Some(*channel),
                ..body.clone()
            };
            let shown = shown.clone();
            async move {
                match api::sms_start(&body).await {
                    Ok(state) => step.sent(
                        state,
                        format!(
                            "Requested. It goes to {shown} if that is an account's verified number."
                        ),
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
            channel: None,
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
    let submitted = RwSignal::new(false);
    let entry = PhoneEntry::new(number, region, submitted);
    let form_error = RwSignal::new(None::<String>);
    let send = send_task(entry, form_error, on_sent);
    let sending = send.pending();

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if sending.get_untracked() {
            return;
        }
        submitted.set(true);
        if !entry.ready() {
            return;
        }
        form_error.set(None);
        let (phone_number, phone_region) = entry.typed();
        send.dispatch(SmsStartRequest {
            phone_number,
            phone_region: Some(phone_region),
            purpose,
            captcha_token: None,
            channel: None,
        });
    };

    view! {
        <form on:submit=submit novalidate>
            <PhoneEntryField
                entry
                id="phone-number"
                label="Phone number"
                disabled=sending
                hint="Your account's verified number. Pick the country, or type the number with its + country code."
            />
            <p class="form-error" role="alert">{move || form_error.get()}</p>
            <SubmitButton pending=sending label="Text me a code" busy_label="Sending…" class="btn btn-primary btn-block" />
        </form>
    }
}

/// `POST /auth/sms/start`; the code sent (or one sent a moment ago) goes to `on_sent`.
fn send_task(
    entry: PhoneEntry,
    form_error: RwSignal<Option<String>>,
    on_sent: Callback<SentCode>,
) -> Task<SmsStartRequest> {
    Task::new(move |body: &SmsStartRequest| {
        let body = body.clone();
        let shown = entry.international();
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
                        Some(message) => entry.refused(message),
                        None => form_error.set(Some(e.message())),
                    },
                },
            }
        }
    })
}

/// A 429 of the resend cool-down carries the live code's state: that code can be used.
fn earlier_code(e: &ApiError) -> Option<Verification> {
    e.problem()
        .filter(|p| p.status == 429)
        .and_then(|p| p.verification.clone())
        .filter(|v| v.attempts_remaining > 0)
}
