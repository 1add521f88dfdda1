//! The code step of a password login on an account with two-step sign-in on: the
//! `mfa_required` answer's code goes to `POST /auth/login/verify`. The API has no resend
//! for these codes (each is bound to its login), so "Send a new code" logs in again with
//! the same password. A dead code or login (410, or no attempts left) ends it: the page
//! goes back to the password with the reason. "Use a recovery code" swaps the boxes for
//! one of the account's recovery codes (SPEC §10), for when the phone is not at hand.

use leptos::{ev::SubmitEvent, prelude::*};
use phonereg_types::{LoginRequest, LoginVerifyRequest, MfaRequired, TokenResponse};

use crate::{
    api::{self, ApiError, LoginAnswer},
    components::{
        code_step::{CodeActions, CodeFields, CodeStep, Rejection, TestNumberNotice},
        field::SubmitButton,
        recovery_code_field::{
            NOT_RIGHT, RecoveryCodeField, RecoveryCodeInput, recovery_code_refusal,
        },
    },
    task::Task,
};

/// What the second step is answered with.
#[derive(Clone)]
enum Proof {
    /// The 6-digit code from the SMS.
    Code(String),
    /// One of the account's recovery codes, normalised (`abcd-1234`).
    RecoveryCode(String),
}

const LOGIN_OVER: &str =
    "That sign-in has expired or its code was used up. Sign in again to get a new code.";

/// Where the second step ends: signed in, or back to the password (with the reason).
#[derive(Clone, Copy)]
struct Ends {
    on_signed: Callback<TokenResponse>,
    on_restart: Callback<Option<String>>,
}

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
    let use_recovery = RwSignal::new(false);
    let recovery = RecoveryCodeField::new();
    recovery.focus_when(move || use_recovery.get());
    let ends = Ends {
        on_signed,
        on_restart,
    };
    let verify = verify_task(mfa_token, step, recovery, ends);
    let new_code = new_code_task(login, mfa_token, step, ends);

    let verifying = verify.pending();
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if verifying.get_untracked() {
            return;
        }
        let proof = if use_recovery.get_untracked() {
            recovery.submitted_code().map(Proof::RecoveryCode)
        } else {
            step.code().map(Proof::Code)
        };
        if let Some(proof) = proof {
            verify.dispatch(proof);
        }
    };
    let switch_proof = Callback::new(move |recovery_on: bool| {
        use_recovery.set(recovery_on);
        step.error.set(None);
        recovery.clear_error();
        if !recovery_on {
            step.focus_first.update(|n| *n += 1);
        }
    });

    view! {
        <section class="code-step" aria-labelledby="two-step-title">
            <h2 id="two-step-title">"Two-step sign-in"</h2>
            <p>
                {move || if use_recovery.get() {
                    "Your password is right. Enter one of this account's recovery codes instead of the code we texted."
                } else {
                    "Your password is right. This account also needs the 6-digit code we just sent by SMS to its verified phone number."
                }}
            </p>
            <TestNumberNotice show=test_number />
            <form on:submit=submit novalidate>
                {move || if use_recovery.get() {
                    view! { <RecoveryProof recovery verifying /> }.into_any()
                } else {
                    view! { <CodeProof step verifying new_code /> }.into_any()
                }}
                <OtherWays use_recovery switch_proof on_restart />
            </form>
        </section>
    }
}

/// `POST /auth/login/verify` with the code or a recovery code.
fn verify_task(
    mfa_token: StoredValue<String>,
    step: CodeStep,
    recovery: RecoveryCodeField,
    ends: Ends,
) -> Task<Proof> {
    Task::new(move |proof: &Proof| {
        let (code, recovery_code) = match proof {
            Proof::Code(code) => (Some(code.clone()), None),
            Proof::RecoveryCode(code) => (None, Some(code.clone())),
        };
        let by_recovery = recovery_code.is_some();
        let body = LoginVerifyRequest {
            mfa_token: mfa_token.get_value(),
            code,
            recovery_code,
        };
        async move {
            match api::login_verify(&body).await {
                Ok(tokens) => {
                    ends.on_signed.try_run(tokens);
                }
                Err(e) if by_recovery => {
                    if login_over(&e) {
                        ends.on_restart.try_run(Some(LOGIN_OVER.to_owned()));
                    } else {
                        recovery.refused(recovery_refusal(&e));
                    }
                }
                Err(e) => match step.rejected(&e) {
                    Rejection::Gone | Rejection::Wrong(0) => {
                        ends.on_restart.try_run(Some(LOGIN_OVER.to_owned()));
                    }
                    Rejection::Wrong(_) | Rejection::Other => {}
                },
            }
        }
    })
}

