//! "Recovery codes" on the security page (SPEC §10), while two-step sign-in is on: how
//! many are left (`user.recovery_codes_left`), a fresh set shown once (after turning it on,
//! or after "New set of recovery codes", which asks for the password and replaces the
//! old set through `POST /users/me/recovery-codes`).

use leptos::{html, prelude::*};
use phonereg_types::RecoveryCodesRequest;

use crate::{
    api,
    components::{
        field::{SubmitButton, TextField, password_missing, password_refusal},
        password_check::PasswordCheck,
        recovery_codes::RecoveryCodeList,
        subform::Subform,
    },
    session::use_session,
    task::Task,
};

/// How many codes are left, in words.
pub fn codes_left_words(left: i64) -> String {
    match left {
        i64::MIN..=0 => "You have no unused recovery codes. Make a new set, so you can still sign in without your phone.".to_owned(),
        1 => "You have 1 unused recovery code. Make a new set soon.".to_owned(),
        2..=3 => format!("You have {left} unused recovery codes. Make a new set soon."),
        _ => format!("You have {left} unused recovery codes."),
    }
}

#[component]
pub fn RecoveryCodesCard(
    /// A set just made (by turning two-step sign-in on, or here), shown until dismissed.
    fresh: RwSignal<Option<Vec<String>>>,
) -> impl IntoView {
    let session = use_session();
    let on = Memo::new(move |_| session.user().is_some_and(|u| u.two_factor));
    let left = Memo::new(move |_| session.user().map_or(0, |u| u.recovery_codes_left));
    let account = Memo::new(move |_| session.user().map(|u| u.email).unwrap_or_default());
    let form_open = RwSignal::new(false);
    let open_ref = NodeRef::<html::Button>::new();

    let done = Callback::new(move |_: ()| {
        fresh.set(None);
        request_animation_frame(move || {
            if let Some(button) = open_ref.get_untracked() {
                let _ = button.focus();
            }
        });
    });
    let close_form = Callback::new(move |_: ()| {
        form_open.set(false);
        if let Some(button) = open_ref.get_untracked() {
            let _ = button.focus();
        }
    });

    let body = move || match fresh.get() {
        Some(codes) => view! {
            <RecoveryCodeList codes account=account.get_untracked() on_done=done />
        }
        .into_any(),
        None => view! {
            <p id="codes-left">{move || codes_left_words(left.get())}</p>
            <Show
                when=move || form_open.get()
                fallback=move || view! {
                    <div class="actions">
                        <button type="button" class="btn" node_ref=open_ref
                            on:click=move |_| form_open.set(true)>
                            "New set of recovery codes"
                        </button>
                    </div>
                }
            >
                <NewSetForm
                    on_made=Callback::new(move |codes: Vec<String>| {
                        form_open.set(false);
                        fresh.set(Some(codes));
                    })
                    on_cancel=close_form
                />
            </Show>
        }
        .into_any(),
    };

    view! {
        <Show when=move || on.get() || fresh.with(Option::is_some)>
            <section class="card" aria-labelledby="recovery-title">
                <h2 id="recovery-title">"Recovery codes"</h2>
                <p class="muted">
                    "For when your phone is not at hand: each code replaces the texted code once, at sign-in or with a password reset."
                </p>
                {body}
            </section>
        </Show>
    }
}

/// The password, then a new set replaces the old one.
#[component]
fn NewSetForm(on_made: Callback<Vec<String>>, on_cancel: Callback<()>) -> impl IntoView {
    let session = use_session();
    let password = PasswordCheck::new(password_missing).focus_when_shown();
    let form_error = RwSignal::new(None::<String>);

    let make = Task::new(move |password_text: &String| {
        let body = RecoveryCodesRequest {
            password: password_text.clone(),
        };
        async move {
            let result = session
                .call_with_password(|t| api::new_recovery_codes(t, body.clone()))
                .await;
            match result {
                Ok(codes) => {
                    session.set_recovery_codes_left(i64::try_from(codes.len()).unwrap_or(0));
                    on_made.try_run(codes);
                }
                Err(e) => match password_refusal(&e, "password") {
                    Some(message) => {
                        password.refused(message);
                        form_error.set(None);
                    }
                    None => form_error.set(Some(e.message())),
                },
            }
        }
    });
    let pending = make.pending();
    let submit = password.on_submit(make, form_error);

    view! {
        <Subform title_id="new-set-title" title="New set of recovery codes" on_close=on_cancel>
            <p>"The codes you have now stop working. Confirm it's you with your password."</p>
            <form on:submit=submit novalidate>
                <TextField id="recovery-password" label="Password" state=password.state
                    input_type="password" error=password.error autocomplete="current-password"
                    disabled=pending node_ref=password.node_ref />
                <p class="form-error" role="alert">{move || form_error.get()}</p>
                <div class="actions">
                    <SubmitButton pending=pending label="Make a new set" busy_label="Making a new set…" />
                    <button type="button" class="btn" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                </div>
            </form>
        </Subform>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_left_warns_when_it_runs_low() {
        assert_eq!(codes_left_words(10), "You have 10 unused recovery codes.");
        assert!(codes_left_words(3).ends_with("Make a new set soon."));
        assert!(codes_left_words(1).starts_with("You have 1 unused recovery code."));
        assert!(codes_left_words(0).starts_with("You have no unused recovery codes."));
    }
}
