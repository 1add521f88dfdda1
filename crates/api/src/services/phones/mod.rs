//! The phone-number record: one per account, replaced with a pending step once verified.
//! Its verification (resend, verify, the swap) is in `verification`, the public lookup in
//! `lookup`.

mod lookup;
mod verification;

use phonereg_types::{HistoryKind, PhoneStatus, SecurityEventType as Event};

use std::sync::Arc;

use crate::{
    clock::Clock,
    domain::{ClientNetworks, CodeState, Locale, PhoneNumber},
    error::ApiError,
    persistence::{
        Conn, Db, events,
        models::{HistoryRow, NewPhone, PhoneNumberChanges, PhoneRow},
        phones, users,
    },
    services::{
        audit::{self, Entry, Origin},
        client_limit::ClientLimit,
        codes::{ClaimSend, Codes},
        number_rules::NumberRules,
        rate_limit::Limit,
        reauth::Reauth,
        sms_texts::Text,
    },
    streams::Streams,
};

/// The records' service: each account's one number, its codes and its history.
pub struct Phones {
    db: Db,
    clock: Clock,
    codes: Codes,
    reauth: Reauth,
    /// Number changes per account per day.
    phone_changes: Limit,
    /// Public lookups per client.
    lookup_ip: ClientLimit,
    rules: Arc<NumberRules>,
    /// To end this process's streams of the sessions a number change ends.
    streams: Arc<Streams>,
}

/// What [`Phones::new`] is built from.
pub struct PhonesParts {
    pub db: Db,
    pub clock: Clock,
    pub codes: Codes,
    pub reauth: Reauth,
    pub phone_changes: Limit,
    pub lookup_ip: ClientLimit,
    pub rules: Arc<NumberRules>,
    pub streams: Arc<Streams>,
}

/// Inside the caller's transaction: a new, unverified record and its first code (a
/// claim). A number verified on another account is treated exactly like a free one
/// (SPEC §10): only the right code at verify tells.
pub fn add_phone_with_code(
    conn: &mut Conn<'_>,
    codes: &Codes,
    user_id: i64,
    number: &PhoneNumber,
    client_ip: &ClientNetworks,
    locale: Locale,
    now: i64,
) -> Result<(PhoneRow, CodeState), ApiError> {
    let row = insert_record(conn, user_id, number, now)?;
    let code = codes.issue_claim(
        conn,
        &ClaimSend {
            user_id,
            phone_id: row.id,
            e164: &row.e164,
            country: Some(&row.country),
            previous: None,
            client_ip: Some(client_ip),
            locale,
            channel: None,
            last_message: None,
            now,
        },
    )?;
    Ok((phones::find_owned(conn, user_id, row.id)?, code))
}

fn insert_record(
    conn: &mut Conn<'_>,
    user_id: i64,
    number: &PhoneNumber,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    let row = phones::insert(
        conn,
        &NewPhone {
            user_id,
            e164: &number.e164,
            national: &number.national,
            international: &number.international,
            country: &number.country,
            number_type: number.number_type,
            status: PhoneStatus::Unverified,
            created_at: now,
            updated_at: now,
        },
    )?;
    events::phone_changed(conn, user_id, row.id, now)?;
    let masked = PhoneNumber::masked(&number.e164);
    phones::add_history(conn, row.id, HistoryKind::Added, Some(&masked), now)?;
    Ok(row)
}

impl Phones {
    pub fn new(p: PhonesParts) -> Self {
        Self {
            db: p.db,
            clock: p.clock,
            codes: p.codes,
            reauth: p.reauth,
            phone_changes: p.phone_changes,
            lookup_ip: p.lookup_ip,
            rules: p.rules,
            streams: p.streams,
        }
    }

