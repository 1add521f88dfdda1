//! `fake-sms-http [port]`: runs the fake gateway on 127.0.0.1 for `scripts/faults.sh` and
//! local use. `SMS_HTTP_SECRET` is the shared `whsec_…` secret (required);
//! `FAKE_SMS_RECEIPT_URL` is where its receipts would go (unused by the control
//! endpoints). Prints the base URL; point the API's `SMS_HTTP_URL` at it plus `/sms`.

use fake_sms_http::FakeSmsHttp;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secret = std::env::var("SMS_HTTP_SECRET")
        .map_err(|_| anyhow::anyhow!("SMS_HTTP_SECRET (whsec_…) is required"))?;
    let receipts = std::env::var("FAKE_SMS_RECEIPT_URL").unwrap_or_default();
    let fake = FakeSmsHttp::start(fake_server::port_arg()?, &secret, &receipts)?;
    let base = fake.url.trim_end_matches("/sms").to_owned();
    fake_server::run_until_ctrl_c(&base).await?;
    fake.stop().await;
    Ok(())
}
