//! An inline confirmation for destructive actions. Focus moves to "Cancel" (the safe
//! choice) when it opens; Escape cancels.

use leptos::{html, prelude::*};

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
) -> impl IntoView {
    let cancel_ref = NodeRef::<html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel_ref.get() {
            let _ = button.focus();
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
            <div class="actions">
                <button
                    class="btn btn-danger"
                    prop:disabled=move || pending.get()
                    aria-busy=move || if pending.get() { "true" } else { "false" }
                    on:click=move |_| on_confirm.run(())
                >
                    {move || if pending.get() { pending_label } else { confirm_label }}
                </button>
                <button class="btn" node_ref=cancel_ref on:click=move |_| on_cancel.run(())>
                    "Cancel"
                </button>
            </div>
        </div>
    }
}
