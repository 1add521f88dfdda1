//! The provider boundary (SPEC §13): a provider sends a message, finds it again after a
//! crash, and turns its own delivery receipts into PhoneReg's statuses. Nothing outside
//! this module knows a provider's wire format: the courier and the webhook routes speak
//! [`Provider`], and PhoneReg's error codes ([`guidance`]) are its own vocabulary (the
//! numbers Twilio made familiar, which every provider maps its refusals into).
//!
//! Providers: `console` (development), `twilio`, `http` (any gateway behind a signed
//! HTTP adapter), `script` (scripted test numbers, in front of the others for the
//! numbers it plays).

pub mod console;
mod guidance;
pub mod http;
pub mod providers;
pub mod script;
pub mod twilio;

use std::{future::Future, pin::Pin};

use phonereg_types::{Channel, MessageKind, MessageStatus, SmsProviderName};

pub use guidance::{OPTED_OUT, guidance, guidance_by};
pub use providers::Providers;

/// One message to hand to a provider.
#[derive(Clone, Debug)]
pub struct OutgoingSms {
    pub id: i64,
    pub to: String,
    pub body: String,
    /// Seconds the provider may keep it queued before dropping it (Twilio
    /// `ValidityPeriod`, 1..=36000): a code's remaining life.
    pub validity: Option<u32>,
    /// Which try this is (1 for the first).
    pub attempt: u32,
    /// What it is for (the `purpose` a gateway may route or price by).
    pub purpose: MessageKind,
    /// The language its body was written in.
    pub locale: String,
    pub channel: Channel,
}

/// A message the provider holds, as its lookup shows it.
#[derive(Clone, Debug)]
pub struct Listed {
    pub id: String,
    pub status: MessageStatus,
    /// The body as the provider holds it, when the lookup found candidates by recipient
    /// (the courier matches them by fingerprint); None when the provider found the message
    /// by PhoneReg's own id, which needs no matching.
    pub body: Option<String>,
}

/// The provider took the message: its id and the status it reports.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub id: String,
    pub status: MessageStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No clear answer (a timeout, a 500, an unreadable reply): worth another try later,
    /// and the provider may have the message, so it is looked for there first.
    #[error("temporary failure: {0}")]
    Retry(String),
    /// The provider said it did not take the message (connection refused, 503, 429):
    /// worth another try later, here or at another provider, without a look.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused our credentials or signature (401/403): it did not take the
    /// message, and it will refuse every message until an operator fixes the
    /// configuration, so its circuit opens at once (the courier moves messages on).
    #[error("provider refused our configuration: {0}")]
    Misconfigured(String),
    /// The provider refused this message for good, with PhoneReg's error code for why.
    #[error("rejected with code {code:?}: {message}")]
    Rejected { code: Option<i64>, message: String },
}

/// A delivery receipt, read and checked by its provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id for the message.
    pub id: String,
    pub status: MessageStatus,
    pub error_code: Option<i64>,
}

/// A receipt request as it arrived, for its provider to read: nothing else parses it.
pub struct ReceiptRequest<'a> {
    /// The URL the provider called, as the world sees it (`PUBLIC_URL`, path, query).
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl ReceiptRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a receipt was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("wrong content type")]
    UnsupportedMediaType,
    #[error("{0}")]
    Malformed(String),
    /// Not signed by the provider (or no such provider is configured): 403.
    #[error("bad signature")]
    BadSignature,
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Accepted, SendError>> + Send + 'a>>;
pub type ListFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<Listed>, SendError>> + Send + 'a>>;

/// How long one call to a provider may take, all told. The outbox's lease is longer, so
/// a message is never looked up (and then sent again) while its send could still land.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub trait Provider: Send + Sync {
    fn name(&self) -> SmsProviderName;

    fn send<'a>(&'a self, sms: &'a OutgoingSms) -> SendFuture<'a>;

    /// Where a message whose send may have reached the provider (its sender died, or
    /// got no clear answer) is looked for before it is tried again: the message itself,
    /// or the provider's most recent messages to `sms.to`, newest first. An error means
    /// "could not look".
    fn lookup<'a>(&'a self, sms: &'a OutgoingSms) -> ListFuture<'a>;

    /// Reads a delivery receipt posted to this provider's webhook, checking that the
    /// provider signed it. Several receipts may come in one request.
    fn receipts(&self, request: &ReceiptRequest<'_>) -> Result<Vec<Receipt>, ReceiptError> {
        let _ = request;
        Err(ReceiptError::BadSignature)
    }

    /// Receipts an in-process provider (the script) has due by `now_ms`, taken; real
    /// providers post theirs to the webhook.
    fn due_receipts(&self, now_ms: i64) -> Vec<Receipt> {
        let _ = now_ms;
        Vec::new()
    }
}

/// The script provider as the registry needs it: which numbers it plays.
pub trait ScriptedNumbers: Provider {
    fn plays(&self, to: &str) -> bool;
}
