//! The code engine (SPEC §5, §8, §10): issues, stores, checks and spends the attempts of
//! every code, for the phone record (claims) and for the number as a credential (starts
//! and owner codes). What a send may spend is asked of [`SmsAllowance`]; what a right
//! code does is its caller's business (the phone record, a sign-in, a reset).
//!
//! Long: the one code engine issue 18 asked for (record and credential codes share
//! issuing, cool-down, attempts and consumption); split by purpose it was two engines.
//!
//! Everything here runs inside the caller's transaction, so a refused limit leaves
//! nothing behind (no user, no phone, no counter) and a sent code is always recorded
//! together with the change that caused it.

use phonereg_types::PhoneStatus;
use std::sync::Arc;

use hmac::{Hmac, Mac as _};
use phonereg_types::{Channel, HistoryKind, MessageKind, MessageStatus};
use rand::Rng as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::{
    config::Config,
    domain::{ClientNetworks, CodePurpose, CodeState, Locale, PhoneNumber, VerificationCode},
    error::ApiError,
    persistence::{
        Conn, auth_codes, codes,
        models::{AuthCodeRow, CodeRow, PhoneRow},
        outbox::{self, NewCode},
        phones,
    },
    services::{
        allowance::{OwnerSms, SmsAllowance, StartFor, segments},
        delivery,
        sms_texts::{SmsTexts, Text},
    },
};

/// A stored code's state as every answer about a code carries it.
fn code_state(
    sent: bool,
    expires_at: i64,
    resend_after: i64,
    attempts_left: i32,
    channels: &str,
) -> CodeState {
    CodeState {
        sent,
        expires_at,
        resend_after,
        attempts_remaining: i64::from(attempts_left.max(0)),
        channel: last_channel(channels),
        channels: Vec::new(),
    }
}

impl From<&CodeRow> for CodeState {
    fn from(r: &CodeRow) -> Self {
        code_state(
            r.sent,
            r.expires_at,
            r.resend_after,
            r.attempts_left,
            &r.channels,
        )
    }
}

impl From<&AuthCodeRow> for CodeState {
    fn from(r: &AuthCodeRow) -> Self {
        code_state(
            r.sent,
            r.expires_at,
            r.resend_after,
            r.attempts_left,
            &r.channels,
        )
    }
}

/// The channel a code last went by, from its stored `channels` (first first).
fn last_channel(channels: &str) -> Channel {
    channels
        .rsplit(',')
        .next()
        .and_then(Channel::parse)
        .unwrap_or(Channel::Sms)
}

/// Whether a code whose stored `channels` are these already went by `channel`.
fn went_by(channels: &str, channel: Channel) -> bool {
    channels.split(',').any(|c| c == channel.as_str())
}

/// When the first message of a code created at `created_at` failed, if it did: the
/// record's last message, when it is a failure no older than the code.
fn failed_at(last_message: Option<(MessageStatus, i64)>, created_at: i64) -> Option<i64> {
    last_message
        .filter(|&(status, at)| {
            matches!(status, MessageStatus::Failed | MessageStatus::Undelivered) && at >= created_at
        })
        .map(|(_, at)| at)
}

/// A channel by its name in a sentence.
fn channel_words(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "text message",
        Channel::Voice => "phone call",
        Channel::Whatsapp => "WhatsApp",
    }
}

/// The history detail of a code's message: the masked number, and the channel unless
/// it is a text.
fn sent_detail(e164: &str, channel: Channel) -> String {
    let masked = PhoneNumber::masked(e164);
    match channel {
        Channel::Sms => masked,
        other => format!("{masked} ({})", other.as_str()),
    }
}

fn no_live_code() -> ApiError {
    ApiError::ChannelUnavailable(
        "There is no live code to send another way; ask for a new code first.".into(),
    )
}

/// The account a credential code goes to: its id and its verified phone record.
#[derive(Clone, Copy, Debug)]
pub struct CodeOwner {
    pub user_id: i64,
    pub phone_id: i64,
}

/// One credential code to issue (SPEC §8).
pub struct CodeSend<'a> {
    pub purpose: CodePurpose,
    pub e164: &'a str,
    pub country: Option<&'a str>,
    /// None: the number has no account. Everything is counted and answered as if a
    /// code had been sent, but nothing is, and no code will ever match.
    pub owner: Option<CodeOwner>,
    /// Binds a login code to the `mfa_token` (hashed) that asked for it.
    pub challenge: Option<&'a str>,
    pub client_ip: Option<&'a ClientNetworks>,
    pub locale: Locale,
    /// The channel asked for (SPEC §13); None: the number's first channel.
    pub channel: Option<Channel>,
    /// As [`ClaimSend::last_message`]; None for a start, which answers alike with and
    /// without an account, so time alone opens its other channels.
    pub last_message: Option<(MessageStatus, i64)>,
    pub now: i64,
}

