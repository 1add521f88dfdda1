//! Phone numbers, parsed by the `phonenumber` crate (libphonenumber's metadata).

use phonenumber::{Mode, Type, country};

use crate::config::Countries;

/// A valid number in its stored forms. Invariant: `e164` is what libphonenumber
/// formats for a valid number, so equal numbers compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    pub e164: String,
    pub national: String,
    pub international: String,
    pub country: String,
    pub number_type: &'static str,
}

/// Number types that can receive SMS (SPEC §7).
const SMS_TYPES: [&str; 4] = ["mobile", "fixed_line_or_mobile", "voip", "personal_number"];

impl PhoneNumber {
    /// Parses `raw` with `region` (upper-case alpha-2) as the hint for national formats.
    pub fn parse(raw: &str, region: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > 64 {
            return Err("must be at most 64 characters".into());
        }
        let hint = region.parse::<country::Id>().ok();
        let not_valid = || {
            format!(
                "is not a valid phone number; include the country code (e.g. +44…) or pick the right country ({region} was assumed)"
            )
        };
        let number = phonenumber::parse(hint, raw).map_err(|_| not_valid())?;
        if !number.is_valid() || number.extension().is_some() {
            return Err(not_valid());
        }
        let country = number
            .country()
            .id()
            .map(|id| id.as_ref().to_owned())
            .ok_or_else(not_valid)?;
        let number_type = type_name(number.number_type(&phonenumber::metadata::DATABASE));
        Ok(Self {
            e164: number.format().mode(Mode::E164).to_string(),
            national: number.format().mode(Mode::National).to_string(),
            international: number.format().mode(Mode::International).to_string(),
            country,
            number_type,
        })
    }

    /// Why SMS cannot be sent to this number, if it cannot.
    pub fn sms_refusal(&self, allowed: &Countries) -> Option<String> {
        if !SMS_TYPES.contains(&self.number_type) {
            let kind = match self.number_type {
                "fixed_line" => "a landline (fixed-line) number",
                "toll_free" => "a toll-free number",
                "premium_rate" => "a premium-rate number",
                "shared_cost" => "a shared-cost number",
                "pager" => "a pager number",
                "uan" => "a company (UAN) number",
                "voicemail" => "a voicemail access number",
                _ => "a number of unknown type",
            };
            return Some(format!(
                "is {kind}, which cannot receive text messages; use a mobile number"
            ));
        }
        if !allowed.allows(&self.country) {
            return Some(format!(
                "is a {} number; text messages can only be sent to numbers from {}",
                self.country,
                allowed.0.join(", ")
            ));
        }
        None
    }

    /// The number with all but the last two digits hidden, for logs and history.
    pub fn masked(e164: &str) -> String {
        let keep = e164.len().saturating_sub(2);
        let (head, tail) = e164.split_at(keep.min(e164.len()));
        let plus = if head.starts_with('+') { "+" } else { "" };
        format!(
            "{plus}{}{tail}",
            "•".repeat(head.len().saturating_sub(plus.len()))
        )
    }
}

fn type_name(t: Type) -> &'static str {
    match t {
        Type::Mobile => "mobile",
        Type::FixedLine => "fixed_line",
        Type::FixedLineOrMobile => "fixed_line_or_mobile",
        Type::Voip => "voip",
        Type::TollFree => "toll_free",
        Type::PremiumRate => "premium_rate",
        Type::SharedCost => "shared_cost",
        Type::PersonalNumber => "personal_number",
        Type::Pager => "pager",
        Type::Uan => "uan",
        Type::Voicemail => "voicemail",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_national_format_with_region_hint() {
        let n = PhoneNumber::parse("07400 123456", "GB").expect("valid UK mobile");
        assert_eq!(n.e164, "+447400123456");
        assert_eq!(n.country, "GB");
        assert_eq!(n.number_type, "mobile");
        assert_eq!(n.national, "07400 123456");
        assert_eq!(n.international, "+44 7400 123456");
    }

    #[test]
    fn international_format_ignores_region_hint() {
        let n = PhoneNumber::parse("+1 415 555 2671", "GB").expect("valid US number");
        assert_eq!(n.e164, "+14155552671");
        assert_eq!(n.country, "US");
        assert_eq!(n.number_type, "fixed_line_or_mobile");
    }

    #[test]
    fn rejects_invalid_numbers() {
        for raw in ["", "abc", "+1 555", "123", "+44 20 7946 0958 ext. 12"] {
            assert!(
                PhoneNumber::parse(raw, "US").is_err(),
                "{raw:?} was accepted"
            );
        }
    }

    #[test]
    fn refuses_fixed_line_and_disallowed_countries() {
        let landline = PhoneNumber::parse("+44 20 7946 0958", "US").expect("valid");
        assert_eq!(landline.number_type, "fixed_line");
        assert!(landline.sms_refusal(&Countries::default()).is_some());
        let mobile = PhoneNumber::parse("+447400123456", "US").expect("valid");
        assert!(mobile.sms_refusal(&Countries::default()).is_none());
        assert!(mobile.sms_refusal(&Countries(vec!["US".into()])).is_some());
    }

    #[test]
    fn masks_all_but_the_last_two_digits() {
        assert_eq!(PhoneNumber::masked("+14155552671"), "+•••••••••71");
    }
}
