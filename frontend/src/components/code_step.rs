//! What every code step shares (verifying a number, signing in with a code, a password
//! reset, two-step sign-in, turning it off): the typed digits, the code's state as the
//! API last reported it (attempts left, expiry, when a new one may be sent), and the
//! messages; the boxes with their explanations, and the resend button's countdown.

use leptos::{ev::SubmitEvent, prelude::*};
use phonereg_types::{Channel, Verification, validation};

use crate::{
    api::ApiError,
    components::{
        code_input::{CodeDigits, CodeInput},
        field::SubmitButton,
    },
    task::Task,
    time::{self, Clock},
};

/// The state of one code step; cheap to copy.
#[derive(Clone, Copy)]
pub struct CodeStep {
    pub digits: RwSignal<CodeDigits>,
    /// The code's state as the API last reported it (unknown when resuming later).
    pub verification: RwSignal<Option<Verification>>,
    /// When a new code may be asked for (ms, server clock).
    pub resend_at: RwSignal<Option<f64>>,
    pub error: RwSignal<Option<String>>,
    pub info: RwSignal<Option<String>>,
    /// Bumped to move focus back to the first box.
    pub focus_first: RwSignal<u32>,
}

/// How the API answered a code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// Wrong, with this many tries left (0: the code is dead).
    Wrong(i64),
    /// 410: expired, used up or used already.
    Gone,
    /// Anything else (malformed, rate limited, offline…).
    Other,
}

impl CodeStep {
    pub fn new(initial: Option<Verification>) -> Self {
        CodeStep {
            digits: RwSignal::new(CodeDigits::default()),
            resend_at: RwSignal::new(
                initial
                    .as_ref()
                    .and_then(|v| time::parse_ms(&v.resend_after)),
            ),
            verification: RwSignal::new(initial),
            error: RwSignal::new(None),
            info: RwSignal::new(None),
            focus_first: RwSignal::new(0),
        }
    }

    /// The typed code when it has the API's shape; else says what is wrong and goes back
    /// to the boxes (a malformed code never costs an attempt).
    pub fn code(self) -> Option<String> {
        let code = self.digits.with_untracked(CodeDigits::typed);
        match validation::check_code(&code) {
            Ok(()) => {
                self.error.set(None);
                Some(code)
            }
            Err(message) => {
                self.error.set(Some(format!("The code {message}.")));
                self.focus_again();
                None
            }
        }
    }

    /// A new code went out (`info` says so).
    pub fn sent(self, verification: Verification, info: String) {
        self.resend_at
            .set(time::parse_ms(&verification.resend_after));
        self.verification.set(Some(verification));
        self.digits.set(CodeDigits::default());
        self.error.set(None);
        self.info.set(Some(info));
        self.focus_again();
    }

    /// The API refused the code: the boxes are emptied for the next try, the state and
    /// the message updated. Callers act on the returned kind (e.g. a dead login code).
    pub fn rejected(self, e: &ApiError) -> Rejection {
        self.digits.set(CodeDigits::default());
        self.info.set(None);
        let (kind, message) = rejection(e);
        match &kind {
            Rejection::Wrong(_) => {
                if let Some(state) = e.problem().and_then(|p| p.verification.clone()) {
                    self.verification.set(Some(state));
                }
            }
            Rejection::Gone => self.verification.update(|v| {
                if let Some(v) = v {
                    v.attempts_remaining = 0;
                }
            }),
            Rejection::Other => {}
        }
        self.error.set(Some(message));
        self.focus_again();
        kind
    }

    /// Asking for a new code failed; a 429 counts down to when it may be asked again.
    pub fn resend_refused(self, e: &ApiError) {
        if let Some(secs) = e.retry_after().filter(|_| e.status() == Some(429)) {
            self.resend_at
                .set(Some(time::now_ms() + f64::from(secs) * 1000.0));
        }
        self.info.set(None);
        self.error.set(Some(e.message()));
    }

