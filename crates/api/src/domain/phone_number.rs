//! Phone numbers as Google's libphonenumber sees them, through `rlibphonenumber` (a direct
//! port of the C++ library with its metadata). Validity, type and E.164 are the library's
//! verdict, unchanged: `crates/api/tests/api/phone_oracle.rs` holds us to it for every
//! region. The only rules of our own are the ones about SMS, in [`PhoneNumber::sms_refusal`].

use phonereg_types::NumberType;
use rlibphonenumber::{PHONE_NUMBER_UTIL, PhoneNumberFormat, PhoneNumberType, Region};

/// A valid number in its stored forms. Invariant: `e164` is what libphonenumber
/// formats for a valid number, so equal numbers compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    pub e164: String,
    pub national: String,
    pub international: String,
    pub country: String,
    pub number_type: NumberType,
    /// Whether an extension was typed (`… ext. 12`): libphonenumber keeps it out of
    /// validity and E.164, but an SMS cannot reach an extension.
    pub has_extension: bool,
}

/// Every input is capped here before parsing, as in the SPA (`check_phone_input`).
const MAX_INPUT_CHARS: usize = 64;

/// Loads libphonenumber's metadata (~4 MiB, a few milliseconds) and compiles the patterns
/// every parse uses plus `region`'s, at start-up rather than in the first lookup. Other
/// regions' patterns compile on first use: with regex-lite that is microseconds, while
/// compiling all 245 regions up front would hold ~9 MiB more for regions a deployment
/// may never see.
pub fn warm_up(region: &str) {
    if let Some(example) = Region::from_code(region).ok().and_then(|r| {
        PHONE_NUMBER_UTIL
            .get_example_number_for_type_and_region(r, PhoneNumberType::Mobile)
            .ok()
    }) {
        let national = example.format_as(PhoneNumberFormat::National).into_owned();
        let _ = PhoneNumber::parse(&national, region);
    }
}

/// Whether `region` (upper-case alpha-2) is a region libphonenumber has metadata for:
/// the only regions a national number can be read in.
pub fn is_known_region(region: &str) -> bool {
    Region::from_code(region)
        .ok()
        .filter(|r| *r != Region::World)
        .and_then(|r| PHONE_NUMBER_UTIL.get_country_code_for_region(r))
        .is_some()
}

/// The country calling code an E.164 prefix (its digits, without `+`) begins with, and
/// the code's main region (`None` for non-geographic codes such as 800). Calling codes
/// are prefix-free, so at most one fits.
pub fn leading_calling_code(digits: &str) -> Option<(&str, Option<String>)> {
    (1..=digits.len().min(3)).find_map(|len| {
        let code = &digits[..len];
        let mut regions =
            PHONE_NUMBER_UTIL.get_regions_for_country_calling_code(code.parse().ok()?)?;
        let main = regions.next()?;
        let main = (main != Region::World).then(|| main.as_region_str().as_str().to_owned());
        Some((code, main))
    })
}

impl PhoneNumber {
    /// Parses `raw` as libphonenumber does with `region` (upper-case alpha-2) as the
    /// default region: the hint is used for national input and ignored when the number
    /// carries its country code (`+…`, or an international prefix such as `00`).
    pub fn parse(raw: &str, region: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.chars().count() > MAX_INPUT_CHARS {
            return Err(format!("must be at most {MAX_INPUT_CHARS} characters"));
        }
        let not_valid = || {
            if raw.starts_with('+') {
                "is not a valid phone number; check the country code and the digits after it"
                    .to_owned()
            } else {
                format!(
                    "is not a valid phone number; include the country code (e.g. +44…) or pick the right country ({region} was assumed)"
                )
            }
        };
        let hint = Region::from_code(region).ok();
        let number = PHONE_NUMBER_UTIL
            .parse(raw, hint)
            .map_err(|_| not_valid())?;
        if !PHONE_NUMBER_UTIL.is_valid_number(&number) {
            return Err(not_valid());
        }
        // A valid number always has a region; `World` (001) is libphonenumber's name for
        // the non-geographic codes (+800 freephone, +881 satellite, …). SPEC §7's `country`
        // is alpha-2, which they do not have.
        let country = match PHONE_NUMBER_UTIL.get_region_for_number(&number) {
            Some(r) if r != Region::World => r.as_region_str().as_str().to_owned(),
            _ => {
                return Err(
                    "is an international service number (such as +800 or +881) that belongs to no country; use a mobile number"
                        .into(),
                );
            }
        };
        Ok(Self {
            e164: number.format_as(PhoneNumberFormat::E164).into_owned(),
            national: number.format_as(PhoneNumberFormat::National).into_owned(),
            international: number
                .format_as(PhoneNumberFormat::International)
                .into_owned(),
            country,
            number_type: type_name(PHONE_NUMBER_UTIL.get_number_type(&number)),
            has_extension: number.extension.as_deref().is_some_and(|e| !e.is_empty()),
        })
    }

