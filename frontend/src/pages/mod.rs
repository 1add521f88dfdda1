//! The routes: one screen each, composed from `panels/` and `components/`.

pub mod dashboard;
pub mod dev_sms;
pub mod login;
pub mod phone_management;
pub mod register;

use leptos::prelude::*;
use leptos_router::components::A;

/// Sets the document title, so each screen is announced and found in history by name.
pub fn set_title(page: &str) {
    document().set_title(&format!("{page} · PhoneReg"));
}

/// Moves focus to the page's heading, after the control that had it went away (a closed
/// panel or dialog), so keyboard and screen-reader users keep their place.
pub fn focus_heading() {
    use wasm_bindgen::JsCast;
    if let Some(heading) = document()
        .query_selector("main h1")
        .ok()
        .flatten()
        .and_then(|h| h.dyn_into::<web_sys::HtmlElement>().ok())
    {
        let _ = heading.focus();
    }
}

/// Any path that matches no route.
#[component]
pub fn NotFound() -> impl IntoView {
    set_title("Page not found");
    view! {
        <main id="main" class="auth-page">
            <section class="card">
                <h1>"Page not found"</h1>
                <p>"There is nothing at this address."</p>
                <p><A href=crate::paths::Page::Dashboard.path()>"Go to your dashboard"</A></p>
            </section>
        </main>
    }
}
