//! Phone records and their history.

use diesel::{
    prelude::*,
    sql_types::{BigInt, Bool, Integer, Nullable, Text},
};
use phonereg_types::PhoneStatus;
use phonereg_types::{Channel, HistoryKind, MessageStatus, SmsProviderName};

use super::{
    Conn, KeepPreparedDsl as _, is_unique_violation,
    models::{CodeRow, HistoryRow, NewHistory, NewPhone, PhoneNumberChanges, PhoneRow},
    schema::{phone_history, phone_numbers, verification_codes},
    with_conn,
};
use crate::error::ApiError;

fn map_conflict(e: diesel::result::Error) -> ApiError {
    if is_unique_violation(&e, "user_id") {
        ApiError::Conflict(
            "This account already has a phone number; replace it with PATCH instead.".into(),
        )
    } else if is_unique_violation(&e, "e164") {
        verified_elsewhere()
    } else {
        e.into()
    }
}

pub fn verified_elsewhere() -> ApiError {
    ApiError::PhoneTaken
}

/// Inserts a record; a second record for the account is a conflict.
pub fn insert(conn: &mut Conn<'_>, new: &NewPhone<'_>) -> Result<PhoneRow, ApiError> {
    let row = with_conn!(conn, c => diesel::insert_into(phone_numbers::table)
        .values(new)
        .returning(PhoneRow::as_returning())
        .keep_prepared()
        .get_result(c))
    .map_err(map_conflict)?;
    Ok(row)
}

pub fn list_for_user(conn: &mut Conn<'_>, user_id: i64) -> Result<Vec<PhoneRow>, ApiError> {
    Ok(with_conn!(conn, c => phone_numbers::table
        .filter(phone_numbers::user_id.eq(user_id))
        .select(PhoneRow::as_select())
        .load(c))?)
}

/// The caller's record with this id; someone else's is indistinguishable from none.
pub fn find_owned(conn: &mut Conn<'_>, user_id: i64, id: i64) -> Result<PhoneRow, ApiError> {
    with_conn!(conn, c => phone_numbers::table
        .filter(phone_numbers::id.eq(id))
        .filter(phone_numbers::user_id.eq(user_id))
        .select(PhoneRow::as_select())
        .load(c))?
    .into_iter()
    .next()
    .ok_or(ApiError::NotFound)
}

/// The caller's record with this id and its live code, if any (send-code and verify both
/// need the two), for a write transaction that decides on them.
///
/// On PostgreSQL the record is locked first, until the transaction ends, and the record
/// and code are read after the lock is held: requests on one record (parallel resends, a
/// resend and a verify) take turns, and each reads the code the one before it wrote, so
/// the resend cool-down and the attempts are checked and spent in one step. Read under
/// READ COMMITTED without a lock, eight parallel resends each saw the old code's
/// cool-down over and five sent a code. The lock is a transaction-level advisory lock on
/// the record's id, not `FOR UPDATE` on its row: the courier locks a message row and then
/// updates the record's row, while a resend retires the record's messages after taking
/// its lock, so a row lock here took the two in opposite orders and PostgreSQL broke the
/// deadlock with a 500 (seen by schemathesis). SQLite has one writer at a time.
///
/// The lock and the read are one round trip: the function `phonereg_locked_record`
/// (migration 2026-12-12-200001) takes the lock and then reads, in a statement of its
/// own with a snapshot taken after the lock was granted (a single statement would read
/// from its starting snapshot, from before the lock: see the migration).
pub fn find_owned_with_code(
    conn: &mut Conn<'_>,
    user_id: i64,
    id: i64,
) -> Result<(PhoneRow, Option<CodeRow>), ApiError> {
    if let Conn::Postgres(c) = conn {
        let row = diesel::sql_query(LOCKED_RECORD_SQL)
            .bind::<Integer, _>(RECORD_LOCKS)
            .bind::<Integer, _>(record_lock_key(id))
            .bind::<BigInt, _>(id)
            .bind::<BigInt, _>(user_id)
            .keep_prepared()
            .load::<LockedRecord>(*c)?
            .into_iter()
            .next()
            .ok_or(ApiError::NotFound)?;
        return Ok(row.split());
    }
    with_conn!(conn, c => phone_numbers::table
        .left_join(verification_codes::table)
        .filter(phone_numbers::id.eq(id))
        .filter(phone_numbers::user_id.eq(user_id))
        .select((PhoneRow::as_select(), Option::<CodeRow>::as_select()))
        .load(c))?
    .into_iter()
    .next()
    .ok_or(ApiError::NotFound)
}

