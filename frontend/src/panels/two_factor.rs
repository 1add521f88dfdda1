//! "Two-step sign-in" (SPEC §8): the switch shows `user.two_factor`; flipping it opens a
//! form instead of acting at once. On needs the password (and a verified number: 409
//! says where to get one); off needs the password and a code texted for the purpose
//! (`POST /users/me/two-factor/code`), then `PUT /users/me/two-factor`. Turning it on
//! answers with the recovery codes, handed to `on_codes` to be shown once.

use leptos::{ev::SubmitEvent, html, prelude::*};
use leptos_router::components::A;
use phonereg_types::{Channel, PhoneStatus, TwoFactorRequest, validation};

use crate::{
    api::{self, ApiError},
    components::{
        code_step::{ChannelButtons, CodeFields, CodeStep, ResendButton, sent_by},
        field::{SubmitButton, TextField, sentence},
        password_check::PasswordCheck,
        subform::Subform,
    },
    paths::{Page, action, with_action},
    session::{Session, use_session},
    task::Task,
};

/// The form under the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    Closed,
    TurnOn,
    TurnOff,
}

#[component]
pub fn TwoFactorCard(
    /// The recovery codes of a switch just turned on.
    on_codes: Callback<Vec<String>>,
) -> impl IntoView {
    let session = use_session();
    let on = Memo::new(move |_| session.user().is_some_and(|u| u.two_factor));
    let number = Memo::new(move |_| {
        session
            .phone()
            .filter(|p| p.status == PhoneStatus::Verified)
            .map(|p| p.international)
    });
    let form = RwSignal::new(Form::Closed);
    let flash = RwSignal::new(None::<String>);
    let switch_ref = NodeRef::<html::Button>::new();

    let close = Callback::new(move |message: Option<String>| {
        form.set(Form::Closed);
        if message.is_some() {
            flash.set(message);
        }
        if let Some(button) = switch_ref.get_untracked() {
            let _ = button.focus();
        }
    });

    let state = move || {
        match (on.get(), number.get()) {
            (true, Some(n)) => format!("On. Signing in with your password also needs a code we text to {n}."),
            (true, None) => "On.".to_owned(),
            (false, Some(n)) => format!("Off. Turn it on and signing in with your password will also need a code we text to {n}."),
            (false, None) => "Off. It needs a verified phone number: each password sign-in then also needs a code texted to it.".to_owned(),
        }
    };

    view! {
        <section class="card" aria-labelledby="two-factor-title">
            <div class="card-head">
                <h2 id="two-factor-title">"Two-step sign-in"</h2>
                <button
                    type="button"
                    role="switch"
                    class="toggle"
                    aria-checked=move || if on.get() { "true" } else { "false" }
                    aria-labelledby="two-factor-title"
                    aria-describedby="two-factor-state"
                    aria-controls="two-factor-form"
                    node_ref=switch_ref
                    on:click=move |_| {
                        flash.set(None);
                        form.set(match (form.get_untracked(), on.get_untracked()) {
                            (Form::Closed, false) => Form::TurnOn,
                            (Form::Closed, true) => Form::TurnOff,
                            _ => Form::Closed,
                        });
                    }
                >
                    <span class="toggle-track" aria-hidden="true"><span class="toggle-thumb"></span></span>
                    <span class="toggle-text" aria-hidden="true">{move || if on.get() { "On" } else { "Off" }}</span>
                </button>
            </div>
            <p id="two-factor-state" class="muted">{state}</p>
            <p class="flash" role="status">{move || flash.get()}</p>
            <div id="two-factor-form">
                {move || match form.get() {
                    Form::Closed => None,
                    Form::TurnOn => Some(view! { <TurnOnForm close on_codes /> }.into_any()),
                    Form::TurnOff => Some(view! { <TurnOffForm number=number.get_untracked() close /> }.into_any()),
                }}
            </div>
        </section>
    }
}

/// The client-side rule of the password both forms start with.
fn password_required(value: &str) -> Option<String> {
    value.is_empty().then(|| sentence(validation::REQUIRED))
}

