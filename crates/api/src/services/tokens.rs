//! Access tokens (JWT HS256) and refresh tokens (random, stored as SHA-256).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{clock::Clock, error::ApiError};

/// Seconds a token may be past `exp` (clock skew between API processes).
const LEEWAY: i64 = 30;

pub const ISSUER: &str = "phonereg";
pub const AUDIENCE: &str = "phonereg-api";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    iss: String,
    aud: String,
    jti: String,
    /// The session (refresh-token family) the token was issued to, so what lives as long
    /// as the session (an event stream) can end with it. Absent in tokens issued before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// What a valid access token says.
#[derive(Clone, Debug)]
pub struct Access {
    pub user_id: i64,
    pub expires_at: i64,
    pub session: Option<String>,
}

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    clock: Clock,
    pub access_ttl: i64,
}

impl Tokens {
    /// `clock` judges expiry: the same time every other rule reads, so tests move it.
    pub fn new(secret: &[u8], access_ttl: i64, clock: Clock) -> Self {
        // Only HS256: a token with `alg: none` or any other algorithm is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        // `exp` is checked below against `clock`, not by the library's system time.
        validation.validate_exp = false;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            clock,
            access_ttl,
        }
    }

    pub fn issue_access(
        &self,
        user_id: i64,
        now: i64,
        session: Option<&str>,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now,
            exp: now + self.access_ttl,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            jti: random_token(12),
            sid: session.map(str::to_owned),
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("sign access token: {e}")))
    }

    /// The user id of a valid access token.
    pub fn verify_access(&self, token: &str) -> Result<i64, ApiError> {
        self.verify(token).map(|a| a.user_id)
    }

    /// Everything a valid access token says.
    pub fn verify(&self, token: &str) -> Result<Access, ApiError> {
        let bad = || ApiError::Unauthorized("The access token is invalid or expired.");
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|_| bad())?;
        if data.claims.exp + LEEWAY <= self.clock.now() {
            return Err(bad());
        }
        Ok(Access {
            user_id: data.claims.sub.parse().map_err(|_| bad())?,
            expires_at: data.claims.exp,
            session: data.claims.sid,
        })
    }
}

/// `bytes` of CSPRNG output, base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Refresh tokens carry 256 bits of entropy, so a fast hash is enough: nobody can
/// brute-force the preimage, and lookups by hash stay an index probe.
pub fn hash_refresh(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_others_do_not() {
        let clock = Clock::default();
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef", 900, clock.clone());
        let now = clock.now();
        let t = tokens.issue_access(42, now, None).expect("sign");
        assert_eq!(tokens.verify_access(&t).expect("valid"), 42);
        let other = Tokens::new(b"another secret, another signature", 900, Clock::default());
        assert!(other.verify_access(&t).is_err());
        let expired = tokens.issue_access(42, now - 1000, None).expect("sign");
        assert!(tokens.verify_access(&expired).is_err());
        // Expiry is judged by the injected clock: 900 s plus the 30 s leeway.
        clock.advance(929);
        assert!(tokens.verify_access(&t).is_ok());
        clock.advance(1);
        assert!(tokens.verify_access(&t).is_err());
    }

    #[test]
    fn refresh_hash_is_stable_and_not_the_token() {
        let t = random_token(32);
        assert_eq!(hash_refresh(&t), hash_refresh(&t));
        assert_ne!(hash_refresh(&t), t);
    }
}
