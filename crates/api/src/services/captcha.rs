//! The bot challenge, asked only when it is risky (SPEC §11).
//!
//! A token is asked for on exactly the requests that would send a claim or a start, and
//! before anything of theirs is written: a refused request spends no attempt, cool-down or
//! counter. In `risky` mode it is asked once the client network was counted for
//! `CAPTCHA_FREE_SENDS_PER_HOUR` codes this hour (the §5 and §10 per-client counters), or
//! when the destination's range or country holds more than half the unverified codes that
//! would make the fraud guard pause it; in `always` mode on every such request.
//!
//! A token is checked with the provider's siteverify (`secret`, `response`, `remoteip` as a
//! form, as Turnstile, hCaptcha and reCAPTCHA all document it) and accepted once: the
//! digests of accepted tokens sit in a table every API process shares, so a token cannot
//! be replayed on another process either. When the provider fails or is slow
//! (`VERIFY_TIMEOUT`), `CAPTCHA_ON_ERROR` decides: `allow` lets the request on to the caps
//! and the guard, `deny` answers 503.

use std::{net::IpAddr, sync::Arc, time::Duration};

use anyhow::Context as _;
use phonereg_types::{CaptchaChallenge, CaptchaConfig, CaptchaMode, CaptchaProvider};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use crate::{
    clock::Clock,
    config::{CaptchaModeSetting, CaptchaOnError, CaptchaProviderSetting, Config, Secret},
    domain::ClientNetworks,
    error::ApiError,
    persistence::{Db, captcha_tokens},
    services::allowance::SmsAllowance,
    telemetry,
};

/// How long one siteverify call may take, connection included. A provider slower than
/// this counts as failing (`CAPTCHA_ON_ERROR`), so a request never waits longer on it.
const VERIFY_TIMEOUT: Duration = Duration::from_secs(5);
/// Siteverify calls in flight per process. Past it a request answers 503 at once rather
/// than queueing: a flood of made-up tokens must not hold every worker, nor count as a
/// provider failure (which `allow` would let through).
const VERIFY_IN_FLIGHT: usize = 64;
/// Providers answer a token for at most five minutes (Turnstile; hCaptcha and
/// reCAPTCHA two); a used token is remembered twice as long.
const REMEMBER_USED: i64 = 600;
/// Longer than any provider's token (Turnstile's are at most 2048 characters): refused
/// without asking the provider.
const MAX_TOKEN_LEN: usize = 4096;

/// The bot challenge. Built in `startup`; does nothing with `CAPTCHA_PROVIDER=none`.
#[derive(Clone)]
pub struct Captcha {
    provider: Option<Arc<Provider>>,
    db: Db,
    clock: Clock,
    allowance: SmsAllowance,
}

struct Provider {
    kind: CaptchaProvider,
    site_key: String,
    secret: Secret,
    verify_url: String,
    mode: CaptchaMode,
    on_error: CaptchaOnError,
    free_sends: i64,
    http: reqwest::Client,
    in_flight: Semaphore,
}

/// A request that would send a code: where to, from whom, and the token it brought.
pub struct Ask<'a> {
    /// The number the code would go to, and its country when known.
    pub e164: &'a str,
    pub country: Option<&'a str>,
    /// The client network, as every per-client limit keys it.
    pub client: &'a ClientNetworks,
    /// The client's address, for siteverify's `remoteip`.
    pub remote_ip: Option<IpAddr>,
    pub token: Option<String>,
}

/// What siteverify said about one token.
enum Verdict {
    Passed,
    Refused,
    /// The provider could not answer (network, timeout, 5xx, its own internal error).
    Failed(anyhow::Error),
}

#[derive(Deserialize)]
struct SiteverifyAnswer {
    success: bool,
    #[serde(default, rename = "error-codes")]
    error_codes: Vec<String>,
}

impl Captcha {
    pub fn from_config(
        c: &Config,
        db: Db,
        clock: Clock,
        allowance: SmsAllowance,
    ) -> anyhow::Result<Self> {
        let kind = match c.captcha_provider {
            CaptchaProviderSetting::None => None,
            CaptchaProviderSetting::Turnstile => Some(CaptchaProvider::Turnstile),
            CaptchaProviderSetting::Hcaptcha => Some(CaptchaProvider::Hcaptcha),
            CaptchaProviderSetting::Recaptcha => Some(CaptchaProvider::Recaptcha),
        };
        let provider = match kind {
            None => None,
            Some(kind) => Some(Arc::new(Provider {
                kind,
                site_key: c
                    .captcha_site_key
                    .clone()
                    .filter(|k| !k.is_empty())
                    .context("CAPTCHA_PROVIDER needs CAPTCHA_SITE_KEY")?,
                secret: c
                    .captcha_secret
                    .clone()
                    .context("CAPTCHA_PROVIDER needs CAPTCHA_SECRET")?,
                verify_url: c
                    .captcha_verify_url
                    .clone()
                    .unwrap_or_else(|| siteverify_url(kind).to_owned()),
                mode: match c.captcha_mode {
                    CaptchaModeSetting::Risky => CaptchaMode::Risky,
                    CaptchaModeSetting::Always => CaptchaMode::Always,
                },
                on_error: c.captcha_on_error,
                free_sends: i64::from(c.captcha_free_sends_per_hour),
                http: reqwest::Client::builder()
                    .timeout(VERIFY_TIMEOUT)
                    .connect_timeout(VERIFY_TIMEOUT)
                    .build()
                    .context("build the siteverify client")?,
                in_flight: Semaphore::new(VERIFY_IN_FLIGHT),
            })),
        };
        Ok(Self {
            provider,
            db,
            clock,
            allowance,
        })
    }

