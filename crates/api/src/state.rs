//! What every handler can reach: the services, and the few things routes and extractors
//! read themselves.

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::Config,
    persistence::Db,
    services::{
        accounts::AccountRemoval,
        audit_log::AuditLog,
        auth::Accounts,
        budget_alarm::BudgetAlarm,
        captcha::Captcha,
        courier::Courier,
        delivery::Delivery,
        events::Events,
        hashing::Hasher,
        phone_credential::Credentials,
        phones::Phones,
        retention::Retention,
        shedder::Shedder,
        sms_providers::SmsProviders,
        support::Support,
        token_strikes::TokenStrikes,
        tokens::Tokens,
        two_factor::TwoFactor,
        webhooks::{Webhooks, worker::WebhookWorker},
    },
    sms::console::Inbox,
    streams::Streams,
};

pub struct AppState {
    pub accounts: Accounts,
    pub phones: Phones,
    pub credentials: Credentials,
    pub two_factor: TwoFactor,
    /// The bot challenge, asked before a claim or a start (SPEC §11).
    pub captcha: Captcha,
    pub events: Events,
    pub delivery: Delivery,
    pub retention: Retention,
    /// The audit log's readers (SPEC §12).
    pub audit_log: AuditLog,
    /// The support API (SPEC §12).
    pub support: Support,
    /// Account deletion, by its holder or an operator (SPEC §12).
    pub account_removal: AccountRemoval,
    /// Sends the queued SMS; spawned by `startup` unless `OUTBOX_WORKER` is off (tests
    /// step it themselves).
    pub courier: Courier,
    /// The operators' view and switches of the SMS providers (SPEC §13).
    pub sms_providers: SmsProviders,
    /// Outbound webhooks as operators manage them (SPEC §12).
    pub webhooks: Webhooks,
    /// Announces the first refusal of a day by the SMS budget (`sms.budget_exhausted`).
    pub budget_alarm: BudgetAlarm,
    /// Posts outbound webhooks; spawned beside the courier (tests step it themselves).
    pub webhook_worker: WebhookWorker,
    /// `/readyz` and the admin routes (the fraud guard's pauses).
    pub db: Db,
    /// Wrong admin tokens per client (SPEC §11), for the `Admin` extractor; counted apart
    /// from refresh tokens, so neither spends the other's allowance.
    pub admin_strikes: TokenStrikes,
    /// Refusals the database gave, answered from memory until their window ends.
    pub shedder: Shedder,
    /// Access tokens, for the extractors.
    pub tokens: Arc<Tokens>,
    /// The time every request-driven rule reads; tests move it.
    pub clock: Clock,
    /// The password-hash queue, for its `/metrics` gauge (the services hold it too).
    pub hasher: Hasher,
    /// This process's open event streams.
    pub streams: Arc<Streams>,
    /// The development inbox; present only with the console provider in development.
    pub inbox: Option<Inbox>,
    /// Cookie, proxy, webhook and static-file settings the routes and extractors read.
    pub config: Arc<Config>,
}

impl AppState {
    pub fn refresh_ttl(&self) -> i64 {
        self.config.refresh_token_ttl as i64
    }
}