    /// Why SMS cannot be sent to this number, if it cannot: its type (SPEC §7), an
    /// extension, or `SMS_ALLOWED_COUNTRIES`.
    pub fn sms_refusal(&self, allowed: &Countries) -> Option<String> {
        if !self.number_type.takes_sms() {
            let kind = match self.number_type {
                NumberType::FixedLine => "a landline (fixed-line) number",
                NumberType::TollFree => "a toll-free number",
                NumberType::PremiumRate => "a premium-rate number",
                NumberType::SharedCost => "a shared-cost number",
                NumberType::Pager => "a pager number",
                NumberType::Uan => "a company (UAN) number",
                NumberType::Voicemail => "a voicemail access number",
                _ => "a number of unknown type",
            };
            return Some(format!(
                "is {kind}, which cannot receive text messages; use a mobile number"
            ));
        }
        if self.has_extension {
            return Some(
                "has an extension, and text messages cannot reach an extension; leave it out"
                    .into(),
            );
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

/// Digits a run must have to count as a phone number in [`mask_numbers`]: the shortest
/// national numbers have about seven.
const MASK_FROM_DIGITS: usize = 7;
/// Digits [`mask_numbers`] leaves showing: enough to tell numbers apart, not to dial one.
const MASK_KEEPS_DIGITS: usize = 4;

/// `text` with every phone number in it cut to its last four digits, the rest `•`: every
/// run of seven or more digits, alone or grouped by spaces, dashes and parentheses (so
/// E.164, `%2B…` and `(415) 555-2671` alike). For text from outside before it reaches a
/// log: a provider's error message names the number it refused. Other long digit runs
/// (a long id) are masked too; a log loses little by that.
pub fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_separator = |c: char| matches!(c, ' ' | '-' | '(' | ')');
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        // The run: digits, joined by at most two separators at a time (`) `).
        let start = i;
        let mut end = i;
        while end < chars.len() {
            if chars[end].is_ascii_digit() {
                end += 1;
                continue;
            }
            let mut next = end;
            while next < chars.len() && next - end < 2 && is_separator(chars[next]) {
                next += 1;
            }
            if next > end && next < chars.len() && chars[next].is_ascii_digit() {
                end = next;
            } else {
                break;
            }
        }
        let run = &chars[start..end];
        let digits = run.iter().filter(|c| c.is_ascii_digit()).count();
        let mut hide = if digits >= MASK_FROM_DIGITS {
            digits - MASK_KEEPS_DIGITS
        } else {
            0
        };
        for &c in run {
            if c.is_ascii_digit() && hide > 0 {
                out.push('•');
                hide -= 1;
            } else {
                out.push(c);
            }
        }
        i = end;
    }
    out
}

/// SPEC §7's name for each of libphonenumber's types, one to one.
fn type_name(t: PhoneNumberType) -> NumberType {
    match t {
        PhoneNumberType::Mobile => NumberType::Mobile,
        PhoneNumberType::FixedLine => NumberType::FixedLine,
        PhoneNumberType::FixedLineOrMobile => NumberType::FixedLineOrMobile,
        PhoneNumberType::VoIP => NumberType::Voip,
        PhoneNumberType::TollFree => NumberType::TollFree,
        PhoneNumberType::PremiumRate => NumberType::PremiumRate,
        PhoneNumberType::SharedCost => NumberType::SharedCost,
        PhoneNumberType::PersonalNumber => NumberType::PersonalNumber,
        PhoneNumberType::Pager => NumberType::Pager,
        PhoneNumberType::UAN => NumberType::Uan,
        PhoneNumberType::VoiceMail => NumberType::Voicemail,
        PhoneNumberType::Unknown => NumberType::Unknown,
    }
}

/// Upper-case alpha-2 country codes; empty means every country.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Countries(pub Vec<String>);

impl Countries {
    pub fn allows(&self, country: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|c| c == country)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_numbers_in_text_to_their_last_four_digits() {
        let cases = [
            (
                "The 'To' number +14155552671 is not a valid phone number.",
                "The 'To' number +•••••••2671 is not a valid phone number.",
            ),
            (
                "To=%2B14155552671&PageSize=20",
                "To=%2B•••••••2671&PageSize=20",
            ),
            ("call (415) 555-2671 now", "call (•••) •••-2671 now"),
            ("+44 7400 123456", "+•• •••• ••3456"),
            // Short runs are not numbers: codes, statuses, ports.
            (
                "Twilio 503: error 20503 at 127.0.0.1:8080",
                "Twilio 503: error 20503 at 127.0.0.1:8080",
            ),
            ("", ""),
        ];
        for (text, masked) in cases {
            assert_eq!(mask_numbers(text), masked, "{text:?}");
            assert_eq!(
                mask_numbers(masked),
                masked,
                "masking twice changes nothing"
            );
        }
    }

