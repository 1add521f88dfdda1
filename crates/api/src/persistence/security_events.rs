//! The audit log (SPEC §12): rows are only inserted (in the transaction of the change
//! they record) and read; the retention prune is the only delete.

use diesel::prelude::*;
use phonereg_types::{AuditActor, AuditOutcome, SecurityEventType};

use super::{Conn, KeepPreparedDsl as _, schema::security_events, with_conn};
use crate::error::ApiError;

#[derive(Insertable)]
#[diesel(table_name = security_events)]
pub struct NewSecurityEvent<'a> {
    pub at: i64,
    pub event_type: SecurityEventType,
    pub actor: AuditActor,
    pub actor_name: Option<&'a str>,
    pub user_id: Option<i64>,
    pub phone_id: Option<i64>,
    pub client: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub request_id: Option<&'a str>,
    pub outcome: AuditOutcome,
    /// A JSON object of strings.
    pub detail: Option<&'a str>,
}

#[derive(Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = security_events)]
pub struct SecurityEventRow {
    pub id: i64,
    pub at: i64,
    pub event_type: SecurityEventType,
    pub actor: AuditActor,
    pub actor_name: Option<String>,
    pub user_id: Option<i64>,
    pub phone_id: Option<i64>,
    pub client: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub outcome: AuditOutcome,
    pub detail: Option<String>,
}

/// Appends one event; its id.
pub fn insert(conn: &mut Conn<'_>, new: &NewSecurityEvent<'_>) -> Result<i64, ApiError> {
    Ok(
        with_conn!(conn, c => diesel::insert_into(security_events::table)
        .values(new)
        .returning(security_events::id)
        .keep_prepared()
        .get_result(c))?,
    )
}

/// The account's events older than `before` (an id), newest first, at most `limit`.
pub fn list_for_user(
    conn: &mut Conn<'_>,
    user_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<SecurityEventRow>, ApiError> {
    Ok(with_conn!(conn, c => {
        let mut q = security_events::table
            .filter(security_events::user_id.eq(user_id))
            .select(SecurityEventRow::as_select())
            .order(security_events::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(before) = before {
            q = q.filter(security_events::id.lt(before));
        }
        q.load(c)
    })?)
}

/// What operators filter the log by; every field narrows it.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub user_id: Option<i64>,
    /// Any of these types; None for every type.
    pub types: Option<Vec<SecurityEventType>>,
    /// `at >= since`.
    pub since: Option<i64>,
    /// `at < until`.
    pub until: Option<i64>,
    /// Only ids below this one (the page cursor).
    pub before: Option<i64>,
}

/// The log narrowed by `filter`, newest first, at most `limit` rows.
pub fn list(
    conn: &mut Conn<'_>,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<SecurityEventRow>, ApiError> {
    Ok(with_conn!(conn, c => {
        let mut q = security_events::table
            .select(SecurityEventRow::as_select())
            .order(security_events::id.desc())
            .limit(limit)
            .into_boxed();
        if let Some(user_id) = filter.user_id {
            q = q.filter(security_events::user_id.eq(user_id));
        }
        if let Some(types) = &filter.types {
            q = q.filter(security_events::event_type.eq_any(types.clone()));
        }
        if let Some(since) = filter.since {
            q = q.filter(security_events::at.ge(since));
        }
        if let Some(until) = filter.until {
            q = q.filter(security_events::at.lt(until));
        }
        if let Some(before) = filter.before {
            q = q.filter(security_events::id.lt(before));
        }
        q.load(c)
    })?)
}

/// The clients (IPv4 or IPv6 /64) that failed a password login of the account since
/// `since`: the networks whose per-network login counters an unlock clears.
pub fn failed_login_clients(
    conn: &mut Conn<'_>,
    user_id: i64,
    since: i64,
) -> Result<Vec<String>, ApiError> {
    let clients: Vec<Option<String>> = with_conn!(conn, c => security_events::table
        .filter(security_events::user_id.eq(user_id))
        .filter(security_events::event_type.eq(SecurityEventType::LoginFailed))
        .filter(security_events::at.ge(since))
        .select(security_events::client)
        .distinct()
        // Bounded: one account's failures in one window are capped by its limits.
        .limit(64)
        .load(c))?;
    Ok(clients.into_iter().flatten().collect())
}

/// Accounts deleted at or after `since` (by any API process): their event streams end.
pub fn deleted_since(conn: &mut Conn<'_>, since: i64) -> Result<Vec<i64>, ApiError> {
    let ids: Vec<Option<i64>> = with_conn!(conn, c => security_events::table
        .filter(security_events::event_type.eq(SecurityEventType::AccountDeleted))
        .filter(security_events::at.ge(since))
        .select(security_events::user_id)
        .load(c))?;
    Ok(ids.into_iter().flatten().collect())
}
