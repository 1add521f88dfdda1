//! The support API (SPEC §12): what an operator sees of an account and the few levers
//! they have. Every call records an `admin.*` event with the operator's name (and the
//! `reason` of a change) in the transaction that reads or changes.
//!
//! No takeover lever: an operator can find an account by an exact email, number or id
//! (never a pattern, never a listing), read it without secrets (no hash, code, token or
//! message body), and only take protections *away from the number*: free the number,
//! turn two-step sign-in off, end sessions, clear a login lock, delete the account.
//! Nothing here sets a password, an email or a number, turns two-step sign-in on, or
//! opens a session: whoever asks support still has to prove the password or the number
//! through the public API.
//!
//! Long: the six support calls and the read-back of the counters they show or clear
//! share one set of limits and one lookup; split, a reader would hunt for which counter
//! an unlock clears.

use std::{net::IpAddr, sync::Arc};

use phonereg_types::{HistoryKind, SecurityEventType};

use crate::{
    clock::Clock,
    config::{Config, SmsProvider},
    domain::{ClientNetworks, PhoneNumber, Reason},
    error::ApiError,
    persistence::{
        Conn, Db, accounts,
        models::{CodeRow, MessageRow, PhoneRow, UserRow},
        phones, recovery_codes, refresh_tokens, security_events, users,
    },
    services::{
        audit::{self, Entry, Origin},
        limits::LoginLimits,
        rate_limit::{Limit, private_subject},
    },
    streams::Streams,
};

/// The most accounts one lookup returns (a number unverified on many accounts).
const MAX_MATCHES: i64 = 50;
/// The messages `GET /admin/users/{id}` shows.
const MESSAGES: i64 = 50;

/// How an operator names the account they look for: exactly one of these.
#[derive(Debug)]
pub enum Lookup {
    Id(i64),
    /// Normalised like at login.
    Email(String),
    /// E.164.
    Phone(String),
}

impl Lookup {
    fn by(&self) -> &'static str {
        match self {
            Lookup::Id(_) => "id",
            Lookup::Email(_) => "email",
            Lookup::Phone(_) => "phone",
        }
    }
}

/// One operator's change to one account: who, from where, on which account and why.
/// Every entry it writes names the operator, the account and the reason.
pub struct Action {
    operator: String,
    origin: Origin,
    user_id: i64,
    reason: Reason,
}

impl Action {
    pub fn new(operator: &str, origin: Origin, user_id: i64, reason: Reason) -> Self {
        Self {
            operator: operator.to_owned(),
            origin,
            user_id,
            reason,
        }
    }

    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The audit entry of this action, about the number `phone_id` when given.
    pub fn entry(&self, kind: SecurityEventType, phone_id: Option<i64>) -> Entry {
        let entry = Entry::admin(kind, &self.operator)
            .account(self.user_id)
            .detail("reason", self.reason.as_str());
        match phone_id {
            Some(id) => entry.phone(id),
            None => entry,
        }
    }

    fn record(&self, c: &mut Conn<'_>, entry: Entry, now: i64) -> Result<(), ApiError> {
        audit::record(c, &self.origin, &entry, now).map(drop)
    }
}

/// An account as operators see it, with when its password sign-in unlocks.
pub struct AccountView {
    pub user: UserRow,
    pub phone: Option<PhoneRow>,
    pub locked_until: Option<i64>,
}

/// A counter with something in its current window.
pub struct Counted {
    pub name: &'static str,
    pub scope: String,
    pub used: i64,
    pub max: i64,
    pub resets_at: i64,
}

impl Counted {
    pub fn blocked(&self) -> bool {
        self.used >= self.max
    }
}

/// `GET /admin/users/{id}`.
pub struct AccountDetail {
    pub view: AccountView,
    pub messages: Vec<MessageRow>,
    pub limits: Vec<Counted>,
}

/// The SMS caps an account and its number are held to. Named as `allowance.rs` names
/// them (the counters are shared by name; the support test reads them after a send).
#[derive(Clone, Copy)]
struct SmsCaps {
    account_per_day: Limit,
    owner_per_account: Limit,
    claim_per_number: Limit,
}

/// The support API's service. Built in `startup` with exactly what it uses.
pub struct Support {
    db: Db,
    clock: Clock,
    login: LoginLimits,
    sms: SmsCaps,
    default_region: String,
    provider: &'static str,
    /// To end this process's streams of revoked sessions.
    streams: Arc<Streams>,
}