    #[test]
    fn parses_national_format_with_region_hint() {
        let n = PhoneNumber::parse("07400 123456", "GB").expect("valid UK mobile");
        assert_eq!(n.e164, "+447400123456");
        assert_eq!(n.country, "GB");
        assert_eq!(n.number_type, NumberType::Mobile);
        assert_eq!(n.national, "07400 123456");
        assert_eq!(n.international, "+44 7400 123456");
    }

    #[test]
    fn international_format_ignores_region_hint() {
        let n = PhoneNumber::parse("+1 415 555 2671", "GB").expect("valid US number");
        assert_eq!(n.e164, "+14155552671");
        assert_eq!(n.country, "US");
        assert_eq!(n.number_type, NumberType::FixedLineOrMobile);
        // Issue #13: a Brazilian mobile typed with its country code while the picker
        // still says US.
        let n = PhoneNumber::parse("+55 11 96123-4567", "US").expect("valid BR mobile");
        assert_eq!(n.e164, "+5511961234567");
        assert_eq!(n.number_type, NumberType::Mobile);
    }

    #[test]
    fn national_input_uses_the_region_hint() {
        let n = PhoneNumber::parse("(11) 96123-4567", "BR").expect("valid BR mobile");
        assert_eq!(n.e164, "+5511961234567");
        assert_eq!(n.country, "BR");
        assert_eq!(n.number_type, NumberType::Mobile);
        assert!(PhoneNumber::parse("(11) 96123-4567", "US").is_err());
    }

    #[test]
    fn keeps_the_leading_zero_of_west_african_mobiles() {
        // Benin, Congo and Côte d'Ivoire mobiles start with 0 after the country code;
        // the `phonenumber` crate dropped it when typing them and called them "unknown".
        for (raw, region) in [
            ("+229 01 90 01 12 34", "BJ"),
            ("+242 06 123 4567", "CG"),
            ("+225 01 23 45 6789", "CI"),
        ] {
            let n = PhoneNumber::parse(raw, region).expect(raw);
            assert_eq!(n.number_type, NumberType::Mobile, "{raw}");
            assert!(n.sms_refusal(&Countries::default()).is_none(), "{raw}");
        }
    }

    #[test]
    fn rejects_invalid_numbers() {
        for raw in ["", "abc", "+1 555", "123", &"1".repeat(65)] {
            assert!(
                PhoneNumber::parse(raw, "US").is_err(),
                "{raw:?} was accepted"
            );
        }
    }

    #[test]
    fn refuses_non_geographic_numbers_which_have_no_country() {
        let err = PhoneNumber::parse("+800 1234 5678", "US").expect_err("no country");
        assert!(err.contains("no country"), "{err}");
    }

    #[test]
    fn refuses_sms_to_landlines_extensions_and_disallowed_countries() {
        let landline = PhoneNumber::parse("+44 20 7946 0958", "US").expect("valid");
        assert_eq!(landline.number_type, NumberType::FixedLine);
        assert!(landline.sms_refusal(&Countries::default()).is_some());
        let mobile = PhoneNumber::parse("+447400123456", "US").expect("valid");
        assert!(mobile.sms_refusal(&Countries::default()).is_none());
        assert!(mobile.sms_refusal(&Countries(vec!["US".into()])).is_some());
        let with_ext = PhoneNumber::parse("+44 7400 123456 ext. 12", "US").expect("valid");
        assert_eq!(with_ext.e164, "+447400123456");
        let refusal = with_ext
            .sms_refusal(&Countries::default())
            .expect("refused");
        assert!(refusal.contains("extension"), "{refusal}");
    }

    #[test]
    fn knows_libphonenumbers_regions_only() {
        assert!(is_known_region("BR"));
        assert!(is_known_region("XK"));
        assert!(!is_known_region("QQ"));
        assert!(!is_known_region("ZZ"));
        assert!(!is_known_region("001"));
    }

    #[test]
    fn finds_the_calling_code_a_prefix_begins_with() {
        assert_eq!(leading_calling_code("1415"), Some(("1", Some("US".into()))));
        assert_eq!(leading_calling_code("44"), Some(("44", Some("GB".into()))));
        assert_eq!(
            leading_calling_code("5999"),
            Some(("599", Some("CW".into())))
        );
        assert_eq!(leading_calling_code("80012"), Some(("800", None)));
        assert_eq!(leading_calling_code("8"), None, "no code is 8");
        assert_eq!(leading_calling_code(""), None);
    }

    #[test]
    fn masks_all_but_the_last_two_digits() {
        assert_eq!(PhoneNumber::masked("+14155552671"), "+•••••••••71");
    }
}
