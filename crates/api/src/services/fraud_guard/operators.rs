//! What operators do with the guard's pauses (SPEC §9, §11): list them, lift one, read
//! the decisions.

use phonereg_types::{FraudAction, FraudScope, SecurityEventType};

use crate::{
    error::ApiError,
    persistence::{
        Db, fraud,
        models::{DecisionRow, NewDecision, PauseRow},
    },
    services::audit::{self, Entry, Origin},
};

/// The pauses in force, newest first (operators).
pub async fn active_pauses(db: &Db, now: i64) -> Result<Vec<PauseRow>, ApiError> {
    db.read(move |c| fraud::list_active(c, now)).await
}

/// Operator `by` lifts pause `id` (404 unless it is in force) and forgets the counts
/// that caused it, so the next send does not pause the same key again at once. The
/// operator's name goes on the pause row, its decision and the log line; the decision
/// and the audit events (the guard's `fraud.lift` and the admin call's own) are written
/// in the lift's transaction.
pub async fn lift_pause(
    db: &Db,
    id: i64,
    by: &str,
    origin: Origin,
    now: i64,
) -> Result<PauseRow, ApiError> {
    let operator = by.to_owned();
    let row = db
        .write(move |c| {
            let row = fraud::lift(c, id, &operator, now)?.ok_or(ApiError::NotFound)?;
            let kind = if row.scope == FraudScope::Country {
                "c"
            } else {
                "r"
            };
            fraud::reset_counts(c, &format!("fraud:{kind}:{}:", row.key))?;
            fraud::insert_decision(
                c,
                &NewDecision {
                    at: now,
                    action: FraudAction::Lift,
                    scope: row.scope,
                    key: &row.key,
                    country: &row.country,
                    sent: row.sent,
                    verified: row.verified,
                    pause_id: Some(row.id),
                    operator: Some(&operator),
                },
            )?;
            for kind in [
                SecurityEventType::FraudLift,
                SecurityEventType::AdminPauseLifted,
            ] {
                let entry = Entry::admin(kind, &operator)
                    .detail("pause_id", row.id.to_string())
                    .detail("key", row.key.clone());
                audit::record(c, &origin, &entry, now)?;
            }
            Ok(row)
        })
        .await?;
    crate::telemetry::fraud_decision(FraudAction::Lift.as_str(), row.scope.as_str());
    tracing::warn!(
        action = "lift",
        scope = row.scope.as_str(),
        key = %row.key,
        country = %row.country,
        operator = by,
        "sms fraud guard pause lifted by an operator"
    );
    Ok(row)
}

/// The newest `limit` decisions (operators).
pub async fn recent_decisions(db: &Db, limit: i64) -> Result<Vec<DecisionRow>, ApiError> {
    db.read(move |c| fraud::recent_decisions(c, limit)).await
}
