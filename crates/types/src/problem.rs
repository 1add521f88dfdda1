//! RFC 9457 problem details, the body of every error.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{config::CaptchaChallenge, phone::Verification, vocab::ProblemType};

/// Field name -> messages, on 422.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// `application/problem+json` body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for a person.
    pub detail: String,
    /// Field errors, on 422.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<FieldErrors>,
    /// The code's state, on a wrong verification code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    /// The challenge to show, on `captcha-required` (SPEC §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha: Option<CaptchaChallenge>,
}

impl Problem {
    /// The kind of problem, if this build knows its `type`.
    pub fn problem_type(&self) -> Option<ProblemType> {
        ProblemType::from_uri(&self.kind)
    }
}
