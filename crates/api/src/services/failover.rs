//! Automatic failover between SMS providers (SPEC §13), decided for the courier.
//!
//! A message moves to the next provider (in `SMS_PROVIDERS` order, skipping open
//! circuits) when its provider's circuit is open, after `SMS_FAILOVER_ATTEMPTS`
//! retryable failures of this message there, or on a provider-side permanent code
//! (`SMS_FAILOVER_CODES`) while its code has at least a minute to live; never for what
//! the number itself caused (21211, 21610, 21614: another provider would hear the same).
//! It moves only once its last try is resolved: a try that may have landed is looked up
//! at its own provider first (the courier does that before asking here).
//!
//! The circuits live in the database (`persistence::circuits`), so every process counts
//! the same failures; each process reads them at most once a second, not once a send.

use std::sync::{Mutex, PoisonError};

use phonereg_types::{SmsCircuitState, SmsProviderName};

use crate::{
    error::ApiError,
    persistence::{
        Db,
        circuits::{self, CircuitRow, HALF_OPEN},
        models::MessageRow,
    },
};

/// How often a process reads the shared circuits, at most.
const REFRESH_MS: i64 = 1000;

/// A message carrying a code moves on a permanent code only while the code lives this
/// long: less, and it would die in the next provider's queue.
const CODE_LIFE_TO_MOVE: i64 = 60;

pub struct Failover {
    attempts: i32,
    codes: Vec<i64>,
    circuit_failures: i32,
    /// The circuits as last read, and when (ms).
    seen: Mutex<(i64, Vec<CircuitRow>)>,
}

impl Failover {
    pub fn new(attempts: u32, codes: Vec<i64>, circuit_failures: u32) -> Self {
        Self {
            attempts: attempts as i32,
            codes,
            circuit_failures: circuit_failures as i32,
            seen: Mutex::new((i64::MIN, Vec::new())),
        }
    }

    /// Failures within a minute across the fleet that open a provider's circuit.
    pub fn circuit_failures(&self) -> i32 {
        self.circuit_failures
    }

    /// Reads the shared circuits if the last read is older than a second.
    pub async fn refresh(&self, db: &Db, now_ms: i64) -> Result<(), ApiError> {
        if self.lock().0 > now_ms - REFRESH_MS {
            return Ok(());
        }
        let rows = db.read(circuits::all).await?;
        *self.lock() = (now_ms, rows);
        Ok(())
    }

    /// Forgets the last read, so the next [`Failover::refresh`] reads again.
    pub fn stale(&self) {
        self.lock().0 = i64::MIN;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, Vec<CircuitRow>)> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Providers every process skips at `now`: circuits open (not yet half-open), and
    /// providers an operator switched off.
    pub fn open(&self, now: i64) -> Vec<SmsProviderName> {
        self.lock()
            .1
            .iter()
            .filter(|r| {
                matches!(
                    state(r, now).0,
                    SmsCircuitState::Open | SmsCircuitState::Disabled
                )
            })
            .map(|r| r.provider)
            .collect()
    }

    /// Whether `provider`'s circuit has counted failures (so a success must reset it).
    pub fn has_failures(&self, provider: SmsProviderName) -> bool {
        self.lock()
            .1
            .iter()
            .any(|r| r.provider == provider && (r.failures > 0 || r.opened_at.is_some()))
    }

    /// Whether `msg`, whose last try is resolved, should leave its provider now.
    pub fn leaves(&self, msg: &MessageRow, open: &[SmsProviderName]) -> bool {
        msg.provider_tries >= self.attempts || msg.provider.is_some_and(|p| open.contains(&p))
    }

    /// Whether a refusal with `code` is the provider's, not the number's, and the
    /// message has time to go another way.
    pub fn moves_on_code(&self, code: Option<i64>, msg: &MessageRow, now: i64) -> bool {
        code.is_some_and(|c| self.codes.contains(&c))
            && msg
                .code_expires_at
                .is_none_or(|dies| dies - now >= CODE_LIFE_TO_MOVE)
    }
}

/// Where `row`'s circuit stands at `now`, and since when (seconds).
pub fn state(row: &CircuitRow, now: i64) -> (SmsCircuitState, Option<i64>) {
    match (row.disabled_at, row.opened_at) {
        (Some(at), _) => (SmsCircuitState::Disabled, Some(at)),
        (None, Some(at)) if now < at + HALF_OPEN => (SmsCircuitState::Open, Some(at)),
        (None, Some(at)) => (SmsCircuitState::HalfOpen, Some(at + HALF_OPEN)),
        (None, None) => (SmsCircuitState::Closed, row.closed_at),
    }
}
