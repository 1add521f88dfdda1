//! The management page's overview: "Current phone", "Status", "Last updated" and "Last
//! verified", one small card each.

use leptos::prelude::*;
use phonereg_types::Phone;

use crate::{
    components::phone_widget::PhoneBadges,
    time::{self, Clock},
};

#[component]
pub fn PhoneOverview(#[prop(into)] phone: Signal<Option<Phone>>) -> impl IntoView {
    let clock = Clock::get();
    move || {
        let p = phone.get();
        let current = p.as_ref().map_or_else(
            || view! { <p class="muted">"No phone number"</p> }.into_any(),
            |p| {
                view! {
                    <p class="number">{p.national.clone()}</p>
                    <p class="muted small">{p.international.clone()}</p>
                }
                .into_any()
            },
        );
        let updated = p.as_ref().map(|p| p.updated_at.clone());
        let verified = p.as_ref().and_then(|p| p.verified_at.clone());
        view! {
            <div class="cards">
                <section class="card stat" aria-labelledby="card-current">
                    <h2 id="card-current">"Current phone"</h2>
                    {current}
                </section>
                <section class="card stat" aria-labelledby="card-status">
                    <h2 id="card-status">"Status"</h2>
                    {if p.is_some() {
                        view! { <PhoneBadges phone /> }.into_any()
                    } else {
                        view! { <p class="muted">"—"</p> }.into_any()
                    }}
                    {p.as_ref().and_then(|p| p.pending_e164.clone()).map(|pending| view! {
                        <p class="small">"Waiting for " <strong>{pending}</strong> " to be verified"</p>
                    })}
                </section>
                <section class="card stat" aria-labelledby="card-updated">
                    <h2 id="card-updated">"Last updated"</h2>
                    {relative(clock, updated, "—")}
                </section>
                <section class="card stat" aria-labelledby="card-verified">
                    <h2 id="card-verified">"Last verified"</h2>
                    {relative(clock, verified, "Never")}
                </section>
            </div>
        }
    }
}

/// "3 minutes ago" with the exact time on hover, or `none`.
fn relative(clock: Clock, at: Option<String>, none: &'static str) -> AnyView {
    match at {
        Some(at) => {
            let title = time::local_datetime(&at);
            let shown = at.clone();
            view! { <p><time datetime=at title=title>{move || clock.ago(&shown)}</time></p> }
                .into_any()
        }
        None => view! { <p class="muted">{none}</p> }.into_any(),
    }
}
