//! "Test message": send a test SMS to the verified number and follow its delivery status,
//! which live events update without a reload.

use leptos::prelude::*;
use phonereg_types::{Phone, PhoneStatus};

use crate::{api, components::phone_widget::LastMessageStatus, session::use_session, task::Task};

#[component]
pub fn TestMessageCard(#[prop(into)] phone: Signal<Option<Phone>>) -> impl IntoView {
    let session = use_session();
    let result = RwSignal::new(None::<Result<String, String>>);
    let send = Task::new(move |id: &i64| {
        let id = *id;
        async move {
            result.set(None);
            let outcome = match session.call(|t| api::send_test_message(t, id)).await {
                Ok(message) => {
                    session.apply_message(id, message);
                    Ok("Test SMS sent. Its delivery status updates below.".to_owned())
                }
                Err(e) => Err(e.message()),
            };
            result.try_set(Some(outcome));
        }
    });
    let sending = send.pending();

    // Rebuilt only when these change, so live status updates don't steal focus.
    let key = Memo::new(move |_| {
        phone.with(|p| {
            p.as_ref()
                .map(|p| (p.id, p.status == PhoneStatus::Verified, p.sms_opted_out))
        })
    });
    move || {
        let (id, verified, opted_out) = key.get()?;
        let last_message = Signal::derive(move || phone.get().and_then(|p| p.last_message));
        Some(view! {
            <section class="card" aria-labelledby="test-title">
                <h2 id="test-title">"Test message"</h2>
                <p class="muted">
                    {if !verified {
                        "Verify your number to send yourself a test SMS."
                    } else if opted_out {
                        "This number replied STOP; text START to the sender, then verify again."
                    } else {
                        "Send yourself a short SMS to check that messages reach you."
                    }}
                </p>
                <div class="actions">
                    <button
                        class="btn"
                        prop:disabled=move || sending.get() || !verified
                        aria-busy=move || if sending.get() { "true" } else { "false" }
                        on:click=move |_| {
                            if !sending.get_untracked() {
                                send.dispatch(id);
                            }
                        }
                    >
                        {move || if sending.get() { "Sending…" } else { "Send test SMS" }}
                    </button>
                </div>
                <p class="form-info" role="status">
                    {move || result.get().and_then(Result::ok)}
                </p>
                <p class="form-error" role="alert">
                    {move || result.get().and_then(Result::err)}
                </p>
                <h3>"Delivery status"</h3>
                <LastMessageStatus message=last_message />
            </section>
        })
    }
}
