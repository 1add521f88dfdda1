//! Where an SMS goes, as the fraud guard groups destinations (SPEC §9).

use rlibphonenumber::{PHONE_NUMBER_UTIL, Region};

/// A number's range (`+` country calling code and the first national digits, e.g.
/// `+55119`) and its country (ISO alpha-2). Pumping rents numbers in a few ranges, so a
/// range is what gets paused; a country only when many of its ranges misbehave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub range: String,
    pub country: String,
}

impl Destination {
    /// The destination of a stored E.164 number, with `digits` national digits in the
    /// range (fewer when the national number is shorter). `None` for a number the parser
    /// cannot place, which no send path stores.
    pub fn of(e164: &str, digits: usize) -> Option<Self> {
        // Parsing runs libphonenumber's patterns (microseconds); callers that know the
        // country use [`Destination::in_country`], which only looks up its calling code.
        let number = PHONE_NUMBER_UTIL.parse(e164, None).ok()?;
        let calling_code = number.country_code;
        let country = match PHONE_NUMBER_UTIL.get_region_for_number(&number) {
            Some(r) if r != Region::World => r.as_region_str().as_str().to_owned(),
            _ => return None,
        };
        let national = number.get_national_significant_number();
        let cut = national.len().min(digits);
        Some(Self {
            range: format!("+{calling_code}{}", &national[..cut]),
            country,
        })
    }
}

impl Destination {
    /// The destination of `e164`, stored with its `country` (ISO alpha-2, as the parser
    /// gave it): the calling code comes from the metadata, nothing is parsed.
    pub fn in_country(e164: &str, country: &str, digits: usize) -> Option<Self> {
        let region = Region::from_code(country).ok()?;
        let calling_code = PHONE_NUMBER_UTIL.get_country_code_for_region(region)?;
        let national = e164
            .strip_prefix('+')?
            .strip_prefix(calling_code.to_string().as_str())?;
        let cut = national.len().min(digits);
        Some(Self {
            range: format!("+{calling_code}{}", &national[..cut]),
            country: country.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_the_calling_code_and_the_first_national_digits() {
        let br = Destination::of("+5511961234567", 3).expect("BR mobile");
        assert_eq!(br.range, "+55119");
        assert_eq!(br.country, "BR");
        let us = Destination::of("+14155552671", 3).expect("US number");
        assert_eq!(us.range, "+1415");
        assert_eq!(us.country, "US");
        let gb = Destination::of("+447400123456", 2).expect("GB mobile");
        assert_eq!(gb.range, "+4474");
        assert_eq!(gb.country, "GB");
        assert_eq!(Destination::of("not a number", 3), None);
    }

    #[test]
    fn a_known_country_gives_the_same_destination_without_parsing() {
        for (e164, country) in [
            ("+5511961234567", "BR"),
            ("+14155552671", "US"),
            ("+16135550123", "CA"),
            ("+447400123456", "GB"),
            ("+390612345678", "IT"),
        ] {
            assert_eq!(
                Destination::in_country(e164, country, 3),
                Destination::of(e164, 3),
                "{e164}"
            );
        }
        assert_eq!(Destination::in_country("+447400123456", "US", 3), None);
    }
}
