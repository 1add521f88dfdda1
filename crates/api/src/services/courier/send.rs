//! One claimed message, tried: looked up where it may have landed, moved to the next
//! provider when failover says so, sent, its answer read.

use phonereg_types::SmsProviderName;
use tracing::Instrument as _;

use super::{
    Courier, Step, fingerprint,
    outcome::{NotSent, Outcome},
    record::{superseded, take_over},
};
use crate::{
    error::ApiError,
    persistence::{
        models::MessageRow,
        outbox::{self, Claimed},
    },
    sms::{Accepted, Listed, OutgoingSms, Provider, SendError},
    telemetry::{self, trace_context},
};

/// What failover did with a message about to be tried.
pub(super) enum Moved<'a> {
    Stayed,
    To(&'a dyn Provider),
    /// Another worker holds it now.
    Superseded,
}

impl Courier {
    /// One claimed message: look for it at its provider if an earlier try may have
    /// landed, else drop it if its code is dead, else send it (at the next provider if
    /// failover says so); then record the outcome.
    ///
    /// Long: look up, move on, send, record — the exactly-once order reads top to bottom.
    pub(super) async fn deliver(&self, claimed: Claimed) -> Result<Step, ApiError> {
        // A child of the span that queued the message, in the trace of its request.
        let span = tracing::info_span!(
            "sms.deliver",
            otel.kind = "consumer",
            message.id = claimed.msg.id
        );
        trace_context::follow(&span, claimed.msg.trace_context.as_deref());
        self.deliver_claimed(claimed).instrument(span).await
    }

    async fn deliver_claimed(&self, claimed: Claimed) -> Result<Step, ApiError> {
        let Claimed {
            mut msg,
            maybe_sent,
        } = claimed;
        let now = self.clock.now();
        let sms = OutgoingSms {
            id: msg.id,
            to: msg.to_e164.clone(),
            body: msg.body.clone(),
            validity: msg
                .code_expires_at
                .map(|dies| (dies - now).clamp(1, 36_000) as u32),
            attempt: msg.attempts.max(0) as u32 + 1,
            purpose: msg.kind,
            locale: msg.locale.clone(),
            channel: msg.channel,
        };
        let Some(mut provider) = msg.provider.and_then(|name| self.providers.get(name)) else {
            // Its provider was configured when it was claimed and is not any more: it
            // cannot be looked up there, and sending elsewhere could send it twice.
            let why = format!("SMS provider {:?} is not configured", msg.provider);
            tracing::error!(sms.id = msg.id, "{why}");
            return self
                .record(msg, Outcome::NotSent(NotSent::Retry(why)))
                .await;
        };
        if maybe_sent {
            match provider.lookup(&sms).await {
                Ok(listed) => {
                    let print = msg.fingerprint.clone().unwrap_or_default();
                    let matches: Vec<Listed> = listed
                        .into_iter()
                        .filter(|m| {
                            m.body
                                .as_ref()
                                .is_none_or(|body| fingerprint(&self.key, body) == print)
                        })
                        .collect();
                    if !matches.is_empty() {
                        let msg = msg.clone();
                        let taken = self
                            .db
                            .write(move |c| take_over(c, msg, matches, now))
                            .await?;
                        if let Some(step) = taken {
                            return Ok(step);
                        }
                    }
                }
                // Could not look: sending now could send it twice, so try again later.
                Err(e) => {
                    let retry = Outcome::NotSent(NotSent::Retry(e.to_string()));
                    return self.record(msg, retry).await;
                }
            }
        }
        // Its last try is resolved (looked up, or never taken): it may move on now.
        match self.move_on(&mut msg, now).await? {
            Moved::Stayed => {}
            Moved::To(next) => provider = next,
            Moved::Superseded => return Ok(superseded(msg.id)),
        }
        let outcome = match msg.code_expires_at {
            Some(dies) if dies <= now => Outcome::NotSent(NotSent::Dead),
            _ => {
                let call = tracing::info_span!("sms.send", otel.kind = "client");
                Self::counted(provider.name(), provider.send(&sms).instrument(call).await)
            }
        };
        // An in-process provider's receipt that came with its answer lands first, as a
        // real provider's callback can beat the record of its answer.
        self.apply_receipts_of(provider).await?;
        self.record(msg, outcome).await
    }

    /// What a send's answer means for the message, counted per provider.
    fn counted(provider: SmsProviderName, sent: Result<Accepted, SendError>) -> Outcome {
        let (result, outcome) = match sent {
            Ok(accepted) => (
                "sent",
                Outcome::HandedOver {
                    accepted,
                    found: false,
                },
            ),
            Err(SendError::Retry(reason)) => ("retry", Outcome::NotSent(NotSent::Retry(reason))),
            Err(SendError::Unavailable(reason)) => (
                "unavailable",
                Outcome::NotSent(NotSent::Unavailable(reason)),
            ),
            Err(SendError::Misconfigured(reason)) => (
                "misconfigured",
                Outcome::NotSent(NotSent::Misconfigured(reason)),
            ),
            Err(SendError::Rejected { code, message }) => (
                "rejected",
                Outcome::NotSent(NotSent::Rejected { code, message }),
            ),
        };
        telemetry::sms_provider_attempt(provider, result);
        outcome
    }

    /// Moves `msg` to the next provider if failover says so, recording the move before
    /// anything is sent there.
    async fn move_on(&self, msg: &mut MessageRow, now: i64) -> Result<Moved<'_>, ApiError> {
        let open = self.failover.open(now);
        if !self.failover.leaves(msg, &open) {
            return Ok(Moved::Stayed);
        }
        let Some(next) = msg
            .provider
            .and_then(|current| self.providers.next_after(current, &open))
        else {
            return Ok(Moved::Stayed);
        };
        let Some(next_provider) = self.providers.get(next) else {
            return Ok(Moved::Stayed);
        };
        let (id, lease) = (msg.id, msg.claimed_until.unwrap_or_default());
        let moved = self
            .db
            .write(move |c| outbox::switch_provider(c, id, lease, next))
            .await?;
        if !moved {
            return Ok(Moved::Superseded);
        }
        tracing::warn!(sms.id = id, from = ?msg.provider, to = %next, "SMS moves to the next provider");
        if let Some(from) = msg.provider {
            telemetry::sms_failover(from, next);
        }
        msg.provider = Some(next);
        msg.provider_tries = 0;
        Ok(Moved::To(next_provider))
    }
}
