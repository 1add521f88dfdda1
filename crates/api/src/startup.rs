//! Wiring: pools, state, middleware, routes, the HTTP server.

use std::{
    net::TcpListener,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context as _;

use crate::{
    config::{Config, Environment, SmsProvider},
    domain::phone_number,
    extract,
    outbox::Outbox,
    persistence,
    persistence::Db,
    routes,
    services::verification::Verifier,
    services::{
        hashing::Hasher,
        tokens::{Tokens, random_token},
    },
    sms::{
        SmsSender,
        console::{ConsoleSender, Inbox},
        twilio::TwilioSender,
    },
    state::{AppState, Limits},
    telemetry,
};

pub struct Application {
    port: u16,
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
    let took = phone_metadata.await?;
    tracing::info!(ms = took.as_millis() as u64, "phone number metadata ready");
    let secret = jwt_secret(&config)?;
    let hasher = Hasher::start(config.hash_threads())?;
    let (sender, inbox) = sms_sender(&config)?;
    let outbox = Outbox::new(db.clone(), sender, config.sms_max_attempts);
    if config.outbox_worker {
        tokio::spawn(outbox.clone().run());
    }
    let state = web::Data::new(AppState {
        db,
        tokens: Tokens::new(secret.as_bytes(), config.access_token_ttl as i64),
        hasher,
        limits: Limits::from_config(&config),
        verifier: Verifier::new(Arc::clone(&config), secret.as_bytes()),
        outbox,
        inbox,
        config: Arc::clone(&config),
    });

    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let blocking_threads = match (config.blocking_threads, &state.db) {
        (Some(n), _) => n as usize,
        (None, Db::Sqlite { .. }) => 2,
        (None, Db::Postgres(_)) => (config.db_pool_size as usize / workers).max(2),
    };
    let listener =
        TcpListener::bind(config.bind).with_context(|| format!("bind {}", config.bind))?;
    let port = listener.local_addr()?.port();
    let app_state = state.clone();
    let dev_inbox = state.inbox.is_some();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .app_data(extract::json_config())
            .app_data(extract::path_config())
            .app_data(extract::query_config())
            .wrap(from_fn(telemetry::observe))
            .configure(|cfg| routes::configure(cfg, dev_inbox))
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

    tokio::spawn(prune_counters(state.clone()));
    Ok(Application {
        port,
        server,
        state,
    })
}

/// The configured SMS provider, and the dev inbox when it is the console.
fn sms_sender(config: &Config) -> anyhow::Result<(Arc<dyn SmsSender>, Option<Inbox>)> {
    Ok(match config.sms_provider {
        SmsProvider::Console => {
            tracing::warn!(
                "SMS_PROVIDER=console: messages are printed to this log and kept at /api/v1/dev/sms"
            );
            let inbox = Inbox::default();
            (
                Arc::new(ConsoleSender {
                    inbox: inbox.clone(),
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

fn write_new_secret(path: &Path) -> anyhow::Result<String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let secret = random_token(48);
    std::fs::write(path, &secret).with_context(|| format!("write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(secret)
}

/// Rate-limit windows are at most a day long; older rows are dead weight.
async fn prune_counters(state: web::Data<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let before = persistence::now() - 2 * 86_400;
        if let Err(e) = state
            .db
            .write(move |c| {
                persistence::events::prune(c, before)?;
                persistence::rate_limits::prune(c, before)
            })
            .await
        {
            tracing::warn!(error = %e, "pruning rate-limit counters failed");
        }
    }
}
