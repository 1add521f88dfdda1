//! What a code proving possession of a number is good for (SPEC §8). A code is bound to
//! its purpose: a sign-in code cannot reset a password, nor the reverse.

use phonereg_types::{HistoryKind, MessageKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodePurpose {
    SignIn,
    PasswordReset,
    /// Turning the second factor off (`POST /users/me/two-factor/code`).
    TwoFactor,
    /// The second factor of one password login, bound to its `mfa_token`.
    Login,
}

impl CodePurpose {
    /// The name stored with the code.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::SignIn => "sign_in",
            CodePurpose::PasswordReset => "password_reset",
            CodePurpose::TwoFactor => "two_factor",
            CodePurpose::Login => "login",
        }
    }

    /// The kind of the SMS that carries such a code.
    pub fn message_kind(self) -> MessageKind {
        match self {
            CodePurpose::SignIn => MessageKind::SignInCode,
            CodePurpose::PasswordReset => MessageKind::PasswordResetCode,
            CodePurpose::TwoFactor => MessageKind::TwoFactorCode,
            CodePurpose::Login => MessageKind::LoginCode,
        }
    }

    /// The phone history kind written when such a code is sent.
    pub fn history_kind(self) -> HistoryKind {
        match self {
            CodePurpose::SignIn => HistoryKind::SignInCodeSent,
            CodePurpose::PasswordReset => HistoryKind::PasswordResetCodeSent,
            CodePurpose::TwoFactor | CodePurpose::Login => HistoryKind::TwoFactorCodeSent,
        }
    }
}

impl From<phonereg_types::SmsCodePurpose> for CodePurpose {
    fn from(p: phonereg_types::SmsCodePurpose) -> Self {
        match p {
            phonereg_types::SmsCodePurpose::SignIn => CodePurpose::SignIn,
            phonereg_types::SmsCodePurpose::PasswordReset => CodePurpose::PasswordReset,
        }
    }
}
