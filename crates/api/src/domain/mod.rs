//! Domain values that parse instead of validate later. Nothing here knows about HTTP
//! or the database.

pub mod client_network;
pub mod destination;
pub mod email;
pub mod locale;
pub mod password;
pub mod phone_number;
pub mod reason;
pub mod test_script;
pub mod verification_code;

pub use client_network::ClientNetworks;
pub use destination::Destination;
pub use email::Email;
pub use locale::Locale;
pub use password::Password;
pub use phone_number::PhoneNumber;
/// Stored with each code; the vocabulary is shared (`crates/types`) so rows hold it typed.
pub use phonereg_types::CodePurpose;
pub use reason::Reason;
pub use verification_code::{CodeState, VerificationCode};

/// UNIX seconds as an RFC 3339 UTC string, the only timestamp format the API speaks.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
