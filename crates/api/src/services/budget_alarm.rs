//! `sms.budget_exhausted` (SPEC §12): operators hear once per budget window and kind of
//! SMS that the day's budget refused a send.
//!
//! The request the budget refuses is rolled back, the event with it, so the event is
//! written here, after that rollback, in a write of its own. Once per window holds
//! across processes by a one-slot counter in the database (`sms_budget_told:<kind>`,
//! windows aligned like the budget's); inside a process a remembered window spares
//! every later refusal that write, so a flood of refused sends costs one write per
//! process and kind a day, not one per request.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use phonereg_types::{SmsKind, WebhookEventType};
use serde_json::Map;

use crate::{
    clock::Clock, error::ApiError, persistence::Db, services::rate_limit::Limit,
    services::webhooks::outbox,
};

/// The budget's window (SPEC §5: a day, UTC).
const DAY: i64 = 86_400;

/// Announces a spent budget. Cheap to clone.
#[derive(Clone)]
pub struct BudgetAlarm {
    db: Db,
    clock: Clock,
    budget: u32,
    /// Per kind, the end of the last window this process announced (or saw announced).
    told_until: Arc<[AtomicI64; 3]>,
}

impl BudgetAlarm {
    /// `budget` is `SMS_DAILY_BUDGET`, named in the event.
    pub fn new(db: Db, clock: Clock, budget: u32) -> Self {
        Self {
            db,
            clock,
            budget,
            told_until: Arc::new(Default::default()),
        }
    }

    /// After a send of `kind` was refused by the budget and rolled back: writes the event
    /// if nobody has for this window yet. A failure is logged, never the caller's.
    pub async fn refused(&self, kind: SmsKind) {
        let now = self.clock.now();
        let until = now - now.rem_euclid(DAY) + DAY;
        let told = &self.told_until[slot(kind)];
        if told.load(Ordering::Relaxed) >= until {
            return;
        }
        let budget = self.budget;
        let written = self
            .db
            .write(move |c| {
                match Limit::new("sms_budget_told", 1, DAY)
                    .readable()
                    .hit(c, kind.as_str(), now)
                {
                    Ok(()) => {}
                    // Another process announced this window already.
                    Err(ApiError::RateLimited { .. }) => return Ok(false),
                    Err(e) => return Err(e),
                }
                let mut data = Map::new();
                data.insert("kind".into(), kind.as_str().into());
                data.insert("daily_budget".into(), budget.into());
                data.insert("resumes_at".into(), crate::domain::rfc3339(until).into());
                outbox::emit(
                    c,
                    WebhookEventType::SmsBudgetExhausted,
                    None,
                    None,
                    &data,
                    now,
                )?;
                Ok(true)
            })
            .await;
        match written {
            Ok(first) => {
                told.fetch_max(until, Ordering::Relaxed);
                if first {
                    tracing::warn!(kind = kind.as_str(), "the day's SMS budget is spent");
                }
            }
            Err(e) => tracing::error!(error = %e, "could not record the spent SMS budget"),
        }
    }
}

fn slot(kind: SmsKind) -> usize {
    match kind {
        SmsKind::Claim => 0,
        SmsKind::Start => 1,
        SmsKind::Owner => 2,
    }
}
