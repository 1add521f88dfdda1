//! A small form that opens inside a card, under the control that opened it (a switch, a
//! button); Escape closes it like its "Cancel".

use leptos::prelude::*;

#[component]
pub fn Subform(
    /// The heading's id, which names the section.
    title_id: &'static str,
    title: &'static str,
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    view! {
        <section
            class="subform"
            aria-labelledby=title_id
            on:keydown=move |ev| if ev.key() == "Escape" { on_close.run(()) }
        >
            <h3 id=title_id>{title}</h3>
            {children()}
        </section>
    }
}
