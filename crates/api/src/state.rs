//! What every handler can reach.

use std::sync::Arc;

use crate::{
    config::Config,
    outbox::Outbox,
    persistence::Db,
    services::{hashing::Hasher, rate_limit::Limit, tokens::Tokens, verification::Verifier},
    sms::console::Inbox,
};

/// The request-rate limits of SPEC §7, built once from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub login_ip: Limit,
    pub login_email: Limit,
    pub register_ip: Limit,
    pub lookup_ip: Limit,
}

impl Limits {
    pub fn from_config(c: &Config) -> Self {
        Self {
            login_ip: Limit {
                name: "login_ip",
                max: c.login_per_ip,
                window: 900,
            },
            login_email: Limit {
                name: "login_email",
                max: c.login_failures_per_email,
                window: 900,
            },
            register_ip: Limit {
                name: "register_ip",
                max: c.register_per_ip_per_hour,
                window: 3600,
            },
            lookup_ip: Limit {
                name: "lookup_ip",
                max: c.lookup_per_ip_per_minute,
                window: 60,
            },
        }
    }
}

pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub tokens: Tokens,
    pub hasher: Hasher,
    pub limits: Limits,
    pub verifier: Verifier,
    pub outbox: Outbox,
    /// The development inbox; present only with the console provider in development.
    pub inbox: Option<Inbox>,
}

impl AppState {
    pub fn refresh_ttl(&self) -> i64 {
        self.config.refresh_token_ttl as i64
    }
}
