//! An inline confirmation for destructive actions. Focus moves to "Cancel" (the safe
//! choice) when it opens, or to the password field when the action needs the password
//! (SPEC §10: deleting a verified number); Escape cancels. Enter in the password field
//! confirms, since the dialog is a form.

use leptos::{html, prelude::*};

use crate::components::field::{FieldState, TextField};

/// The password a confirmation asks for, with the error to show under it.
#[derive(Clone, Copy)]
pub struct ConfirmPassword {
    /// The input's id (its hint and error get `{id}-hint` / `{id}-error`).
    pub id: &'static str,
    /// Why the password is needed.
    pub hint: &'static str,
    pub state: FieldState,
    pub error: Signal<Option<String>>,
    pub node_ref: NodeRef<html::Input>,
}

#[component]
pub fn ConfirmDialog(
    id: &'static str,
    title: String,
    message: String,
    confirm_label: &'static str,
    pending_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
    /// Ask for the account's password before confirming.
    #[prop(default = None)]
    password: Option<ConfirmPassword>,
) -> impl IntoView {
    let cancel_ref = NodeRef::<html::Button>::new();
    let password_ref = password.map(|p| p.node_ref);
    Effect::new(move |_| match password_ref {
        Some(input) => {
            if let Some(input) = input.get() {
                let _ = input.focus();
            }
        }
        None => {
            if let Some(button) = cancel_ref.get() {
                let _ = button.focus();
            }
        }
    });
    let title_id = format!("{id}-title");
    let message_id = format!("{id}-message");
    let (labelled_by, described_by) = (title_id.clone(), message_id.clone());
    view! {
        <div
            class="confirm"
            role="alertdialog"
            aria-labelledby=labelled_by
            aria-describedby=described_by
            on:keydown=move |ev| {
                if ev.key() == "Escape" {
                    on_cancel.run(());
                }
            }
        >
            <h3 id=title_id>{title}</h3>
            <p id=message_id>{message}</p>
            <form
                novalidate
                on:submit=move |ev| {
                    ev.prevent_default();
                    if !pending.get_untracked() {
                        on_confirm.run(());
                    }
                }
            >
                {password.map(|p| view! {
                    <TextField id=p.id label="Current password" state=p.state
                        input_type="password" error=p.error autocomplete="current-password"
                        hint=p.hint disabled=pending node_ref=p.node_ref />
                })}
                <div class="actions">
                    <button
                        type="submit"
                        class="btn btn-danger"
                        prop:disabled=move || pending.get()
                        aria-busy=move || if pending.get() { "true" } else { "false" }
                    >
                        {move || if pending.get() { pending_label } else { confirm_label }}
                    </button>
                    <button
                        type="button"
                        class="btn"
                        node_ref=cancel_ref
                        on:click=move |_| on_cancel.run(())
                    >
                        "Cancel"
                    </button>
                </div>
            </form>
        </div>
    }
}