#[component]
fn TurnOnForm(close: Callback<Option<String>>, on_codes: Callback<Vec<String>>) -> impl IntoView {
    let session = use_session();
    let password = PasswordCheck::new(password_required).focus_when_shown();
    // 409: no verified number. Where to get one depends on whether there is a number.
    let needs_number = RwSignal::new(false);
    let form_error = RwSignal::new(None::<String>);

    let turn_on = Task::new(move |password_text: &String| {
        let body = TwoFactorRequest {
            enabled: true,
            password: password_text.clone(),
            code: None,
        };
        async move {
            match set_switch(session, body).await {
                Ok(codes) => {
                    close.run(Some(
                        "Two-step sign-in is on. Next time you sign in with your password we'll also text you a code."
                            .to_owned(),
                    ));
                    if let Some(codes) = codes {
                        on_codes.run(codes);
                    }
                }
                Err(e) => {
                    needs_number.set(e.status() == Some(409));
                    refused(&e, password, form_error);
                }
            }
        }
    });
    let pending = turn_on.pending();
    let submit = password.on_submit(turn_on, form_error);

    view! {
        <Subform title_id="turn-on-title" title="Turn on two-step sign-in"
            on_close=Callback::new(move |_| close.run(None))>
            <p>"Confirm it's you with your password."</p>
            <form on:submit=submit novalidate>
                <SwitchPassword password pending />
                <div class="form-error" role="alert">
                    {move || form_error.get()}
                    <Show when=move || needs_number.get()>
                        " " <VerifiedNumberLink />
                    </Show>
                </div>
                <div class="actions">
                    <SubmitButton pending=pending label="Turn on" busy_label="Turning on…" />
                    <button type="button" class="btn" on:click=move |_| close.run(None)>"Cancel"</button>
                </div>
            </form>
        </Subform>
    }
}

/// The password field of both forms.
#[component]
fn SwitchPassword(password: PasswordCheck, pending: Signal<bool>) -> impl IntoView {
    view! {
        <TextField id="two-factor-password" label="Password" state=password.state input_type="password"
            error=password.error autocomplete="current-password" disabled=pending
            node_ref=password.node_ref />
    }
}

/// Where to get the verified number two-step sign-in needs: add one, or verify the one
/// there is.
#[component]
fn VerifiedNumberLink() -> impl IntoView {
    let session = use_session();
    move || {
        let (href, label) = match session.phone() {
            None => (
                with_action(Page::PhoneManagement, action::ADD),
                "Add a phone number",
            ),
            Some(_) => (
                with_action(Page::PhoneManagement, action::VERIFY),
                "Verify your phone number",
            ),
        };
        view! { <A href=href>{label}</A> }
    }
}

#[component]
fn TurnOffForm(
    /// The verified number the code goes to.
    number: Option<String>,
    close: Callback<Option<String>>,
) -> impl IntoView {
    let session = use_session();
    let password = PasswordCheck::new(password_required).focus_when_shown();
    let form_error = RwSignal::new(None::<String>);
    let step = CodeStep::new(None);
    let code_sent = RwSignal::new(false);
    let number = number.unwrap_or_else(|| "your verified number".to_owned());
    let send_code = send_code_task(session, number.clone(), step, code_sent, form_error);
    let switch = switch_task(session, number.clone(), step);

    let turn_off = Task::new(move |(password_text, code): &(String, String)| {
        let body = TwoFactorRequest {
            enabled: false,
            password: password_text.clone(),
            code: Some(code.clone()),
        };
        async move {
            match set_switch(session, body).await {
                Ok(_) => {
                    close.run(Some(
                        "Two-step sign-in is off. Your password alone signs you in.".to_owned(),
                    ));
                }
                // The password is checked first: the code is still good.
                Err(e) if e.is_unauthorized() => refused(&e, password, form_error),
                Err(e) => {
                    step.rejected(&e);
                }
            }
        }
    });

    let sending = send_code.pending();
    let pending = turn_off.pending();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if pending.get_untracked() || sending.get_untracked() {
            return;
        }
        let Some(password_text) = password.submitted() else {
            return;
        };
        if !code_sent.get_untracked() {
            send_code.dispatch(());
        } else if let Some(code) = step.code() {
            turn_off.dispatch((password_text, code));
        }
    };

    view! {
        <Subform title_id="turn-off-title" title="Turn off two-step sign-in"
            on_close=Callback::new(move |_| close.run(None))>
            <p>"Confirm it's you with your password and a code we text to " <strong class="nowrap">{number}</strong> "."</p>
            <form on:submit=submit novalidate>
                <SwitchPassword password pending />
                <Show when=move || code_sent.get()>
                    <CodeFields step disabled=pending autosubmit=true />
                </Show>
                <p class="form-error" role="alert">{move || form_error.get()}</p>
                <TurnOffActions step code_sent pending send_code switch close />
            </form>
        </Subform>
    }
}

