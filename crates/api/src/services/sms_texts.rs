//! The words of every SMS, per purpose and language (SPEC §8). The texts are data, in
//! `crates/api/templates/sms/<locale>.json`, so a translator edits them without reading
//! Rust; they are compiled in, and a test checks every file has every text, that code
//! texts end with the WebOTP line, and what each costs in SMS segments.

use std::collections::HashMap;

use serde::Deserialize;

use crate::domain::{Locale, VerificationCode};

/// One file's texts; every field is required, so a missing one fails the build's tests
/// and the start-up, never a send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    verification: String,
    sign_in: String,
    password_reset: String,
    two_factor: String,
    change_notice: String,
    change_requested: String,
    password_changed: String,
    test: String,
    /// What a code call says (twice), `{digits}` the code digit by digit.
    voice: String,
}

/// What an SMS is for; code texts carry `{code}` and `{minutes}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// Confirms a number for its account.
    Verification,
    SignIn,
    PasswordReset,
    /// The second factor at login, and the code that turns it off.
    TwoFactor,
    /// To the old number, once a replacement is verified: `{tail}` of the new one.
    ChangeNotice,
    /// To the verified number, when a replacement is asked for: `{tail}` of the new one.
    ChangeRequested,
    PasswordChanged,
    Test,
}

fn source(locale: Locale) -> &'static str {
    match locale {
        Locale::En => include_str!("../../templates/sms/en.json"),
        Locale::Es => include_str!("../../templates/sms/es.json"),
        Locale::Fr => include_str!("../../templates/sms/fr.json"),
        Locale::De => include_str!("../../templates/sms/de.json"),
        Locale::Pt => include_str!("../../templates/sms/pt.json"),
    }
}

/// Every text in every language, and the host the WebOTP line names.
#[derive(Debug)]
pub struct SmsTexts {
    catalogs: HashMap<&'static str, Catalog>,
    host: String,
}

