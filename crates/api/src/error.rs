//! One error type, written as RFC 9457 `application/problem+json`.

use actix_web::{
    HttpResponse, ResponseError,
    http::{StatusCode, header},
};
use phonereg_types::{CaptchaChallenge, FieldErrors, Problem, ProblemType, SmsKind, Verification};

use crate::domain::CodeState;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// A right code for an account that also needs its password (SPEC §8).
    #[error("password required")]
    PasswordRequired,
    /// A password re-checked for a signed-in account was wrong (SPEC §10): told apart
    /// from a dead token, so a client does not sign the user out for a typo.
    #[error("wrong password")]
    WrongPassword,
    /// A password reset by SMS on a two-factor account needs a recovery code too.
    #[error("recovery code required")]
    RecoveryCodeRequired,
    /// The right code for a number verified on another account (SPEC §10).
    #[error("phone taken")]
    PhoneTaken,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {0}")]
    Conflict(String),
    /// The code can no longer be used; `verification` is its last state when there was one.
    #[error("gone: {detail}")]
    Gone {
        detail: String,
        verification: Option<CodeState>,
    },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("wrong verification code")]
    WrongCode(CodeState),
    #[error("rate limited ({limit})")]
    RateLimited {
        limit: &'static str,
        retry_after: u64,
    },
    /// The resend cool-down: a 429 about a code, so it carries the live code's state.
    #[error("resend cool-down")]
    ResendTooSoon {
        retry_after: u64,
        verification: CodeState,
    },
    /// The asked-for channel cannot carry this code (SPEC §13): off, not for this
    /// number's country or type, no live code to resend, or already used for it.
    #[error("channel unavailable: {0}")]
    ChannelUnavailable(String),
    /// The asked-for channel opens later (`CHANNEL_FALLBACK_AFTER`): a 429 about a code,
    /// with its state, like the resend cool-down.
    #[error("channel not yet available")]
    ChannelNotYet {
        retry_after: u64,
        verification: CodeState,
    },
    /// The SMS fraud guard has paused the destination's range or country (SPEC §9).
    #[error("sms range paused")]
    SmsRangePaused { retry_after: u64 },
    /// A request that would send a code needs a bot-challenge token it did not bring, or
    /// brought one that was refused or used before (SPEC §11).
    #[error("captcha required")]
    CaptchaRequired {
        challenge: CaptchaChallenge,
        rejected: bool,
    },
    #[error("unavailable: {detail}")]
    Unavailable { detail: String, retry_after: u64 },
    /// The day's SMS budget has no room for this `kind` of SMS (SPEC §5): a 503 like
    /// [`ApiError::Unavailable`], told apart so the first one of a window is announced.
    #[error("the SMS budget is spent")]
    SmsBudgetSpent { kind: SmsKind, retry_after: u64 },
    /// The database could not serve (down, restarting, its disk full or read-only): a
    /// 503 like [`ApiError::Unavailable`], told apart so the pool can fail fast.
    #[error("the database is unavailable")]
    DatabaseUnavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// A 422 with one message on one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(field.to_owned(), vec![message.into()]);
        ApiError::Validation(errors)
    }

    /// Long: one arm per error: the whole vocabulary of problems, read in one place.
    fn parts(&self) -> (ProblemType, &'static str, String) {
        match self {
            ApiError::Validation(_) => (
                ProblemType::ValidationError,
                "Invalid request",
                "One or more fields are invalid.".into(),
            ),
            ApiError::BadRequest(d) => (ProblemType::MalformedRequest, "Malformed request", d.clone()),
            ApiError::Unauthorized(d) => (ProblemType::Unauthorized, "Unauthorized", (*d).into()),
            ApiError::PasswordRequired => (
                ProblemType::PasswordRequired,
                "Password required",
                "This account has two-step sign-in on: sign in with your password, then a code."
                    .into(),
            ),
            ApiError::WrongPassword => (
                ProblemType::WrongPassword,
                "Wrong password",
                "The password is incorrect.".into(),
            ),
            ApiError::RecoveryCodeRequired => (
                ProblemType::RecoveryCodeRequired,
                "Recovery code required",
                "This account has two-step sign-in on: a reset by SMS also needs one of its recovery codes. The SMS code is still valid.".into(),
            ),
            ApiError::PhoneTaken => (
                ProblemType::PhoneTaken,
                "Phone number taken",
                "This number is verified on another account. If it is yours, sign in with a code.".into(),
            ),
            ApiError::Forbidden => (
                ProblemType::Forbidden,
                "Forbidden",
                "The request signature is missing or wrong.".into(),
            ),
            ApiError::NotFound => (
                ProblemType::NotFound,
                "Not found",
                "The requested resource does not exist.".into(),
            ),
            ApiError::MethodNotAllowed { allow } => (
                ProblemType::MethodNotAllowed,
                "Method not allowed",
                format!("This resource supports: {allow}."),
            ),
            ApiError::Conflict(d) => (ProblemType::Conflict, "Conflict", d.clone()),
            ApiError::Gone { detail, .. } => (ProblemType::CodeGone, "Code no longer valid", detail.clone()),
            ApiError::PayloadTooLarge => (
                ProblemType::PayloadTooLarge,
                "Payload too large",
                "The request body must be at most 16 KiB.".into(),
            ),
            ApiError::UnsupportedMediaType => (
                ProblemType::UnsupportedMediaType,
                "Unsupported media type",
                "Send the body as application/json.".into(),
            ),
            ApiError::WrongCode(v) => (
                ProblemType::WrongCode,
                "Wrong verification code",
                format!(
                    "That code is not right. {} attempt{} left.",
                    v.attempts_remaining,
                    if v.attempts_remaining == 1 { "" } else { "s" }
                ),
            ),
            ApiError::RateLimited { retry_after, .. }
            | ApiError::ResendTooSoon { retry_after, .. } => (
                ProblemType::RateLimited,
                "Too many requests",
                format!("Too many attempts. Try again in {retry_after} seconds."),
            ),
            ApiError::ChannelUnavailable(d) => (
                ProblemType::ChannelUnavailable,
                "Channel unavailable",
                d.clone(),
            ),
            ApiError::ChannelNotYet { retry_after, .. } => (
                ProblemType::ChannelNotYet,
                "Not yet",
                format!(
                    "Give the first message a little longer: you can ask for the code this way in {retry_after} seconds."
                ),
            ),
            ApiError::SmsRangePaused { .. } => (
                ProblemType::SmsRangePaused,
                "Text messages to this number are paused",
                "We have paused text messages to numbers like this one for a while because of unusual activity. Try again later, or use a different number.".into(),
            ),
            ApiError::CaptchaRequired { rejected, .. } => (
                ProblemType::CaptchaRequired,
                "Bot check required",
                if *rejected {
                    "The bot check was not passed or has expired. Please complete it again."
                } else {
                    "Please complete the bot check, then try again."
                }
                .into(),
            ),
            ApiError::Unavailable { detail, .. } => {
                (ProblemType::Unavailable, "Service unavailable", detail.clone())
            }
            ApiError::SmsBudgetSpent { .. } => (
                ProblemType::Unavailable,
                "Service unavailable",
                "Today's SMS budget is spent; texts resume tomorrow (UTC).".into(),
            ),
            ApiError::DatabaseUnavailable => (
                ProblemType::Unavailable,
                "Service unavailable",
                "The database is not available right now; try again shortly.".into(),
            ),
            ApiError::Internal(_) => (
                ProblemType::Internal,
                "Internal server error",
                "Something went wrong on our side; it has been logged.".into(),
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_)
            | ApiError::WrongCode(_)
            | ApiError::CaptchaRequired { .. }
            | ApiError::ChannelUnavailable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_)
            | ApiError::PasswordRequired
            | ApiError::WrongPassword
            | ApiError::RecoveryCodeRequired => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::PhoneTaken => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RateLimited { .. }
            | ApiError::ResendTooSoon { .. }
            | ApiError::ChannelNotYet { .. }
            | ApiError::SmsRangePaused { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. }
            | ApiError::SmsBudgetSpent { .. }
            | ApiError::DatabaseUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let ApiError::Internal(e) = self {
            // A cause from outside (a provider's answer) may name a number.
            let error = crate::domain::phone_number::mask_numbers(&format!("{e:#}"));
            tracing::error!(%error, "request failed");
        }
        let (kind, title, detail) = self.parts();
        let problem = Problem {
            kind: kind.uri(),
            title: title.into(),
            status: status.as_u16(),
            detail,
            errors: match self {
                ApiError::Validation(errors) => Some(errors.clone()),
                ApiError::WrongCode(_) => Some(FieldErrors::from([(
                    "code".to_owned(),
                    vec!["is not the code we sent".to_owned()],
                )])),
                _ => None,
            },
            verification: match self {
                ApiError::WrongCode(v)
                | ApiError::ResendTooSoon {
                    verification: v, ..
                }
                | ApiError::ChannelNotYet {
                    verification: v, ..
                }
                | ApiError::Gone {
                    verification: Some(v),
                    ..
                } => Some(Verification::from(v)),
                _ => None,
            },
            captcha: match self {
                ApiError::CaptchaRequired { challenge, .. } => Some(challenge.clone()),
                _ => None,
            },
        };
        let mut res = HttpResponse::build(status);
        res.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        match self {
            ApiError::RateLimited { retry_after, .. }
            | ApiError::ResendTooSoon { retry_after, .. }
            | ApiError::ChannelNotYet { retry_after, .. }
            | ApiError::SmsRangePaused { retry_after }
            | ApiError::Unavailable { retry_after, .. }
            | ApiError::SmsBudgetSpent { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ApiError::DatabaseUnavailable => {
                res.insert_header((header::RETRY_AFTER, "5"));
            }
            ApiError::Unauthorized(_) | ApiError::PasswordRequired => {
                res.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::MethodNotAllowed { allow } => {
                res.insert_header((header::ALLOW, allow.as_str()));
            }
            _ => {}
        }
        res.body(serde_json::to_vec(&problem).unwrap_or_default())
    }
}