impl Support {
    pub fn new(
        db: Db,
        clock: Clock,
        config: &Config,
        login: LoginLimits,
        streams: Arc<Streams>,
    ) -> Self {
        Self {
            db,
            clock,
            login,
            sms: SmsCaps {
                account_per_day: Limit::new("sms_account", config.sms_per_account_per_day, 86_400),
                owner_per_account: Limit::new(
                    "sms_owner_account",
                    config.sms_owner_per_account_per_hour,
                    3600,
                ),
                claim_per_number: Limit::new("sms_number", config.sms_per_number_per_hour, 3600),
            },
            default_region: config.default_region.clone(),
            provider: match config.sms_provider {
                SmsProvider::Console => "console",
                SmsProvider::Twilio => "twilio",
                SmsProvider::Http => "http",
            },
            streams,
        }
    }

    /// The provider that sends this process's messages (the outbox does not record one).
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Parses `?phone=|email=|id=`: exactly one, matched exactly (422 otherwise).
    pub fn lookup(
        &self,
        id: Option<&str>,
        email: Option<&str>,
        phone: Option<&str>,
    ) -> Result<Lookup, ApiError> {
        fn given(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        match (given(id), given(email), given(phone)) {
            (Some(id), None, None) => id
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Lookup::Id)
                .ok_or_else(|| ApiError::field("id", "must be a positive whole number")),
            (None, Some(email), None) => phonereg_types::validation::parse_email(email)
                .map(Lookup::Email)
                .map_err(|m| ApiError::field("email", m)),
            (None, None, Some(phone)) => PhoneNumber::parse(phone, &self.default_region)
                .map(|n| Lookup::Phone(n.e164))
                .map_err(|m| ApiError::field("phone", m)),
            _ => Err(ApiError::field(
                "query",
                "give exactly one of phone, email or id (exact match)",
            )),
        }
    }

    /// The accounts matching `lookup` exactly; the search is recorded.
    pub async fn find(
        &self,
        operator: &str,
        origin: Origin,
        lookup: Lookup,
    ) -> Result<Vec<AccountView>, ApiError> {
        let (this, operator) = (self.parts(), operator.to_owned());
        self.db
            .write(move |c| {
                let now = this.clock.now();
                let found = match &lookup {
                    Lookup::Id(id) => users::find_with_phone(c, *id)?.into_iter().collect(),
                    Lookup::Email(email) => accounts::by_email(c, email)?,
                    Lookup::Phone(e164) => accounts::by_number(c, e164, MAX_MATCHES)?,
                };
                let ids: Vec<String> = found.iter().map(|(u, _)| u.id.to_string()).collect();
                // The ids found, never the email or number asked for: the log names
                // whom an operator looked at without collecting who was looked for.
                let mut entry = Entry::admin(SecurityEventType::AdminUserRead, &operator)
                    .detail("by", lookup.by())
                    .detail("found", ids.join(","));
                if let [(user, _)] = found.as_slice() {
                    entry = entry.account(user.id);
                }
                audit::record(c, &origin, &entry, now)?;
                found
                    .into_iter()
                    .map(|(user, phone)| this.view(c, user, phone, now))
                    .collect()
            })
            .await
    }

    /// One account, its last 50 messages and the limits in force; 404 when absent.
    pub async fn account(
        &self,
        operator: &str,
        origin: Origin,
        user_id: i64,
    ) -> Result<AccountDetail, ApiError> {
        let (this, operator) = (self.parts(), operator.to_owned());
        self.db
            .write(move |c| {
                let now = this.clock.now();
                let (user, phone) =
                    users::find_with_phone(c, user_id)?.ok_or(ApiError::NotFound)?;
                let entry = Entry::admin(SecurityEventType::AdminUserRead, &operator)
                    .account(user_id)
                    .detail("by", "id");
                audit::record(c, &origin, &entry, now)?;
                let (messages, code) = match &phone {
                    Some(p) => (
                        accounts::recent_messages(c, p.id, MESSAGES)?,
                        phones::find_owned_with_code(c, user_id, p.id)?.1,
                    ),
                    None => (Vec::new(), None),
                };
                let mut limits = this.login_counters(c, &user, now)?;
                limits.extend(this.sms_counters(c, &user, phone.as_ref(), code.as_ref(), now)?);
                let view = this.view(c, user, phone, now)?;
                Ok(AccountDetail {
                    view,
                    messages,
                    limits,
                })
            })
            .await
    }