    /// Which numbers are accepted.
    pub fn rules(&self) -> &NumberRules {
        &self.rules
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<PhoneRow>, ApiError> {
        self.db
            .read(move |c| phones::list_for_user(c, user_id))
            .await
    }

    pub async fn get(&self, user_id: i64, id: i64) -> Result<PhoneRow, ApiError> {
        self.db
            .read(move |c| phones::find_owned(c, user_id, id))
            .await
    }

    /// Adds the account's number and sends its first code, in one transaction. A number
    /// verified on another account is answered exactly like a free one (SPEC §10): only
    /// the right code tells, at verify.
    pub async fn add(
        &self,
        user_id: i64,
        number: PhoneNumber,
        client_ip: ClientNetworks,
        locale: Locale,
        origin: Origin,
    ) -> Result<(PhoneRow, CodeState), ApiError> {
        self.count_change(user_id).await?;
        let (row, code) = self
            .write_with_codes(move |c, codes, now| {
                let (row, code) =
                    add_phone_with_code(c, codes, user_id, &number, &client_ip, locale, now)?;
                let entry = Entry::user(Event::PhoneAdded, Some(user_id)).phone(row.id);
                audit::record(c, &origin, &entry, now)?;
                Ok((row, code))
            })
            .await?;
        tracing::info!(user.id = user_id, phone.id = row.id, "phone number added");
        Ok((row, code))
    }

    /// Runs `job` on the writer with the code engine and the time of the write: how every
    /// write of a record that sends or checks a code starts.
    async fn write_with_codes<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn<'_>, &Codes, i64) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (codes, clock) = (self.codes.clone(), self.clock.clone());
        self.db.write(move |c| job(c, &codes, clock.now())).await
    }

    /// Counts a number change (POST, PATCH) against the account's daily allowance, in a
    /// transaction of its own so that a refused or failed change still counts.
    async fn count_change(&self, user_id: i64) -> Result<(), ApiError> {
        let limit = self.phone_changes;
        let now = self.clock.now();
        self.db
            .write(move |c| limit.hit(c, &user_id.to_string(), now))
            .await
    }

