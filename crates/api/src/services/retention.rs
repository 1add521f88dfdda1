//! Pruning: what has expired is deleted once `DATA_RETENTION` has passed, so tables that
//! anyone can make grow (tokens, tickets, events, message bodies) stay bounded.

use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{
        Db, auth_codes, captcha_tokens, events, fraud, known_sign_ins, mfa, outbox, rate_limits,
        refresh_tokens,
    },
};

/// Rate-limit windows are at most a day long; older counter rows are dead weight.
const COUNTER_AGE: i64 = 2 * 86_400;
/// Fraud-guard pauses and decisions are kept a month for operators.
const FRAUD_AGE: i64 = 30 * 86_400;
/// A network the owner has not signed in from for 90 days loses its reserved places.
const KNOWN_SIGN_IN_AGE: i64 = 90 * 86_400;

/// Pruning. Built in `startup` with exactly what it uses.
pub struct Retention {
    db: Db,
    clock: Clock,
    /// `DATA_RETENTION`, in seconds.
    data_retention: i64,
}

/// Rows deleted or emptied by one pass.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    pub refresh_tokens: usize,
    pub events_and_tickets: usize,
    pub message_bodies: usize,
    pub other: usize,
}

impl Retention {
    pub fn new(db: Db, clock: Clock, data_retention: i64) -> Self {
        Self {
            db,
            clock,
            data_retention,
        }
    }

    /// One pass, in one transaction, by the shared clock (tests move it).
    pub async fn prune(&self) -> Result<Pruned, ApiError> {
        let now = self.clock.now();
        let before = now - self.data_retention;
        self.db
            .write(move |c| {
                Ok(Pruned {
                    refresh_tokens: refresh_tokens::prune(c, before)?,
                    events_and_tickets: events::prune(c, before, now)?,
                    message_bodies: outbox::prune_bodies(c, before)?,
                    other: rate_limits::prune(c, now - COUNTER_AGE)?
                    + fraud::prune(c, now - FRAUD_AGE)?
                    + known_sign_ins::prune(c, now - KNOWN_SIGN_IN_AGE)?
                    // Codes of numbers with and without an account alike, so a pruned
                    // code says nothing either.
                    + auth_codes::prune(c, before)?
                    + mfa::prune(c, before)?
                    + captcha_tokens::prune(c, now)?,
                })
            })
            .await
    }
}
