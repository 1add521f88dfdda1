//! The code step of a password login on an account with two-step sign-in on: the
//! `mfa_required` answer's code goes to `POST /auth/login/verify`. The API has no resend
//! for these codes (each is bound to its login), so "Send a new code" logs in again with
//! the same password. A dead code or login (410, or no attempts left) ends it: the page
//! goes back to the password with the reason. "Use a recovery code" swaps the boxes for
//! one of the account's recovery codes (SPEC §10), for when the phone is not at hand.

use leptos::{html, prelude::*};
use phonereg_types::{LoginRequest, LoginVerifyRequest, MfaRequired, TokenResponse, validation};

use crate::{
    api::{self, ApiError, LoginAnswer},
    components::{
        code_step::{CodeFields, CodeStep, Rejection, ResendButton, TestNumberNotice},
        field::{FieldState, SubmitButton, TextField, field_sentence, focus, refocus, sentence},
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
    let recovery = FieldState::new();
    let recovery_submitted = RwSignal::new(false);
    let recovery_ref = NodeRef::<html::Input>::new();
    let recovery_error = Signal::derive(move || {
        let client = recovery
            .value
            .with(|v| validation::parse_recovery_code(v).err().map(sentence));
        recovery.shown_error(client, recovery_submitted.get())
    });

    let verify = Task::new(move |proof: &Proof| {
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
                    on_signed.try_run(tokens);
                }
                Err(e) if by_recovery => {
                    if login_over(&e) {
                        on_restart.try_run(Some(LOGIN_OVER.to_owned()));
                    } else {
                        recovery.server_error.set(Some(recovery_refusal(&e)));
                        refocus(recovery_ref);
                    }
                }
                Err(e) => match step.rejected(&e) {
                    Rejection::Gone | Rejection::Wrong(0) => {
                        on_restart.try_run(Some(LOGIN_OVER.to_owned()));
                    }
                    Rejection::Wrong(_) | Rejection::Other => {}
                },
            }
        }
    });

    let new_code = Task::new(move |_: &()| {
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
                    on_signed.try_run(*tokens);
                }
                Err(e) if e.is_unauthorized() => {
                    on_restart.try_run(Some(e.message()));
                }
                Err(e) => step.resend_refused(&e),
            }
        }
    });

    let verifying = verify.pending();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if verifying.get_untracked() {
            return;
        }
        if use_recovery.get_untracked() {
            recovery_submitted.set(true);
            if recovery_error.get_untracked().is_some() {
                focus(recovery_ref);
                return;
            }
            let typed = recovery.value.get_untracked();
            if let Ok(code) = validation::parse_recovery_code(&typed) {
                verify.dispatch(Proof::RecoveryCode(code));
            }
        } else if let Some(code) = step.code() {
            verify.dispatch(Proof::Code(code));
        }
    };
    let switch_proof = move |recovery_on: bool| {
        use_recovery.set(recovery_on);
        step.error.set(None);
        recovery.server_error.set(None);
        recovery_submitted.set(false);
        if !recovery_on {
            step.focus_first.update(|n| *n += 1);
        }
    };
    Effect::new(move |_| {
        if use_recovery.get() && recovery_ref.get().is_some() {
            focus(recovery_ref);
        }
    });

    let code_fields = move || {
        view! {
            <CodeFields step disabled=verifying autosubmit=true />
            <div class="actions">
                <SubmitButton pending=verifying label="Sign in" busy_label="Signing in…" />
                <ResendButton
                    step
                    pending=new_code.pending()
                    label="Send a new code"
                    on_click=Callback::new(move |_| new_code.dispatch(()))
                />
            </div>
            <p class="muted small">
                "A new code needs a new sign-in: “Send a new code” checks your password again and texts another code."
            </p>
        }
    };
    let recovery_fields = move || {
        view! {
            <TextField id="recovery-code" label="Recovery code" state=recovery
                error=recovery_error autocomplete="off"
                hint="One of the codes you saved when you turned on two-step sign-in, like abcd-1234. Each works once."
                disabled=verifying node_ref=recovery_ref />
            <div class="actions">
                <SubmitButton pending=verifying label="Sign in" busy_label="Signing in…" />
            </div>
        }
    };

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
                    recovery_fields().into_any()
                } else {
                    code_fields().into_any()
                }}
                <div class="actions actions-secondary">
                    <button type="button" class="btn-link" on:click=move |_| on_restart.run(None)>
                        "Back to the password"
                    </button>
                    {move || if use_recovery.get() {
                        view! {
                            <button type="button" class="btn-link" on:click=move |_| switch_proof(false)>
                                "Use the code from the SMS"
                            </button>
                        }
                        .into_any()
                    } else {
                        view! {
                            <button type="button" class="btn-link" on:click=move |_| switch_proof(true)>
                                "Use a recovery code"
                            </button>
                        }
                        .into_any()
                    }}
                </div>
            </form>
        </section>
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
    e.field_errors()
        .get("recovery_code")
        .and_then(|m| m.first())
        .map(|m| field_sentence("That", m))
        .unwrap_or_else(|| match e.status() {
            Some(401 | 422) if e.problem().is_some_and(|p| p.detail.is_empty()) => {
                "That recovery code is not right, or was used already.".to_owned()
            }
            _ => e.message(),
        })
}

#[cfg(test)]
mod tests {
    use phonereg_types::{Problem, Verification};

    use super::*;

    fn answer(status: u16, detail: &str, field: Option<&str>, attempts: Option<i64>) -> ApiError {
        ApiError::Problem {
            problem: Box::new(Problem {
                kind: "https://phonereg.dev/problems/x".to_owned(),
                title: String::new(),
                status,
                detail: detail.to_owned(),
                errors: field.map(|m| [("recovery_code".to_owned(), vec![m.to_owned()])].into()),
                verification: attempts.map(|n| Verification {
                    sent: true,
                    expires_at: String::new(),
                    resend_after: String::new(),
                    attempts_remaining: n,
                }),
                captcha: None,
            }),
            retry_after: None,
        }
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
