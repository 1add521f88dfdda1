//! "Recent activity" on the security page (SPEC §12): the account's own security events
//! (`GET /users/me/security-events`), newest first, so its holder notices a sign-in or a
//! change they did not make.

use leptos::{prelude::*, task::spawn_local};
use phonereg_types::{AuditOutcome, SecurityEvent, SecurityEventType};

use crate::{
    api::{self, ApiError},
    session::use_session,
    time::{self, Clock},
};

#[component]
pub fn RecentActivityCard() -> impl IntoView {
    let session = use_session();
    let clock = Clock::get();
    let events = RwSignal::new(None::<Result<Vec<SecurityEvent>, ApiError>>);
    let load = move || {
        spawn_local(async move {
            let result = session.call(api::security_events).await;
            events.try_set(Some(result));
        });
    };
    // Again whenever the account changes (two-step switched, number verified…).
    Effect::new(move |_| {
        session.user().map(|u| {
            (
                u.two_factor,
                u.recovery_codes_left,
                u.phone.map(|p| p.updated_at),
            )
        });
        load();
    });
    let body = move || {
        match events.get() {
        None => view! { <p class="muted" aria-busy="true">"Loading recent activity…"</p> }.into_any(),
        Some(Err(e)) => view! {
            <p class="form-error" role="alert">{format!("Couldn't load recent activity: {}", e.message())}</p>
            <button class="btn" on:click=move |_| load()>"Try again"</button>
        }
        .into_any(),
        Some(Ok(items)) if items.is_empty() => view! { <p class="muted">"Nothing yet."</p> }.into_any(),
        Some(Ok(items)) => view! {
            <ol class="history" aria-label="Recent activity">
                {items.into_iter().map(|e| activity_row(clock, e)).collect_view()}
            </ol>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card" aria-labelledby="activity-title">
            <h2 id="activity-title">"Recent activity"</h2>
            {body}
        </section>
    }
}

fn activity_row(clock: Clock, event: SecurityEvent) -> impl IntoView {
    let title = time::local_datetime(&event.at);
    let at = event.at.clone();
    let failed = event.outcome == AuditOutcome::Failure;
    let from = event.client.map(|c| format!("from {c}"));
    view! {
        <li class:failed=failed>
            <span class="history-kind">{activity_words(event.event_type)}</span>
            {from.map(|f| view! { <span class="history-detail">{f}</span> })}
            <time datetime=event.at.clone() title=title class="muted small">{move || clock.ago(&at)}</time>
        </li>
    }
}

/// An event's type in words.
pub fn activity_words(kind: SecurityEventType) -> &'static str {
    use SecurityEventType as T;
    match kind {
        T::Registered => "Account created",
        T::LoginSucceeded => "Signed in with password",
        T::LoginFailed => "Wrong password",
        T::SmsSignInSucceeded => "Signed in with a code",
        T::SmsSignInFailed => "Wrong sign-in code",
        T::PasswordResetRequested => "Password reset code requested",
        T::PasswordResetCompleted => "Password reset",
        T::Logout => "Signed out",
        T::RefreshReuseDetected => "A session was ended (its token was used twice)",
        T::TwoFactorEnabled => "Two-step sign-in turned on",
        T::TwoFactorDisabled => "Two-step sign-in turned off",
        T::TwoFactorChallengeFailed => "Wrong two-step code",
        T::RecoveryCodesCreated => "New recovery codes",
        T::RecoveryCodeUsed => "Recovery code used",
        T::PhoneAdded => "Phone number added",
        T::PhoneVerified => "Phone number verified",
        T::PhoneVerifyFailed => "Wrong verification code",
        T::PhoneChangeRequested => "Phone number change requested",
        T::PhoneChanged => "Phone number changed",
        T::PhoneRemoved => "Phone number removed",
        T::PhoneOptedOut => "Your number replied STOP",
        T::FraudPause | T::FraudLift => "SMS protection changed",
        T::AccountDeleted => "Account deleted",
        T::AdminAuditRead | T::AdminFraudRead | T::AdminPauseLifted | T::AdminUserRead => {
            "Looked at by support"
        }
        T::AdminPhoneReleased => "Number released by support",
        T::AdminTwoFactorDisabled => "Two-step sign-in turned off by support",
        T::AdminSessionsRevoked => "Sessions ended by support",
        T::AdminUserUnlocked => "Sign-in unlocked by support",
        T::AdminUserDeleted => "Deleted by support",
        // Never about an account: operators switching SMS providers or webhooks.
        T::AdminProviderDisabled | T::AdminProviderEnabled => "SMS provider switched by support",
        T::AdminWebhooksRead
        | T::AdminWebhookCreated
        | T::AdminWebhookUpdated
        | T::AdminWebhookDeleted
        | T::AdminWebhookSecretRotated
        | T::AdminWebhookTested
        | T::AdminWebhookRedelivered => "Webhook settings changed by an operator",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_words() {
        for kind in SecurityEventType::ALL {
            assert!(!activity_words(*kind).is_empty());
        }
        assert_eq!(
            activity_words(SecurityEventType::LoginFailed),
            "Wrong password"
        );
    }
}
