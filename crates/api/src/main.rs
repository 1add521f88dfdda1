use std::process::ExitCode;

use phonereg_api::{config::Config, startup, telemetry};

#[actix_web::main]
async fn main() -> ExitCode {
    let config = Config::from_env_and_args();
    telemetry::init_tracing();
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
