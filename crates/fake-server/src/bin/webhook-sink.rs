//! `webhook-sink [port]`: a webhook receiver for the benchmark (`BENCH_WEBHOOK=1`) that
//! answers 204 to every POST and keeps connections alive. It runs on the same cores as
//! the API it measures, so it must cost little: the Python receiver it replaces spent a
//! few hundred microseconds of those cores per event, which the figures then charged to
//! PhoneReg. It checks no signature (scripts/webhooks.sh does, with a Standard Webhooks
//! library).

use actix_web::{HttpResponse, web};

fn routes(cfg: &mut web::ServiceConfig) {
    // The body is read (extracted) so the connection stays usable for the next event.
    cfg.default_service(web::to(|_body: web::Bytes| async {
        HttpResponse::NoContent().finish()
    }));
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (url, handle) = fake_server::serve(fake_server::port_arg()?, web::Data::new(()), routes)?;
    fake_server::run_until_ctrl_c(&url).await?;
    handle.stop(true).await;
    Ok(())
}
