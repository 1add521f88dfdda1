//! Wiring: pools, state, middleware, routes, the HTTP server.

use std::{
    net::TcpListener,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{
    App, HttpResponse, HttpServer,
    dev::Server,
    middleware::{Condition, DefaultHeaders, from_fn},
    web,
};
use anyhow::Context as _;

use crate::{
    clock::Clock,
    config::{Config, Environment, SmsProvider},
    domain::phone_number,
    error::ApiError,
    extract,
    persistence::Db,
    routes, security,
    services::{
        allowance::SmsAllowance,
        audit_log::AuditLog,
        auth::{Accounts, AccountsParts},
        captcha::Captcha,
        codes::Codes,
        courier::Courier,
        delivery::Delivery,
        events::Events,
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
        sms_texts::SmsTexts,
        token_strikes::TokenStrikes,
        tokens::{Tokens, random_token},
        two_factor::{TwoFactor, TwoFactorParts},
    },
    shed,
    sms::{
        SmsSender,
        console::{ConsoleSender, Inbox},
        twilio::TwilioSender,
    },
    state::AppState,
    streams::{self, StreamCaps, Streams},
    telemetry,
};

pub struct Application {
    port: u16,
    /// The port of the separate `/metrics` listener, with `METRICS_BIND`.
    pub metrics_port: Option<u16>,
    /// The port of the separate admin listener, with `ADMIN_BIND`.
    pub admin_port: Option<u16>,
    server: Server,
    pub state: web::Data<AppState>,
}

impl Application {
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/SIGINT, then drains in-flight requests (graceful shutdown).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub async fn build(config: Config) -> anyhow::Result<Application> {
    let config = Arc::new(config);
    // libphonenumber's metadata is loaded here, beside the database connect, rather than
    // by the first lookup after a deploy.
    let region = config.default_region.clone();
    let phone_metadata = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        phone_number::warm_up(&region);
        started.elapsed()
    });
    let db = {
        let (url, size) = (config.database_url.clone(), config.db_pool_size);
        tokio::task::spawn_blocking(move || Db::connect(&url, size)).await??
    };
    tracing::info!(backend = db.backend(), "database ready");
    db.committed().set_audit_stdout(config.audit_log_stdout);
    let took = phone_metadata.await?;
    tracing::info!(ms = took.as_millis() as u64, "phone number metadata ready");
    let secret = jwt_secret(&config)?;
    let state = web::Data::new(services(db, &config, secret.as_bytes())?);
    if config.outbox_worker {
        tokio::spawn(state.courier.clone().run());
    }

    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let blocking_threads = match (config.blocking_threads, &state.db) {
        (Some(n), _) => n as usize,
        (None, Db::Sqlite { .. }) => 2,
        (None, Db::Postgres { .. }) => (config.db_pool_size as usize / workers).max(2),
    };
    let listener =
        TcpListener::bind(config.bind).with_context(|| format!("bind {}", config.bind))?;
    let port = listener.local_addr()?.port();
    let app_state = state.clone();
    let dev_inbox = state.inbox.is_some();
    let metrics_here = config.metrics_bind.is_none();
    let admin_here = config.admin_bind.is_none();
    let csp = security::content_security_policy(
        &config.static_dir,
        state.captcha.client_config().map(|c| c.provider),
    );
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .app_data(extract::json_config())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            // Innermost: a shed refusal still gets the headers and metrics of any other.
            .wrap(from_fn(shed::shed_refused_clients))
            .wrap(from_fn(security::no_store_for_account_data))
            .wrap(security::default_headers(&csp))
            // Tells the SPA the inbox exists without it asking (a 404 logs a console error).
            .wrap(Condition::new(
                dev_inbox,
                DefaultHeaders::new().add(("X-Dev-Inbox", "/api/v1/dev/sms")),
            ))
            .wrap(from_fn(telemetry::observe))
            .configure(|cfg| routes::configure(cfg, dev_inbox, metrics_here, admin_here))
            .default_service(web::to(routes::spa::spa_or_not_found))
    })
    .workers(workers)
    // Blocking work is diesel calls. SQLite answers in microseconds, so a couple of
    // threads per worker stay hot and every extra one only adds context switches
    // (1 -> 12 threads per worker took GET /users/me from 52k to 38k req/s); PostgreSQL
    // waits on the network, so it gets about one thread per pooled connection.
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)?
    .shutdown_timeout(10)
    .run();

    let metrics_port = match config.metrics_bind {
        Some(addr) => Some(serve_metrics(addr)?),
        None => None,
    };
    let admin_port = match config.admin_bind {
        Some(addr) => Some(serve_admin(addr, state.clone())?),
        None => None,
    };
    tokio::spawn(prune_counters(state.clone()));
    tokio::spawn(streams::watch(
        Arc::clone(&state.streams),
        state.db.clone(),
        state.clock.clone(),
    ));
    Ok(Application {
        port,
        metrics_port,
        admin_port,
        server,
        state,
    })
}

