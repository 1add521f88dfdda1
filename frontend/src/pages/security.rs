//! `/dashboard/security` — the account's security settings: the two-step sign-in switch
//! and, while it is on, the recovery codes (a fresh set shown once, the count left).

use leptos::prelude::*;

use crate::{
    components::breadcrumbs::Breadcrumbs,
    pages::set_title,
    panels::{
        delete_account::DeleteAccountCard, recent_activity::RecentActivityCard,
        recovery_codes::RecoveryCodesCard, two_factor::TwoFactorCard,
    },
    paths::Page,
};

#[component]
pub fn SecurityPage() -> impl IntoView {
    set_title("Security");
    // A fresh set lives only here, in memory, until dismissed or the page is left.
    let fresh = RwSignal::new(None::<Vec<String>>);
    view! {
        <div class="page">
            <Breadcrumbs trail=vec![("Dashboard", Page::Dashboard.path()), ("Security", Page::Security.path())] />
            <h1 tabindex="-1">"Security"</h1>
            <TwoFactorCard on_codes=Callback::new(move |codes| fresh.set(Some(codes))) />
            <RecoveryCodesCard fresh />
            <RecentActivityCard />
            <DeleteAccountCard />
        </div>
    }
}