/// "Send a new code": the same login again, whose answer carries a new code (or, with
/// two-step sign-in turned off meanwhile, the session).
fn new_code_task(
    login: LoginRequest,
    mfa_token: StoredValue<String>,
    step: CodeStep,
    ends: Ends,
) -> Task<()> {
    Task::new(move |_: &()| {
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
                    ends.on_signed.try_run(*tokens);
                }
                Err(e) if e.is_unauthorized() => {
                    ends.on_restart.try_run(Some(e.message()));
                }
                Err(e) => step.resend_refused(&e),
            }
        }
    })
}

/// The step answered with the texted code.
#[component]
fn CodeProof(step: CodeStep, verifying: Signal<bool>, new_code: Task<()>) -> impl IntoView {
    view! {
        <CodeFields step disabled=verifying autosubmit=true />
        <CodeActions step pending=verifying label="Sign in" busy_label="Signing in…"
            resend=new_code resend_label="Send a new code" />
        <p class="muted small">
            "A new code needs a new sign-in: “Send a new code” checks your password again and texts another code."
        </p>
    }
}

/// The step answered with a recovery code.
#[component]
fn RecoveryProof(recovery: RecoveryCodeField, verifying: Signal<bool>) -> impl IntoView {
    view! {
        <RecoveryCodeInput field=recovery disabled=verifying
            hint="One of the codes you saved when you turned on two-step sign-in, like abcd-1234. Each works once." />
        <div class="actions">
            <SubmitButton pending=verifying label="Sign in" busy_label="Signing in…" />
        </div>
    }
}

/// Back to the password, or the other kind of proof.
#[component]
fn OtherWays(
    use_recovery: RwSignal<bool>,
    switch_proof: Callback<bool>,
    on_restart: Callback<Option<String>>,
) -> impl IntoView {
    view! {
        <div class="actions actions-secondary">
            <button type="button" class="btn-link" on:click=move |_| on_restart.run(None)>
                "Back to the password"
            </button>
            {move || if use_recovery.get() {
                view! {
                    <button type="button" class="btn-link" on:click=move |_| switch_proof.run(false)>
                        "Use the code from the SMS"
                    </button>
                }
                .into_any()
            } else {
                view! {
                    <button type="button" class="btn-link" on:click=move |_| switch_proof.run(true)>
                        "Use a recovery code"
                    </button>
                }
                .into_any()
            }}
        </div>
    }
}

/// Whether a refused second step ends the sign-in (its token dead or used up).
fn login_over(e: &ApiError) -> bool {
    e.status() == Some(410)
        || e.problem()
            .and_then(|p| p.verification.as_ref())
            .is_some_and(|v| v.attempts_remaining == 0)
}

/// The sentence under the recovery code field for a refusal that leaves the sign-in open.
fn recovery_refusal(e: &ApiError) -> String {
    recovery_code_refusal(e).unwrap_or_else(|| match e.status() {
        Some(401 | 422) if e.problem().is_some_and(|p| p.detail.is_empty()) => NOT_RIGHT.to_owned(),
        _ => e.message(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_answers::refusal;

    fn answer(status: u16, detail: &str, field: Option<&str>, attempts: Option<i64>) -> ApiError {
        let mut answer = refusal(status, detail);
        if let Some(message) = field {
            answer = answer.field_error("recovery_code", message);
        }
        if let Some(n) = attempts {
            answer = answer.attempts_left(n);
        }
        answer.error()
    }

    #[test]
    fn a_dead_login_ends_the_recovery_step_too() {
        assert!(login_over(&answer(410, "gone", None, None)));
        assert!(login_over(&answer(422, "", None, Some(0))));
        assert!(!login_over(&answer(422, "", None, Some(3))));
        assert!(!login_over(&answer(
            422,
            "",
            Some("must be like abcd-1234"),
            None
        )));
    }

    #[test]
    fn a_refused_recovery_code_reads_as_a_sentence() {
        assert_eq!(
            recovery_refusal(&answer(
                422,
                "",
                Some("must be a recovery code like abcd-1234"),
                None
            )),
            "Must be a recovery code like abcd-1234."
        );
        assert_eq!(
            recovery_refusal(&answer(422, "That recovery code is not valid.", None, None)),
            "That recovery code is not valid."
        );
        assert!(recovery_refusal(&answer(401, "", None, None)).contains("not right"));
    }
}