/// Every service, each given exactly what it uses: the shared handles (database, clock,
/// verifier, hasher, tokens, streams…) and copies of the settings it reads.
/// Long: one constructor call per service, each given exactly what it uses; split, a
/// reader would hunt for where a handle comes from.
fn services(db: Db, config: &Arc<Config>, secret: &[u8]) -> anyhow::Result<AppState> {
    rate_limit::key_subjects_with(secret);
    let clock = Clock::default();
    let hasher = Hasher::start(config.hash_threads(), config.hash_queue())?;
    let (sender, inbox) = sms_sender(config, &clock)?;
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
            reauth,
            sessions,
            guesses: limits.code_guesses,
            token_strikes: Arc::clone(&token_strikes),
        }),
        captcha,
        events: Events::new(db.clone(), clock.clone(), token_strikes),
        delivery: Delivery::new(db.clone(), clock.clone()),
        audit_log: AuditLog::new(db.clone(), clock.clone()),
        retention: Retention::new(
            db.clone(),
            clock.clone(),
            config.data_retention as i64,
            config.refresh_reuse_grace as i64,
        )
        .keeping_audit_for(i64::from(config.audit_retention_days) * 86_400),
        courier: Courier::new(
            db.clone(),
            sender,
            config.sms_max_attempts,
            clock.clone(),
            secret,
        ),
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

/// `/metrics` alone on its own listener (`METRICS_BIND`), so it can sit on an internal
/// address while the API faces the internet. Returns the bound port.
fn serve_metrics(addr: std::net::SocketAddr) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr).with_context(|| format!("bind METRICS_BIND {addr}"))?;
    let port = listener.local_addr()?.port();
    let server =
        HttpServer::new(|| App::new().route("/metrics", web::get().to(routes::health::metrics)))
            .workers(1)
            .listen(listener)?
            .shutdown_timeout(1)
            .run();
    tokio::spawn(server);
    Ok(port)
}

/// The admin API on a listener of its own (`ADMIN_BIND`), e.g. an address only the
/// operators' network reaches: the public listener then does not serve it at all. The
/// same state, extractors and problem+json answers as the main listener.
fn serve_admin(addr: std::net::SocketAddr, state: web::Data<AppState>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr).with_context(|| format!("bind ADMIN_BIND {addr}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(extract::json_config())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            .wrap(from_fn(telemetry::observe))
            .configure(routes::configure_admin)
            .default_service(web::to(|| async {
                Err::<HttpResponse, _>(ApiError::NotFound)
            }))
    })
    .workers(1)
    .listen(listener)?
    .shutdown_timeout(1)
    .run();
    tokio::spawn(server);
    Ok(port)
}

/// The configured SMS provider, and the dev inbox when it is the console.
fn sms_sender(
    config: &Config,
    clock: &Clock,
) -> anyhow::Result<(Arc<dyn SmsSender>, Option<Inbox>)> {
    Ok(match config.sms_provider {
        SmsProvider::Console => {
            tracing::warn!(
                "SMS_PROVIDER=console: messages are printed to this log and kept at /api/v1/dev/sms"
            );
            let inbox = Inbox::default();
            (
                Arc::new(ConsoleSender {
                    inbox: inbox.clone(),
                    clock: clock.clone(),
                }),
                Some(inbox),
            )
        }
        SmsProvider::Twilio => {
            let sender = TwilioSender::new(
                &config.twilio_api_base,
                config
                    .twilio_account_sid
                    .clone()
                    .context("TWILIO_ACCOUNT_SID is required")?,
                config
                    .twilio_auth_token
                    .clone()
                    .context("TWILIO_AUTH_TOKEN is required")?,
                config.twilio_from.clone(),
                config.twilio_messaging_service_sid.clone(),
                &config.public_url,
            )?;
            (Arc::new(sender), None)
        }
    })
}

/// In development without `JWT_SECRET`, a random secret is generated once and kept in
/// `DATA_DIR`, so sessions survive restarts.
fn jwt_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.expose().to_owned());
    }
    anyhow::ensure!(
        config.phonereg_env == Environment::Development,
        "JWT_SECRET is required in production"
    );
    let path = config.data_dir.join("jwt-secret");
    let secret = match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 32 => s.trim().to_owned(),
        _ => write_new_secret(&path)?,
    };
    tracing::warn!(
        path = %path.display(),
        "development mode: JWT_SECRET is not set, using the generated secret in this file"
    );
    Ok(secret)
}

/// Writes a new secret readable by this user only: created 0600 under a temporary name
/// and renamed into place, so it is never readable by others nor seen half-written.
/// The data directory is made 0700.
fn write_new_secret(path: &Path) -> anyhow::Result<String> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
            builder.mode(0o700);
            builder
                .create(dir)
                .with_context(|| format!("create {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restrict {}", dir.display()))?;
        }
        #[cfg(not(unix))]
        builder
            .create(dir)
            .with_context(|| format!("create {}", dir.display()))?;
    }
    let secret = random_token(48);
    let tmp = path.with_extension(format!("tmp-{}", random_token(6)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("create {}", tmp.display()))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(secret)
}

/// Prunes expired rows every hour (see `services::retention`).
async fn prune_counters(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match state.retention.prune().await {
            Ok(pruned) => tracing::debug!(?pruned, "pruned expired rows"),
            Err(e) => tracing::warn!(error = %e, "pruning expired rows failed"),
        }
    }
}