    /// "My number is on someone else's account": frees the number (the record goes, as
    /// when its owner deletes it) and turns two-step sign-in off, which it served. 404
    /// when the account or its number is absent.
    pub async fn release_phone(&self, action: Action) -> Result<(), ApiError> {
        let user_id = action.user_id;
        self.act(action, |c, _, act, now| {
            let (user, phone) =
                users::find_with_phone(c, act.user_id)?.ok_or(ApiError::NotFound)?;
            let phone = phone.ok_or(ApiError::NotFound)?;
            // Under the record's lock, like the owner's own DELETE.
            phones::find_owned_with_code(c, act.user_id, phone.id)?;
            let at = Some(phone.id);
            if user.two_factor {
                two_factor_off(c, act.user_id, at, now)?;
                act.record(c, act.entry(SecurityEventType::TwoFactorDisabled, at), now)?;
            }
            phones::delete(c, phone.id)?;
            accounts::drop_sign_in_codes(c, act.user_id)?;
            act.record(c, act.entry(SecurityEventType::PhoneRemoved, at), now)?;
            act.record(c, act.entry(SecurityEventType::AdminPhoneReleased, at), now)
        })
        .await?;
        tracing::info!(user.id = user_id, "number released by an operator");
        Ok(())
    }

    /// "I lost my phone and two-step sign-in is on": off (the password still holds the
    /// door); its recovery codes go with it. Idempotent. 404 when there is no account.
    pub async fn two_factor_off(&self, action: Action) -> Result<(), ApiError> {
        let user_id = action.user_id;
        self.act(action, |c, _, act, now| {
            let (user, phone) =
                users::find_with_phone(c, act.user_id)?.ok_or(ApiError::NotFound)?;
            let at = phone.map(|p| p.id);
            let was_on = user.two_factor && two_factor_off(c, act.user_id, at, now)?;
            if was_on {
                act.record(c, act.entry(SecurityEventType::TwoFactorDisabled, at), now)?;
            }
            let entry = act
                .entry(SecurityEventType::AdminTwoFactorDisabled, at)
                .detail("was_on", was_on.to_string());
            act.record(c, entry, now)
        })
        .await?;
        tracing::info!(
            user.id = user_id,
            "two-step sign-in turned off by an operator"
        );
        Ok(())
    }

    /// Ends every session of the account; their access tokens run out on their own.
    /// Returns how many sessions ended. 404 when there is no account.
    pub async fn revoke_sessions(&self, action: Action) -> Result<usize, ApiError> {
        let families = self
            .act(action, |c, _, act, now| {
                users::find(c, act.user_id)?.ok_or(ApiError::NotFound)?;
                let families = refresh_tokens::revoke_all_of_user(c, act.user_id, now)?;
                let entry = act
                    .entry(SecurityEventType::AdminSessionsRevoked, None)
                    .detail("revoked", families.len().to_string());
                act.record(c, entry, now)?;
                Ok(families)
            })
            .await?;
        for family in &families {
            self.streams.end_session(family);
        }
        Ok(families.len())
    }

    /// Clears the account's wrong-password counters: over all networks, and for each
    /// network its recent failures came from. 404 when there is no account.
    pub async fn unlock(&self, action: Action) -> Result<(), ApiError> {
        self.act(action, |c, this, act, now| {
            let user = users::find(c, act.user_id)?.ok_or(ApiError::NotFound)?;
            let keys: Vec<String> = this
                .login_subjects(c, &user, now)?
                .into_iter()
                .map(|(limit, subject, _)| limit.stored_key(&subject))
                .collect();
            let cleared = accounts::clear_counters(c, &keys)?;
            let entry = act
                .entry(SecurityEventType::AdminUserUnlocked, None)
                .detail("counters_cleared", cleared.to_string());
            act.record(c, entry, now)
        })
        .await
    }

    /// One support change in one write transaction, recorded by `job` through `action`.
    async fn act<T: Send + 'static>(
        &self,
        action: Action,
        job: impl FnOnce(&mut Conn<'_>, &Parts, &Action, i64) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let this = self.parts();
        self.db
            .write(move |c| {
                let now = this.clock.now();
                job(c, &this, &action, now)
            })
            .await
    }

    /// What the blocking closures need, cloned.
    fn parts(&self) -> Parts {
        Parts {
            clock: self.clock.clone(),
            login: self.login,
            sms: self.sms,
        }
    }
}

/// The service's settings, moved into a database closure.
struct Parts {
    clock: Clock,
    login: LoginLimits,
    sms: SmsCaps,
}

impl Parts {
    fn view(
        &self,
        c: &mut Conn<'_>,
        user: UserRow,
        phone: Option<PhoneRow>,
        now: i64,
    ) -> Result<AccountView, ApiError> {
        let locked_until = self
            .login_counters(c, &user, now)?
            .iter()
            .filter(|n| n.blocked())
            .map(|n| n.resets_at)
            .max();
        Ok(AccountView {
            user,
            phone,
            locked_until,
        })
    }

