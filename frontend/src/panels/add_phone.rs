//! "Add a phone number": the card with the add form, opened from the dashboard's widget
//! and from the management page; the saved record (carrying the code just sent) goes to
//! `on_saved`, which then shows the code step.

use leptos::prelude::*;
use phonereg_types::Phone;

use crate::panels::phone_form::{PhoneFormMode, PhoneNumberForm};

#[component]
pub fn AddPhonePanel(on_saved: Callback<Phone>, on_cancel: Callback<()>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="add-title">
            <h2 id="add-title">"Add a phone number"</h2>
            <PhoneNumberForm mode=PhoneFormMode::Add on_saved on_cancel />
        </section>
    }
}
