//! Which numbers PhoneReg accepts: the parse every request with a number goes through
//! (registration, adding or changing a number, the public lookup), with its settings.

use phonereg_types::{FieldErrors, NumberType, validation};

use crate::{
    config::{Config, TestNumbers},
    domain::{
        PhoneNumber,
        phone_number::{self, Countries},
    },
};

/// Which numbers are accepted: the settings every parse of a number reads.
#[derive(Clone, Debug)]
pub struct NumberRules {
    /// `DEFAULT_REGION`: the hint for numbers given without a country code.
    pub default_region: String,
    pub allowed_countries: Countries,
    pub test_numbers: TestNumbers,
    /// With `VOICE_ENABLED` and `VOICE_FOR_LANDLINES`: the countries whose fixed lines
    /// are accepted, to verify by call (SPEC §13).
    pub voice_landlines: Option<Countries>,
}

impl NumberRules {
    pub fn from_config(config: &Config) -> Self {
        Self {
            default_region: config.default_region.clone(),
            allowed_countries: config.sms_allowed_countries.clone(),
            test_numbers: config.sms_test_numbers.clone(),
            voice_landlines: (config.voice_enabled && config.voice_for_landlines)
                .then(|| config.voice_allowed_countries.clone()),
        }
    }

    /// Parses `phone_number` with `phone_region` (or `DEFAULT_REGION`) as the hint and
    /// refuses numbers that cannot receive SMS. Errors are keyed by request field.
    pub fn parse(&self, raw: &str, region: Option<&str>) -> Result<PhoneNumber, FieldErrors> {
        parse_phone_fields(raw, region, self)
    }
}

fn parse_phone_fields(
    raw: &str,
    region: Option<&str>,
    config: &NumberRules,
) -> Result<PhoneNumber, FieldErrors> {
    let mut errors = FieldErrors::new();
    if let Err(m) = validation::check_text(raw) {
        errors.insert("phone_number".into(), vec![m.into()]);
    }
    let region = match region.map(str::trim).filter(|r| !r.is_empty()) {
        None => Some(config.default_region.clone()),
        Some(r) => match validation::parse_region(r) {
            Ok(r) if phone_number::is_known_region(&r) => Some(r),
            _ => {
                errors.insert(
                    "phone_region".into(),
                    vec!["must be a two-letter country code such as US".into()],
                );
                None
            }
        },
    };
    let region = region.ok_or_else(|| errors.clone())?;
    if !errors.is_empty() {
        return Err(errors);
    }
    let number = PhoneNumber::parse(raw, &region)
        .map_err(|m| FieldErrors::from([("phone_number".to_owned(), vec![m])]))?;
    // Test numbers skip the type and country checks (SPEC §7): CI and app-store review
    // use numbers no carrier would text.
    let is_test = config.test_numbers.code_for(&number.e164).is_some();
    // A fixed line that may verify by call is let in: its codes are said, not texted.
    let by_voice = number.number_type == NumberType::FixedLine
        && !number.has_extension
        && config
            .voice_landlines
            .as_ref()
            .is_some_and(|c| c.allows(&number.country));
    if let Some(reason) = number
        .sms_refusal(&config.allowed_countries)
        .filter(|_| !is_test && !by_voice)
    {
        return Err(FieldErrors::from([(
            "phone_number".to_owned(),
            vec![reason],
        )]));
    }
    Ok(number)
}
