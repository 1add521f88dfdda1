//! The request limits of SPEC §7, §10 and §11 as the services charge them: which
//! counters a sign-in attempt or a code guess is charged to, built once from the
//! configuration. The counting itself is [`Limit`]'s (`rate_limit.rs`).

use crate::{
    config::Config,
    domain::ClientNetworks,
    error::ApiError,
    persistence::Conn,
    services::{
        client_limit::{ClientLimit, as_hits},
        rate_limit::{Limit, private_subject},
    },
};

/// The request-rate limits of SPEC §7, built once from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub login: LoginLimits,
    pub register_ip: ClientLimit,
    pub lookup_ip: ClientLimit,
    /// Number changes (POST, PATCH) per account per day, counted before any lookup so
    /// the 409 for a number verified elsewhere cannot be probed without limit.
    pub phone_changes: Limit,
    pub code_guesses: GuessLimits,
}

impl Limits {
    pub fn from_config(c: &Config) -> Self {
        Self {
            login: LoginLimits {
                login_ip: ClientLimit::new(Limit::new("login_ip", c.login_per_ip, 900).striped()),
                login_email: ClientLimit::new(Limit::new(
                    "login_email",
                    c.login_failures_per_email,
                    900,
                )),
                login_email_all: Limit::new(
                    "login_email_all_networks",
                    c.login_failures_per_email_all_networks,
                    900,
                ),
            },
            register_ip: ClientLimit::new(
                Limit::new("register_ip", c.register_per_ip_per_hour, 3600).striped(),
            )
            .with_ipv4_24(),
            lookup_ip: ClientLimit::new(
                Limit::new("lookup_ip", c.lookup_per_ip_per_minute, 60).striped(),
            ),
            phone_changes: Limit::new("phone_changes", c.phone_changes_per_account_per_day, 86_400),
            code_guesses: GuessLimits {
                per_number: Limit::new("code_failures_number", c.code_failures_per_number, 900),
                per_ip: ClientLimit::new(Limit::new(
                    "code_failures_ip",
                    c.code_failures_per_ip,
                    900,
                )),
            },
        }
    }
}

/// What a sign-in attempt (password or code) is counted against.
#[derive(Clone, Copy, Debug)]
pub struct LoginLimits {
    pub login_ip: ClientLimit,
    /// Wrong passwords for one email from one client network.
    pub login_email: ClientLimit,
    /// Wrong passwords for one email from every network together: the much higher
    /// ceiling on a guesser who spreads over many networks.
    pub login_email_all: Limit,
}

impl LoginLimits {
    /// The failure counters of one sign-in attempt by `identity` (an email, or
    /// `phone:<e164>`) from `client` (its network: IPv6 clients by their /64, and the
    /// wider networks around it).
    pub fn failures(&self, identity: &str, client: &ClientNetworks) -> FailureCharge {
        let pairs = self
            .login_email
            .subjects(client, |net| private_subject(&format!("{identity}\n{net}")));
        FailureCharge {
            limits: *self,
            subject: private_subject(identity),
            pairs,
        }
    }
}

/// The two counters a sign-in attempt is charged to before it is checked: per identity
/// and client network (a stranger's guesses do not lock the owner out on their own
/// network), and per identity over all networks (a much higher ceiling on a guesser who
/// spreads out). A right attempt, or one never checked, gets its charge back.
#[derive(Clone, Debug)]
pub struct FailureCharge {
    limits: LoginLimits,
    /// The identity with the client's own key first, then with each wider network.
    pairs: Vec<(Limit, String)>,
    subject: String,
}

impl FailureCharge {
    /// The identity and network, as a keyed hash ([`private_subject`]): the key of
    /// `known_sign_ins`.
    pub fn pair(&self) -> &str {
        self.pairs.first().map_or("", |(_, pair)| pair.as_str())
    }

    /// Always in this order: charges and refunds lock the rows alike (see
    /// `rate_limits::unhit`).
    fn hits(&self) -> Vec<(Limit, &str)> {
        let mut hits = as_hits(&self.pairs);
        hits.push((self.limits.login_email_all, &self.subject));
        hits
    }

    pub fn charge(&self, conn: &mut Conn<'_>, now: i64) -> Result<(), ApiError> {
        Limit::hit_all(conn, &self.hits(), now)
    }

    /// Gives back the charge made at `charged_at`.
    pub fn refund(&self, conn: &mut Conn<'_>, charged_at: i64) -> Result<(), ApiError> {
        Limit::refund_all(conn, &self.hits(), charged_at)
    }
}

/// Code guesses (SPEC §10): wrong codes per number and per client network, bounded like
/// passwords, test numbers included.
#[derive(Clone, Copy, Debug)]
pub struct GuessLimits {
    per_number: Limit,
    per_ip: ClientLimit,
}

/// Which door a guess came through. The anonymous doors (sign-in by code, reset) and the
/// one behind a right password (the two-step code) count apart, so a stranger's wrong
/// guesses at the anonymous doors cannot lock the owner out of their own two-step login.
#[derive(Clone, Copy, Debug)]
pub enum GuessDoor {
    Anonymous,
    AfterPassword,
}

impl GuessLimits {
    /// The charge of one guess for `e164` from `client` (its network).
    pub fn guess(&self, door: GuessDoor, e164: &str, client: &ClientNetworks) -> GuessCharge {
        let door = match door {
            GuessDoor::Anonymous => "anon",
            GuessDoor::AfterPassword => "login",
        };
        GuessCharge {
            limits: *self,
            number: private_subject(&format!("{door}\n{e164}")),
            // Per door too: strangers on the owner's network (a NAT, a /64) spending
            // the anonymous doors' allowance must not close the two-step door.
            client: self.per_ip.subjects(client, |net| format!("{door}\n{net}")),
        }
    }
}

/// One code guess, charged before the code is checked: past either limit 429 and the
/// guess is never compared. A right guess, or one that found no live code to compare
/// against, gets its charge back (it was no guess).
#[derive(Clone, Debug)]
pub struct GuessCharge {
    limits: GuessLimits,
    number: String,
    client: Vec<(Limit, String)>,
}

impl GuessCharge {
    fn hits(&self) -> Vec<(Limit, &str)> {
        let mut hits = vec![(self.limits.per_number, self.number.as_str())];
        hits.extend(as_hits(&self.client));
        hits
    }

    pub fn charge(&self, conn: &mut Conn<'_>, now: i64) -> Result<(), ApiError> {
        Limit::hit_all(conn, &self.hits(), now)
    }

    pub fn refund(&self, conn: &mut Conn<'_>, charged_at: i64) -> Result<(), ApiError> {
        Limit::refund_all(conn, &self.hits(), charged_at)
    }
}
