//! The signed-in navigation: "Dashboard", "Phone Number", and the development inbox when
//! the API offers one. The current page's link carries `aria-current="page"`.

use leptos::prelude::*;

use crate::routes::Page;

#[component]
pub fn Sidebar(
    #[prop(into)] dev_inbox: Signal<bool>,
    #[prop(into)] current: Signal<Option<Page>>,
) -> impl IntoView {
    let link = move |page: Page, label: &'static str| {
        view! {
            <li>
                <a
                    href=page.path()
                    aria-current=move || (current.get() == Some(page)).then_some("page")
                >
                    {label}
                </a>
            </li>
        }
    };
    view! {
        <nav class="sidebar" aria-label="Main">
            <ul>
                {link(Page::Dashboard, "Dashboard")}
                {link(Page::PhoneManagement, "Phone Number")}
                <Show when=move || dev_inbox.get()>{link(Page::DevSms, "SMS inbox (dev)")}</Show>
            </ul>
        </nav>
    }
}
