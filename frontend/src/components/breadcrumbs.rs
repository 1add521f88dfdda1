//! "Dashboard > Phone Number": where the page sits, the last crumb being the current page.

use leptos::prelude::*;
use leptos_router::components::A;

/// `trail`: (label, link) from the top; the last item is the current page.
#[component]
pub fn Breadcrumbs(trail: Vec<(&'static str, &'static str)>) -> impl IntoView {
    let last = trail.len().saturating_sub(1);
    let items = trail
        .into_iter()
        .enumerate()
        .map(|(i, (label, href))| {
            let crumb = if i == last {
                view! { <span aria-current="page">{label}</span> }.into_any()
            } else {
                view! { <A href=href>{label}</A> }.into_any()
            };
            view! {
                <li>
                    {(i > 0).then(|| view! { <span class="crumb-sep" aria-hidden="true">" > "</span> })}
                    {crumb}
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="breadcrumbs" aria-label="Breadcrumb">
            <ol>{items}</ol>
        </nav>
    }
}
