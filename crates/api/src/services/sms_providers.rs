//! The operators' view and switches of the SMS providers (SPEC §13,
//! `/api/v1/admin/sms/providers`): each configured provider's circuit, its last hour,
//! and switching one off or on for every process. A switched-off provider is skipped
//! exactly as an open circuit is (`Failover::open`); a message whose last try there may
//! have landed is still looked up there first, so it never goes out twice.

use std::sync::Arc;

use phonereg_types::{SecurityEventType, SmsCircuitState, SmsProviderName};

use crate::{
    clock::Clock,
    domain::Reason,
    error::ApiError,
    persistence::{
        Db,
        circuits::{self, CircuitRow},
    },
    services::{
        audit::{self, Entry, Origin},
        audit_log::AuditLog,
        failover::{self, Failover},
    },
};

/// One provider as operators see it.
pub struct ProviderView {
    pub name: SmsProviderName,
    pub state: SmsCircuitState,
    /// Seconds; None for a provider in use that never failed or was switched.
    pub since: Option<i64>,
    pub last_error: Option<String>,
    pub sent_1h: i64,
    pub failed_1h: i64,
}

/// Which way an operator switches a provider.
#[derive(Clone, Copy)]
pub enum Switch {
    Off,
    On,
}

pub struct SmsProviders {
    db: Db,
    clock: Clock,
    audit_log: AuditLog,
    /// The courier's view of the circuits: told to read them again after a switch.
    failover: Arc<Failover>,
    /// The configured providers, in order (the scripted test numbers' provider is not
    /// one: it only plays its numbers and cannot be switched).
    names: Vec<SmsProviderName>,
}

impl SmsProviders {
    pub fn new(db: Db, clock: Clock, failover: Arc<Failover>, names: Vec<SmsProviderName>) -> Self {
        Self {
            audit_log: AuditLog::new(db.clone(), clock.clone()),
            db,
            clock,
            failover,
            names,
        }
    }

    /// Every configured provider, in order; the read is audited.
    pub async fn list(
        &self,
        operator: &str,
        origin: Origin,
    ) -> Result<Vec<ProviderView>, ApiError> {
        let entry = Entry::admin(SecurityEventType::AdminFraudRead, operator);
        self.audit_log.admin_call(origin, entry).await?;
        let (names, now) = (self.names.clone(), self.clock.now());
        self.db
            .read(move |c| {
                let rows = circuits::all(c)?;
                names
                    .into_iter()
                    .map(|name| {
                        let row = rows.iter().find(|r| r.provider == name);
                        view(c, name, row, now)
                    })
                    .collect()
            })
            .await
    }

    /// Switches the provider named `raw` off or on for every process, audited with the
    /// operator's `reason`. The last provider switched on cannot be switched off: every
    /// message would then wait for nothing (an open circuit falls back on the first).
    pub async fn switch(
        &self,
        operator: &str,
        origin: Origin,
        raw: &str,
        to: Switch,
        reason: Option<Reason>,
    ) -> Result<ProviderView, ApiError> {
        let name = SmsProviderName::parse(raw)
            .filter(|n| self.names.contains(n))
            .ok_or(ApiError::NotFound)?;
        let (names, now, operator) = (self.names.clone(), self.clock.now(), operator.to_owned());
        let view = self
            .db
            .write(move |c| {
                let row = match to {
                    Switch::Off => {
                        let rows = circuits::all(c)?;
                        let others_on = names.iter().filter(|n| **n != name).any(|n| {
                            rows.iter()
                                .find(|r| r.provider == *n)
                                .is_none_or(|r| r.disabled_at.is_none())
                        });
                        if !others_on {
                            return Err(ApiError::Conflict(
                                "the last SMS provider switched on cannot be switched off".into(),
                            ));
                        }
                        Some(circuits::disable(c, name, now)?)
                    }
                    Switch::On => circuits::enable(c, name, now)?,
                };
                let kind = match to {
                    Switch::Off => SecurityEventType::AdminProviderDisabled,
                    Switch::On => SecurityEventType::AdminProviderEnabled,
                };
                let mut entry = Entry::admin(kind, &operator).detail("provider", name.as_str());
                if let Some(reason) = &reason {
                    entry = entry.detail("reason", reason.as_str());
                }
                audit::record(c, &origin, &entry, now)?;
                view(c, name, row.as_ref(), now)
            })
            .await?;
        // This process sees the switch at once; the others within a second.
        self.failover.stale();
        Ok(view)
    }
}

fn view(
    c: &mut crate::persistence::Conn<'_>,
    name: SmsProviderName,
    row: Option<&CircuitRow>,
    now: i64,
) -> Result<ProviderView, ApiError> {
    let (state, since) = row.map_or((SmsCircuitState::Closed, None), |r| failover::state(r, now));
    let (sent_1h, failed_1h) = circuits::last_hour(c, name, now)?;
    Ok(ProviderView {
        name,
        state,
        since,
        last_error: row.and_then(|r| r.last_error.clone()),
        sent_1h,
        failed_1h,
    })
}
