//! Field rules of SPEC §7 ("Validation"). Each parser returns the normalised value or the
//! one message a person sees next to the field.

/// Longest accepted email address, in characters (RFC 5321 path limit).
pub const EMAIL_MAX_CHARS: usize = 254;
/// Shortest accepted password, in Unicode scalar values.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in Unicode scalar values.
pub const PASSWORD_MAX_CHARS: usize = 128;
/// Longest accepted full name after trimming, in characters.
pub const FULL_NAME_MAX_CHARS: usize = 100;
/// Number of digits in a verification code.
pub const CODE_DIGITS: usize = 6;

/// Message for a required field that is absent.
pub const REQUIRED: &str = "is required";
/// Message for text carrying control characters (NUL, C0, DEL, C1).
pub const CONTROL_CHARACTERS: &str = "must not contain control characters";
/// Message for a name carrying bidirectional-text controls.
pub const BIDI_CONTROLS: &str = "must not contain text-direction control characters";

/// True for characters no text field accepts: the C0 range (NUL included), DEL and the
/// C1 range. PostgreSQL refuses NUL in text outright, and the others only ever hide or
/// garble what a person sees, so every field rejects them before any query.
pub fn is_control_character(c: char) -> bool {
    c.is_control()
}

/// True for the bidirectional embedding, override and isolate controls (and the marks),
/// which make a name display differently from what it is (e.g. reversing "gnp.exe").
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Refuses control characters ([`is_control_character`]) in what trimming leaves of a
/// trimmed field. Whitespace at either end (a tab or newline pasted with a name) is
/// trimmed away, not refused; controls inside, and any that are not whitespace (NUL),
/// are refused. Passwords are not trimmed: [`check_password`] refuses every control.
pub fn check_text(raw: &str) -> Result<(), &'static str> {
    refuse_control_characters(raw.trim())
}

fn refuse_control_characters(text: &str) -> Result<(), &'static str> {
    if text.chars().any(is_control_character) {
        Err(CONTROL_CHARACTERS)
    } else {
        Ok(())
    }
}

/// Trims and lower-cases an email address and checks its shape: at most 254 characters,
/// exactly one `@`, a non-empty local part and a domain containing a dot.
pub fn parse_email(raw: &str) -> Result<String, &'static str> {
    check_text(raw)?;
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces");
    }
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) if !local.is_empty() && domain.contains('.') => Ok(email),
        _ => Err("must be an email address like name@example.com"),
    }
}

/// The checks of [`parse_email`] without building the normalised address, with the same
/// messages. Lower-casing pulls Unicode's case tables (~9 KB gzip) into the SPA, and the
/// checks don't need it: it changes neither `@`, dots, spaces nor emptiness. The server
/// still runs [`parse_email`].
pub fn check_email(raw: &str) -> Result<(), &'static str> {
    check_text(raw)?;
    let email = raw.trim();
    if email.is_empty() {
        return Err("must not be empty");
    }
    if email.chars().count() > EMAIL_MAX_CHARS {
        return Err("must be at most 254 characters");
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces");
    }
    let mut parts = email.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) if !local.is_empty() && domain.contains('.') => Ok(()),
        _ => Err("must be an email address like name@example.com"),
    }
}

/// Checks a password's length (8..=128 Unicode scalar values). Passwords are never
/// trimmed: spaces are characters like any other.
pub fn check_password(raw: &str) -> Result<(), &'static str> {
    refuse_control_characters(raw)?;
    let n = raw.chars().count();
    if n < PASSWORD_MIN_CHARS {
        Err("must be at least 8 characters")
    } else if n > PASSWORD_MAX_CHARS {
        Err("must be at most 128 characters")
    } else {
        Ok(())
    }
}

/// Trims a full name and checks it is 1..=100 characters, without control or
/// text-direction characters.
pub fn parse_full_name(raw: &str) -> Result<String, &'static str> {
    check_text(raw)?;
    if raw.chars().any(is_bidi_control) {
        return Err(BIDI_CONTROLS);
    }
    let name = raw.trim();
    let n = name.chars().count();
    if n == 0 {
        Err("must not be empty")
    } else if n > FULL_NAME_MAX_CHARS {
        Err("must be at most 100 characters")
    } else {
        Ok(name.to_owned())
    }
}

