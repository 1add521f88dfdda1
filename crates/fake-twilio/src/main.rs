//! `fake-twilio [port]`: runs the fake on 127.0.0.1 for browser tests and local use.
//! Credentials come from `TWILIO_ACCOUNT_SID` / `TWILIO_AUTH_TOKEN` (defaults `ACfake` /
//! `fake-token`); point the API's `TWILIO_API_BASE` at the printed URL.

use fake_twilio::FakeTwilio;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let sid = std::env::var("TWILIO_ACCOUNT_SID").unwrap_or_else(|_| "ACfake".into());
    let token = std::env::var("TWILIO_AUTH_TOKEN").unwrap_or_else(|_| "fake-token".into());
    let fake = FakeTwilio::start(fake_server::port_arg()?, &sid, &token)?;
    fake_server::run_until_ctrl_c(&fake.base_url).await?;
    fake.stop().await;
    Ok(())
}
