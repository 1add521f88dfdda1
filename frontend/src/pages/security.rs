//! `/dashboard/security` — the account's security settings: the two-step sign-in switch.

use leptos::prelude::*;

use crate::{
    components::breadcrumbs::Breadcrumbs, pages::set_title, panels::two_factor::TwoFactorCard,
    paths::Page,
};

#[component]
pub fn SecurityPage() -> impl IntoView {
    set_title("Security");
    view! {
        <div class="page">
            <Breadcrumbs trail=vec![("Dashboard", Page::Dashboard.path()), ("Security", Page::Security.path())] />
            <h1 tabindex="-1">"Security"</h1>
            <TwoFactorCard />
        </div>
    }
}