/// One claim: a code for the phone record `phone_id` of `user_id`, to `e164`.
pub struct ClaimSend<'a> {
    pub user_id: i64,
    pub phone_id: i64,
    pub e164: &'a str,
    pub country: Option<&'a str>,
    /// The record's live code, if it has one: the cool-down reads it.
    pub previous: Option<&'a CodeRow>,
    pub client_ip: Option<&'a ClientNetworks>,
    pub locale: Locale,
    /// The channel asked for (SPEC §13); None: the number's first channel.
    pub channel: Option<Channel>,
    /// The record's last message, status and time: a failed first message opens the
    /// other channels at once.
    pub last_message: Option<(MessageStatus, i64)>,
    pub now: i64,
}

/// A credential code checked: wrong (an attempt spent, to be committed) or right.
pub enum CodeCheck {
    Wrong(CodeState),
    Right(Box<AuthCodeRow>),
}

/// A phone record's code checked: wrong (an attempt spent) or right (for the record to
/// act on: its current row and the code, which says which number it proved).
pub enum RecordCheck {
    Wrong(CodeState),
    Right(Box<(PhoneRow, CodeRow)>),
}

/// Issues and checks codes. Cheap to clone into blocking closures.
#[derive(Clone)]
pub struct Codes {
    config: Arc<Config>,
    key: [u8; 32],
    allowance: SmsAllowance,
    texts: Arc<SmsTexts>,
}

type HmacSha256 = Hmac<Sha256>;

fn gone(detail: &str, verification: Option<CodeState>) -> ApiError {
    ApiError::Gone {
        detail: detail.into(),
        verification,
    }
}

impl Codes {
    /// `secret` keys the code hashes; codes are useless without it even with the database.
    pub fn new(
        config: Arc<Config>,
        secret: &[u8],
        texts: Arc<SmsTexts>,
        allowance: SmsAllowance,
    ) -> Self {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(secret).unwrap();
        mac.update(b"phonereg verification codes v1");
        let key = mac.finalize().into_bytes().into();
        Self {
            config,
            key,
            allowance,
            texts,
        }
    }

    /// The words of every SMS.
    pub fn texts(&self) -> &SmsTexts {
        &self.texts
    }

    /// What each kind of SMS may spend.
    pub fn allowance(&self) -> &SmsAllowance {
        &self.allowance
    }

    pub fn code_ttl(&self) -> u64 {
        self.config.verify_code_ttl
    }

