//! PhoneNumberRegistrationWidget (the dashboard's phone card) and the small pieces it
//! shares with the management page: status badges and the last message's delivery state.

use leptos::prelude::*;
use phonereg_types::{Channel, LastMessage, MessageStatus, Phone, PhoneStatus};

use crate::time::{self, Clock};

/// Badges for a phone record: Verified / Unverified, Pending change, Opted-out.
#[component]
pub fn PhoneBadges(#[prop(into)] phone: Signal<Option<Phone>>) -> impl IntoView {
    move || {
        phone.get().map(|p| {
            let (status_class, status_text) = match p.status {
                PhoneStatus::Verified => ("badge badge-ok", "Verified"),
                PhoneStatus::Unverified => ("badge badge-warn", "Unverified"),
            };
            view! {
                <span class="badges">
                    <span class=status_class>{status_text}</span>
                    {p.pending_e164.is_some().then(|| view! { <span class="badge badge-info">"Pending change"</span> })}
                    {p.sms_opted_out.then(|| view! { <span class="badge badge-bad">"Opted-out"</span> })}
                </span>
            }
        })
    }
}

/// A delivery status in words. `queued` is "Sending…": the message waits in the outbox,
/// retries included, or at a provider that has not reported on it yet (the API cannot
/// tell the two apart, so neither does this).
pub fn message_status_words(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Queued | MessageStatus::Sending => "Sending…",
        MessageStatus::Sent => "Sent",
        MessageStatus::Delivered => "Delivered",
        MessageStatus::Undelivered => "Not delivered",
        MessageStatus::Failed => "Failed",
        MessageStatus::Canceled => "Not sent (code expired)",
    }
}

fn message_status_class(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Delivered => "status status-ok",
        MessageStatus::Undelivered | MessageStatus::Failed | MessageStatus::Canceled => {
            "status status-bad"
        }
        MessageStatus::Queued | MessageStatus::Sending | MessageStatus::Sent => {
            "status status-pending"
        }
    }
}

/// The error line: the provider's code, who reported it (the API's name) and how the
/// message travelled.
fn error_words(m: &LastMessage) -> Option<String> {
    let code = m.error_code?;
    let mut words = format!("Error {code}");
    if let Some(p) = m.provider {
        words.push_str(" from ");
        words.push_str(p.as_str());
    }
    match m.channel {
        Some(Channel::Sms) => words.push_str(" (SMS)"),
        Some(Channel::Voice) => words.push_str(" (call)"),
        Some(Channel::Whatsapp) => words.push_str(" (WhatsApp)"),
        None => {}
    }
    Some(words)
}

/// The last SMS's delivery state, with the provider's error as plain guidance.
#[component]
pub fn LastMessageStatus(#[prop(into)] message: Signal<Option<LastMessage>>) -> impl IntoView {
    let clock = Clock::get();
    view! {
        <div class="message-status" aria-live="polite">
            {move || match message.get() {
                None => view! { <p class="muted">"No messages sent yet."</p> }.into_any(),
                Some(m) => {
                    let when = m.updated_at.clone();
                    let title = time::local_datetime(&m.updated_at);
                    let error = error_words(&m);
                    view! {
                        <p>
                            "Last message: "
                            <span class=message_status_class(m.status)>{message_status_words(m.status)}</span>
                            " · "
                            <time datetime=m.updated_at.clone() title=title>{move || clock.ago(&when)}</time>
                        </p>
                        {m.guidance.map(|g| view! { <p class="guidance">{g}</p> })}
                        {error.map(|e| view! { <p class="muted small">{e}</p> })}
                    }
                    .into_any()
                }
            }}
        </div>
    }
}

/// The dashboard's phone card: the number, its state, live delivery status and the
/// Update / Verify / Manage actions (or Add when there is no number).
#[component]
pub fn PhoneNumberRegistrationWidget(
    #[prop(into)] phone: Signal<Option<Phone>>,
    on_add: Callback<()>,
    on_update: Callback<()>,
    on_verify: Callback<()>,
    on_manage: Callback<()>,
    /// True while the add form or the code step is open below the card.
    #[prop(into)]
    busy: Signal<bool>,
) -> impl IntoView {
    let clock = Clock::get();
    let last_message = Signal::derive(move || phone.get().and_then(|p| p.last_message));
    let body = move || {
        match phone.get() {
        None => view! {
            <p>"You have no phone number yet. Add one to verify your account by SMS."</p>
            <div class="actions">
                <button class="btn btn-primary" on:click=move |_| on_add.run(()) prop:disabled=move || busy.get()>
                    "Add phone number"
                </button>
            </div>
        }
        .into_any(),
        Some(p) => {
            let needs_code = p.status == PhoneStatus::Unverified || p.pending_e164.is_some();
            let updated = p.updated_at.clone();
            let updated_title = time::local_datetime(&p.updated_at);
            view! {
                <p class="number">{p.national.clone()}</p>
                <p class="muted">{p.international.clone()} " · " {p.country.clone()}</p>
                {p.pending_e164.clone().map(|pending| view! {
                    <p class="notice">
                        "Change pending to " <strong>{pending}</strong>
                        ". Your current number stays active until the new one is verified."
                    </p>
                })}
                {(p.status == PhoneStatus::Unverified).then(|| view! {
                    <p class="notice">"Verify this number to start receiving SMS from PhoneReg."</p>
                })}
                <p class="muted small">
                    "Last updated "
                    <time datetime=p.updated_at.clone() title=updated_title>{move || clock.ago(&updated)}</time>
                </p>
                <LastMessageStatus message=last_message />
                <div class="actions">
                    <button class="btn" on:click=move |_| on_update.run(())>"Update"</button>
                    {needs_code.then(|| view! {
                        <button class="btn btn-primary" on:click=move |_| on_verify.run(()) prop:disabled=move || busy.get()>
                            "Verify"
                        </button>
                    })}
                    <button class="btn" on:click=move |_| on_manage.run(())>"Manage"</button>
                </div>
            }
            .into_any()
        }
    }
    };
    view! {
        <section class="card widget" aria-labelledby="phone-widget-title">
            <div class="card-head">
                <h2 id="phone-widget-title">"Phone number"</h2>
                <PhoneBadges phone />
            </div>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(status: MessageStatus, error_code: Option<i64>) -> LastMessage {
        LastMessage {
            status,
            error_code,
            guidance: None,
            updated_at: "2026-12-07T10:00:00Z".to_owned(),
            provider: Some(phonereg_types::SmsProviderName::Script),
            channel: Some(Channel::Sms),
        }
    }

    #[test]
    fn an_error_names_its_code_its_provider_and_its_channel() {
        let m = message(MessageStatus::Failed, Some(21614));
        assert_eq!(
            error_words(&m).as_deref(),
            Some("Error 21614 from script (SMS)")
        );
        let unknown = LastMessage {
            provider: None,
            channel: None,
            ..m
        };
        assert_eq!(error_words(&unknown).as_deref(), Some("Error 21614"));
        assert_eq!(error_words(&message(MessageStatus::Delivered, None)), None);
    }
}
