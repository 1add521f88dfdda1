//! The field for one of the account's recovery codes (SPEC §10), where a step takes one
//! instead of the texted code (two-step sign-in) or beside it (a password reset on a
//! two-step account). It appears after the step opened, so it has its own "submitted"
//! flag: it must not open with an error.

use leptos::{html, prelude::*};
use phonereg_types::validation;

use crate::{
    api::ApiError,
    components::field::{FieldState, TextField, field_sentence, focus, refocus, sentence},
};

/// What the API's plain refusal of a recovery code means.
pub const NOT_RIGHT: &str = "That recovery code is not right, or was used already.";

/// The recovery code field's state; cheap to copy.
#[derive(Clone, Copy)]
pub struct RecoveryCodeField {
    state: FieldState,
    submitted: RwSignal<bool>,
    node_ref: NodeRef<html::Input>,
    error: Signal<Option<String>>,
}

impl RecoveryCodeField {
    pub fn new() -> Self {
        let state = FieldState::new();
        let submitted = RwSignal::new(false);
        let error = Signal::derive(move || {
            let client = state
                .value
                .with(|v| validation::parse_recovery_code(v).err().map(sentence));
            state.shown_error(client, submitted.get())
        });
        RecoveryCodeField {
            state,
            submitted,
            node_ref: NodeRef::new(),
            error,
        }
    }

    /// Moves focus to the field whenever `shown` turns true (the field is then on screen).
    pub fn focus_when(self, shown: impl Fn() -> bool + 'static) {
        Effect::new(move |_| {
            if shown() && self.node_ref.get().is_some() {
                focus(self.node_ref);
            }
        });
    }

    /// On submit: the code, normalised (`abcd-1234`), or `None` with the field's error
    /// shown and the field focused.
    pub fn submitted_code(self) -> Option<String> {
        self.submitted.set(true);
        if self.error.get_untracked().is_some() {
            focus(self.node_ref);
            return None;
        }
        validation::parse_recovery_code(&self.state.value.get_untracked()).ok()
    }

    /// The API refused the code: `message` under the field, which takes focus again once
    /// its form is enabled.
    pub fn refused(self, message: String) {
        self.state.server_error.set(Some(message));
        refocus(self.node_ref);
    }

    /// No error shown until the next submit (the field is swapped out and back).
    pub fn clear_error(self) {
        self.state.server_error.set(None);
        self.submitted.set(false);
    }
}

impl Default for RecoveryCodeField {
    fn default() -> Self {
        Self::new()
    }
}

/// A refusal of the recovery code itself (422 on its field), as a sentence.
pub fn recovery_code_refusal(e: &ApiError) -> Option<String> {
    e.field_errors()
        .get("recovery_code")
        .and_then(|m| m.first())
        .map(|m| field_sentence("That", m))
}

/// The labelled input of a [`RecoveryCodeField`].
#[component]
pub fn RecoveryCodeInput(
    field: RecoveryCodeField,
    hint: &'static str,
    #[prop(into)] disabled: Signal<bool>,
) -> impl IntoView {
    view! {
        <TextField id="recovery-code" label="Recovery code" state=field.state
            error=field.error autocomplete="off" hint disabled node_ref=field.node_ref />
    }
}