/// The record's columns by their names, the code's prefixed (both tables have `e164`
/// and `created_at`); the code's are NULL when it has none.
const LOCKED_RECORD_SQL: &str = "SELECT (r.phone).*, \
     (r.code).phone_id AS code_phone_id, (r.code).e164 AS code_e164, \
     (r.code).code_hash AS code_code_hash, (r.code).attempts_left AS code_attempts_left, \
     (r.code).expires_at AS code_expires_at, (r.code).resend_after AS code_resend_after, \
     (r.code).sent AS code_sent, (r.code).created_at AS code_created_at, \
     (r.code).code_sealed AS code_code_sealed, (r.code).channels AS code_channels \
     FROM phonereg_locked_record($1, $2, $3, $4) r";

/// A row of [`LOCKED_RECORD_SQL`].
#[derive(QueryableByName)]
struct LockedRecord {
    #[diesel(embed)]
    phone: PhoneRow,
    #[diesel(sql_type = Nullable<BigInt>)]
    code_phone_id: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    code_e164: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    code_code_hash: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    code_attempts_left: Option<i32>,
    #[diesel(sql_type = Nullable<BigInt>)]
    code_expires_at: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    code_resend_after: Option<i64>,
    #[diesel(sql_type = Nullable<Bool>)]
    code_sent: Option<bool>,
    #[diesel(sql_type = Nullable<BigInt>)]
    code_created_at: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    code_code_sealed: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    code_channels: Option<String>,
}

impl LockedRecord {
    fn split(self) -> (PhoneRow, Option<CodeRow>) {
        let code = match self {
            // Every code column is NOT NULL: a NULL one means the record has no code.
            LockedRecord {
                code_phone_id: Some(phone_id),
                code_e164: Some(e164),
                code_code_hash: Some(code_hash),
                code_attempts_left: Some(attempts_left),
                code_expires_at: Some(expires_at),
                code_resend_after: Some(resend_after),
                code_sent: Some(sent),
                code_created_at: Some(created_at),
                code_code_sealed: code_sealed,
                code_channels: Some(channels),
                ..
            } => Some(CodeRow {
                phone_id,
                e164,
                code_hash,
                attempts_left,
                expires_at,
                resend_after,
                sent,
                created_at,
                code_sealed,
                channels,
            }),
            _ => None,
        };
        (self.phone, code)
    }
}

/// The advisory-lock namespace of phone records (the two-key form: this and the id).
const RECORD_LOCKS: i32 = 0x5052_4543; // "PREC"

/// Record ids fold into the 32-bit second key; two records that collide only take turns.
fn record_lock_key(id: i64) -> i32 {
    (id ^ (id >> 32)) as i32
}

/// Whether `e164` is verified on an account other than `user_id`.
pub fn verified_on_other_account(
    conn: &mut Conn<'_>,
    e164: &str,
    user_id: i64,
) -> Result<bool, ApiError> {
    let n: i64 = with_conn!(conn, c => phone_numbers::table
        .filter(phone_numbers::e164.eq(e164))
        .filter(phone_numbers::status.eq(PhoneStatus::Verified))
        .filter(phone_numbers::user_id.ne(user_id))
        .count()
        .get_result(c))?;
    Ok(n > 0)
}

/// Replaces the number in place (an unverified record): it stays unverified.
pub fn replace_number(
    conn: &mut Conn<'_>,
    id: i64,
    changes: &PhoneNumberChanges<'_>,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    with_conn!(conn, c => diesel::update(phone_numbers::table.find(id))
        .set((
            changes,
            phone_numbers::status.eq(PhoneStatus::Unverified),
            phone_numbers::verified_at.eq(None::<i64>),
            phone_numbers::pending_e164.eq(None::<String>),
            phone_numbers::sms_opted_out.eq(false),
            phone_numbers::updated_at.eq(now),
        ))
        .returning(PhoneRow::as_returning())
        .keep_prepared()
        .get_result(c))
    .map_err(map_conflict)
}

/// Sets or clears the replacement awaiting verification.
pub fn set_pending(
    conn: &mut Conn<'_>,
    id: i64,
    pending: Option<&str>,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    let row = with_conn!(conn, c => diesel::update(phone_numbers::table.find(id))
        .set((phone_numbers::pending_e164.eq(pending), phone_numbers::updated_at.eq(now)))
        .returning(PhoneRow::as_returning())
        .keep_prepared()
        .get_result(c))?;
    Ok(row)
}

/// Deletes the record; its history goes with it (ON DELETE CASCADE).
pub fn delete(conn: &mut Conn<'_>, id: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::delete(phone_history::table
        .filter(phone_history::phone_id.eq(id)))
        .execute(c))?;
    with_conn!(conn, c => diesel::delete(phone_numbers::table.find(id)).execute(c))?;
    Ok(())
}