    /// What `GET /api/v1/config` tells clients; None without a provider.
    pub fn client_config(&self) -> Option<CaptchaConfig> {
        self.provider.as_ref().map(|p| CaptchaConfig {
            provider: p.kind,
            site_key: p.site_key.clone(),
            mode: p.mode,
        })
    }

    /// Lets a request that would send a code go on, or refuses it (422
    /// `captcha-required`, or 503 when the provider fails under `deny`). Writes only the
    /// digest of an accepted token.
    /// Whether a bot challenge is configured at all; without one, callers skip the work
    /// of building an [`Ask`] (a resend would read its record for it).
    pub fn is_on(&self) -> bool {
        self.provider.is_some()
    }

    pub async fn admit(&self, ask: Ask<'_>) -> Result<(), ApiError> {
        let Some(provider) = &self.provider else {
            return Ok(());
        };
        let needed = match provider.mode {
            CaptchaMode::Always => true,
            CaptchaMode::Risky => self.is_risky(provider, &ask).await?,
        };
        if !needed {
            return Ok(());
        }
        let refuse = |rejected| {
            telemetry::captcha(if rejected { "refused" } else { "asked" });
            ApiError::CaptchaRequired {
                challenge: CaptchaChallenge {
                    provider: provider.kind,
                    site_key: provider.site_key.clone(),
                },
                rejected,
            }
        };
        let token = match ask.token.as_deref().map(str::trim) {
            None | Some("") => return Err(refuse(false)),
            Some(t) if t.len() > MAX_TOKEN_LEN => return Err(refuse(true)),
            Some(t) => t.to_owned(),
        };
        let digest = hex_sha256(&token);
        let seen = digest.clone();
        if self
            .db
            .read(move |c| captcha_tokens::is_used(c, &seen))
            .await?
        {
            return Err(refuse(true));
        }
        let Ok(_permit) = provider.in_flight.try_acquire() else {
            telemetry::captcha("busy");
            return Err(ApiError::Unavailable {
                detail: "Too many bot checks are in progress; try again in a moment.".into(),
                retry_after: 1,
            });
        };
        match provider.verify(&token, ask.remote_ip).await {
            Verdict::Passed => {}
            Verdict::Refused => return Err(refuse(true)),
            Verdict::Failed(error) => {
                tracing::warn!(error = %format!("{error:#}"), on_error = ?provider.on_error, "captcha siteverify failed");
                let denied = provider.on_error == CaptchaOnError::Deny;
                telemetry::captcha(if denied {
                    "provider_error_denied"
                } else {
                    "provider_error_allowed"
                });
                if denied {
                    return Err(ApiError::Unavailable {
                        detail: "The bot check cannot be completed right now; try again shortly."
                            .into(),
                        retry_after: 5,
                    });
                }
            }
        }
        // Remembered under `allow` too, so one token is not replayed through an outage.
        let expires_at = self.clock.now() + REMEMBER_USED;
        let first = self
            .db
            .write(move |c| captcha_tokens::use_once(c, &digest, expires_at))
            .await?;
        if !first {
            return Err(refuse(true));
        }
        telemetry::captcha("passed");
        Ok(())
    }

    /// Risky: the client network has had its free codes this hour, or the destination is
    /// more than halfway to a pause. Read-only.
    async fn is_risky(&self, provider: &Provider, ask: &Ask<'_>) -> Result<bool, ApiError> {
        let allowance = self.allowance.clone();
        let free = provider.free_sends;
        let client = ask.client.to_owned();
        let (e164, country) = (ask.e164.to_owned(), ask.country.map(str::to_owned));
        let now = self.clock.now();
        self.db
            .read(move |c| {
                if allowance.past_free_sends(c, &client, free, now)? {
                    return Ok(true);
                }
                let guard = allowance.guard();
                match guard.watch(&e164, country.as_deref()) {
                    Some(dest) => guard.is_hot(c, &dest, now),
                    None => Ok(false),
                }
            })
            .await
    }
}

impl Provider {
    async fn verify(&self, token: &str, remote_ip: Option<IpAddr>) -> Verdict {
        let remote_ip = remote_ip.map(|ip| ip.to_string());
        let mut form = vec![("secret", self.secret.expose()), ("response", token)];
        form.extend(remote_ip.as_deref().map(|ip| ("remoteip", ip)));
        let sent = self.http.post(&self.verify_url).form(&form).send().await;
        let answer = match sent.and_then(reqwest::Response::error_for_status) {
            Ok(response) => response.json::<SiteverifyAnswer>().await,
            Err(e) => return Verdict::Failed(anyhow::Error::new(e.without_url())),
        };
        match answer {
            Ok(a) if a.success => Verdict::Passed,
            // The provider's own trouble, not the token's.
            Ok(a) if a.error_codes.iter().any(|c| c == "internal-error") => {
                Verdict::Failed(anyhow::anyhow!("siteverify: internal-error"))
            }
            Ok(a) => {
                if a.error_codes.iter().any(|c| c.ends_with("-secret")) {
                    // Our configuration, not the visitor: every token will fail.
                    tracing::error!(codes = ?a.error_codes, "siteverify refused CAPTCHA_SECRET");
                }
                Verdict::Refused
            }
            Err(e) => Verdict::Failed(anyhow::Error::new(e.without_url())),
        }
    }
}

/// Each provider's documented siteverify endpoint.
fn siteverify_url(kind: CaptchaProvider) -> &'static str {
    match kind {
        CaptchaProvider::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        CaptchaProvider::Hcaptcha => "https://api.hcaptcha.com/siteverify",
        CaptchaProvider::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
    }
}

fn hex_sha256(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
