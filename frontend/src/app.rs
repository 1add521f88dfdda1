//! The app shell: session, clock and live updates as context, the header, and the route
//! table. Signed-in pages are children of [`SignedInLayout`], which sends visitors without
//! a session to `/login?next=…` and keeps the sidebar across moves between its pages.

use leptos::prelude::*;
use leptos_router::{
    NavigateOptions,
    components::{A, Outlet, ParentRoute, Redirect, Route, Router, Routes},
    hooks::{use_location, use_navigate},
    path,
};

use crate::{
    api,
    components::sidebar::Sidebar,
    events,
    pages::{
        NotFound, dashboard::DashboardHome, dev_sms::DevSmsPage, login::LoginPage,
        phone_management::PhoneManagementPage, register::RegisterPage,
        reset_password::ResetPasswordPage, security::SecurityPage,
    },
    paths::{self, Page, replace},
    session::{Session, Status, use_session},
    task::Task,
    time::Clock,
};

#[component]
pub fn App() -> impl IntoView {
    Clock::provide();
    let session = Session::provide();
    events::follow_session(session);

    // The paths here are `paths::Page`'s (`path!` needs literals).
    view! {
        <Router>
            <a class="skip-link" href="#main">"Skip to main content"</a>
            <Header />
            <Routes fallback=NotFound>
                <Route path=path!("/") view=Home />
                <Route path=path!("/login") view=LoginPage />
                <Route path=path!("/register") view=RegisterPage />
                <Route path=path!("/reset-password") view=ResetPasswordPage />
                <Route path=path!("/dev/sms") view=DevSmsPage />
                <ParentRoute path=path!("/dashboard") view=SignedInLayout>
                    <Route path=path!("") view=DashboardHome />
                    <Route path=path!("phone-management") view=PhoneManagementPage />
                    <Route path=path!("security") view=SecurityPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    let logout = Task::new(move |_: &()| {
        let navigate = navigate.clone();
        async move {
            session.logout().await;
            navigate(Page::Login.path(), NavigateOptions::default());
        }
    });
    let pending = logout.pending();
    let signed_in = Memo::new(move |_| session.status() == Status::SignedIn);
    view! {
        <header class="topbar">
            <A href=Page::Home.path() exact=true attr:class="brand">"PhoneReg"</A>
            <Show when=move || signed_in.get()>
                <div class="account">
                    <span class="account-name">{move || session.user().map(|u| u.full_name)}</span>
                    <button
                        class="btn btn-small"
                        prop:disabled=move || pending.get()
                        on:click=move |_| {
                            if !pending.get_untracked() {
                                logout.dispatch(());
                            }
                        }
                    >
                        {move || if pending.get() { "Signing out…" } else { "Sign out" }}
                    </button>
                </div>
            </Show>
        </header>
    }
}

/// `/`: the dashboard for a session, else the sign-in page.
#[component]
fn Home() -> impl IntoView {
    let session = use_session();
    move || match session.status() {
        Status::Restoring => {
            view! { <main id="main" class="loading" aria-busy="true"><p>"Loading…"</p></main> }
                .into_any()
        }
        Status::SignedIn => {
            view! { <Redirect path=Page::Dashboard.path() options=replace() /> }.into_any()
        }
        Status::SignedOut => {
            view! { <Redirect path=Page::Login.path() options=replace() /> }.into_any()
        }
    }
}

/// Sidebar + the matched page for signed-in users; everyone else goes to sign in and
/// comes back.
#[component]
fn SignedInLayout() -> impl IntoView {
    let session = use_session();
    let location = use_location();
    let status = Memo::new(move |_| session.status());
    move || match status.get() {
        Status::Restoring => view! {
            <main id="main" class="loading" aria-busy="true"><p>"Loading your account…"</p></main>
        }
        .into_any(),
        Status::SignedOut => {
            let here = format!(
                "{}{}",
                location.pathname.get_untracked(),
                location.search.get_untracked()
            );
            view! {
                <Redirect path=paths::login_then(&here) options=replace() />
                <main id="main" class="loading"><p>"Taking you to sign in…"</p></main>
            }
            .into_any()
        }
        Status::SignedIn => view! {
            <div class="layout">
                // Signed in means the API has answered, so it has said whether it has one.
                <Sidebar dev_inbox=api::has_dev_inbox() />
                <main id="main" class="content">
                    <Outlet />
                </main>
            </div>
        }
        .into_any(),
    }
}