pub fn add_history(
    conn: &mut Conn<'_>,
    phone_id: i64,
    kind: HistoryKind,
    detail: Option<&str>,
    at: i64,
) -> Result<(), ApiError> {
    let row = NewHistory {
        phone_id,
        at,
        kind,
        detail,
        provider: None,
        channel: None,
    };
    with_conn!(conn, c => diesel::insert_into(phone_history::table).values(&row).keep_prepared().execute(c))?;
    Ok(())
}

/// A history entry about a message's outcome, naming who carried it and how (SPEC §13).
pub fn add_message_history(
    conn: &mut Conn<'_>,
    phone_id: i64,
    kind: HistoryKind,
    detail: Option<&str>,
    via: (Option<SmsProviderName>, Channel),
    at: i64,
) -> Result<(), ApiError> {
    let row = NewHistory {
        phone_id,
        at,
        kind,
        detail,
        provider: via.0,
        channel: Some(via.1),
    };
    with_conn!(conn, c => diesel::insert_into(phone_history::table).values(&row).keep_prepared().execute(c))?;
    Ok(())
}

/// Newest first, ties broken by id.
pub fn history(conn: &mut Conn<'_>, phone_id: i64) -> Result<Vec<HistoryRow>, ApiError> {
    Ok(with_conn!(conn, c => phone_history::table
        .filter(phone_history::phone_id.eq(phone_id))
        .order((phone_history::at.desc(), phone_history::id.desc()))
        .limit(200)
        .select(HistoryRow::as_select())
        .load(c))?)
}

/// Marks the current number verified. The partial unique index on verified numbers makes
/// the second of two racing accounts fail here with a conflict.
pub fn mark_verified(conn: &mut Conn<'_>, id: i64, now: i64) -> Result<PhoneRow, ApiError> {
    with_conn!(conn, c => diesel::update(phone_numbers::table.find(id))
        .set((
            phone_numbers::status.eq(PhoneStatus::Verified),
            phone_numbers::verified_at.eq(Some(now)),
            phone_numbers::sms_opted_out.eq(false),
            phone_numbers::updated_at.eq(now),
        ))
        .returning(PhoneRow::as_returning())
        .keep_prepared()
        .get_result(c))
    .map_err(map_conflict)
}

/// Twilio 21610: the number replied STOP. Cleared by a delivery or a new verification.
/// Returns the owner when the flag changed.
pub fn set_opted_out(
    conn: &mut Conn<'_>,
    id: i64,
    opted_out: bool,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(phone_numbers::table
        .find(id)
        .filter(phone_numbers::sms_opted_out.ne(opted_out)))
        .set((phone_numbers::sms_opted_out.eq(opted_out), phone_numbers::updated_at.eq(now)))
        .returning(phone_numbers::user_id)
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

/// Message `message_id`, just queued, becomes the record's last message.
pub fn set_last_message(
    conn: &mut Conn<'_>,
    id: i64,
    message_id: i64,
    channel: Channel,
    now: i64,
) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::update(phone_numbers::table.find(id))
        .set((
            phone_numbers::last_message_id.eq(Some(message_id)),
            phone_numbers::last_message_status.eq(Some(MessageStatus::Queued.as_str())),
            phone_numbers::last_message_error.eq(None::<i64>),
            phone_numbers::last_message_at.eq(Some(now)),
            phone_numbers::last_message_provider.eq(None::<SmsProviderName>),
            phone_numbers::last_message_channel.eq(Some(channel)),
        ))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}

/// Shows message `message_id`'s new status on the record, if it is still the record's
/// last message. Returns the owner when it was (by primary key: the owner comes back
/// with the update, saving a lookup).
pub fn set_last_message_status(
    conn: &mut Conn<'_>,
    id: i64,
    message_id: i64,
    status: MessageStatus,
    error_code: Option<i64>,
    provider: Option<SmsProviderName>,
    now: i64,
) -> Result<Option<i64>, ApiError> {
    Ok(with_conn!(conn, c => diesel::update(phone_numbers::table
        .find(id)
        .filter(phone_numbers::last_message_id.eq(Some(message_id))))
        .set((
            phone_numbers::last_message_status.eq(Some(status.as_str())),
            phone_numbers::last_message_error.eq(error_code),
            phone_numbers::last_message_at.eq(Some(now)),
            phone_numbers::last_message_provider.eq(provider),
        ))
        .returning(phone_numbers::user_id)
        .keep_prepared()
        .load(c))?
    .into_iter()
    .next())
}

/// The account that owns record `id`, if it still exists.
pub fn owner(conn: &mut Conn<'_>, id: i64) -> Result<Option<i64>, ApiError> {
    Ok(with_conn!(conn, c => phone_numbers::table
        .find(id)
        .select(phone_numbers::user_id)
        .load(c))?
    .into_iter()
    .next())
}
