//! How one try of one message ended: what sending finds out and recording writes. Its
//! own room so that `send` and `record` both read it without importing each other.

use crate::sms::Accepted;

/// How one try of one message ended.
#[derive(Clone)]
pub(super) enum Outcome {
    /// The provider has it: just now, or found from an earlier try.
    HandedOver {
        accepted: Accepted,
        found: bool,
    },
    NotSent(NotSent),
}

/// Why a try did not hand the message over.
#[derive(Clone)]
pub(super) enum NotSent {
    /// No clear answer, or the provider could not be asked whether it has the message.
    Retry(String),
    /// The provider said it did not take the message.
    Unavailable(String),
    /// The provider refused our credentials: not taken, and its circuit opens at once.
    Misconfigured(String),
    Rejected {
        code: Option<i64>,
        message: String,
    },
    /// Its code died first.
    Dead,
}
