//! Business rules. No HTTP types here; persistence is reached through `Db`.

pub mod allowance;
pub mod audit;
pub mod audit_log;
pub mod auth;
pub mod captcha;
pub mod client_limit;
pub mod codes;
pub mod courier;
pub mod delivery;
pub mod events;
pub mod failover;
pub mod fraud_guard;
pub mod hashing;
pub mod limits;
pub mod number_rules;
pub mod phone_credential;
pub mod phones;
pub mod rate_limit;
pub mod reauth;
pub mod retention;
pub mod sessions;
pub mod shedder;
pub mod sms_texts;
pub mod token_strikes;
pub mod tokens;
pub mod two_factor;
