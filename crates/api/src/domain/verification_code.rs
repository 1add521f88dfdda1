//! What a client is told about the live verification code.

use phonereg_types::{Channel, ChannelOffer, Verification};

use super::rfc3339;

/// The state of a phone record's live code (`verification` in SPEC §7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeState {
    pub sent: bool,
    pub expires_at: i64,
    pub resend_after: i64,
    pub attempts_remaining: i64,
    /// How the live code was last sent.
    pub channel: Channel,
    /// The channels it may be sent by next, and from when (SPEC §13); filled in by the
    /// code engine where it answers a send, empty elsewhere.
    pub channels: Vec<(Channel, i64)>,
}

impl From<&CodeState> for Verification {
    fn from(s: &CodeState) -> Self {
        Verification {
            sent: s.sent,
            expires_at: rfc3339(s.expires_at),
            resend_after: rfc3339(s.resend_after),
            attempts_remaining: s.attempts_remaining,
            channel: s.channel,
            channels: s
                .channels
                .iter()
                .map(|&(channel, at)| ChannelOffer {
                    channel,
                    available_at: rfc3339(at),
                })
                .collect(),
        }
    }
}

/// A code as a person types it: exactly six ASCII digits (SPEC §5). It is a secret, so
/// `Debug` hides it and there is no `Display`; [`VerificationCode::expose`] is the one
/// way to read it (to hash it, or to write it into the SMS).
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        phonereg_types::validation::check_code(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// A new code from the operating system's CSPRNG.
    pub fn random() -> Self {
        use rand::Rng as _;
        Self(format!(
            "{:06}",
            rand::rngs::OsRng.gen_range(0..1_000_000u32)
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationCode(..)")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::VerificationCode;

    #[test]
    fn only_six_ascii_digits_parse_and_debug_hides_the_code() {
        assert!(VerificationCode::parse("012345").is_ok());
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "١٢٣٤٥٦",
            " 123456",
            "12 456",
        ] {
            assert!(
                VerificationCode::parse(bad).is_err(),
                "{bad:?} was accepted"
            );
        }
        let code = VerificationCode::parse("482913").expect("code");
        assert_eq!(format!("{code:?}"), "VerificationCode(..)");
        assert_eq!(code.expose(), "482913");
    }

    proptest! {
        #[test]
        fn every_six_digit_string_parses(n in 0u32..1_000_000) {
            let raw = format!("{n:06}");
            let code = VerificationCode::parse(&raw).expect("parses");
            prop_assert_eq!(code.expose(), raw.as_str());
        }
    }

    #[test]
    fn random_codes_are_codes() {
        for _ in 0..100 {
            let code = VerificationCode::random();
            assert!(VerificationCode::parse(code.expose()).is_ok());
        }
    }
}
