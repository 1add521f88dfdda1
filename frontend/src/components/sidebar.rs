//! The signed-in navigation: "Dashboard", "Phone Number", and the development inbox when
//! the API offers one. `<A exact>` marks the current page's link `aria-current="page"`.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::paths::Page;

#[component]
pub fn Sidebar(dev_inbox: bool) -> impl IntoView {
    let link = move |page: Page, label: &'static str| {
        view! {
            <li>
                <A href=page.path() exact=true>{label}</A>
            </li>
        }
    };
    view! {
        <nav class="sidebar" aria-label="Main">
            <ul>
                {link(Page::Dashboard, "Dashboard")}
                {link(Page::PhoneManagement, "Phone Number")}
                {dev_inbox.then(|| link(Page::DevSms, "SMS inbox (dev)"))}
            </ul>
        </nav>
    }
}
