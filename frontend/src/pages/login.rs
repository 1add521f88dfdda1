//! `/login` — "Sign in" with the email and password (then the code step when the account
//! has two-step sign-in on), or, with `?method=code`, "Sign in with a code" texted to the
//! account's verified number; then back to the page that asked (`?next=`).

use leptos::{html, prelude::*};
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_query_map},
};
use phonereg_types::{LoginRequest, MfaRequired, SmsCodePurpose, TokenResponse, validation};

use crate::{
    api::{self, LoginAnswer},
    components::{
        field::{FieldState, TextField, focus, sentence},
        phone_field::DEFAULT_COUNTRY,
    },
    pages::set_title,
    panels::{
        code_sign_in::CodeSignInStep,
        send_code::{SendCodeForm, SentCode},
        two_step::TwoStepCode,
    },
    paths::{METHOD_CODE, Page, login_method, notice, replace, safe_next},
    session::{Status, use_session},
    task::Task,
    time::{self, Clock},
};

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let query = use_query_map();
    let next_param = Memo::new(move |_| query.read().get("next"));
    let next = Memo::new(move |_| safe_next(next_param.get().as_deref()));
    let navigate = use_navigate();

    // Signed in already (a reload restored the session, or sign-in just succeeded).
    Effect::new(move |_| {
        if session.status() == Status::SignedIn {
            navigate(&next.get_untracked(), replace());
        }
    });

    let with_code = Memo::new(move |_| query.read().get_str("method") == Some(METHOD_CODE));
    let on_signed = Callback::new(move |tokens: TokenResponse| session.sign_in(tokens));
    move || {
        if with_code.get() {
            view! { <CodeSignIn next_param on_signed /> }.into_any()
        } else {
            let notice = query
                .read_untracked()
                .get_str("notice")
                .and_then(notice::text);
            view! { <PasswordSignIn next_param on_signed notice /> }.into_any()
        }
    }
}

/// Which step of the password sign-in is on screen.
#[derive(Clone)]
enum Step {
    Password,
    TwoStep {
        challenge: MfaRequired,
        login: LoginRequest,
    },
}

#[component]
fn PasswordSignIn(
    next_param: Memo<Option<String>>,
    on_signed: Callback<TokenResponse>,
    /// A fixed message from the flow that ended here (`?notice=`).
    notice: Option<&'static str>,
) -> impl IntoView {
    set_title("Sign in");
    let step = RwSignal::new(Step::Password);
    let form = PasswordLogin::new(step, on_signed);
    let on_restart = Callback::new(move |reason: Option<String>| {
        form.form_error.set(reason);
        step.set(Step::Password);
        request_animation_frame(move || form.focus_password());
    });

    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="login-title">
                <h1 id="login-title">"Sign in"</h1>
                {notice.map(|text| view! { <p class="form-info" role="status">{text}</p> })}
                {move || match step.get() {
                    Step::Password => view! { <PasswordStep form next_param /> }.into_any(),
                    Step::TwoStep { challenge, login } => view! {
                        <TwoStepCode challenge login on_signed on_restart />
                    }
                    .into_any(),
                }}
                <p class="switch">
                    "New to PhoneReg? " <A href=Page::Register.path()>"Create an account"</A>
                </p>
            </section>
        </main>
    }
}

/// The email and password form's state and its request. It outlives the form (kept by
/// [`PasswordSignIn`]), so "Back to the password" finds what was typed.
#[derive(Clone, Copy)]
struct PasswordLogin {
    email: FieldState,
    password: FieldState,
    submitted: RwSignal<bool>,
    form_error: RwSignal<Option<String>>,
    /// A 429's `Retry-After` (too many sign-ins, or a code texted moments ago): the button
    /// counts down instead of inviting another refusal.
    retry_at: RwSignal<Option<f64>>,
    email_ref: NodeRef<html::Input>,
    password_ref: NodeRef<html::Input>,
    email_error: Signal<Option<String>>,
    password_error: Signal<Option<String>>,
    task: Task<LoginRequest>,
}

impl PasswordLogin {
    fn new(step: RwSignal<Step>, on_signed: Callback<TokenResponse>) -> Self {
        let email = FieldState::new();
        let password = FieldState::new();
        let submitted = RwSignal::new(false);
        let form_error = RwSignal::new(use_session().notice().get_untracked());
        let retry_at = RwSignal::new(None::<f64>);
        let password_ref = NodeRef::<html::Input>::new();
        let task = Task::new(move |body: &LoginRequest| {
            let body = body.clone();
            async move {
                match api::login(&body).await {
                    Ok(LoginAnswer::Signed(tokens)) => {
                        on_signed.try_run(*tokens);
                    }
                    Ok(LoginAnswer::CodeRequired(challenge)) => {
                        step.try_set(Step::TwoStep {
                            challenge,
                            login: body,
                        });
                    }
                    Err(e) => {
                        if let Some(secs) = e.retry_after().filter(|_| e.status() == Some(429)) {
                            retry_at.set(Some(time::now_ms() + f64::from(secs) * 1000.0));
                        }
                        form_error.set(Some(e.message()));
                        select(password_ref);
                    }
                }
            }
        });
        PasswordLogin {
            email,
            password,
            submitted,
            form_error,
            retry_at,
            email_ref: NodeRef::new(),
            password_ref,
            email_error: Signal::derive(move || {
                let client = email
                    .value
                    .with(|v| validation::check_email(v).err().map(sentence));
                email.shown_error(client, submitted.get())
            }),
            password_error: Signal::derive(move || {
                let client = password
                    .value
                    .with(|v| v.is_empty().then(|| sentence(validation::REQUIRED)));
                password.shown_error(client, submitted.get())
            }),
            task,
        }
    }