    /// The submit handler of a form whose only input is the code: a well-formed code
    /// goes to `task` (unless it is already running).
    pub fn on_submit(self, task: Task<String>) -> impl Fn(SubmitEvent) + Copy + 'static {
        move |ev: SubmitEvent| {
            ev.prevent_default();
            if task.pending().get_untracked() {
                return;
            }
            if let Some(code) = self.code() {
                task.dispatch(code);
            }
        }
    }

    /// Seconds until a new code may be asked for (tracked: ticks with the clock).
    pub fn wait(self, clock: Clock) -> u32 {
        self.resend_at
            .get()
            .map_or(0, |t| time::seconds_until(t, clock.now()))
    }

    /// The other channels that may carry the live code (SPEC §13: `verification.channels`
    /// after the first, which is how a new code goes) and when each opens (ms, server
    /// clock); tracked.
    pub fn other_channels(self) -> Vec<(Channel, Option<f64>)> {
        self.verification.with(|v| {
            v.iter()
                .flat_map(|v| v.channels.iter().skip(1))
                .map(|o| (o.channel, time::parse_ms(&o.available_at)))
                .collect()
        })
    }

    fn focus_again(self) {
        self.focus_first.update(|n| *n += 1);
    }
}

/// What a refused code means and the sentence to show.
pub fn rejection(e: &ApiError) -> (Rejection, String) {
    match e.status() {
        Some(422) => match e.problem().and_then(|p| p.verification.as_ref()) {
            Some(state) if state.attempts_remaining == 0 => (
                Rejection::Wrong(0),
                "That code is not right and no attempts are left. Request a new code.".to_owned(),
            ),
            Some(state) => (Rejection::Wrong(state.attempts_remaining), e.message()),
            None => (
                Rejection::Other,
                e.field_errors()
                    .get("code")
                    .and_then(|m| m.first())
                    .map_or_else(|| e.message(), |m| format!("The code {m}.")),
            ),
        },
        Some(410) => (
            Rejection::Gone,
            "This code has expired or was used up. Request a new code.".to_owned(),
        ),
        _ => (Rejection::Other, e.message()),
    }
}

/// The boxes, what is known about the code, and the step's messages. The ids are fixed:
/// one code step is on screen at a time.
#[component]
pub fn CodeFields(
    step: CodeStep,
    #[prop(into)] disabled: Signal<bool>,
    /// Submit the form when the browser fills the code (WebOTP).
    #[prop(optional)]
    autosubmit: bool,
) -> impl IntoView {
    let clock = Clock::get();
    let attempts = move || {
        step.verification.with(|v| {
            v.as_ref().map(|v| match v.attempts_remaining {
                0 => "No attempts left on this code.".to_owned(),
                1 => "1 attempt left.".to_owned(),
                n => format!("{n} attempts left."),
            })
        })
    };
    let expiry = move || {
        step.verification.with(|v| {
            v.as_ref()
                .map(|v| match clock.seconds_until(&v.expires_at) {
                    0 => "This code has expired.".to_owned(),
                    secs => format!("The code expires in {}.", time::duration_words(secs)),
                })
        })
    };
    view! {
        <CodeInput
            digits=step.digits
            disabled
            invalid=Signal::derive(move || step.error.with(Option::is_some))
            described_by="code-help code-error"
            focus_first=step.focus_first
            autofocus=true
            autosubmit
        />
        <p id="code-help" class="muted small">
            {attempts} " " {expiry}
        </p>
        <p id="code-error" class="form-error" role="alert">{move || step.error.get()}</p>
        <p class="form-info" role="status">{move || step.info.get()}</p>
    }
}

/// Shown when the code went to a configured test number (`sent: false`).
#[component]
pub fn TestNumberNotice(show: bool) -> impl IntoView {
    show.then(|| {
        view! { <p class="notice">"This is a test number: no SMS is sent; use its fixed code."</p> }
    })
}

/// "Resend code", counting down to when the API allows a new one; `task` asks for it.
#[component]
pub fn ResendButton(
    step: CodeStep,
    task: Task<()>,
    /// "Resend code", or "Send a new code" where that means more than a resend.
    #[prop(default = "Resend code")]
    label: &'static str,
) -> impl IntoView {
    let clock = Clock::get();
    let wait = move || step.wait(clock);
    let pending = task.pending();
    view! {
        <button
            type="button"
            class="btn"
            prop:disabled=move || { pending.get() || wait() > 0 }
            aria-busy=move || if pending.get() { "true" } else { "false" }
            on:click=move |_| {
                if !pending.get_untracked() {
                    task.dispatch(());
                }
            }
        >
            {move || match (pending.get(), wait()) {
                (true, _) => "Sending a new code…".to_owned(),
                (false, 0) => label.to_owned(),
                (false, secs) => format!("{label} in {}", time::countdown(secs)),
            }}
        </button>
    }
}

