//! How a counter's subject is stored: a keyed hash (HMAC-SHA256 under a key derived from
//! the server's secret), so a copy of the database does not list who asked for codes or
//! signed in.

use std::sync::OnceLock;

use hmac::{Hmac, Mac as _};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The keyed hash of every counter subject, ready to clone (see [`key_subjects_with`]).
static SUBJECT_KEY: OnceLock<HmacSha256> = OnceLock::new();

/// Keys every counter subject (and `known_sign_ins`) by `secret`, the server's secret, as
/// the verifier keys its code hashes. Start-up calls it before any service runs.
///
/// One key per process, so a `Limit` stays a plain `Copy` value that every service builds
/// from the configuration alone: the first call sets it and later ones are ignored (a
/// test process builds many apps, all with the same secret). Processes sharing a
/// database share the secret anyway, or their codes would not verify on each other.
pub fn key_subjects_with(secret: &[u8]) {
    if let Err(key) = SUBJECT_KEY.set(subject_key(secret)) {
        let probe = |mut mac: HmacSha256| {
            mac.update(b"probe");
            mac.finalize().into_bytes()
        };
        if SUBJECT_KEY
            .get()
            .is_some_and(|set| probe(set.clone()) != probe(key))
        {
            tracing::warn!("counter keys stay keyed by the first secret this process was given");
        }
    }
}

fn subject_key(secret: &[u8]) -> HmacSha256 {
    #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
    let mut mac = HmacSha256::new_from_slice(secret).unwrap();
    mac.update(b"phonereg rate counters v1");
    let key = mac.finalize().into_bytes();
    #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
    HmacSha256::new_from_slice(&key).unwrap()
}

/// A subject as it is stored: HMAC-SHA256 keyed by the server's secret, the first 16
/// bytes in hex. For counter keys and the `known_sign_ins` pairs. Without start-up (unit
/// tests, tools) the key is a random one for this process.
pub fn private_subject(value: &str) -> String {
    let mut mac = SUBJECT_KEY
        .get_or_init(|| subject_key(&rand::random::<[u8; 32]>()))
        .clone();
    mac.update(value.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_key_depends_on_the_secret() {
        let hash = |secret: &[u8]| {
            let mut mac = subject_key(secret);
            mac.update(b"ann@example.com");
            mac.finalize().into_bytes()
        };
        assert_eq!(hash(b"one"), hash(b"one"));
        assert_ne!(hash(b"one"), hash(b"two"));
    }
}
