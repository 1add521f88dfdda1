//! `fake-captcha [port]`: runs the fake siteverify on 127.0.0.1 for browser tests and
//! local use; the secret comes from `CAPTCHA_SECRET` (default `fake-secret`). Point the
//! API's `CAPTCHA_VERIFY_URL` at the printed URL.

use fake_captcha::FakeSiteverify;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let secret = std::env::var("CAPTCHA_SECRET").unwrap_or_else(|_| "fake-secret".into());
    let fake = FakeSiteverify::start(fake_server::port_arg()?, &secret)?;
    fake_server::run_until_ctrl_c(&fake.verify_url).await?;
    fake.stop().await;
    Ok(())
}
