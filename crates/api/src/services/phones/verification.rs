//! The record's verification: the code a resend texts, and the right code verifying the
//! number it was sent to (a verified replacement swapping in).

use phonereg_types::{Channel, HistoryKind, PhoneStatus, SecurityEventType as Event};

use super::Phones;
use crate::{
    domain::{ClientNetworks, CodeState, Locale, PhoneNumber, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, events,
        models::{PhoneNumberChanges, PhoneRow},
        phones::{self, verified_elsewhere},
        refresh_tokens,
    },
    services::{
        audit::{self, Entry, Origin},
        codes::{ClaimSend, Codes, RecordCheck},
        sms_texts::Text,
    },
};

/// What a code check came to inside its transaction: the verified record and the
/// sessions it ended, or the code state after a wrong guess.
enum Verify {
    Verified(Box<PhoneRow>, Vec<String>),
    Wrong(CodeState),
}

impl Phones {
    /// The number a resend of phone `id` would text (the pending one first), and its
    /// country when stored; None when there is nothing to confirm. Read-only, for the bot
    /// challenge, which runs before the resend writes anything.
    pub async fn resend_destination(
        &self,
        user_id: i64,
        id: i64,
    ) -> Result<Option<(String, Option<String>)>, ApiError> {
        let row = self.get(user_id, id).await?;
        Ok(
            match (row.pending_e164, row.status == PhoneStatus::Verified) {
                (Some(pending), _) => Some((pending, None)),
                (None, false) => Some((row.e164, Some(row.country))),
                (None, true) => None,
            },
        )
    }

    /// `POST …/verification`: a new code for whatever the record waits on (the pending
    /// replacement, else the unverified current number).
    pub async fn resend_code(
        &self,
        user_id: i64,
        id: i64,
        client_ip: ClientNetworks,
        locale: Locale,
        channel: Option<Channel>,
    ) -> Result<CodeState, ApiError> {
        let code = self
            .write_with_codes(move |c, codes, now| {
                let (row, previous) = phones::find_owned_with_code(c, user_id, id)?;
                let last_message = row.last_message();
                // The stored country belongs to the current number; a pending one is parsed.
                let (target, country) =
                    match (row.pending_e164, row.status == PhoneStatus::Verified) {
                        (Some(pending), _) => (pending, None),
                        (None, false) => (row.e164, Some(row.country)),
                        (None, true) => {
                            return Err(ApiError::Conflict(
                                "This number is already verified; there is nothing to confirm."
                                    .into(),
                            ));
                        }
                    };
                codes.issue_claim(
                    c,
                    &ClaimSend {
                        user_id,
                        phone_id: id,
                        e164: &target,
                        country: country.as_deref(),
                        previous: previous.as_ref(),
                        client_ip: Some(&client_ip),
                        locale,
                        channel,
                        last_message,
                        now,
                    },
                )
            })
            .await?;
        Ok(code)
    }

    /// `POST …/verify`: a malformed code is a field error and costs nothing; a wrong one
    /// costs an attempt; the right one verifies the number it was sent to. A number
    /// verified on another account is 409 `phone-taken` here, after the right code, and
    /// stays with its account. A verified replacement swaps in, tells the old number, and
    /// ends every other session of the account (`session`, the caller's, stays).
    pub async fn verify_code(
        &self,
        user_id: i64,
        id: i64,
        code: String,
        session: Option<String>,
        locale: Locale,
        origin: Origin,
    ) -> Result<PhoneRow, ApiError> {
        let code = VerificationCode::parse(&code).map_err(|m| ApiError::field("code", m))?;
        let default_region = self.rules.default_region.clone();
        let outcome = self
            .write_with_codes(move |c, codes, now| {
                let (phone, row) = match codes.check_record(c, user_id, id, &code, now)? {
                    RecordCheck::Wrong(state) => {
                        let entry = Entry::user(Event::PhoneVerifyFailed, Some(user_id))
                            .phone(id)
                            .failed();
                        audit::record(c, &origin, &entry, now)?;
                        return Ok(Verify::Wrong(state));
                    }
                    RecordCheck::Right(right) => *right,
                };
                if phones::verified_on_other_account(c, &row.e164, user_id)? {
                    // Rolled back: the number stays with its account, the attempt unspent.
                    return Err(verified_elsewhere());
                }
                let current = row.e164 == phone.e164;
                let country = current.then_some(phone.country.as_str());
                codes.consume_record(c, &row, country, now)?;
                let masked = PhoneNumber::masked(&row.e164);
                let (verified, ended) = if current {
                    let verified = phones::mark_verified(c, id, now)?;
                    events::phone_changed(c, user_id, id, now)?;
                    (verified, Vec::new())
                } else {
                    let verified =
                        swap_in(c, codes, &phone, &row.e164, &default_region, locale, now)?;
                    let ended =
                        refresh_tokens::revoke_others_of_user(c, user_id, session.as_deref(), now)?;
                    (verified, ended)
                };
                phones::add_history(c, id, HistoryKind::Verified, Some(&masked), now)?;
                let kind = if current {
                    Event::PhoneVerified
                } else {
                    Event::PhoneChanged
                };
                audit::record(c, &origin, &Entry::user(kind, Some(user_id)).phone(id), now)?;
                Ok(Verify::Verified(Box::new(verified), ended))
            })
            .await?;
        match outcome {
            Verify::Verified(row, ended) => {
                for family in &ended {
                    self.streams.end_session(family);
                }
                tracing::info!(user.id = user_id, phone.id = id, "phone number verified");
                Ok(*row)
            }
            Verify::Wrong(left) => Err(ApiError::WrongCode(left)),
        }
    }
}

/// The pending number was verified: it replaces the old one, which gets a notice.
fn swap_in(
    conn: &mut Conn<'_>,
    codes: &Codes,
    phone: &PhoneRow,
    new_e164: &str,
    default_region: &str,
    locale: Locale,
    now: i64,
) -> Result<PhoneRow, ApiError> {
    let number = PhoneNumber::parse(new_e164, default_region).map_err(|m| {
        ApiError::Internal(anyhow::anyhow!("stored pending number unparsable: {m}"))
    })?;
    phones::replace_number(conn, phone.id, &PhoneNumberChanges::from(&number), now)?;
    events::phone_changed(conn, phone.user_id, phone.id, now)?;
    let verified = phones::mark_verified(conn, phone.id, now)?;
    events::phone_changed(conn, phone.user_id, phone.id, now)?;
    let detail = format!(
        "{} replaced by {}",
        PhoneNumber::masked(&phone.e164),
        PhoneNumber::masked(new_e164)
    );
    phones::add_history(conn, phone.id, HistoryKind::Changed, Some(&detail), now)?;
    if phone.status == PhoneStatus::Verified {
        let tail = &new_e164[new_e164.len().saturating_sub(2)..];
        // Not the record's last message: it goes to the number being retired.
        let text = Text::ChangeNotice;
        codes.notify(conn, phone, &phone.e164, None, text, tail, locale, now)?;
    }
    Ok(verified)
}
