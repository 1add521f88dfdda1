//! What the fake providers (`fake-twilio`, `fake-captcha`) share: a real HTTP server on
//! loopback with one worker, and the command line that runs a fake until Ctrl-C. Each fake
//! keeps its own routes and state; only the bootstrap lives here.

use std::net::TcpListener;

use actix_web::{App, HttpServer, dev::ServerHandle, web};

/// Serves `routes`, each handler given `data`, on `127.0.0.1:port` (0 = any free port).
/// Returns `http://127.0.0.1:<port>` and the handle that stops it.
///
/// One worker is enough: a fake that holds an answer parks its handler's task, not the
/// worker. The fake does not listen for signals; its owner (a test, or [`run_until_ctrl_c`])
/// stops it.
pub fn serve<T: Send + Sync + 'static>(
    port: u16,
    data: web::Data<T>,
    routes: fn(&mut web::ServiceConfig),
) -> anyhow::Result<(String, ServerHandle)> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let server = HttpServer::new(move || App::new().app_data(data.clone()).configure(routes))
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    tokio::spawn(server);
    Ok((base_url, handle))
}

/// The port a fake's binary is asked for: its first argument, 0 (any free port) without one.
pub fn port_arg() -> anyhow::Result<u16> {
    Ok(std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0))
}

/// Prints `url` (the one line the scripts read to find the fake) and waits for Ctrl-C.
pub async fn run_until_ctrl_c(url: &str) -> anyhow::Result<()> {
    println!("{url}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
