//! Reading the audit log (SPEC §12): an account's own events, and the operators' search,
//! which is itself recorded (`admin.audit_events.read`). Every page is bounded.

use phonereg_types::{AuditActor, SecurityEventType};

use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{
        Db,
        security_events::{self, AuditFilter, SecurityEventRow},
    },
    services::audit::{self, Entry, Origin},
};

/// The most rows one page of the caller's own events holds.
pub const MAX_USER_PAGE: i64 = 100;
/// The most rows one page of the operators' search holds.
pub const MAX_ADMIN_PAGE: i64 = 500;

/// The audit log's readers. Built in `startup` with exactly what it uses.
pub struct AuditLog {
    db: Db,
    clock: Clock,
}

/// One page of the operators' search and the cursor of the next.
pub struct Page {
    pub rows: Vec<SecurityEventRow>,
    /// The id to pass as `cursor` for older rows; None on the last page.
    pub next: Option<i64>,
}

impl AuditLog {
    pub fn new(db: Db, clock: Clock) -> Self {
        Self { db, clock }
    }

    /// The caller's own events older than `before`, newest first. Only rows of
    /// `user_id`: the id comes from the access token, never from the request. What an
    /// operator did to the account is listed without the operator's network and agent.
    pub async fn for_user(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<SecurityEventRow>, ApiError> {
        let limit = limit.clamp(1, MAX_USER_PAGE);
        let mut rows = self
            .db
            .read(move |c| security_events::list_for_user(c, user_id, before, limit))
            .await?;
        for row in rows.iter_mut().filter(|r| r.actor == AuditActor::Admin) {
            row.client = None;
            row.user_agent = None;
        }
        Ok(rows)
    }

    /// The operators' search, recorded as an `admin.*` event in the same transaction.
    pub async fn search(
        &self,
        operator: &str,
        origin: Origin,
        filter: AuditFilter,
        limit: i64,
    ) -> Result<Page, ApiError> {
        let limit = limit.clamp(1, MAX_ADMIN_PAGE);
        let entry = Entry::admin(SecurityEventType::AdminAuditRead, operator);
        let clock = self.clock.clone();
        // One more row than the page tells whether there is a next page.
        let mut rows = self
            .db
            .write(move |c| {
                let rows = security_events::list(c, &filter, limit + 1)?;
                audit::record(c, &origin, &entry, clock.now())?;
                Ok(rows)
            })
            .await?;
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.id)
        } else {
            None
        };
        Ok(Page { rows, next })
    }

    /// An operator's call whose change (if any) is recorded elsewhere (the fraud guard's
    /// views, a lift): its `admin.*` event.
    pub async fn admin_call(&self, origin: Origin, entry: Entry) -> Result<(), ApiError> {
        let clock = self.clock.clone();
        self.db
            .write(move |c| audit::record(c, &origin, &entry, clock.now()).map(drop))
            .await
    }
}
