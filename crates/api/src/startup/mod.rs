//! Wiring: pools, state, middleware, routes, the HTTP server. The services are built in
//! `services`, the signing secret found in `secret`.

mod secret;
mod services;

use std::{
    net::{SocketAddr, TcpListener},
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
    budget_watch, config::Config, domain::phone_number, error::ApiError, extract, persistence::Db,
    routes, security, shed, state::AppState, streams, telemetry,
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
    // Every service reads the test numbers from here, presets included.
    let config = Arc::new(config.with_test_presets());
    let db = open_database(&config).await?;
    let secret = secret::jwt_secret(&config)?;
    let state = web::Data::new(services::build(db, &config, secret.as_bytes())?);
    if config.outbox_worker {
        tokio::spawn(state.courier.clone().run());
        tokio::spawn(state.webhook_worker.clone().run());
    }
    let (port, server) = serve_api(&config, &state)?;
    let metrics_port = match config.metrics_bind {
        Some(addr) => Some(serve_metrics(addr, state.clone())?),
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

/// Connects the pool (and runs migrations) while libphonenumber's metadata loads beside
/// it, rather than in the first lookup after a deploy.
async fn open_database(config: &Config) -> anyhow::Result<Db> {
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
    Ok(db)
}

/// What every listener's app holds: the state and the extractors' problem+json configs.
fn shared_data(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    cfg.app_data(state.clone())
        .app_data(extract::json_config())
        .app_data(extract::path_config())
        .app_data(extract::query_config());
}

/// The public listener (`BIND`): the API, the SPA and, unless they have listeners of
/// their own, `/metrics` and the admin API. Returns the bound port and the server.
fn serve_api(config: &Config, state: &web::Data<AppState>) -> anyhow::Result<(u16, Server)> {
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
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| shared_data(cfg, &app_state))
            // After the handler's rollback: a refusal by the SMS budget is announced.
            .wrap(from_fn(budget_watch::announce_spent_budget))
            // Innermost but for that: a shed refusal still gets the headers and metrics
            // of any other.
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
    .worker_max_blocking_threads(blocking_threads(config, &state.db, workers))
    .listen(listener)?
    .shutdown_timeout(10)
    .run();
    Ok((port, server))
}

/// Blocking work is diesel calls. SQLite answers in microseconds, so a couple of threads
/// per worker stay hot and every extra one only adds context switches (1 -> 12 threads
/// per worker took GET /users/me from 52k to 38k req/s); PostgreSQL waits on the
/// network, so it gets about one thread per pooled connection.
fn blocking_threads(config: &Config, db: &Db, workers: usize) -> usize {
    match (config.blocking_threads, db) {
        (Some(n), _) => n as usize,
        (None, Db::Sqlite { .. }) => 2,
        (None, Db::Postgres { .. }) => (config.db_pool_size as usize / workers).max(2),
    }
}

/// `/metrics` alone on its own listener (`METRICS_BIND`), so it can sit on an internal
/// address while the API faces the internet. Returns the bound port.
fn serve_metrics(addr: SocketAddr, state: web::Data<AppState>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr).with_context(|| format!("bind METRICS_BIND {addr}"))?;
    let port = listener.local_addr()?.port();
    // The state, for the gauges sampled at each scrape (`telemetry::gauges`).
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/metrics", web::get().to(routes::health::metrics))
    })
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
fn serve_admin(addr: SocketAddr, state: web::Data<AppState>) -> anyhow::Result<u16> {
    let listener = TcpListener::bind(addr).with_context(|| format!("bind ADMIN_BIND {addr}"))?;
    let port = listener.local_addr()?.port();
    let server = HttpServer::new(move || {
        App::new()
            .configure(|cfg| shared_data(cfg, &state))
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
