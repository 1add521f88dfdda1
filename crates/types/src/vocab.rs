//! The words the API and the SPA share for states and kinds. Each is an enum here and
//! becomes text only where it is stored (the API's persistence layer) or sent (serde).

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every word, in the order they are declared.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word as stored and sent.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The word back; None for a word this build does not know.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// Where an SMS is, in Twilio's status vocabulary (SPEC §7), plus `canceled`: a code
    /// message whose code died before it was sent.
    MessageStatus {
        Queued => "queued",
        Sending => "sending",
        Sent => "sent",
        Delivered => "delivered",
        Undelivered => "undelivered",
        Failed => "failed",
        Canceled => "canceled",
    }
}

impl MessageStatus {
    /// How far along a message is: statuses only move to a later stage, and the final
    /// ones share the last stage, so one final report never overwrites another.
    pub fn stage(self) -> u8 {
        match self {
            MessageStatus::Queued => 0,
            MessageStatus::Sending => 1,
            MessageStatus::Sent => 2,
            MessageStatus::Delivered
            | MessageStatus::Undelivered
            | MessageStatus::Failed
            | MessageStatus::Canceled => 3,
        }
    }

    /// Twilio's word for a status, including the ones it uses that PhoneReg folds into
    /// its own (`accepted`/`scheduled` are still queued; `read` was delivered).
    pub fn from_twilio(text: &str) -> Option<Self> {
        match text {
            "accepted" | "scheduled" => Some(MessageStatus::Queued),
            "read" => Some(MessageStatus::Delivered),
            other => Self::parse(other),
        }
    }

    /// Nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        self.stage() == 3
    }
}

vocabulary! {
    /// What happened to a phone record (`GET …/history`).
    HistoryKind {
        Added => "added",
        CodeSent => "code_sent",
        Delivered => "delivered",
        Failed => "failed",
        Verified => "verified",
        Changed => "changed",
        Deleted => "deleted",
        TestSent => "test_sent",
        SignInCodeSent => "sign_in_code_sent",
        PasswordResetCodeSent => "password_reset_code_sent",
        PasswordReset => "password_reset",
        TwoFactorCodeSent => "two_factor_code_sent",
        TwoFactorOn => "two_factor_on",
        TwoFactorOff => "two_factor_off",
        RecoveryCodeUsed => "recovery_code_used",
        RecoveryCodesRenewed => "recovery_codes_renewed",
    }
}

vocabulary! {
    /// The `event:` of the live stream.
    EventKind {
        /// `data:` is the phone object.
        Phone => "phone",
        /// `data:` is a [`crate::MessageEvent`].
        Message => "message",
    }
}

vocabulary! {
    /// What an SMS is for (stored with it; never sent to clients).
    MessageKind {
        /// A phone record's verification code.
        Code => "code",
        SignInCode => "sign_in_code",
        PasswordResetCode => "password_reset_code",
        TwoFactorCode => "two_factor_code",
        LoginCode => "login_code",
        /// Change notices, password-changed notices.
        Notice => "notice",
        Test => "test",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_round_trips_through_text_and_json() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(*s));
            let json = serde_json::to_string(s).expect("json");
            assert_eq!(json, format!("\"{s}\""));
        }
        for k in HistoryKind::ALL {
            assert_eq!(HistoryKind::parse(k.as_str()), Some(*k));
        }
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(EventKind::parse("phone"), Some(EventKind::Phone));
        assert_eq!(MessageStatus::parse("read"), None);
        assert_eq!(
            MessageStatus::from_twilio("read"),
            Some(MessageStatus::Delivered)
        );
        assert_eq!(
            MessageStatus::from_twilio("accepted"),
            Some(MessageStatus::Queued)
        );
    }

    #[test]
    fn stages_only_move_forward_and_finals_tie() {
        use MessageStatus::*;
        assert!(Queued.stage() < Sending.stage() && Sending.stage() < Sent.stage());
        assert!(Sent.stage() < Delivered.stage());
        assert_eq!(Delivered.stage(), Failed.stage());
        assert!(Canceled.is_final() && !Sent.is_final());
    }
}

vocabulary! {
    /// The bot-challenge provider whose widget the SPA shows (SPEC §11).
    CaptchaProvider {
        Turnstile => "turnstile",
        Hcaptcha => "hcaptcha",
        Recaptcha => "recaptcha",
    }
}

vocabulary! {
    /// When the API asks for a bot-challenge token (SPEC §11).
    CaptchaMode {
        /// Only when the client or the destination looks risky.
        Risky => "risky",
        /// On every request that would send a claim or a start.
        Always => "always",
    }
}
