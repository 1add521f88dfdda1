//! The configured providers, by name: the courier asks which provider a message goes
//! to and reaches the one it was given to; the webhook routes reach the one whose
//! receipt arrived.

use std::sync::Arc;

use anyhow::Context as _;
use phonereg_types::SmsProviderName;

use super::{
    Provider, Receipt, ScriptedNumbers,
    console::{ConsoleSender, Inbox},
    http::HttpProvider,
    script::ScriptProvider,
    twilio::{Channels, TwilioSender},
};
use crate::{
    clock::Clock,
    config::{Config, SmsProvider},
};

#[derive(Clone)]
pub struct Providers {
    /// In the configured order; messages go to the first.
    ordered: Vec<Arc<dyn Provider>>,
    /// Scripted test numbers' provider, when any test number is configured.
    script: Option<Arc<dyn ScriptedNumbers>>,
}

impl Providers {
    /// `ordered` must hold at least one provider; names are distinct.
    pub fn new(ordered: Vec<Arc<dyn Provider>>) -> anyhow::Result<Self> {
        anyhow::ensure!(!ordered.is_empty(), "no SMS provider configured");
        for (i, p) in ordered.iter().enumerate() {
            anyhow::ensure!(
                ordered[..i].iter().all(|q| q.name() != p.name()),
                "SMS provider {} is named twice",
                p.name()
            );
        }
        Ok(Self {
            ordered,
            script: None,
        })
    }

    /// Adds the provider that plays scripted test numbers.
    pub fn with_script(mut self, script: Arc<dyn ScriptedNumbers>) -> Self {
        self.script = Some(script);
        self
    }

    /// The provider a message to `to` is given to first: the first whose circuit is not
    /// `open` (the first of all when every one is).
    pub fn first_for(&self, to: &str, open: &[SmsProviderName]) -> SmsProviderName {
        match &self.script {
            Some(script) if script.plays(to) => script.name(),
            _ => self
                .ordered
                .iter()
                .map(|p| p.name())
                .find(|n| !open.contains(n))
                .unwrap_or_else(|| self.ordered[0].name()),
        }
    }

    /// The provider after `current` in the configured order (wrapping round) whose
    /// circuit is not `open`; None when there is none, or `current` is the script.
    pub fn next_after(
        &self,
        current: SmsProviderName,
        open: &[SmsProviderName],
    ) -> Option<SmsProviderName> {
        let names: Vec<SmsProviderName> = self.ordered.iter().map(|p| p.name()).collect();
        let at = names.iter().position(|n| *n == current)?;
        names
            .iter()
            .cycle()
            .skip(at + 1)
            .take(names.len() - 1)
            .find(|n| !open.contains(n))
            .copied()
    }

    /// The configured providers' names, in order (not the scripted numbers' provider).
    pub fn names(&self) -> Vec<SmsProviderName> {
        self.ordered.iter().map(|p| p.name()).collect()
    }

    /// The provider called `name`, if configured.
    pub fn get(&self, name: SmsProviderName) -> Option<&dyn Provider> {
        if let Some(script) = self.script.as_deref().filter(|s| s.name() == name) {
            return Some(script);
        }
        self.ordered
            .iter()
            .find(|p| p.name() == name)
            .map(|p| p.as_ref())
    }

    /// Receipts the in-process providers have due by `now_ms`, with who sent them.
    pub fn due_receipts(&self, now_ms: i64) -> Vec<(SmsProviderName, Receipt)> {
        let mut due = Vec::new();
        let all = self
            .ordered
            .iter()
            .map(|p| p.as_ref())
            .chain(self.script.as_deref().map(|s| s as &dyn Provider));
        for p in all {
            due.extend(p.due_receipts(now_ms).into_iter().map(|r| (p.name(), r)));
        }
        due
    }
}

/// The providers the configuration names, in its order, and the dev inbox when one is
/// the console.
pub fn from_config(config: &Config, clock: &Clock) -> anyhow::Result<(Providers, Option<Inbox>)> {
    let mut inbox = None;
    let mut ordered: Vec<Arc<dyn Provider>> = Vec::new();
    for provider in config.sms_provider_list() {
        ordered.push(match provider {
            SmsProvider::Console => {
                tracing::warn!(
                    "SMS provider console: messages are printed to this log and kept at /api/v1/dev/sms"
                );
                let console = ConsoleSender {
                    inbox: inbox.get_or_insert_with(Inbox::default).clone(),
                    clock: clock.clone(),
                };
                Arc::new(console)
            }
            SmsProvider::Twilio => Arc::new(twilio(config)?),
            SmsProvider::Http => Arc::new(HttpProvider::new(
                config
                    .sms_http_url
                    .as_deref()
                    .context("SMS_HTTP_URL is required")?,
                config
                    .sms_http_secret
                    .as_ref()
                    .context("SMS_HTTP_SECRET is required")?,
            )?),
        });
    }
    let mut providers = Providers::new(ordered)?;
    if let Some(script) = ScriptProvider::new(&config.sms_test_numbers, clock.clone()) {
        providers = providers.with_script(Arc::new(script));
    }
    Ok((providers, inbox))
}

fn twilio(config: &Config) -> anyhow::Result<TwilioSender> {
    TwilioSender::new(
        &config.twilio_api_base,
        config
            .twilio_account_sid
            .clone()
            .context("TWILIO_ACCOUNT_SID is required")?,
        config
            .twilio_auth_token
            .clone()
            .context("TWILIO_AUTH_TOKEN is required")?,
        config.twilio_from.clone(),
        config.twilio_messaging_service_sid.clone(),
        &config.public_url,
    )
    .map(|sender| {
        sender.with_channels(Channels {
            voice_from: config.voice_from(),
            whatsapp_from: config.whatsapp_from(),
            whatsapp_content_sid: config.whatsapp_content_sid.clone(),
        })
    })
}