    /// A keyed hash of `parts`, hex: codes, recovery codes. Keyed by the server's secret,
    /// so a copy of the database alone cannot test guesses.
    pub fn keyed_hash(&self, parts: &[&str]) -> String {
        #[expect(clippy::unwrap_used, reason = "HMAC takes keys of any length")]
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap();
        mac.update(parts.join("\n").as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn code_hash(&self, phone_id: i64, e164: &str, code: &str) -> String {
        // Binding the record and number stops a code for one number verifying another.
        self.keyed_hash(&[&phone_id.to_string(), e164, code])
    }

    fn credential_hash(
        &self,
        purpose: CodePurpose,
        e164: &str,
        challenge: Option<&str>,
        code: &str,
    ) -> String {
        // Bound to purpose, number and login: a code is good for one thing only.
        let challenge = challenge.unwrap_or("");
        self.keyed_hash(&["credential", purpose.as_str(), e164, challenge, code])
    }

    /// A test number with a script (SPEC §13): its messages go through the outbox to the
    /// script provider, though nothing leaves the machine and nothing is charged.
    fn scripted(&self, e164: &str) -> bool {
        self.config.sms_test_numbers.script_for(e164).is_some()
    }

    /// A test number's fixed code, or a fresh random one.
    fn new_code(&self, e164: &str) -> Result<VerificationCode, ApiError> {
        match self.allowance.test_code(e164) {
            Some(fixed) => VerificationCode::parse(fixed).map_err(|m| {
                ApiError::Internal(anyhow::anyhow!("SMS_TEST_NUMBERS holds a bad code: {m}"))
            }),
            None => Ok(VerificationCode::random()),
        }
    }

    /// Refuses a new code while the live one it would replace (`previous`: its resend
    /// time and state) cools down. Test numbers (`sent` false) have no cool-down.
    fn cool_down(sent: bool, previous: Option<(i64, CodeState)>, now: i64) -> Result<(), ApiError> {
        match previous {
            Some((resend_after, state)) if sent && resend_after > now => {
                crate::telemetry::rate_limited("resend_cooldown");
                Err(ApiError::ResendTooSoon {
                    retry_after: (resend_after - now) as u64,
                    verification: state,
                })
            }
            _ => Ok(()),
        }
    }

    /// The channels that can reach `e164` (SPEC §13), its first channel first: SMS, or a
    /// call for a fixed line let in by `VOICE_FOR_LANDLINES`; then a call and WhatsApp
    /// where they are on for its country. The number is parsed only when a second channel
    /// is on at all, so a deployment with texts alone pays nothing.
    fn channels_for(&self, e164: &str, country: Option<&str>) -> Vec<Channel> {
        let c = &self.config;
        if !c.voice_enabled && !c.whatsapp_enabled {
            return vec![Channel::Sms];
        }
        let parsed = PhoneNumber::parse(e164, "US").ok();
        let country = country
            .map(str::to_owned)
            .or_else(|| parsed.as_ref().map(|n| n.country.clone()))
            .unwrap_or_default();
        let voice = c.voice_enabled && c.voice_allowed_countries.allows(&country);
        // Test numbers skip the type checks (SPEC §7): they stay texts.
        let landline = !self.allowance.is_test_number(e164)
            && parsed.is_some_and(|n| !n.number_type.takes_sms());
        if landline {
            // Only a fixed line that may verify by voice is ever stored (`NumberRules`).
            return match voice && c.voice_for_landlines {
                true => vec![Channel::Voice],
                false => vec![Channel::Sms],
            };
        }
        let mut channels = vec![Channel::Sms];
        if voice {
            channels.push(Channel::Voice);
        }
        if c.whatsapp_enabled && c.whatsapp_allowed_countries.allows(&country) {
            channels.push(Channel::Whatsapp);
        }
        channels
    }

    /// Refuses `wanted` when it cannot reach the number (422 `channel-unavailable`).
    fn refuse_channel(wanted: Channel, offered: &[Channel]) -> Result<(), ApiError> {
        if offered.contains(&wanted) {
            return Ok(());
        }
        Err(ApiError::ChannelUnavailable(format!(
            "Codes are not sent to this number by {}.",
            channel_words(wanted)
        )))
    }

    /// When a channel other than the first may carry the live code created at
    /// `created_at`: `CHANNEL_FALLBACK_AFTER` later, or as soon as its first message
    /// failed.
    fn fallback_at(&self, created_at: i64, failed_at: Option<i64>) -> i64 {
        let after = created_at.saturating_add(self.config.channel_fallback_after as i64);
        failed_at.map_or(after, |f| f.min(after))
    }

    /// `state` with the channels it may go by next: the first channel at `resend_after`
    /// (a new code), every other one not yet used for this code once it opens.
    fn with_offers(
        &self,
        mut state: CodeState,
        offered: &[Channel],
        used: &str,
        created_at: i64,
        failed_at: Option<i64>,
    ) -> CodeState {
        let opens = self.fallback_at(created_at, failed_at);
        state.channels = offered
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| match i {
                0 => Some((c, state.resend_after)),
                _ if went_by(used, c) => None,
                _ => Some((c, opens)),
            })
            .collect();
        state
    }

    /// What a code's message says by `channel`: the SMS text, a call's sentence, or a
    /// WhatsApp template's one variable (the template holds the words).
    fn body(
        &self,
        channel: Channel,
        text: Text,
        locale: Locale,
        code: &VerificationCode,
    ) -> String {
        match channel {
            Channel::Sms => self
                .texts
                .code(text, locale, code, self.config.verify_code_ttl),
            Channel::Voice => self.texts.spoken(locale, code),
            Channel::Whatsapp => code.expose().to_owned(),
        }
    }

    /// Seals `code` for a resend on another channel: `nonce:digits`, the six digits
    /// offset (mod 10^6) by a pseudo-random number keyed by the server's secret, the
    /// `context` (which code it is) and a fresh nonce. Without the secret the stored
    /// digits say nothing, like the hash beside them.
    fn seal(&self, context: &str, code: &VerificationCode) -> String {
        let nonce = format!("{:016x}", rand::rngs::OsRng.r#gen::<u64>());
        let digits: u64 = code.expose().parse().unwrap_or(0);
        let sealed = (digits + self.seal_pad(context, &nonce)) % 1_000_000;
        format!("{nonce}:{sealed:06}")
    }

    /// The code [`Codes::seal`] sealed, or None when `sealed` is not one of its seals.
    fn unseal(&self, context: &str, sealed: &str) -> Option<VerificationCode> {
        let (nonce, digits) = sealed.split_once(':')?;
        let digits: u64 = digits.parse().ok()?;
        let code = (digits + 1_000_000 - self.seal_pad(context, nonce)) % 1_000_000;
        VerificationCode::parse(&format!("{code:06}")).ok()
    }

    fn seal_pad(&self, context: &str, nonce: &str) -> u64 {
        let hex = self.keyed_hash(&["seal", context, nonce]);
        // 64 bits mod 10^6: the bias is below 10^-13.
        u64::from_str_radix(&hex[..16], 16).unwrap_or(0) % 1_000_000
    }

    /// A new code's attempts, expiry and earliest resend.
    fn lifetimes(&self, now: i64) -> (i32, i64, i64) {
        (
            self.config.verify_max_attempts as i32,
            now + self.config.verify_code_ttl as i64,
            now + self.config.verify_resend_cooldown as i64,
        )
    }

    /// A claim (SPEC §10): a new code for `e164` on the phone record (killing the record's
    /// live code) and its SMS queued, charged to the claim allowance. Test numbers get
    /// their fixed code, send nothing and skip every cap.
    pub fn issue_claim(
        &self,
        conn: &mut Conn<'_>,
        send: &ClaimSend<'_>,
    ) -> Result<CodeState, ApiError> {
        let ClaimSend {
            phone_id,
            e164,
            now,
            ..
        } = *send;
        let sent = !self.allowance.is_test_number(e164);
        let offered = self.channels_for(e164, send.country);
        let first = offered[0];
        let wanted = send.channel.unwrap_or(first);
        Self::refuse_channel(wanted, &offered)?;
        // The cool-down is per record and number: a change to another number is governed
        // by the caps instead (SPEC §7).
        let previous = send.previous.filter(|p| p.e164 == e164);
        if wanted != first {
            return self.switch_claim(conn, send, previous, wanted, &offered);
        }
        let cooling = previous.map(|p| (p.resend_after, CodeState::from(p)));
        Self::cool_down(sent, cooling, now)?;
        let code = self.new_code(e164)?;
        let (attempts_left, expires_at, resend_after) = self.lifetimes(now);
        let row = CodeRow {
            phone_id,
            e164: e164.to_owned(),
            code_hash: self.code_hash(phone_id, e164, code.expose()),
            attempts_left,
            expires_at,
            resend_after,
            sent,
            created_at: now,
            // Kept readable only where another channel may need it.
            code_sealed: (offered.len() > 1)
                .then(|| self.seal(&record_seal(phone_id, e164), &code)),
            channels: first.as_str().to_owned(),
        };
        // The previous code is dead: no stored message keeps it.
        outbox::retire_codes_and(conn, phone_id, now, NewCode::Replace(&row))?;
        let answer = |row: &CodeRow| {
            self.with_offers(CodeState::from(row), &offered, &row.channels, now, None)
        };
        if sent || self.scripted(e164) {
            self.send_claim_code(conn, send, first, &code, row.expires_at, sent)?;
        } else {
            let masked = PhoneNumber::masked(e164);
            let detail = format!("{masked} (test number: nothing sent)");
            phones::add_history(conn, phone_id, HistoryKind::CodeSent, Some(&detail), now)?;
        }
        Ok(answer(&row))
    }

    /// Queues a claim's code by `channel` (a new code, or the live one again) with its
    /// history line, then charges it when it really goes out (`charged`; a scripted test
    /// number is played by the script provider and charged nothing). The charge comes
    /// last, so the counter rows every send shares (budget, client IP) stay locked only
    /// until the commit; a refusal still rolls back everything above.
    fn send_claim_code(
        &self,
        conn: &mut Conn<'_>,
        send: &ClaimSend<'_>,
        channel: Channel,
        code: &VerificationCode,
        expires_at: i64,
        charged: bool,
    ) -> Result<(), ApiError> {
        let (phone_id, e164, now) = (send.phone_id, send.e164, send.now);
        let body = self.body(channel, Text::Verification, send.locale, code);
        let about = delivery::About {
            user_id: send.user_id,
            phone_id,
        };
        delivery::queue_by(
            conn,
            Some(about),
            e164,
            &body,
            codes::CODE_KIND,
            Some(expires_at),
            send.locale,
            channel,
            now,
        )?;
        let detail = sent_detail(e164, channel);
        phones::add_history(conn, phone_id, HistoryKind::CodeSent, Some(&detail), now)?;
        if !charged {
            return Ok(());
        }
        let cost = (channel, self.allowance.units(channel, &body));
        self.allowance.charge_claim(
            conn,
            send.user_id,
            e164,
            send.country,
            send.client_ip,
            cost,
            now,
        )
    }

    /// The record's live code again, by `wanted`, a channel it has not gone by (SPEC §13):
    /// same code, same expiry, no cool-down and no new attempts; open once the first
    /// message is `CHANNEL_FALLBACK_AFTER` old or failed (429 `channel-not-yet` before).
    /// Charged like any claim, a call at its weight. So one code reaches a number at most
    /// once per channel, and what a stranger spends by switching is bounded by the claim
    /// caps that every message counts toward.
    fn switch_claim(
        &self,
        conn: &mut Conn<'_>,
        send: &ClaimSend<'_>,
        live: Option<&CodeRow>,
        wanted: Channel,
        offered: &[Channel],
    ) -> Result<CodeState, ApiError> {
        let ClaimSend {
            phone_id,
            e164,
            now,
            ..
        } = *send;
        let live = live
            .filter(|p| p.expires_at > now && p.attempts_left > 0)
            .ok_or_else(no_live_code)?;
        if went_by(&live.channels, wanted) {
            return Err(ApiError::ChannelUnavailable(format!(
                "This code was already sent by {}; ask for a new code.",
                channel_words(wanted)
            )));
        }
        let failed = failed_at(send.last_message, live.created_at);
        let opens = self.fallback_at(live.created_at, failed);
        if opens > now {
            let state = CodeState::from(live);
            return Err(ApiError::ChannelNotYet {
                retry_after: (opens - now) as u64,
                verification: self.with_offers(
                    state,
                    offered,
                    &live.channels,
                    live.created_at,
                    failed,
                ),
            });
        }
        let code = live
            .code_sealed
            .as_deref()
            .and_then(|s| self.unseal(&record_seal(phone_id, e164), s))
            .ok_or_else(no_live_code)?;
        let channels = format!("{},{}", live.channels, wanted.as_str());
        if !codes::add_channel(conn, phone_id, &live.code_hash, &live.channels, &channels)? {
            return Err(ApiError::Conflict(
                "The code changed meanwhile; look at it again.".into(),
            ));
        }
        if live.sent || self.scripted(e164) {
            self.send_claim_code(conn, send, wanted, &code, live.expires_at, live.sent)?;
        }
        let mut state = CodeState::from(live);
        state.channel = wanted;
        Ok(self.with_offers(state, offered, &channels, live.created_at, failed))
    }

    /// Checks the code of phone record `phone_id`. A wrong one costs an attempt (committed,
    /// so the caller must return the outcome rather than an error); a right one is handed
    /// back with the record for the caller to act on.
    pub fn check_record(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        phone_id: i64,
        code: &VerificationCode,
        now: i64,
    ) -> Result<RecordCheck, ApiError> {
        let (phone, live) = phones::find_owned_with_code(conn, user_id, phone_id)?;
        let Some(row) = live else {
            return Err(gone(
                "There is no active code for this number; request a new one.",
                None,
            ));
        };
        let still_wanted = (row.e164 == phone.e164 && phone.status != PhoneStatus::Verified)
            || phone.pending_e164.as_deref() == Some(row.e164.as_str());
        if !still_wanted {
            return Err(gone(
                "That code was for a number this record no longer waits on; request a new one.",
                None,
            ));
        }
        // The code's own state still tells the client when it may ask for another.
        if row.expires_at <= now {
            return Err(gone(
                "This code has expired; request a new one.",
                Some(CodeState::from(&row)),
            ));
        }
        // The attempt is spent before comparing, and only if one is left: read, compare,
        // then decrement let K parallel guesses all be compared on PostgreSQL.
        let Some(left) = codes::take_attempt(conn, phone_id, &row.code_hash)? else {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = 0;
            return Err(gone(
                "Too many wrong codes; request a new one.",
                Some(state),
            ));
        };
        let expected = self.code_hash(row.phone_id, &row.e164, code.expose());
        if !bool::from(expected.as_bytes().ct_eq(row.code_hash.as_bytes())) {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = i64::from(left.max(0));
            return Ok(RecordCheck::Wrong(state));
        }
        Ok(RecordCheck::Right(Box::new((phone, row))))
    }

    /// A right record code was used: it is gone, its messages lose it, and the fraud
    /// guard counts its number as a real person's (it was a claim).
    pub fn consume_record(
        &self,
        conn: &mut Conn<'_>,
        row: &CodeRow,
        country: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        outbox::retire_codes_and(conn, row.phone_id, now, NewCode::Delete)?;
        self.allowance
            .guard()
            .count_verified(conn, &row.e164, country, now)
    }

    /// Issues a credential code (SPEC §8), killing the number's previous one for the same
    /// purpose. A start for a number without an account goes through the very same steps
    /// (the cool-down and the start caps count it, and a code row is stored), but its hash
    /// is of a secret nobody ever sees, so it answers like a live code that never
    /// matches, and no SMS is queued. Starts are charged as starts, the other purposes
    /// (a password login's code, the owner's own two-step code) as owner SMS.
    pub fn issue_credential(
        &self,
        conn: &mut Conn<'_>,
        send: &CodeSend<'_>,
    ) -> Result<CodeState, ApiError> {
        let CodeSend {
            purpose, e164, now, ..
        } = *send;
        let sent = !self.allowance.is_test_number(e164);
        let offered = self.channels_for(e164, send.country);
        let first = offered[0];
        let wanted = send.channel.unwrap_or(first);
        Self::refuse_channel(wanted, &offered)?;
        let previous = auth_codes::find(conn, e164, purpose)?;
        if wanted != first {
            return self.switch_credential(conn, send, previous, wanted, &offered);
        }
        let cooling = previous
            .as_ref()
            .map(|p| (p.resend_after, CodeState::from(p)));
        Self::cool_down(sent, cooling, now)?;
        let code = self.new_code(e164)?;
        let hashed = match send.owner {
            Some(_) => code.expose().to_owned(),
            None => format!("{:032x}", rand::rngs::OsRng.r#gen::<u128>()),
        };
        let (attempts_left, expires_at, resend_after) = self.lifetimes(now);
        let readable = send.owner.is_some() && offered.len() > 1;
        let row = AuthCodeRow {
            e164: e164.to_owned(),
            purpose,
            user_id: send.owner.map(|o| o.user_id),
            code_hash: self.credential_hash(purpose, e164, send.challenge, &hashed),
            challenge: send.challenge.map(str::to_owned),
            attempts_left,
            expires_at,
            resend_after,
            sent,
            created_at: now,
            code_sealed: readable.then(|| self.seal(&credential_seal(purpose, e164), &code)),
            channels: first.as_str().to_owned(),
        };
        auth_codes::replace(conn, &row)?;
        // Written for a number without an account too: what it would have cost decides
        // the budget's answer alike for both (a two-segment language at the budget's edge).
        let body = self.body(first, credential_text(purpose), send.locale, &code);
        if let Some(owner) = send.owner {
            let queued = sent || self.scripted(e164);
            Self::queue_credential(conn, send, owner, &body, queued, row.expires_at, first)?;
        }
        if sent {
            self.charge_credential(conn, send, self.allowance.units(first, &body))?;
        }
        Ok(self.with_offers(CodeState::from(&row), &offered, &row.channels, now, None))
    }

    /// A number's live credential code again, by `wanted` (SPEC §13), as
    /// [`Codes::switch_claim`] does for a record's. A start for a number without an
    /// account goes through the same steps, counted and answered alike, and sends
    /// nothing (its code was never readable).
    ///
    /// Long: as `switch_claim`, for a credential code (start or owner code).
    fn switch_credential(
        &self,
        conn: &mut Conn<'_>,
        send: &CodeSend<'_>,
        live: Option<AuthCodeRow>,
        wanted: Channel,
        offered: &[Channel],
    ) -> Result<CodeState, ApiError> {
        let CodeSend {
            purpose, e164, now, ..
        } = *send;
        let live = live
            .filter(|p| p.expires_at > now && p.attempts_left > 0)
            .filter(|p| p.challenge.as_deref() == send.challenge)
            .ok_or_else(no_live_code)?;
        if went_by(&live.channels, wanted) {
            return Err(ApiError::ChannelUnavailable(format!(
                "This code was already sent by {}; ask for a new code.",
                channel_words(wanted)
            )));
        }
        let failed = failed_at(send.last_message, live.created_at);
        let opens = self.fallback_at(live.created_at, failed);
        if opens > now {
            let state = CodeState::from(&live);
            return Err(ApiError::ChannelNotYet {
                retry_after: (opens - now) as u64,
                verification: self.with_offers(
                    state,
                    offered,
                    &live.channels,
                    live.created_at,
                    failed,
                ),
            });
        }
        let code = match send.owner {
            Some(_) => Some(
                live.code_sealed
                    .as_deref()
                    .and_then(|s| self.unseal(&credential_seal(purpose, e164), s))
                    .ok_or_else(no_live_code)?,
            ),
            None => None,
        };
        let channels = format!("{},{}", live.channels, wanted.as_str());
        if !auth_codes::add_channel(conn, &live, &channels)? {
            return Err(ApiError::Conflict(
                "The code changed meanwhile; look at it again.".into(),
            ));
        }
        // What it costs is the same with and without an account: a call's weight, one
        // WhatsApp message.
        let units = self.allowance.units(wanted, "");
        if let (Some(owner), Some(code)) = (send.owner, code)
            && (live.sent || self.scripted(e164))
        {
            let body = self.body(wanted, credential_text(purpose), send.locale, &code);
            let about = delivery::About {
                user_id: owner.user_id,
                phone_id: owner.phone_id,
            };
            let (kind, dies) = (purpose.message_kind(), Some(live.expires_at));
            delivery::queue_by(
                conn,
                Some(about),
                e164,
                &body,
                kind,
                dies,
                send.locale,
                wanted,
                now,
            )?;
            let detail = sent_detail(e164, wanted);
            let history = purpose.history_kind();
            phones::add_history(conn, owner.phone_id, history, Some(&detail), now)?;
        }
        if live.sent {
            self.charge_credential(conn, send, units)?;
        }
        let mut state = CodeState::from(&live);
        state.channel = wanted;
        Ok(self.with_offers(state, offered, &channels, live.created_at, failed))
    }

    /// A credential code's SMS to its account's number (nothing for a test number without
    /// a script), its
    /// previous code's message retired, and the record's history.
    fn queue_credential(
        conn: &mut Conn<'_>,
        send: &CodeSend<'_>,
        CodeOwner { user_id, phone_id }: CodeOwner,
        body: &str,
        queued: bool,
        dies: i64,
        channel: Channel,
    ) -> Result<(), ApiError> {
        let (purpose, e164, now) = (send.purpose, send.e164, send.now);
        let kind = purpose.message_kind();
        // The previous code of this purpose is dead: no stored message keeps it.
        outbox::retire_codes(conn, phone_id, kind, now)?;
        let masked = PhoneNumber::masked(e164);
        if queued {
            let about = delivery::About { user_id, phone_id };
            let (dies, locale) = (Some(dies), send.locale);
            delivery::queue_by(
                conn,
                Some(about),
                e164,
                body,
                kind,
                dies,
                locale,
                channel,
                now,
            )?;
            let detail = sent_detail(e164, channel);
            phones::add_history(conn, phone_id, purpose.history_kind(), Some(&detail), now)
        } else {
            let detail = format!("{masked} (test number: nothing sent)");
            phones::add_history(conn, phone_id, purpose.history_kind(), Some(&detail), now)
        }
    }

    /// What a sent credential code spends: a start's allowance, or the owner's.
    fn charge_credential(
        &self,
        conn: &mut Conn<'_>,
        send: &CodeSend<'_>,
        body_segments: u32,
    ) -> Result<(), ApiError> {
        let (e164, now) = (send.e164, send.now);
        match (send.purpose, send.owner) {
            (CodePurpose::SignIn | CodePurpose::PasswordReset, owner) => {
                let to = match owner {
                    Some(_) => StartFor::Account,
                    None => StartFor::Nobody,
                };
                let unknown = ClientNetworks::unknown();
                let ip = send.client_ip.unwrap_or(&unknown);
                self.allowance
                    .charge_start(conn, e164, ip, to, body_segments, now)
            }
            (purpose @ (CodePurpose::TwoFactor | CodePurpose::Login), Some(owner)) => {
                let kind = match purpose {
                    CodePurpose::Login => OwnerSms::LoginCode,
                    _ => OwnerSms::Other,
                };
                self.allowance
                    .charge_owner(conn, owner.user_id, e164, kind, body_segments, now)
            }
            (CodePurpose::TwoFactor | CodePurpose::Login, None) => Err(ApiError::Internal(
                anyhow::anyhow!("an owner code without an owner"),
            )),
        }
    }

    /// Checks a credential code. A wrong one costs an attempt (the caller must commit it,
    /// so it comes back as `Wrong`, not an error); a dead or absent one is 410. A right
    /// one is returned for the caller to consume in the transaction that uses it.
    pub fn check_credential(
        &self,
        conn: &mut Conn<'_>,
        purpose: CodePurpose,
        e164: &str,
        challenge: Option<&str>,
        code: &VerificationCode,
        now: i64,
    ) -> Result<CodeCheck, ApiError> {
        let row = auth_codes::find(conn, e164, purpose)?
            .filter(|row| row.challenge.as_deref() == challenge)
            .ok_or_else(|| gone("There is no active code; request a new one.", None))?;
        if row.expires_at <= now {
            return Err(gone(
                "This code has expired; request a new one.",
                Some(CodeState::from(&row)),
            ));
        }
        let Some(left) = auth_codes::take_attempt(conn, &row)? else {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = 0;
            return Err(gone(
                "Too many wrong codes; request a new one.",
                Some(state),
            ));
        };
        let expected = self.credential_hash(purpose, e164, challenge, code.expose());
        let right: bool = expected.as_bytes().ct_eq(row.code_hash.as_bytes()).into();
        if !right || row.user_id.is_none() {
            let mut state = CodeState::from(&row);
            state.attempts_remaining = i64::from(left.max(0));
            return Ok(CodeCheck::Wrong(state));
        }
        Ok(CodeCheck::Right(Box::new(row)))
    }

    /// A right credential code was used: it is gone and its messages lose it. False when
    /// a racing request used it first. (The guard does not count it: it counts claims.)
    pub fn consume_credential(
        &self,
        conn: &mut Conn<'_>,
        row: &AuthCodeRow,
        phone: &PhoneRow,
        now: i64,
    ) -> Result<bool, ApiError> {
        if !auth_codes::consume(conn, row)? {
            return Ok(false);
        }
        outbox::retire_codes(conn, phone.id, row.purpose.message_kind(), now)?;
        Ok(true)
    }

    /// A notice to the account's own verified number (`to`, which may be the number being
    /// retired): never skipped by a cap or a pause (SPEC §10), only for a number that
    /// replied STOP or a test number. `about` is the record whose last message it is.
    #[expect(clippy::too_many_arguments, reason = "one notice's facts, all needed")]
    pub fn notify(
        &self,
        conn: &mut Conn<'_>,
        phone: &PhoneRow,
        to: &str,
        about: Option<delivery::About>,
        text: Text,
        tail: &str,
        locale: Locale,
        now: i64,
    ) -> Result<bool, ApiError> {
        if self.allowance.is_test_number(to) || phone.sms_opted_out {
            return Ok(false);
        }
        let body = self.texts.plain(text, locale, tail);
        self.allowance
            .record_notice(conn, phone.user_id, segments(&body), now)?;
        delivery::queue(
            conn,
            about,
            to,
            &body,
            MessageKind::Notice,
            None,
            locale,
            now,
        )?;
        Ok(true)
    }

    /// A test message the owner asked for: an owner SMS (SPEC §10).
    pub fn send_test_message(
        &self,
        conn: &mut Conn<'_>,
        phone: &PhoneRow,
        locale: Locale,
        now: i64,
    ) -> Result<(), ApiError> {
        let body = self.texts.plain(Text::Test, locale, "");
        let (user_id, e164) = (phone.user_id, &phone.e164);
        let kind = OwnerSms::Other;
        self.allowance
            .charge_owner(conn, user_id, e164, kind, segments(&body), now)?;
        let about = delivery::About {
            user_id: phone.user_id,
            phone_id: phone.id,
        };
        delivery::queue(
            conn,
            Some(about),
            &phone.e164,
            &body,
            MessageKind::Test,
            None,
            locale,
            now,
        )?;
        Ok(())
    }
}

/// What a record's sealed code is bound to.
fn record_seal(phone_id: i64, e164: &str) -> String {
    format!("record:{phone_id}:{e164}")
}

/// What a credential's sealed code is bound to.
fn credential_seal(purpose: CodePurpose, e164: &str) -> String {
    format!("credential:{}:{e164}", purpose.as_str())
}

/// The words of a credential code.
fn credential_text(purpose: CodePurpose) -> Text {
    match purpose {
        CodePurpose::SignIn => Text::SignIn,
        CodePurpose::PasswordReset => Text::PasswordReset,
        CodePurpose::TwoFactor | CodePurpose::Login => Text::TwoFactor,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn code_hash_is_keyed_and_bound_to_record_and_number() {
        let config = Arc::new(Config::parse_from(["x"]));
        let texts = Arc::new(SmsTexts::new("https://example.com").expect("texts"));
        let allowance = SmsAllowance::from_config(&config);
        let v = Codes::new(
            Arc::clone(&config),
            b"secret one",
            Arc::clone(&texts),
            allowance.clone(),
        );
        let w = Codes::new(config, b"secret two", texts, allowance);
        let h = v.code_hash(1, "+14155552671", "123456");
        assert_eq!(h.len(), 64);
        assert_ne!(h, w.code_hash(1, "+14155552671", "123456"), "other key");
        assert_ne!(h, v.code_hash(2, "+14155552671", "123456"), "other record");
        assert_ne!(h, v.code_hash(1, "+14155552672", "123456"), "other number");
        assert!(!h.contains("123456"));
    }

    #[test]
    fn a_sealed_code_opens_only_with_its_key_and_context() {
        let config = Arc::new(Config::parse_from(["x"]));
        let texts = Arc::new(SmsTexts::new("https://example.com").expect("texts"));
        let allowance = SmsAllowance::from_config(&config);
        let v = Codes::new(
            Arc::clone(&config),
            b"secret one",
            Arc::clone(&texts),
            allowance.clone(),
        );
        let w = Codes::new(config, b"secret two", texts, allowance);
        for raw in ["000000", "482913", "999999"] {
            let code = VerificationCode::parse(raw).expect("code");
            let sealed = v.seal("record:1:+14155552671", &code);
            assert!(!sealed.contains(raw), "{sealed}");
            let opened = v.unseal("record:1:+14155552671", &sealed).expect("opens");
            assert_eq!(opened.expose(), raw);
            let other = v.unseal("record:2:+14155552671", &sealed);
            assert_ne!(other.map(|c| c.expose().to_owned()).as_deref(), Some(raw));
            let wrong_key = w.unseal("record:1:+14155552671", &sealed);
            assert_ne!(
                wrong_key.map(|c| c.expose().to_owned()).as_deref(),
                Some(raw)
            );
        }
        assert!(v.unseal("record:1:+14155552671", "garbage").is_none());
    }
}
