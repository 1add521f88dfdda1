//! A labelled text input with its hint and error, wired for screen readers
//! (`aria-invalid`, `aria-describedby`, a polite live region for the error).

use leptos::prelude::*;

use crate::api::ApiError;

/// One form field's state: its value, whether the user has left it once (errors show
/// from then on, and then update as they type), and the server's last error for it.
#[derive(Clone, Copy)]
pub struct FieldState {
    pub value: RwSignal<String>,
    pub touched: RwSignal<bool>,
    pub server_error: RwSignal<Option<String>>,
}

impl FieldState {
    pub fn new() -> Self {
        Self::with_value(String::new())
    }

    pub fn with_value(value: String) -> Self {
        FieldState {
            value: RwSignal::new(value),
            touched: RwSignal::new(false),
            server_error: RwSignal::new(None),
        }
    }

    /// The error to show: the server's until the value changes, else the client rule's
    /// once the field was left or the form submitted.
    pub fn shown_error(self, client: Option<String>, submitted: bool) -> Option<String> {
        self.server_error.get().or_else(|| {
            (self.touched.get() || submitted)
                .then_some(client)
                .flatten()
        })
    }

    /// A new value typed by the user.
    pub fn input(self, value: String) {
        self.server_error.set(None);
        self.value.set(value);
    }
}

impl Default for FieldState {
    fn default() -> Self {
        Self::new()
    }
}

/// An API or `validation` message as a sentence: "must not be empty" -> "Must not be empty."
pub fn sentence(message: &str) -> String {
    // The API's messages are ASCII; ASCII case mapping keeps Unicode's tables out of the wasm.
    let mut out = message.trim().to_owned();
    if let Some(first) = out.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    if out.is_empty() {
        return out;
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A field error of the API as a sentence about `subject`: "is required to …" becomes
/// "Your password is required to …"; a message that stands alone ("must be …") is kept.
pub fn field_sentence(subject: &str, message: &str) -> String {
    let message = message.trim();
    if ["is ", "are ", "was "]
        .iter()
        .any(|verb| message.starts_with(verb))
    {
        sentence(&format!("{subject} {message}"))
    } else {
        sentence(message)
    }
}

/// Moves focus to an input (to the field to fix, or where the form continues).
pub fn focus(input: NodeRef<leptos::html::Input>) {
    if let Some(input) = input.get_untracked() {
        let _ = input.focus();
    }
}

/// Focuses and selects a password the server refused, once its form is enabled again: it
/// is disabled while the request runs, and a disabled input takes no focus.
pub fn refocus(input: NodeRef<leptos::html::Input>) {
    request_animation_frame(move || {
        if let Some(input) = input.get_untracked() {
            let _ = input.focus();
            input.select();
        }
    });
}

/// A form's submit button: disabled and `aria-busy` while its action runs, its label
/// saying what is happening meanwhile.
#[component]
pub fn SubmitButton(
    #[prop(into)] pending: Signal<bool>,
    label: &'static str,
    busy_label: &'static str,
    #[prop(default = "btn btn-primary")] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=class
            prop:disabled=move || pending.get()
            aria-busy=move || if pending.get() { "true" } else { "false" }
        >
            {move || if pending.get() { busy_label } else { label }}
        </button>
    }
}

/// The client-side rule of a "confirm password" field (`None`: fine).
pub fn confirm_error(confirm: &str, password: &str) -> Option<&'static str> {
    if confirm.is_empty() {
        Some("enter the password again")
    } else if confirm != password {
        Some("must match the password")
    } else {
        None
    }
}

/// What to show under a password field that an endpoint re-checked (SPEC §10), if the
/// refusal is about it: 401 `wrong-password`, or a 422 field error on `api_field`. A
/// wrong password never ends the session; it is a fact about this field.
pub fn password_refusal(e: &ApiError, api_field: &str) -> Option<String> {
    if e.is_wrong_password() {
        let detail = e.message();
        return Some(if detail.trim().is_empty() {
            "The password is incorrect.".to_owned()
        } else {
            sentence(&detail)
        });
    }
    e.field_errors()
        .get(api_field)
        .and_then(|m| m.first())
        .map(|m| field_sentence("Your password", m))
}

/// The client-side rule of a password that is only re-checked: it must be there.
pub fn password_missing(value: &str) -> Option<String> {
    value.is_empty().then(|| "Enter your password.".to_owned())
}

/// A labelled input bound to a [`FieldState`].
#[component]
pub fn TextField(
    /// The element id; the hint and error get `{id}-hint` / `{id}-error`.
    id: &'static str,
    label: &'static str,
    state: FieldState,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(default = "text")] input_type: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] inputmode: Option<&'static str>,
    #[prop(optional, into)] disabled: Signal<bool>,
    #[prop(optional)] node_ref: NodeRef<leptos::html::Input>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = match hint {
        Some(_) => format!("{hint_id} {error_id}"),
        None => error_id.clone(),
    };
    let invalid = move || error.with(Option::is_some);
    view! {
        <div class="field" class:field-invalid=invalid>
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <input
                id=id
                name=id
                type=input_type
                autocomplete=autocomplete
                inputmode=inputmode
                aria-invalid=move || if invalid() { "true" } else { "false" }
                aria-describedby=described_by
                prop:value=move || state.value.get()
                prop:disabled=move || disabled.get()
                on:input=move |ev| state.input(event_target_value(&ev))
                on:blur=move |_| state.touched.set(true)
                node_ref=node_ref
            />
            <p class="field-error" id=error_id aria-live="polite">
                {move || error.get()}
            </p>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_answers::refusal;

    fn answer(status: u16, kind: &str, errors: &[(&str, &str)]) -> ApiError {
        errors
            .iter()
            .fold(
                refusal(status, "The password is incorrect.")
                    .kind(&format!("https://phonereg.dev/problems/{kind}")),
                |answer, (field, message)| answer.field_error(field, message),
            )
            .error()
    }

    #[test]
    fn a_refused_password_belongs_to_its_field() {
        assert_eq!(
            password_refusal(&answer(401, "wrong-password", &[]), "current_password"),
            Some("The password is incorrect.".to_owned())
        );
        assert_eq!(
            password_refusal(
                &answer(
                    422,
                    "validation",
                    &[(
                        "current_password",
                        "is required to change or remove a verified number"
                    )]
                ),
                "current_password"
            ),
            Some("Your password is required to change or remove a verified number.".to_owned())
        );
        // A dead session's 401 or another field's error is not the password's.
        assert_eq!(
            password_refusal(&answer(401, "unauthorized", &[]), "current_password"),
            None
        );
        assert_eq!(
            password_refusal(
                &answer(422, "validation", &[("phone_number", "is not a number")]),
                "current_password"
            ),
            None
        );
    }

    #[test]
    fn api_messages_become_sentences() {
        assert_eq!(sentence("must not be empty"), "Must not be empty.");
        assert_eq!(sentence("Already a sentence."), "Already a sentence.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn field_errors_read_as_sentences_about_their_field() {
        assert_eq!(
            field_sentence("That", "is not an unused recovery code of this account"),
            "That is not an unused recovery code of this account."
        );
        assert_eq!(
            field_sentence("That", "must be a recovery code like abcd-1234"),
            "Must be a recovery code like abcd-1234."
        );
    }

    #[test]
    fn a_confirmation_must_repeat_the_password() {
        assert_eq!(
            confirm_error("", "secret-1"),
            Some("enter the password again")
        );
        assert_eq!(
            confirm_error("secret-2", "secret-1"),
            Some("must match the password")
        );
        assert_eq!(confirm_error("secret-1", "secret-1"), None);
    }
}