    fn focus_password(self) {
        select(self.password_ref);
    }

    /// Checks both fields (the first to fix takes focus), then signs in.
    fn submit(self) {
        if self.task.pending().get_untracked() {
            return;
        }
        self.submitted.set(true);
        if self.email_error.get_untracked().is_some() {
            focus(self.email_ref);
            return;
        }
        if self.password_error.get_untracked().is_some() {
            self.focus_password();
            return;
        }
        self.form_error.set(None);
        self.task.dispatch(LoginRequest {
            email: self.email.value.get_untracked(),
            password: self.password.value.get_untracked(),
        });
    }
}

/// Focuses an input and selects its text (a refused password, to type again).
fn select(input: NodeRef<html::Input>) {
    if let Some(input) = input.get_untracked() {
        let _ = input.focus();
        input.select();
    }
}

/// The email and password form, and the way to sign in with a code instead.
#[component]
fn PasswordStep(form: PasswordLogin, next_param: Memo<Option<String>>) -> impl IntoView {
    let pending = form.task.pending();
    view! {
        <form on:submit=move |ev| { ev.prevent_default(); form.submit(); } novalidate>
            <TextField id="email" label="Email" state=form.email input_type="email"
                error=form.email_error autocomplete="username" disabled=pending
                node_ref=form.email_ref />
            <TextField id="password" label="Password" state=form.password input_type="password"
                error=form.password_error autocomplete="current-password" disabled=pending
                node_ref=form.password_ref />
            <p class="forgot"><A href=Page::ResetPassword.path()>"Forgot password?"</A></p>
            <p class="form-error" role="alert">{move || form.form_error.get()}</p>
            <SignInButton pending retry_at=form.retry_at />
        </form>
        <p class="or"><span>"or"</span></p>
        <A href=move || login_method(true, next_param.get().as_deref()) attr:class="btn btn-block">
            "Sign in with a code"
        </A>
    }
}

/// "Sign in", counting down while a 429 asks to wait; off while the session is being
/// restored.
#[component]
fn SignInButton(pending: Signal<bool>, retry_at: RwSignal<Option<f64>>) -> impl IntoView {
    let session = use_session();
    let clock = Clock::get();
    let wait = move || {
        retry_at
            .get()
            .map_or(0, |t| time::seconds_until(t, clock.now()))
    };
    view! {
        <button
            type="submit"
            class="btn btn-primary btn-block"
            prop:disabled=move || {
                pending.get() || wait() > 0 || session.status() == Status::Restoring
            }
            aria-busy=move || if pending.get() { "true" } else { "false" }
        >
            {move || match (pending.get(), wait()) {
                (true, _) => "Signing in…".to_owned(),
                (false, 0) => "Sign in".to_owned(),
                (false, secs) => format!("Try again in {}", time::countdown(secs)),
            }}
        </button>
    }
}

/// "Sign in with a code": the number, then the code.
#[component]
fn CodeSignIn(
    next_param: Memo<Option<String>>,
    on_signed: Callback<TokenResponse>,
) -> impl IntoView {
    set_title("Sign in with a code");
    // Kept here, so "Use a different number" comes back to what was typed.
    let number = RwSignal::new(String::new());
    let region = RwSignal::new(DEFAULT_COUNTRY.to_owned());
    let sent = RwSignal::new(None::<SentCode>);
    let password_href = move || login_method(false, next_param.get().as_deref());

    let body = move || match sent.get() {
        None => view! {
            <p>"We'll text a 6-digit code to your account's verified phone number."</p>
            <SendCodeForm
                purpose=SmsCodePurpose::SignIn
                number
                region
                on_sent=Callback::new(move |s| sent.set(Some(s)))
            />
        }
        .into_any(),
        Some(s) => view! {
            <CodeSignInStep
                sent=s
                on_signed
                on_change_number=Callback::new(move |_| sent.set(None))
                password_href=password_href()
            />
        }
        .into_any(),
    };

    view! {
        <main id="main" class="auth-page">
            <section class="card" aria-labelledby="login-title">
                <h1 id="login-title">"Sign in with a code"</h1>
                {body}
                <p class="switch">
                    <A href=password_href>"Sign in with your password"</A>
                    " · "
                    <A href=Page::Register.path()>"Create an account"</A>
                </p>
            </section>
        </main>
    }
}