    /// A verified number is a credential: changing or removing it needs the password
    /// (SPEC §10). Missing: 422 on `current_password`; wrong: 401 `wrong-password`.
    async fn reauthenticate(
        &self,
        user_id: i64,
        row: &PhoneRow,
        password: Option<String>,
        client_ip: &ClientNetworks,
    ) -> Result<(), ApiError> {
        if row.status != PhoneStatus::Verified {
            return Ok(());
        }
        let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
            ApiError::field(
                "current_password",
                "is required to change or remove a verified number",
            )
        })?;
        self.reauth.check(user_id, password, client_ip).await
    }

    /// PATCH: an unverified number is replaced at once; a verified one stays in force and
    /// the new number waits in `pending_e164` until it is verified, while the verified
    /// number is told at once. Either way the new number gets a code.
    pub async fn replace(&self, change: Change) -> Result<(PhoneRow, Option<CodeState>), ApiError> {
        let Change {
            user_id,
            id,
            number,
            current_password,
            client_ip,
            locale,
            origin,
        } = change;
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        self.count_change(user_id).await?;
        let (row, code) = self
            .write_with_codes(move |c, codes, now| {
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == PhoneStatus::Verified && current.status != PhoneStatus::Verified {
                    // Verified since the password check was skipped for it: ask again.
                    return Err(ApiError::field(
                        "current_password",
                        "is required to change or remove a verified number",
                    ));
                }
                if number.e164 == row.e164 {
                    return Ok((cancel_pending(c, row, now)?, None));
                }
                let masked = PhoneNumber::masked(&number.e164);
                // A verified number stays until the new one is verified; an unverified
                // one is replaced at once.
                let kind = if row.status == PhoneStatus::Verified {
                    Event::PhoneChangeRequested
                } else {
                    Event::PhoneChanged
                };
                audit::record(c, &origin, &Entry::user(kind, Some(user_id)).phone(id), now)?;
                if row.status == PhoneStatus::Verified {
                    let detail = format!("{masked} awaiting verification");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::set_pending(c, id, Some(&number.e164), now)?;
                    events::phone_changed(c, user_id, id, now)?;
                    // The owner hears of it on the number still in force, whoever asked.
                    let tail = &number.e164[number.e164.len().saturating_sub(2)..];
                    codes.notify(
                        c,
                        &row,
                        &row.e164,
                        None,
                        Text::ChangeRequested,
                        tail,
                        locale,
                        now,
                    )?;
                } else {
                    let detail = format!("replaced by {masked}");
                    phones::add_history(c, id, HistoryKind::Changed, Some(&detail), now)?;
                    phones::replace_number(c, id, &PhoneNumberChanges::from(&number), now)?;
                    events::phone_changed(c, user_id, id, now)?;
                }
                let code = codes.issue_claim(
                    c,
                    &ClaimSend {
                        user_id,
                        phone_id: id,
                        e164: &number.e164,
                        country: Some(&number.country),
                        previous: previous.as_ref(),
                        client_ip: Some(&client_ip),
                        locale,
                        channel: None,
                        last_message: None,
                        now,
                    },
                )?;
                Ok((phones::find_owned(c, user_id, id)?, Some(code)))
            })
            .await?;
        Ok((row, code))
    }

    /// `POST …/test-message`: a short SMS to the verified number (even while a change is
    /// pending). An owner SMS (SPEC §10): the account's own hourly cap, not the cool-down,
    /// and not sent to a number that replied STOP.
    pub async fn send_test_message(
        &self,
        user_id: i64,
        id: i64,
        locale: Locale,
    ) -> Result<PhoneRow, ApiError> {
        self.write_with_codes(move |c, codes, now| {
                let row = phones::find_owned(c, user_id, id)?;
                if row.status != PhoneStatus::Verified {
                    return Err(ApiError::Conflict(
                        "Only a verified number can receive a test message; verify it first."
                            .into(),
                    ));
                }
                if row.sms_opted_out {
                    return Err(ApiError::Conflict(
                        "This number replied STOP, so we don't text it. Text START to the sender, then verify again.".into(),
                    ));
                }
                codes.send_test_message(c, &row, locale, now)?;
                let masked = PhoneNumber::masked(&row.e164);
                phones::add_history(c, id, HistoryKind::TestSent, Some(&masked), now)?;
                phones::find_owned(c, user_id, id)
            })
            .await
    }

    /// DELETE: a verified number needs the password; while two-step sign-in uses it,
    /// 409 (turn that off first).
    pub async fn delete(
        &self,
        user_id: i64,
        id: i64,
        current_password: Option<String>,
        client_ip: ClientNetworks,
        origin: Origin,
    ) -> Result<(), ApiError> {
        let current = self.get(user_id, id).await?;
        self.reauthenticate(user_id, &current, current_password, &client_ip)
            .await?;
        let clock = self.clock.clone();
        self.db
            .write(move |c| {
                // Under the record's lock, like PATCH and verify: a verify committing
                // between the password check and the delete is seen here.
                let (row, _) = phones::find_owned_with_code(c, user_id, id)?;
                if row.status == PhoneStatus::Verified && current.status != PhoneStatus::Verified {
                    return Err(ApiError::field(
                        "current_password",
                        "is required to change or remove a verified number",
                    ));
                }
                // The number is the second factor: removing it would leave the account
                // signing in by password alone without the owner saying so.
                if users::find(c, user_id)?.is_some_and(|u| u.two_factor) {
                    return Err(ApiError::Conflict(
                        "Two-step sign-in uses this number: turn it off before removing the number."
                            .into(),
                    ));
                }
                let entry = Entry::user(Event::PhoneRemoved, Some(user_id)).phone(id);
                audit::record(c, &origin, &entry, clock.now())?;
                phones::delete(c, id)
            })
            .await?;
        tracing::info!(user.id = user_id, phone.id = id, "phone number deleted");
        Ok(())
    }

    pub async fn history(&self, user_id: i64, id: i64) -> Result<Vec<HistoryRow>, ApiError> {
        self.db
            .read(move |c| {
                phones::find_owned(c, user_id, id)?;
                phones::history(c, id)
            })
            .await
    }
}

/// One PATCH of a phone record, its fields parsed.
pub struct Change {
    pub user_id: i64,
    pub id: i64,
    pub number: PhoneNumber,
    pub current_password: Option<String>,
    pub client_ip: ClientNetworks,
    pub locale: Locale,
    pub origin: Origin,
}

/// A PATCH back to the current number: any pending change is dropped.
fn cancel_pending(c: &mut Conn<'_>, row: PhoneRow, now: i64) -> Result<PhoneRow, ApiError> {
    if row.pending_e164.is_none() {
        return Ok(row);
    }
    let detail = Some("pending change cancelled");
    phones::add_history(c, row.id, HistoryKind::Changed, detail, now)?;
    let cancelled = phones::set_pending(c, row.id, None, now)?;
    events::phone_changed(c, row.user_id, row.id, now)?;
    Ok(cancelled)
}