/// `POST /users/me/two-factor/code`: the code that turning off needs, to `target`.
fn send_code_task(
    session: Session,
    target: String,
    step: CodeStep,
    code_sent: RwSignal<bool>,
    form_error: RwSignal<Option<String>>,
) -> Task<()> {
    Task::new(move |_: &()| {
        let target = target.clone();
        async move {
            match session.call(|t| api::two_factor_code(t, None)).await {
                Ok(state) => {
                    let info = if state.sent {
                        format!("We sent a code to {target}.")
                    } else {
                        "Code issued (test number: no SMS is sent).".to_owned()
                    };
                    code_sent.set(true);
                    form_error.set(None);
                    step.sent(state, info);
                }
                Err(e) if code_sent.get_untracked() => step.resend_refused(&e),
                Err(e) => form_error.set(Some(e.message())),
            }
        }
    })
}

/// "Call me instead", "Send by WhatsApp": the live code again by `channel` (SPEC §13).
fn switch_task(session: Session, target: String, step: CodeStep) -> Task<Channel> {
    Task::new(move |channel: &Channel| {
        let (target, channel) = (target.clone(), *channel);
        async move {
            match session
                .call(|t| api::two_factor_code(t, Some(channel)))
                .await
            {
                Ok(state) => step.sent(state, sent_by(channel, &target)),
                Err(e) => step.resend_refused(&e),
            }
        }
    })
}

/// "Text me a code" first; once it went out, "Turn off", the resend and the other
/// channels.
#[component]
fn TurnOffActions(
    step: CodeStep,
    code_sent: RwSignal<bool>,
    pending: Signal<bool>,
    send_code: Task<()>,
    switch: Task<Channel>,
    close: Callback<Option<String>>,
) -> impl IntoView {
    let sending = send_code.pending();
    view! {
        <div class="actions">
            <Show
                when=move || code_sent.get()
                fallback=move || view! {
                    <SubmitButton pending=sending label="Text me a code" busy_label="Sending…" />
                }
            >
                <SubmitButton pending=pending label="Turn off" busy_label="Turning off…" class="btn btn-danger" />
                <ResendButton step task=send_code />
                <ChannelButtons step task=switch />
            </Show>
            <button type="button" class="btn" on:click=move |_| close.run(None)>"Cancel"</button>
        </div>
    }
}

/// `PUT /users/me/two-factor`, and the session's user follows; the recovery codes of a
/// switch just turned on come back.
async fn set_switch(
    session: Session,
    body: TwoFactorRequest,
) -> Result<Option<Vec<String>>, ApiError> {
    let answer = session
        .call_with_password(|t| api::set_two_factor(t, body.clone()))
        .await?;
    session.set_two_factor(answer.enabled);
    let left = match (&answer.recovery_codes, answer.enabled) {
        (Some(codes), _) => i64::try_from(codes.len()).unwrap_or(0),
        (None, false) => 0,
        (None, true) => session
            .user_untracked()
            .map_or(0, |u| u.recovery_codes_left),
    };
    session.set_recovery_codes_left(left);
    Ok(answer.recovery_codes)
}

/// A refused switch: a wrong password (401) under the password field, anything else
/// above the buttons.
fn refused(e: &ApiError, password: PasswordCheck, form_error: RwSignal<Option<String>>) {
    if e.is_unauthorized() {
        password.refused(e.message());
        form_error.set(None);
    } else {
        form_error.set(Some(e.message()));
    }
}
