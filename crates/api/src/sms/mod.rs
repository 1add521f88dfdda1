//! SMS providers behind one trait: `console` for development, `twilio` for real.

pub mod console;
pub mod twilio;

use std::{future::Future, pin::Pin};

use phonereg_types::MessageStatus;

/// One message to hand to a provider.
#[derive(Clone, Debug)]
pub struct OutgoingSms {
    pub id: i64,
    pub to: String,
    pub body: String,
    /// Seconds the provider may keep it queued before dropping it (Twilio
    /// `ValidityPeriod`, 1..=36000): a code's remaining life.
    pub validity: Option<u32>,
}

/// A message the provider holds, as its list of recent messages shows it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub sid: String,
    pub status: String,
    pub body: String,
}

/// The provider took the message: its id and initial status (Twilio vocabulary).
#[derive(Clone, Debug)]
pub struct Accepted {
    pub sid: String,
    pub status: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Network trouble, 5xx, 429, or (for Twilio) 401/403: worth another try later.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// The provider refused this message for good (Twilio 4xx) with its error code.
    #[error("rejected with code {code:?}: {message}")]
    Rejected { code: Option<i64>, message: String },
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Accepted, SendError>> + Send + 'a>>;
pub type ListFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Listed>, SendError>> + Send + 'a>>;

/// How long one call to a provider may take, all told. The outbox's lease is longer, so
/// a message is never looked up (and then sent again) while its send could still land.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub trait SmsSender: Send + Sync {
    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a>;

    /// The provider's most recent messages to `to`, newest first: where a message whose
    /// send may have reached the provider (its sender died, or got no clear answer) is
    /// looked for before it is tried again. An error means "could not look".
    fn recent<'a>(&'a self, to: &'a str) -> ListFuture<'a>;
}

/// Plain guidance for a delivery error (SPEC §5), shown beside the message status.
pub fn guidance(status: MessageStatus, error_code: Option<i64>) -> Option<&'static str> {
    Some(match error_code {
        Some(21211) => "This doesn't look like a valid phone number. Check it and try again.",
        Some(21408) => "We can't send text messages to this country yet.",
        Some(21610) => {
            "This number replied STOP, so no more texts are sent to it. Text START to the sender, then verify again."
        }
        Some(21614) => "This number can't receive text messages. Use a mobile number.",
        Some(30003) => "The phone is switched off or out of coverage. Try again later.",
        Some(30004) => "The message was blocked by the recipient or the carrier.",
        Some(30005) => "The number doesn't exist or is no longer in service.",
        Some(30006) => "This number can't receive text messages (landline or unreachable carrier).",
        Some(30007) => "The carrier filtered the message. Try again later or use another number.",
        Some(30008) => "The message could not be delivered for an unknown reason. Try again later.",
        Some(_) => "The message could not be delivered. Try again later.",
        None if status == MessageStatus::Failed => {
            "The SMS service could not be reached. Try again in a few minutes."
        }
        None if status == MessageStatus::Undelivered => {
            "The message could not be delivered. Try again later."
        }
        None if status == MessageStatus::Canceled => {
            "The code expired or was replaced before the text could be sent; request a new code."
        }
        None => return None,
    })
}