/// Upper-cases an ISO 3166-1 alpha-2 region hint (`phone_region`, case-insensitive).
/// Whether the region exists is the server's parser's call.
pub fn parse_region(raw: &str) -> Result<String, &'static str> {
    let region = raw.trim();
    if region.len() == 2 && region.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(region.to_ascii_uppercase())
    } else {
        Err("must be a two-letter country code such as US")
    }
}

/// Checks that a verification code is exactly six ASCII digits (no trimming: a code
/// with stray characters is a typing mistake, not a guess, and costs no attempt).
pub fn check_code(raw: &str) -> Result<(), &'static str> {
    if raw.len() == CODE_DIGITS && raw.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("must be exactly 6 digits")
    }
}

/// Checks that a phone number field has something to parse; the number itself is
/// parsed by the server (`GET /api/v1/phone-numbers/parse`).
pub fn check_phone_input(raw: &str) -> Result<(), &'static str> {
    check_text(raw)?;
    let number = raw.trim();
    if number.is_empty() {
        Err("must not be empty")
    } else if number.chars().count() > 64 {
        Err("must be at most 64 characters")
    } else {
        Ok(())
    }
}

/// Normalises a recovery code (SPEC §10): `xxxx-xxxx` of lower-case letters and digits.
/// Case, spaces and a missing hyphen are forgiven, since people copy them from paper.
pub fn parse_recovery_code(raw: &str) -> Result<String, &'static str> {
    let chars: Vec<char> = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if chars.len() == 8
        && chars
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    {
        let (a, b) = chars.split_at(4);
        Ok(format!(
            "{}-{}",
            a.iter().collect::<String>(),
            b.iter().collect::<String>()
        ))
    } else {
        Err("must be a recovery code like abcd-1234")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn email_is_trimmed_and_lower_cased() {
        assert_eq!(
            parse_email("  Ann.Lee@Example.COM ").as_deref(),
            Ok("ann.lee@example.com")
        );
    }

    #[test]
    fn rejects_malformed_emails() {
        let cases = [
            ("", "empty"),
            ("   ", "blank"),
            ("ann", "no @"),
            ("@example.com", "empty local part"),
            ("ann@example", "domain without a dot"),
            ("ann@b@example.com", "two @"),
            ("ann lee@example.com", "inner space"),
        ];
        for (raw, why) in cases {
            assert!(parse_email(raw).is_err(), "{why}: {raw:?} was accepted");
        }
    }

    #[test]
    fn check_email_agrees_with_parse_email() {
        let samples = [
            "",
            "  ",
            "ann",
            "@example.com",
            "ann@example",
            "ann@b@example.com",
            "ann lee@example.com",
            "  Ann.Lee@Example.COM ",
            "ÅSA@Exämple.se",
            "a@b.c",
        ];
        for raw in samples {
            assert_eq!(check_email(raw), parse_email(raw).map(|_| ()), "{raw:?}");
        }
    }

    #[test]
    fn rejects_email_over_254_characters() {
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert!(parse_email(&long).is_err());
        assert!(parse_email(&long[1..]).is_ok());
    }

    #[test]
    fn password_length_counts_scalar_values_not_bytes() {
        assert!(check_password("ééééééé").is_err()); // 7 chars, 14 bytes
        assert!(check_password("éééééééé").is_ok());
        assert!(check_password(&"x".repeat(128)).is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
        assert!(check_password("        ").is_ok(), "spaces are not trimmed");
    }

    #[test]
    fn full_name_is_trimmed_and_bounded() {
        assert_eq!(parse_full_name("  Zoë Ñúñez ").as_deref(), Ok("Zoë Ñúñez"));
        assert!(parse_full_name("   ").is_err());
        assert!(parse_full_name(&"ж".repeat(100)).is_ok());
        assert!(parse_full_name(&"ж".repeat(101)).is_err());
    }

    #[test]
    fn rejects_control_characters_in_every_text_field() {
        for bad in [
            "a\0b@example.com",
            "ann@exa\u{1}mple.com",
            "ann@exa\u{85}mple.com",
        ] {
            assert_eq!(parse_email(bad), Err(CONTROL_CHARACTERS), "{bad:?}");
            assert_eq!(check_email(bad), Err(CONTROL_CHARACTERS), "{bad:?}");
        }
        assert_eq!(check_password("hunter2\0hunter2"), Err(CONTROL_CHARACTERS));
        assert_eq!(
            check_password("hunter2\u{9f}hunter2"),
            Err(CONTROL_CHARACTERS)
        );
        assert_eq!(parse_full_name("Ann\u{7f}Lee"), Err(CONTROL_CHARACTERS));
        assert_eq!(parse_full_name("Ann\nLee"), Err(CONTROL_CHARACTERS));
        assert_eq!(check_phone_input("+1415\0"), Err(CONTROL_CHARACTERS));
        assert_eq!(check_text("fine, even with ünïcode"), Ok(()));
    }

    #[test]
    fn whitespace_controls_at_either_end_are_trimmed_not_refused() {
        assert_eq!(
            parse_full_name("  Ada Lovelace \t").as_deref(),
            Ok("Ada Lovelace")
        );
        assert_eq!(
            parse_full_name("\r\nAda Lovelace\n").as_deref(),
            Ok("Ada Lovelace")
        );
        assert_eq!(
            parse_email("\tAda@Example.com\r\n").as_deref(),
            Ok("ada@example.com")
        );
        assert_eq!(check_email("\tAda@Example.com\u{85}"), Ok(()));
        assert_eq!(check_phone_input("\t+1 415 555 2671\n"), Ok(()));
        assert_eq!(check_text(" us\t"), Ok(()));
        // What is left inside is refused, NUL at the end too (it is not whitespace).
        assert_eq!(parse_full_name("Ada\tLovelace"), Err(CONTROL_CHARACTERS));
        assert_eq!(parse_full_name("Ada Lovelace\0"), Err(CONTROL_CHARACTERS));
        assert_eq!(parse_full_name("Ada Lovelace\n\0"), Err(CONTROL_CHARACTERS));
        assert_eq!(
            check_phone_input("+1 415\t555 2671"),
            Err(CONTROL_CHARACTERS)
        );
        // Passwords are not trimmed, so a trailing newline is a control like any other.
        assert_eq!(
            check_password("correct horse battery\n"),
            Err(CONTROL_CHARACTERS)
        );
    }

    #[test]
    fn rejects_bidi_overrides_in_names() {
        for bad in ["Ann\u{202E}eeL", "\u{2067}Ann", "Ann\u{200F}"] {
            assert_eq!(parse_full_name(bad), Err(BIDI_CONTROLS), "{bad:?}");
        }
        assert!(
            parse_full_name("محمد علي").is_ok(),
            "right-to-left letters are fine"
        );
    }

    #[test]
    fn region_is_case_insensitive_alpha_2() {
        assert_eq!(parse_region("gb").as_deref(), Ok("GB"));
        assert!(parse_region("GBR").is_err());
        assert!(parse_region("1A").is_err());
    }

    #[test]
    fn rejects_code_that_is_not_six_ascii_digits() {
        for raw in ["12345", "1234567", "12345a", " 123456", "١٢٣٤٥٦", ""] {
            assert!(check_code(raw).is_err(), "{raw:?} was accepted");
        }
        assert!(check_code("012345").is_ok());
    }

    proptest! {
        #[test]
        fn accepts_any_simple_address(local in "[a-z0-9._%+-]{1,40}", host in "[a-z0-9-]{1,40}", tld in "[a-z]{2,10}") {
            let raw = format!(" {local}@{host}.{tld} ");
            prop_assert_eq!(parse_email(&raw), Ok(format!("{local}@{host}.{tld}")));
        }

        #[test]
        fn accepts_any_password_of_valid_length(p in "\\PC{8,128}") {
            prop_assert!(check_password(&p).is_ok());
        }

        #[test]
        fn accepts_any_six_digit_code(c in "[0-9]{6}") {
            prop_assert!(check_code(&c).is_ok());
        }
    }

    #[test]
    fn recovery_codes_are_normalised_or_refused() {
        assert_eq!(
            parse_recovery_code(" AbCd-12x4 ").as_deref(),
            Ok("abcd-12x4")
        );
        assert_eq!(parse_recovery_code("abcd 12x4").as_deref(), Ok("abcd-12x4"));
        assert_eq!(parse_recovery_code("abcd12x4").as_deref(), Ok("abcd-12x4"));
        assert!(parse_recovery_code("abcd-12x").is_err());
        assert!(parse_recovery_code("abcd-12x\u{e9}").is_err());
        assert!(parse_recovery_code("").is_err());
    }
}
