//! Every service built once at start-up, each from exactly the handles and settings it
//! uses, and the SMS providers the configuration names.

use std::sync::Arc;

use crate::{
    clock::Clock,
    config::{Config, Environment},
    persistence::Db,
    services::{
        accounts::AccountRemoval,
        allowance::SmsAllowance,
        audit_log::AuditLog,
        auth::{Accounts, AccountsParts},
        budget_alarm::BudgetAlarm,
        captcha::Captcha,
        codes::Codes,
        courier::Courier,
        delivery::Delivery,
        events::Events,
        failover::Failover,
        hashing::Hasher,
        limits::Limits,
        number_rules::NumberRules,
        phone_credential::{Credentials, CredentialsParts},
        phones::{Phones, PhonesParts},
        rate_limit,
        reauth::Reauth,
        retention::Retention,
        sessions::Sessions,
        shedder::Shedder,
        sms_providers::SmsProviders,
        sms_texts::SmsTexts,
        support::Support,
        token_strikes::TokenStrikes,
        tokens::Tokens,
        two_factor::{TwoFactor, TwoFactorParts},
        webhooks::{Webhooks, target::TargetRule, worker::WebhookWorker},
    },
    sms,
    state::AppState,
    streams::{StreamCaps, Streams},
};

/// Every service, each given exactly what it uses: the shared handles (database, clock,
/// verifier, hasher, tokens, streams…) and copies of the settings it reads.
/// Long: one constructor call per service, each given exactly what it uses; split, a
/// reader would hunt for where a handle comes from.
pub(super) fn build(db: Db, config: &Arc<Config>, secret: &[u8]) -> anyhow::Result<AppState> {
    rate_limit::key_subjects_with(secret);
    let clock = Clock::default();
    let hasher = Hasher::start(config.hash_threads(), config.hash_queue())?;
    let (providers, inbox) = sms::providers::from_config(config, &clock)?;
    let texts = Arc::new(SmsTexts::new(&config.public_url)?);
    let allowance = SmsAllowance::from_config(config);
    let captcha = Captcha::from_config(config, db.clone(), clock.clone(), allowance.clone())?;
    let codes = Codes::new(Arc::clone(config), secret, texts, allowance);
    let tokens = Arc::new(Tokens::new(
        secret,
        config.access_token_ttl as i64,
        clock.clone(),
    ));
    let limits = Limits::from_config(config);
    // Shared by the courier and the operators' switches (which tell it to look again).
    let failover = Arc::new(Failover::new(
        config.sms_failover_attempts,
        config.sms_failover_codes.clone(),
        config.sms_circuit_failures,
    ));
    let token_strikes = Arc::new(TokenStrikes::new(
        config.token_failures_per_ip_per_minute,
        "token_failures_ip",
    ));
    let streams = Streams::new(
        StreamCaps {
            per_account: config.event_streams_per_account,
            per_client: config.event_streams_per_client,
            max: config.event_streams_max,
        },
        Arc::clone(db.committed()),
    );
    let refresh_ttl = config.refresh_token_ttl as i64;
    let reauth = Reauth::new(db.clone(), clock.clone(), hasher.clone(), limits.login);
    let sessions = Sessions::new(Arc::clone(&tokens), clock.clone(), refresh_ttl);
    let webhook_rule = TargetRule {
        https_only: config.phonereg_env == Environment::Production,
        allow_private: config.webhook_allow_private(),
    };
    Ok(AppState {
        shedder: Shedder::default(),
        accounts: Accounts::new(AccountsParts {
            db: db.clone(),
            clock: clock.clone(),
            hasher: hasher.clone(),
            sessions: sessions.clone(),
            codes: codes.clone(),
            register_ip: limits.register_ip,
            login: limits.login,
            token_strikes: Arc::clone(&token_strikes),
            streams: Arc::clone(&streams),
            reuse_grace: config.refresh_reuse_grace as i64,
        }),
        phones: Phones::new(PhonesParts {
            db: db.clone(),
            clock: clock.clone(),
            codes: codes.clone(),
            reauth: reauth.clone(),
            phone_changes: limits.phone_changes,
            lookup_ip: limits.lookup_ip,
            rules: Arc::new(NumberRules::from_config(config)),
            streams: Arc::clone(&streams),
        }),
        // Before `credentials`, which takes the hasher itself.
        hasher: hasher.clone(),
        credentials: Credentials::new(CredentialsParts {
            db: db.clone(),
            clock: clock.clone(),
            codes: codes.clone(),
            hasher,
            sessions: sessions.clone(),
            login_ip: limits.login.login_ip,
            guesses: limits.code_guesses,
            streams: Arc::clone(&streams),
        }),
        two_factor: TwoFactor::new(TwoFactorParts {
            db: db.clone(),
            clock: clock.clone(),
            codes,
            reauth: reauth.clone(),
            sessions,
            guesses: limits.code_guesses,
            token_strikes: Arc::clone(&token_strikes),
        }),
        captcha,
        events: Events::new(db.clone(), clock.clone(), token_strikes),
        delivery: Delivery::new(db.clone(), clock.clone(), providers.clone()),
        audit_log: AuditLog::new(db.clone(), clock.clone()),
        support: Support::new(
            db.clone(),
            clock.clone(),
            config,
            limits.login,
            Arc::clone(&streams),
        ),
        account_removal: AccountRemoval::new(
            db.clone(),
            clock.clone(),
            reauth.clone(),
            Arc::clone(&streams),
        ),
        retention: Retention::new(
            db.clone(),
            clock.clone(),
            config.data_retention as i64,
            config.refresh_reuse_grace as i64,
        )
        .keeping_audit_for(i64::from(config.audit_retention_days) * 86_400),
        sms_providers: SmsProviders::new(
            db.clone(),
            clock.clone(),
            Arc::clone(&failover),
            providers.names(),
        ),
        courier: Courier::new(
            db.clone(),
            providers,
            failover,
            config.sms_max_attempts,
            clock.clone(),
            secret,
        ),
        webhooks: Webhooks::new(db.clone(), clock.clone(), webhook_rule),
        budget_alarm: BudgetAlarm::new(db.clone(), clock.clone(), config.sms_daily_budget),
        webhook_worker: WebhookWorker::new(db.clone(), clock.clone(), webhook_rule)?,
        admin_strikes: TokenStrikes::new(
            config.token_failures_per_ip_per_minute,
            "admin_failures_ip",
        ),
        db,
        tokens,
        clock,
        streams,
        inbox,
        config: Arc::clone(config),
    })
}
