use std::process::ExitCode;

use phonereg_api::{
    config::{Command, Config},
    persistence::migrate,
    startup, telemetry,
};

#[actix_web::main]
async fn main() -> ExitCode {
    let config = Config::from_env_and_args();
    telemetry::init_tracing(config.log_format);
    if config.command == Some(Command::Migrate) {
        return run_migrations(&config);
    }
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
