//! `fake-twilio [port]`: runs the fake on 127.0.0.1 for browser tests and local use.
//! Credentials come from `TWILIO_ACCOUNT_SID` / `TWILIO_AUTH_TOKEN` (defaults `ACfake` /
//! `fake-token`); point the API's `TWILIO_API_BASE` at the printed URL.

use fake_twilio::FakeTwilio;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port = std::env::args()
        .nth(1)
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(0);
    let sid = std::env::var("TWILIO_ACCOUNT_SID").unwrap_or_else(|_| "ACfake".into());
    let token = std::env::var("TWILIO_AUTH_TOKEN").unwrap_or_else(|_| "fake-token".into());
    let fake = FakeTwilio::start(port, &sid, &token)?;
    println!("{}", fake.base_url);
    tokio::signal::ctrl_c().await?;
    fake.stop().await;
    Ok(())
}
