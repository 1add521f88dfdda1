//! What each kind of SMS may spend (SPEC §10), and nothing else.
//!
//! Every SMS is one of three kinds, and each kind is limited only by what its sender
//! controls, so no kind can be spent to refuse another:
//!
//! - **Claims** (codes to a number not yet verified by the caller: register, POST, PATCH,
//!   resend) meet the §5 caps (per number, per account, per client network), the fraud
//!   guard, and the daily budget.
//! - **Starts** (`/auth/sms/start`, anonymous) meet their own caps per number and per
//!   client network, alike with and without an account. A start for a number without an
//!   account sends nothing, so it spends no budget and the guard never sees it.
//! - **Owner SMS** (codes after a right password or for the signed-in owner's own
//!   verified number, test messages, notices) meet a per-account hourly cap the owner
//!   alone can spend, and the budget's reserve; never the guard, never a stranger's count.
//!
//! The budget counts segments. Claims may spend `SMS_DAILY_BUDGET`; starts to verified
//! numbers go on past it into half of `SMS_BUDGET_RESERVE`, owner SMS into all of it.
//! All are one counter (`sms_budget:all`) read against three ceilings on the same rows:
//! a kind takes a slot only below its own ceiling, so claims can never eat the reserve
//! and starts never its second half.
//!
//! Every charge runs inside the caller's transaction: a refusal rolls back the send and
//! everything written with it.
//!
//! Long: the three kinds' charges side by side, so what one may spend of another's is
//! read in one place.

use phonereg_types::{Channel, SmsKind};

use crate::{
    config::{Config, TestNumbers},
    domain::{ClientNetworks, Destination},
    error::ApiError,
    persistence::Conn,
    services::{
        client_limit::{ClientLimit, as_hits},
        fraud_guard::FraudGuard,
        rate_limit::Limit,
    },
};

/// The counter every kind of SMS spends from (SPEC §5 `SMS_DAILY_BUDGET`).
const BUDGET: &str = "sms_budget";

/// The SMS allowances, built once from the configuration. Cheap to clone.
#[derive(Clone)]
pub struct SmsAllowance {
    claim_per_number: Limit,
    claim_per_ip: ClientLimit,
    /// `SMS_PER_ACCOUNT_PER_DAY`: refuses claims; owner SMS are counted, never refused.
    account_per_day: Limit,
    start_per_number: Limit,
    start_per_ip: ClientLimit,
    owner_per_account: Limit,
    /// What claims may spend.
    budget: Limit,
    /// What starts may spend: the budget and half its reserve, so a botnet's starts to
    /// known numbers cannot drain the reserve the owners' login codes live on.
    budget_for_starts: Limit,
    /// What everything together may spend: the budget and its reserve.
    budget_and_reserve: Limit,
    guard: FraudGuard,
    test_numbers: TestNumbers,
    /// `VOICE_BUDGET_WEIGHT`: what a code call spends of the budget and counts with the
    /// guard.
    voice_weight: u32,
}

/// Which hourly cap of its account an owner SMS counts against.
#[derive(Clone, Copy, Debug)]
pub enum OwnerSms {
    /// The code of a password login.
    LoginCode,
    /// The owner's two-step code, test messages.
    Other,
}

/// Who asked for a start's code: the number's account, when it has one.
#[derive(Clone, Copy, Debug)]
pub enum StartFor {
    Account,
    Nobody,
}

impl SmsAllowance {
    pub fn from_config(c: &Config) -> Self {
        let reserve = c.sms_budget_reserve();
        let budget = Limit::new(BUDGET, c.sms_daily_budget, 86_400)
            .striped()
            .readable();
        Self {
            claim_per_number: Limit::new("sms_number", c.sms_per_number_per_hour, 3600),
            claim_per_ip: ClientLimit::new(
                Limit::new("sms_ip", c.sms_per_ip_per_hour, 3600).striped(),
            )
            .with_ipv4_24(),
            account_per_day: Limit::new("sms_account", c.sms_per_account_per_day, 86_400),
            start_per_number: Limit::new(
                "sms_starts_number",
                c.sms_starts_per_number_per_hour,
                3600,
            ),
            start_per_ip: ClientLimit::new(Limit::new(
                "sms_starts_ip",
                c.sms_starts_per_ip_per_hour,
                3600,
            ))
            .with_ipv4_24(),
            owner_per_account: Limit::new(
                "sms_owner_account",
                c.sms_owner_per_account_per_hour,
                3600,
            ),
            // "all" names nobody: kept readable, so the day's count survives a change of
            // the server's secret. The three ceilings of the one counter use the same
            // rows on PostgreSQL, so each sees the slots the other kinds took.
            budget,
            budget_for_starts: Limit::new(
                BUDGET,
                c.sms_daily_budget.saturating_add(reserve / 2),
                86_400,
            )
            .striped_like(budget)
            .readable(),
            budget_and_reserve: Limit::new(
                BUDGET,
                c.sms_daily_budget.saturating_add(reserve),
                86_400,
            )
            .striped_like(budget)
            .readable(),
            guard: FraudGuard::from_config(c),
            test_numbers: c.sms_test_numbers.clone(),
            voice_weight: c.voice_budget_weight,
        }
    }