    /// The account's wrong-password counters: over all networks, then each network (and
    /// its wider ones) that failed a login of it in the current window, as the audit
    /// log recorded it. Each with its scope.
    fn login_subjects(
        &self,
        c: &mut Conn<'_>,
        user: &UserRow,
        now: i64,
    ) -> Result<Vec<(Limit, String, String)>, ApiError> {
        let all = self.login.login_email_all;
        let mut subjects = vec![(all, private_subject(&user.email), "account".to_owned())];
        let window_start = now - now.rem_euclid(all.window);
        for client in security_events::failed_login_clients(c, user.id, window_start)? {
            let Some(networks) = networks_of(&client) else {
                continue;
            };
            let email = &user.email;
            let pairs = self
                .login
                .login_email
                .subjects(&networks, |net| private_subject(&format!("{email}\n{net}")));
            subjects.extend(
                pairs
                    .into_iter()
                    .map(|(limit, subject)| (limit, subject, format!("network {client}"))),
            );
        }
        Ok(subjects)
    }

    fn login_counters(
        &self,
        c: &mut Conn<'_>,
        user: &UserRow,
        now: i64,
    ) -> Result<Vec<Counted>, ApiError> {
        let mut counted = Vec::new();
        for (limit, subject, scope) in self.login_subjects(c, user, now)? {
            counted.extend(count(c, limit, &subject, scope, now)?);
        }
        Ok(counted)
    }

    fn sms_counters(
        &self,
        c: &mut Conn<'_>,
        user: &UserRow,
        phone: Option<&PhoneRow>,
        code: Option<&CodeRow>,
        now: i64,
    ) -> Result<Vec<Counted>, ApiError> {
        let account = user.id.to_string();
        let login_codes = format!("{}:login", user.id);
        let mut counters = vec![
            (self.sms.account_per_day, account.clone(), "account"),
            (self.sms.owner_per_account, account, "account"),
            (
                self.sms.owner_per_account,
                login_codes,
                "account login codes",
            ),
        ];
        let numbers = phone
            .into_iter()
            .flat_map(|p| std::iter::once(p.e164.clone()).chain(p.pending_e164.clone()));
        counters.extend(numbers.map(|n| (self.sms.claim_per_number, n, "number")));
        let mut counted = Vec::new();
        for (limit, subject, scope) in counters {
            counted.extend(count(c, limit, &subject, scope.to_owned(), now)?);
        }
        if let Some(code) = code.filter(|code| code.resend_after > now) {
            counted.push(Counted {
                name: "resend_cooldown",
                scope: "number".into(),
                used: 1,
                max: 1,
                resets_at: code.resend_after,
            });
        }
        Ok(counted)
    }
}

/// `limit`'s count for `subject` in the window of `now`, when anything is counted.
fn count(
    c: &mut Conn<'_>,
    limit: Limit,
    subject: &str,
    scope: String,
    now: i64,
) -> Result<Option<Counted>, ApiError> {
    let used = limit.count(c, subject, now)?;
    Ok((used > 0).then(|| Counted {
        name: limit.name,
        scope,
        used,
        max: i64::from(limit.max),
        resets_at: now - now.rem_euclid(limit.window) + limit.window,
    }))
}

/// A client as the audit log keys it (an IPv4 address or an IPv6 /64) back to its
/// networks.
fn networks_of(client: &str) -> Option<ClientNetworks> {
    let address = client.split('/').next()?;
    address.parse::<IpAddr>().ok().map(ClientNetworks::of)
}

/// Inside the transaction: two-step sign-in off and its recovery codes gone, in the
/// record's history. False when it was already off (a racing request).
fn two_factor_off(
    c: &mut Conn<'_>,
    user_id: i64,
    phone_id: Option<i64>,
    now: i64,
) -> Result<bool, ApiError> {
    if !users::set_two_factor(c, user_id, false)? {
        return Ok(false);
    }
    recovery_codes::replace_all(c, user_id, &[], now)?;
    if let Some(id) = phone_id {
        phones::add_history(c, id, HistoryKind::TwoFactorOff, Some("by support"), now)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_clients_map_back_to_the_networks_limits_key() {
        let v6 = networks_of("2001:db8:1:2::/64").expect("v6");
        assert_eq!(v6.key(), "2001:db8:1:2::/64");
        let v4 = networks_of("192.0.2.7").expect("v4");
        assert_eq!(v4.key(), "192.0.2.7");
        assert!(networks_of("unknown").is_none());
    }
}
