//! What a code proving possession of a number is good for (SPEC §8). A code is bound to
//! its purpose: a sign-in code cannot reset a password, nor the reverse.

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

    /// The outbox kind of the SMS that carries such a code.
    pub fn message_kind(self) -> &'static str {
        match self {
            CodePurpose::SignIn => "sign_in_code",
            CodePurpose::PasswordReset => "password_reset_code",
            CodePurpose::TwoFactor => "two_factor_code",
            CodePurpose::Login => "login_code",
        }
    }

    /// The phone history kind written when such a code is sent.
    pub fn history_kind(self) -> &'static str {
        match self {
            CodePurpose::SignIn => "sign_in_code_sent",
            CodePurpose::PasswordReset => "password_reset_code_sent",
            CodePurpose::TwoFactor | CodePurpose::Login => "two_factor_code_sent",
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
