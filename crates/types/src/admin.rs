//! The operators' view of the SMS fraud guard and providers (`/api/v1/admin/sms/*`, SPEC §9, §13).

use serde::{Deserialize, Serialize};

use crate::vocab::{FraudAction, FraudScope, SmsCircuitState, SmsProviderName};

/// A paused destination range or country.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmsPause {
    /// Pass to `DELETE /admin/sms/pauses/{id}` to lift it.
    pub id: i64,
    /// `range` or `country`.
    pub scope: FraudScope,
    /// The range (`+55119`: calling code and first national digits) or the country (`BR`).
    pub key: String,
    /// ISO 3166-1 alpha-2 of the range, or the country itself.
    pub country: String,
    /// When the pause began (RFC 3339 UTC).
    pub since: String,
    /// When it ends on its own (RFC 3339 UTC).
    pub until: String,
    /// Codes sent in the window that caused it.
    pub sent: i64,
    /// Codes verified in that window.
    pub verified: i64,
    /// False for a pause taken in `record` mode: logged, never applied.
    pub enforced: bool,
}

/// `GET /admin/sms/pauses`: the pauses in force, newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmsPauseList {
    /// Newest first.
    pub items: Vec<SmsPause>,
}

/// One decision of the fraud guard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmsFraudDecision {
    /// Increasing.
    pub id: i64,
    /// RFC 3339 UTC.
    pub at: String,
    /// `pause`, `record` (a pause taken in record mode) or `lift`.
    pub action: FraudAction,
    /// `range` or `country`.
    pub scope: FraudScope,
    /// The range or country decided about.
    pub key: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Codes sent in the window when it was decided.
    pub sent: i64,
    /// Codes verified in that window.
    pub verified: i64,
    /// The pause taken or lifted.
    pub pause_id: Option<i64>,
    /// The operator who acted (their name in `ADMIN_TOKENS`); null for the guard's own
    /// decisions.
    pub operator: Option<String>,
}

/// `GET /admin/sms/decisions`: newest first.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SmsFraudDecisionList {
    /// Newest first.
    pub items: Vec<SmsFraudDecision>,
}

/// One configured SMS provider as the courier sees it (`GET /admin/sms/providers`,
/// SPEC §13), in the configured order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SmsProviderStatus {
    pub name: SmsProviderName,
    /// `closed` (in use), `open` (skipped after failures), `half_open` (tried again),
    /// `disabled` (switched off by an operator).
    pub state: SmsCircuitState,
    /// RFC 3339 UTC: when it entered this state; null for a provider in use since the
    /// process started counting (never failed, never switched).
    pub since: Option<String>,
    /// The last failure it gave, numbers masked; null when none.
    pub last_error: Option<String>,
    /// Messages it took in the last hour (by when they were queued).
    pub sent_1h: i64,
    /// Tries in the last hour that it did not take (failures, refusals).
    pub failed_1h: i64,
}

/// `POST /admin/sms/providers/{name}/disable|enable`: the body is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmsProviderSwitch {
    /// 1..=500 characters, kept in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}
