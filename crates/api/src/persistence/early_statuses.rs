//! Status callbacks that arrive before their message's Sid is stored
//! (`sms_early_statuses`): kept a while, then applied by the delivery service or the
//! courier once the Sid is known.

use diesel::{OptionalExtension as _, prelude::*};
use phonereg_types::{MessageStatus, SmsProviderName};

use super::{
    Conn, KeepPreparedDsl as _,
    schema::{sms_early_statuses, sms_messages},
    with_conn,
};
use crate::error::ApiError;

/// Status callbacks kept for a Sid not stored yet: an hour, and this many at most (they
/// come only from providers, signed, so the cap is a safety net, not a defence).
pub const TTL: i64 = 3600;
pub const CAP: i64 = 10_000;

/// A status report for `sid`, which no stored message has yet.
pub struct EarlyStatus {
    pub status: MessageStatus,
    pub error_code: Option<i64>,
}

/// The report kept for `provider`'s `sid`, if any.
pub fn kept(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
) -> Result<Option<EarlyStatus>, ApiError> {
    let row: Option<(String, Option<i64>)> = with_conn!(conn, c => sms_early_statuses::table
        .find((provider, sid))
        .select((sms_early_statuses::status, sms_early_statuses::error_code))
        .get_result(c)
        .optional())?;
    // A word this build does not know is no report at all.
    Ok(row.and_then(|(status, error_code)| {
        MessageStatus::parse(&status).map(|status| EarlyStatus { status, error_code })
    }))
}

/// Keeps (or replaces) the report for `sid`. Reports older than [`TTL`] go
/// first; past [`CAP`] the report is dropped and false returned.
pub fn keep(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
    report: &EarlyStatus,
    now: i64,
) -> Result<bool, ApiError> {
    with_conn!(conn, c => diesel::delete(
        sms_early_statuses::table.filter(sms_early_statuses::received_at.lt(now - TTL)),
    )
    .execute(c))?;
    let kept: i64 = with_conn!(conn, c => sms_early_statuses::table.count().get_result(c))?;
    if kept >= CAP {
        return Ok(false);
    }
    let row = (
        sms_early_statuses::provider.eq(provider),
        sms_early_statuses::sid.eq(sid),
        sms_early_statuses::status.eq(report.status.as_str()),
        sms_early_statuses::error_code.eq(report.error_code),
        sms_early_statuses::received_at.eq(now),
    );
    with_conn!(conn, c => diesel::insert_into(sms_early_statuses::table)
        .values(row)
        .on_conflict((sms_early_statuses::provider, sms_early_statuses::sid))
        .do_update()
        .set((
            sms_early_statuses::status.eq(report.status.as_str()),
            sms_early_statuses::error_code.eq(report.error_code),
            sms_early_statuses::received_at.eq(now),
        ))
        .execute(c))?;
    Ok(true)
}

/// Takes the report kept for `provider`'s `sid` (the Sid has just been stored).
pub fn take(
    conn: &mut Conn<'_>,
    provider: SmsProviderName,
    sid: &str,
) -> Result<Option<EarlyStatus>, ApiError> {
    let row: Option<(String, Option<i64>)> = with_conn!(conn, c => diesel::delete(sms_early_statuses::table.find((provider, sid)))
        .returning((sms_early_statuses::status, sms_early_statuses::error_code))
        .keep_prepared()
        .get_result(c)
        .optional())?;
    // A word this build does not know is no report at all.
    Ok(row.and_then(|(status, error_code)| {
        MessageStatus::parse(&status).map(|status| EarlyStatus { status, error_code })
    }))
}

/// Sids of kept reports whose message has its Sid by now: on PostgreSQL a report and the
/// Sid can commit at the same moment, each transaction missing the other.
pub fn now_known(conn: &mut Conn<'_>) -> Result<Vec<(SmsProviderName, String)>, ApiError> {
    Ok(with_conn!(conn, c => sms_early_statuses::table
        .inner_join(sms_messages::table.on(
            sms_messages::provider_sid.eq(sms_early_statuses::sid.nullable())
                .and(sms_messages::provider.eq(sms_early_statuses::provider.nullable())),
        ))
        .select((sms_early_statuses::provider, sms_early_statuses::sid))
        .limit(100)
        .load(c))?)
}
