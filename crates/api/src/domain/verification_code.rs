//! What a client is told about the live verification code.

use phonereg_types::Verification;

use super::rfc3339;

/// The state of a phone record's live code (`verification` in SPEC §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeState {
    pub sent: bool,
    pub expires_at: i64,
    pub resend_after: i64,
    pub attempts_remaining: i64,
}

impl From<&CodeState> for Verification {
    fn from(s: &CodeState) -> Self {
        Verification {
            sent: s.sent,
            expires_at: rfc3339(s.expires_at),
            resend_after: rfc3339(s.resend_after),
            attempts_remaining: s.attempts_remaining,
        }
    }
}