    /// What one message of `body` by `channel` spends of the budget (SPEC §13): an SMS
    /// its segments, a call `VOICE_BUDGET_WEIGHT`, a WhatsApp template message one.
    pub fn units(&self, channel: Channel, body: &str) -> u32 {
        match channel {
            Channel::Sms => segments(body),
            Channel::Voice => self.voice_weight,
            Channel::Whatsapp => 1,
        }
    }

    /// How many sends the fraud guard counts one message by `channel` as: a call at its
    /// budget weight (toll fraud pumps calls as SMS pumping pumps texts), others as one.
    pub fn guard_weight(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Voice => self.voice_weight,
            Channel::Sms | Channel::Whatsapp => 1,
        }
    }

    /// Test numbers send nothing and skip every SMS cap (never the guess limits).
    pub fn is_test_number(&self, e164: &str) -> bool {
        self.test_numbers.code_for(e164).is_some()
    }

    /// The fixed code of a test number.
    pub fn test_code(&self, e164: &str) -> Option<&str> {
        self.test_numbers.code_for(e164)
    }

    /// The guard, for counting a verified claim.
    pub fn guard(&self) -> &FraudGuard {
        &self.guard
    }

    /// Whether `client` has had its `free` codes this hour (claims and starts, sent or
    /// not): on its own key, or on a wider network it belongs to at that network's
    /// multiple, as every per-client limit widens (a pumper rotating over the /64s of a
    /// /48 stays under any one /64's free sends). What the bot challenge's free sends are
    /// measured by. Read-only.
    pub fn past_free_sends(
        &self,
        conn: &mut Conn<'_>,
        client: &ClientNetworks,
        free: i64,
        now: i64,
    ) -> Result<bool, ApiError> {
        let mut sends = |key: &str| -> Result<i64, ApiError> {
            Ok(self.claim_per_ip.count(conn, key, now)?
                + self.start_per_ip.count(conn, key, now)?)
        };
        if sends(client.key())? >= free {
            return Ok(true);
        }
        for (width, net) in client.wider() {
            if sends(net)? >= free.saturating_mul(i64::from(width.multiple())) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// A claim of `segments` budget units by `channel` to `e164` for `user_id`, from
    /// `ip`: the §5 caps, the guard and the budget; 429/503 when one is spent. The guard's
    /// counters go in the same statement as the caps (a call counted at its weight), and
    /// the guard judges the destination afterwards. Every message counts once toward the
    /// caps, whatever its channel: a second channel for the same code is a send too.
    #[expect(clippy::too_many_arguments, reason = "one claim's facts, all needed")]
    pub fn charge_claim(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        e164: &str,
        country: Option<&str>,
        ip: Option<&ClientNetworks>,
        (channel, segments): (Channel, u32),
        now: i64,
    ) -> Result<(), ApiError> {
        if self.is_test_number(e164) {
            return Ok(());
        }
        let watched: Option<Destination> = self.guard.watch(e164, country);
        let admitted = match &watched {
            Some(dest) => self.guard.admit(conn, dest, now)?,
            None => Vec::new(),
        };
        let account = user_id.to_string();
        let mut hits = vec![
            (self.claim_per_number, e164),
            (self.account_per_day, account.as_str()),
        ];
        let networks = ip.map(|ip| self.claim_per_ip.counters(ip));
        hits.extend(as_hits(networks.as_deref().unwrap_or_default()));
        let fraud = watched.as_ref().map(|d| self.guard.sent_counters(d));
        hits.extend(fraud.iter().flatten().map(|(l, k)| (*l, k.as_str())));
        // The one counter every send shares goes last, so its row stays locked only
        // until the commit; its first segment rides in the same statement as the caps.
        hits.push((self.budget, "all"));
        Limit::hit_all(conn, &hits, now).map_err(budget_spent(SmsKind::Claim))?;
        self.spend(
            conn,
            self.budget,
            SmsKind::Claim,
            segments.saturating_sub(1),
            now,
        )?;
        if let Some(dest) = &watched {
            let more = self.guard_weight(channel).saturating_sub(1);
            self.guard.count_more_sent(conn, dest, more, now)?;
            self.guard.evaluate(conn, dest, admitted, now)?;
        }
        Ok(())
    }

    /// A start to `e164` from `ip`: its own caps, alike with and without an account.
    /// Only a start that sends spends budget (from the reserve too); one for a number
    /// without an account is refused by the budget exactly when a sending one would be,
    /// so the two still answer alike.
    pub fn charge_start(
        &self,
        conn: &mut Conn<'_>,
        e164: &str,
        ip: &ClientNetworks,
        to: StartFor,
        segments: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.is_test_number(e164) {
            return Ok(());
        }
        let networks = self.start_per_ip.counters(ip);
        let mut caps = vec![(self.start_per_number, e164)];
        caps.extend(as_hits(&networks));
        match to {
            StartFor::Account => {
                let mut hits = caps;
                hits.push((self.budget_for_starts, "all"));
                Limit::hit_all(conn, &hits, now).map_err(budget_spent(SmsKind::Start))?;
                let more = segments.saturating_sub(1);
                self.spend(conn, self.budget_for_starts, SmsKind::Start, more, now)
            }
            StartFor::Nobody => {
                Limit::hit_all(conn, &caps, now)?;
                self.budget_for_starts
                    .check_room(conn, "all", segments, now)
                    .map_err(budget_spent(SmsKind::Start))
            }
        }
    }

    /// An owner SMS of `segments` for `user_id`: the account's own hourly cap, counted
    /// toward its daily claims allowance (never refused by it), and the budget with its
    /// reserve. Never the guard. A login's code has an hourly cap of its own: it already
    /// needs the right password, and a stolen access token spending the account's test
    /// messages must not refuse the owner's next login.
    pub fn charge_owner(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        e164: &str,
        kind: OwnerSms,
        segments: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        if self.is_test_number(e164) {
            return Ok(());
        }
        let account = user_id.to_string();
        let cap_key = match kind {
            OwnerSms::LoginCode => format!("{user_id}:login"),
            OwnerSms::Other => account.clone(),
        };
        let hits = [
            (self.owner_per_account, cap_key.as_str()),
            (self.budget_and_reserve, "all"),
        ];
        Limit::hit_all(conn, &hits, now).map_err(budget_spent(SmsKind::Owner))?;
        self.account_per_day.record(conn, &account, now)?;
        self.spend(
            conn,
            self.budget_and_reserve,
            SmsKind::Owner,
            segments.saturating_sub(1),
            now,
        )
    }

    /// A notice to the account's own number (number changed, password changed): counted
    /// like an owner SMS but never refused. A notice tells the owner that something
    /// happened to their credential; skipping it for a cap would hide exactly that.
    pub fn record_notice(
        &self,
        conn: &mut Conn<'_>,
        user_id: i64,
        segments: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        let account = user_id.to_string();
        self.owner_per_account.record(conn, &account, now)?;
        self.account_per_day.record(conn, &account, now)?;
        for _ in 0..segments.max(1) {
            self.budget_and_reserve.record(conn, "all", now)?;
        }
        Ok(())
    }

    /// Takes `segments` more slots of the budget under `ceiling`, the one of `kind` (none
    /// for 0); 503 when it is spent.
    fn spend(
        &self,
        conn: &mut Conn<'_>,
        ceiling: Limit,
        kind: SmsKind,
        segments: u32,
        now: i64,
    ) -> Result<(), ApiError> {
        for _ in 0..segments {
            ceiling.hit(conn, "all", now).map_err(budget_spent(kind))?;
        }
        Ok(())
    }
}

/// The global budget is not the caller's doing: 503, not 429, told apart so the first
/// refusal of a window can be announced (`services::budget_alarm`).
fn budget_spent(kind: SmsKind) -> impl Fn(ApiError) -> ApiError {
    move |e| match e {
        ApiError::RateLimited {
            limit: BUDGET,
            retry_after,
        } => ApiError::SmsBudgetSpent { kind, retry_after },
        other => other,
    }
}

/// How many segments `body` takes on the wire, as the provider bills it: GSM-7 (the GSM
/// 03.38 default alphabet; its extension characters take two septets) in 160 septets, or
/// 153 per part once split; anything else as UCS-2 in 70 UTF-16 units, or 67 per part.
/// National shift tables are not counted on: Twilio does not use them by default.
///
/// By hand rather than with a crate: the one on crates.io (sms_splitter) rebuilds its
/// character tables on every call and cost a quarter of send-code's throughput on the
/// SQLite writer, where this runs.
pub fn segments(body: &str) -> u32 {
    let septets: Option<usize> = body.chars().map(gsm_septets).sum();
    let parts = match septets {
        Some(n) if n <= 160 => 1,
        Some(n) => n.div_ceil(153),
        None => {
            let units = body.encode_utf16().count();
            if units <= 70 { 1 } else { units.div_ceil(67) }
        }
    };
    u32::try_from(parts).unwrap_or(u32::MAX).max(1)
}

/// The septets `c` takes in GSM-7, or None when it is not in the alphabet.
fn gsm_septets(c: char) -> Option<usize> {
    match c {
        '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' | '\u{c}' => Some(2),
        '\n' | '\r' | ' '..='_' | 'a'..='z' => Some(1),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' | 'Δ' | 'Φ' | 'Γ'
        | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' | 'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä'
        | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_gsm7_and_ucs2_sizes() {
        assert_eq!(segments(""), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        // One character outside GSM-7 makes the whole message UCS-2.
        assert_eq!(segments(&format!("{}\u{4e2d}", "a".repeat(69))), 1);
        assert_eq!(segments(&format!("{}\u{4e2d}", "a".repeat(70))), 2);
        assert_eq!(segments(&"ç".repeat(71)), 2, "ç is not GSM-7");
        assert_eq!(segments("ação"), 1);
        // Extension characters take two septets; a backtick is not GSM-7 at all.
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
        assert_eq!(segments(&format!("{}`", "a".repeat(70))), 2);
    }
}
