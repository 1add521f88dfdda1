//! The public lookup (`/phone-numbers/parse`): what a typed number is, and whether it
//! can get a code, before any account exists.

use phonereg_types::ParseResponse;

use super::Phones;
use crate::{
    domain::{ClientNetworks, PhoneNumber},
    error::ApiError,
    services::number_rules::NumberRules,
};

impl Phones {
    /// The public lookup (`/phone-numbers/parse`), counted per client. `region` is the
    /// checked hint, or None for `DEFAULT_REGION`.
    pub async fn lookup(
        &self,
        raw: String,
        region: Option<String>,
        client_ip: ClientNetworks,
    ) -> Result<ParseResponse, ApiError> {
        let limit = self.lookup_ip;
        let now = self.clock.now();
        self.db
            .write(move |c| limit.hit(c, &client_ip, now))
            .await?;
        let region = region.as_deref().unwrap_or(&self.rules.default_region);
        Ok(verdict(&raw, region, &self.rules))
    }
}

/// The lookup endpoint's verdict: never an error for a bad number, just `valid: false`.
fn verdict(raw: &str, region: &str, rules: &NumberRules) -> ParseResponse {
    match PhoneNumber::parse(raw, region) {
        Ok(n) => {
            let refusal = n.sms_refusal(&rules.allowed_countries);
            ParseResponse {
                valid: true,
                sms_capable: refusal.is_none(),
                message: refusal.map(|r| format!("This {r}.")),
                e164: Some(n.e164),
                national: Some(n.national),
                international: Some(n.international),
                country: Some(n.country),
                number_type: Some(n.number_type.to_owned()),
            }
        }
        Err(m) => ParseResponse {
            valid: false,
            e164: None,
            national: None,
            international: None,
            country: None,
            number_type: None,
            sms_capable: false,
            message: Some(format!("This {m}.")),
        },
    }
}
