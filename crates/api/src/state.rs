//! What every handler can reach.

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::Config,
    outbox::Outbox,
    persistence::Db,
    services::{
        hashing::Hasher, rate_limit::Limit, token_strikes::TokenStrikes, tokens::Tokens,
        verification::Verifier,
    },
    sms::console::Inbox,
    streams::Streams,
};

/// The request-rate limits of SPEC §7, built once from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub login_ip: Limit,
    /// Wrong passwords for one email from one client network.
    pub login_email: Limit,
    /// Wrong passwords for one email from every network together: the much higher
    /// ceiling on a guesser who spreads over many networks.
    pub login_email_all: Limit,
    pub register_ip: Limit,
    pub lookup_ip: Limit,
    /// Number changes (POST, PATCH) per account per day, counted before any lookup so
    /// the 409 for a number verified elsewhere cannot be probed without limit.
    pub phone_changes: Limit,
}

impl Limits {
    pub fn from_config(c: &Config) -> Self {
        Self {
            login_ip: Limit::new("login_ip", c.login_per_ip, 900).striped(),
            login_email: Limit::new("login_email", c.login_failures_per_email, 900),
            login_email_all: Limit::new(
                "login_email_all_networks",
                c.login_failures_per_email_all_networks,
                900,
            ),
            register_ip: Limit::new("register_ip", c.register_per_ip_per_hour, 3600).striped(),
            lookup_ip: Limit::new("lookup_ip", c.lookup_per_ip_per_minute, 60).striped(),
            phone_changes: Limit::new("phone_changes", c.phone_changes_per_account_per_day, 86_400),
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
    /// The time every request-driven rule reads; tests move it.
    pub clock: Clock,
    /// Made-up refresh tokens and tickets per client (in memory, see the module).
    pub token_strikes: TokenStrikes,
    /// This process's open event streams.
    pub streams: Arc<Streams>,
}

impl AppState {
    pub fn refresh_ttl(&self) -> i64 {
        self.config.refresh_token_ttl as i64
    }
}
