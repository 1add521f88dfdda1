//! Email and client-network pairs that signed in successfully (stored hashed).

use diesel::{prelude::*, upsert::excluded};

use super::{Conn, KeepPreparedDsl as _, schema::known_sign_ins, with_conn};
use crate::error::ApiError;

pub fn is_known(conn: &mut Conn<'_>, pair: &str) -> Result<bool, ApiError> {
    Ok(!with_conn!(conn, c => known_sign_ins::table
        .filter(known_sign_ins::pair.eq(pair))
        .select(known_sign_ins::last_at)
        .load::<i64>(c))?
    .is_empty())
}

pub fn remember(conn: &mut Conn<'_>, pair: &str, now: i64) -> Result<(), ApiError> {
    with_conn!(conn, c => diesel::insert_into(known_sign_ins::table)
        .values((known_sign_ins::pair.eq(pair), known_sign_ins::last_at.eq(now)))
        .on_conflict(known_sign_ins::pair)
        .do_update()
        .set(known_sign_ins::last_at.eq(excluded(known_sign_ins::last_at)))
        .keep_prepared()
        .execute(c))?;
    Ok(())
}