/// What the button that sends the live code by `channel` says.
fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Voice => "Call me instead",
        Channel::Whatsapp => "Send by WhatsApp",
        Channel::Sms => "Text me instead",
    }
}

/// What the step says once the live code went out again by `channel` to `to`.
pub fn sent_by(channel: Channel, to: &str) -> String {
    match channel {
        Channel::Voice => format!("We are calling {to} to say the code."),
        Channel::Whatsapp => format!("We sent the code by WhatsApp to {to}."),
        Channel::Sms => format!("We sent the code by SMS to {to}."),
    }
}

/// "Call me instead", "Send by WhatsApp": the live code again by each channel the API
/// offers for it (SPEC §13), counting down to when it opens; `task` asks for it. Nothing
/// when the API offers no other channel.
#[component]
pub fn ChannelButtons(step: CodeStep, task: Task<Channel>) -> impl IntoView {
    let clock = Clock::get();
    let pending = task.pending();
    move || {
        step.other_channels()
            .into_iter()
            .map(|(channel, opens)| {
                let label = channel_label(channel);
                let wait = move || opens.map_or(0, |t| time::seconds_until(t, clock.now()));
                view! {
                    <button
                        type="button"
                        class="btn"
                        data-channel=channel.as_str()
                        prop:disabled=move || { pending.get() || wait() > 0 }
                        on:click=move |_| {
                            if !pending.get_untracked() {
                                task.dispatch(channel);
                            }
                        }
                    >
                        {move || match (pending.get(), wait()) {
                            (true, _) => "Sending…".to_owned(),
                            (false, 0) => label.to_owned(),
                            (false, secs) => format!("{label} in {}", time::countdown(secs)),
                        }}
                    </button>
                }
            })
            .collect_view()
    }
}

/// A code step's buttons: the form's submit, the resend beside it, and the other
/// channels where the step can ask for them (`switch`).
#[component]
pub fn CodeActions(
    step: CodeStep,
    /// The submit's request is running.
    #[prop(into)]
    pending: Signal<bool>,
    label: &'static str,
    busy_label: &'static str,
    resend: Task<()>,
    #[prop(default = "Resend code")] resend_label: &'static str,
    /// Sends the live code by another channel.
    #[prop(optional)]
    switch: Option<Task<Channel>>,
) -> impl IntoView {
    view! {
        <div class="actions">
            <SubmitButton pending label busy_label />
            <ResendButton step task=resend label=resend_label />
            {switch.map(|task| view! { <ChannelButtons step task /> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_answers::refusal;

    #[test]
    fn a_wrong_code_reports_the_attempts_left() {
        let e = refusal(422, "That code is not right. 4 attempts left.")
            .attempts_left(4)
            .error();
        assert_eq!(
            rejection(&e),
            (
                Rejection::Wrong(4),
                "That code is not right. 4 attempts left.".to_owned()
            )
        );
        let (kind, message) = rejection(&refusal(422, "").attempts_left(0).error());
        assert_eq!(kind, Rejection::Wrong(0));
        assert!(message.contains("no attempts are left"));
    }

    #[test]
    fn a_dead_code_asks_for_a_new_one() {
        let (kind, message) = rejection(&refusal(410, "gone").error());
        assert_eq!(kind, Rejection::Gone);
        assert!(message.contains("Request a new code"));
    }

    #[test]
    fn a_field_error_on_the_code_reads_as_a_sentence() {
        let e = refusal(422, "One or more fields are invalid.")
            .field_error("code", "must be exactly 6 digits")
            .error();
        assert_eq!(
            rejection(&e),
            (
                Rejection::Other,
                "The code must be exactly 6 digits.".to_owned()
            )
        );
    }
}
