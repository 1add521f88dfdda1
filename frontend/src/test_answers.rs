//! API refusals for the unit tests of the code that reads them (code steps, the password
//! and recovery code fields): one builder instead of a `Problem` spelled out in every
//! test module. `api.rs`'s own tests keep theirs: this module imports `api`, and the
//! circle test reads test code too.

use phonereg_types::{Problem, Verification};

use crate::api::ApiError;

/// A problem+json answer with `status` and `detail`, of type `…/problems/x`.
pub fn refusal(status: u16, detail: &str) -> Answer {
    Answer(Problem {
        kind: "https://phonereg.dev/problems/x".to_owned(),
        title: String::new(),
        status,
        detail: detail.to_owned(),
        errors: None,
        verification: None,
        captcha: None,
    })
}

pub struct Answer(Problem);

impl Answer {
    /// Of this problem type (the whole URI).
    pub fn kind(mut self, uri: &str) -> Self {
        uri.clone_into(&mut self.0.kind);
        self
    }

    /// Carrying the code's state, with `n` attempts left.
    pub fn attempts_left(mut self, n: i64) -> Self {
        self.0.verification = Some(Verification {
            sent: true,
            expires_at: String::new(),
            resend_after: String::new(),
            attempts_remaining: n,
            channel: Default::default(),
            channels: Vec::new(),
        });
        self
    }

    /// With `message` on `field` in `errors`.
    pub fn field_error(mut self, field: &str, message: &str) -> Self {
        self.0
            .errors
            .get_or_insert_default()
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
        self
    }

    pub fn error(self) -> ApiError {
        ApiError::Problem {
            problem: Box::new(self.0),
            retry_after: None,
        }
    }
}