impl SmsTexts {
    /// `public_url` is `PUBLIC_URL`; its host (without port: WebOTP matches on the
    /// origin's host) ends every code SMS as `@host #code`.
    pub fn new(public_url: &str) -> anyhow::Result<Self> {
        let host = reqwest::Url::parse(public_url)?
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("PUBLIC_URL has no host"))?
            .to_owned();
        let mut catalogs = HashMap::new();
        for locale in Locale::ALL {
            let catalog: Catalog = serde_json::from_str(source(locale))
                .map_err(|e| anyhow::anyhow!("SMS texts for {}: {e}", locale.as_str()))?;
            catalogs.insert(locale.as_str(), catalog);
        }
        Ok(Self { catalogs, host })
    }

    fn template(&self, text: Text, locale: Locale) -> &str {
        #[expect(clippy::unwrap_used, reason = "new() loaded every locale or failed")]
        let c = self.catalogs.get(locale.as_str()).unwrap();
        match text {
            Text::Verification => &c.verification,
            Text::SignIn => &c.sign_in,
            Text::PasswordReset => &c.password_reset,
            Text::TwoFactor => &c.two_factor,
            Text::ChangeNotice => &c.change_notice,
            Text::ChangeRequested => &c.change_requested,
            Text::PasswordChanged => &c.password_changed,
            Text::Test => &c.test,
        }
    }

    /// A code text: the code, its life in minutes, and the WebOTP line.
    pub fn code(
        &self,
        text: Text,
        locale: Locale,
        code: &VerificationCode,
        ttl_secs: u64,
    ) -> String {
        self.template(text, locale)
            .replace("{minutes}", &ttl_secs.div_ceil(60).to_string())
            .replace("{host}", &self.host)
            .replace("{code}", code.expose())
    }

    /// What a code call says: the code digit by digit ("4, 8, 2, 9, 1, 3"), so a speech
    /// engine never reads it as a number ("four hundred eighty-two thousand…").
    pub fn spoken(&self, locale: Locale, code: &VerificationCode) -> String {
        #[expect(clippy::unwrap_used, reason = "new() loaded every locale or failed")]
        let c = self.catalogs.get(locale.as_str()).unwrap();
        let digits: Vec<String> = code.expose().chars().map(String::from).collect();
        c.voice.replace("{digits}", &digits.join(", "))
    }

    /// A text without a code; `tail` fills `{tail}` where the text has one.
    pub fn plain(&self, text: Text, locale: Locale, tail: &str) -> String {
        self.template(text, locale).replace("{tail}", tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE_TEXTS: [Text; 4] = [
        Text::Verification,
        Text::SignIn,
        Text::PasswordReset,
        Text::TwoFactor,
    ];
    const ALL_TEXTS: [Text; 8] = [
        Text::Verification,
        Text::SignIn,
        Text::PasswordReset,
        Text::TwoFactor,
        Text::ChangeNotice,
        Text::ChangeRequested,
        Text::PasswordChanged,
        Text::Test,
    ];

    /// GSM 03.38: the basic set costs one septet, the extension set two.
    const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

    /// (GSM-7?, characters as the network counts them, segments).
    fn segments(body: &str) -> (bool, usize, usize) {
        let septets: Option<usize> = body
            .chars()
            .map(|c| {
                if GSM_BASIC.contains(c) {
                    Some(1)
                } else if GSM_EXTENDED.contains(c) {
                    Some(2)
                } else {
                    None
                }
            })
            .sum();
        match septets {
            Some(n) => (true, n, if n <= 160 { 1 } else { n.div_ceil(153) }),
            None => {
                let n = body.encode_utf16().count();
                (false, n, if n <= 70 { 1 } else { n.div_ceil(67) })
            }
        }
    }

    fn code() -> VerificationCode {
        VerificationCode::parse("482913").expect("code")
    }

    fn texts() -> SmsTexts {
        // A longer host than most deployments', so the limits below hold with room.
        SmsTexts::new("https://accounts.phonereg.example.com").expect("texts load")
    }

    #[test]
    fn calls_say_the_code_digit_by_digit_in_every_language() {
        let t = texts();
        for locale in Locale::ALL {
            let said = t.spoken(locale, &code());
            assert!(said.contains("4, 8, 2, 9, 1, 3"), "{locale:?}: {said}");
            assert!(!said.contains("482913"), "{locale:?}: {said}");
        }
    }

    #[test]
    fn every_code_text_ends_with_the_webotp_line() {
        let t = texts();
        for locale in Locale::ALL {
            for text in CODE_TEXTS {
                let body = t.code(text, locale, &code(), 600);
                assert!(
                    body.ends_with("\n\n@accounts.phonereg.example.com #482913"),
                    "{locale:?} {text:?}: {body}"
                );
                assert!(body.contains("10 "), "{locale:?} {text:?} names minutes");
                assert!(!body.contains('{'), "{locale:?} {text:?}: unfilled: {body}");
            }
        }
    }

    #[test]
    fn texts_fit_one_segment_where_the_language_allows() {
        let t = texts();
        for locale in Locale::ALL {
            for text in ALL_TEXTS {
                let body = match text {
                    Text::ChangeNotice | Text::ChangeRequested => t.plain(text, locale, "71"),
                    Text::PasswordChanged | Text::Test => t.plain(text, locale, ""),
                    _ => t.code(text, locale, &code(), 600),
                };
                assert!(!body.contains('{'), "{locale:?} {text:?}: unfilled: {body}");
                let (gsm, chars, parts) = segments(&body);
                // Portuguese cannot be written without ã, ç and ó, which GSM-7 lacks,
                // and the other languages' notices need ú or ô: those go as UCS-2, in
                // at most two parts. Every code text in en/es/fr/de is one GSM-7 part.
                let code_text = CODE_TEXTS.contains(&text);
                if code_text && locale != Locale::Pt {
                    assert!(
                        gsm && parts == 1,
                        "{locale:?} {text:?} is {chars} chars, gsm={gsm}: {body}"
                    );
                } else {
                    assert!(parts <= 2, "{locale:?} {text:?}: {parts} parts: {body}");
                }
            }
        }
    }

    #[test]
    fn the_segment_counter_counts() {
        assert_eq!(segments(&"a".repeat(160)), (true, 160, 1));
        assert_eq!(segments(&"a".repeat(161)), (true, 161, 2));
        assert_eq!(segments(&"€".repeat(80)), (true, 160, 1));
        assert_eq!(segments("ação"), (false, 4, 1));
        assert_eq!(segments(&"ç".repeat(71)), (false, 71, 2));
    }
}
