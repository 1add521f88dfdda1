//! The password a form asks for to confirm it's you (SPEC §10: turning two-step sign-in
//! on or off, a new set of recovery codes): the field, when its error shows, and where
//! focus goes. The API checks it again; a wrong one is a fact about this field.

use leptos::{ev::SubmitEvent, html, prelude::*};

use crate::{
    components::field::{FieldState, focus, refocus},
    task::Task,
};

/// The password field's state; cheap to copy.
#[derive(Clone, Copy)]
pub struct PasswordCheck {
    pub state: FieldState,
    submitted: RwSignal<bool>,
    pub node_ref: NodeRef<html::Input>,
    /// The error to show under the field.
    pub error: Signal<Option<String>>,
}

impl PasswordCheck {
    /// A form of its own whose client-side rule is `rule`.
    pub fn new(rule: fn(&str) -> Option<String>) -> Self {
        Self::sharing(rule, RwSignal::new(false))
    }

    /// One field of a larger form, whose `submitted` flag it shares.
    pub fn sharing(rule: fn(&str) -> Option<String>, submitted: RwSignal<bool>) -> Self {
        let state = FieldState::new();
        let error = Signal::derive(move || {
            let client = state.value.with(|v| rule(v));
            state.shown_error(client, submitted.get())
        });
        PasswordCheck {
            state,
            submitted,
            node_ref: NodeRef::new(),
            error,
        }
    }

    /// Focuses the field as soon as it is on screen (its form opens on a click: continue
    /// there).
    pub fn focus_when_shown(self) -> Self {
        Effect::new(move |_| {
            if self.node_ref.get().is_some() {
                focus(self.node_ref);
            }
        });
        self
    }

    /// On submit: the password, or `None` with its error shown and the field focused.
    pub fn submitted(self) -> Option<String> {
        self.submitted.set(true);
        if self.error.get_untracked().is_some() {
            focus(self.node_ref);
            return None;
        }
        Some(self.state.value.get_untracked())
    }

    /// The submit handler of a form whose only input is the password: a password that
    /// passes goes to `task` (unless it is already running), `form_error` cleared.
    pub fn on_submit(
        self,
        task: Task<String>,
        form_error: RwSignal<Option<String>>,
    ) -> impl Fn(SubmitEvent) + Copy + 'static {
        move |ev: SubmitEvent| {
            ev.prevent_default();
            if task.pending().get_untracked() {
                return;
            }
            if let Some(password) = self.submitted() {
                form_error.set(None);
                task.dispatch(password);
            }
        }
    }

    /// The API refused the password: `message` under the field, which takes focus (and
    /// its text is selected) once the form is enabled again.
    pub fn refused(self, message: String) {
        self.state.server_error.set(Some(message));
        refocus(self.node_ref);
    }
}
