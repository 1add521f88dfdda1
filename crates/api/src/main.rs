use std::process::ExitCode;

use phonereg_api::{
    config::{Command, Config},
    persistence::migrate,
    startup, telemetry,
};

fn main() -> ExitCode {
    let config = Config::from_env_and_args();
    // Before the runtime starts: the span exporter's HTTP client is a blocking one,
    // which must not be built on an async thread.
    let traces = match telemetry::init_tracing(&config) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("phonereg-api: OTLP exporter: {e:#}");
            return ExitCode::from(2);
        }
    };
    let code = if config.command == Some(Command::Migrate) {
        run_migrations(&config)
    } else {
        actix_web::rt::System::new().block_on(serve(config))
    };
    // Flushes the spans still queued.
    drop(traces);
    code
}

async fn serve(config: Config) -> ExitCode {
    let bind = config.bind;
    let app = match startup::build(config).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("phonereg-api: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%bind, port = app.port(), "listening");
    match app.run_until_stopped().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phonereg-api: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `phonereg-api migrate`: a line on stdout per migration applied.
fn run_migrations(config: &Config) -> ExitCode {
    match migrate::run(&config.database_url) {
        Ok(applied) if applied.is_empty() => {
            println!("the database is up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            for version in applied {
                println!("applied {version}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("phonereg-api: migrate: {e:#}");
            ExitCode::FAILURE
        }
    }
}
