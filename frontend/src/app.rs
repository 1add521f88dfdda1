//! The app shell: session, clock, location and live updates as context, the header, and
//! the page for the current path. Signed-in pages share [`SignedInLayout`], which sends
//! visitors without a session to `/login?next=…`.

use leptos::{prelude::*, task::spawn_local};

use crate::{
    api,
    components::sidebar::Sidebar,
    events,
    pages::{
        NotFound, dashboard::DashboardHome, dev_sms::DevSmsPage, login::LoginPage,
        phone_management::PhoneManagementPage, register::RegisterPage,
    },
    routes::{Location, Page, navigate},
    session::{Session, Status, use_session},
    task::Task,
    time::Clock,
};

/// Whether the API offers the development SMS inbox (console provider only).
#[derive(Clone, Copy)]
pub struct DevInbox(pub RwSignal<bool>);

/// Which layout the current page uses; the sidebar layout survives moves between its pages.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Area {
    Public(Option<Page>),
    SignedIn,
}

#[component]
pub fn App() -> impl IntoView {
    Clock::provide();
    let location = Location::start();
    provide_context(location);
    let session = Session::provide();
    events::follow_session(session);
    let dev_inbox = RwSignal::new(false);
    provide_context(DevInbox(dev_inbox));
    spawn_local(async move {
        if let Ok(Some(_)) = api::dev_sms().await {
            dev_inbox.set(true);
        }
    });

    let area = Memo::new(move |_| match location.page() {
        Some(page) if page.signed_in() => Area::SignedIn,
        page => Area::Public(page),
    });

    view! {
        <a class="skip-link" href="#main">"Skip to main content"</a>
        <Header />
        {move || match area.get() {
            Area::SignedIn => view! { <SignedInLayout location /> }.into_any(),
            Area::Public(Some(Page::Login)) => view! { <LoginPage /> }.into_any(),
            Area::Public(Some(Page::Register)) => view! { <RegisterPage /> }.into_any(),
            Area::Public(Some(Page::DevSms)) => view! { <DevSmsPage /> }.into_any(),
            Area::Public(Some(Page::Home)) => view! { <Home /> }.into_any(),
            Area::Public(_) => view! { <NotFound /> }.into_any(),
        }}
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = use_session();
    let logout = Task::new(move |_: &()| async move {
        session.logout().await;
        navigate(Page::Login.path(), false);
    });
    let pending = logout.pending();
    let signed_in = Memo::new(move |_| session.status() == Status::SignedIn);
    view! {
        <header class="topbar">
            <a href=Page::Home.path() class="brand">"PhoneReg"</a>
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
    Effect::new(move |_| {
        let to = match session.status() {
            Status::Restoring => return,
            Status::SignedIn => Page::Dashboard.path(),
            Status::SignedOut => Page::Login.path(),
        };
        navigate(to, true);
    });
    view! { <main id="main" class="loading" aria-busy="true"><p>"Loading…"</p></main> }
}

/// Sidebar + page for signed-in users; everyone else goes to sign in and comes back.
#[component]
fn SignedInLayout(location: Location) -> impl IntoView {
    let session = use_session();
    let dev_inbox = use_context::<DevInbox>().map_or_else(|| RwSignal::new(false), |d| d.0);
    Effect::new(move |_| {
        if session.status() == Status::SignedOut {
            let next = String::from(js_sys::encode_uri_component(&location.here()));
            navigate(&format!("{}?next={next}", Page::Login.path()), true);
        }
    });
    let page = Memo::new(move |_| location.page());
    let status = Memo::new(move |_| session.status());
    move || match status.get() {
        Status::Restoring => view! {
            <main id="main" class="loading" aria-busy="true"><p>"Loading your account…"</p></main>
        }
        .into_any(),
        Status::SignedOut => view! {
            <main id="main" class="loading"><p>"Taking you to sign in…"</p></main>
        }
        .into_any(),
        Status::SignedIn => view! {
            <div class="layout">
                <Sidebar dev_inbox current=page />
                <main id="main" class="content">
                    {move || match page.get() {
                        Some(Page::PhoneManagement) => view! { <PhoneManagementPage /> }.into_any(),
                        _ => view! { <DashboardHome /> }.into_any(),
                    }}
                </main>
            </div>
        }
        .into_any(),
    }
}
