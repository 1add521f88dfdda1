//! The languages SMS are written in (SPEC §8), chosen from `Accept-Language`.

/// A language PhoneReg writes SMS in. English is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    #[default]
    En,
    Es,
    Fr,
    De,
    Pt,
}

impl Locale {
    pub const ALL: [Locale; 5] = [Locale::En, Locale::Es, Locale::Fr, Locale::De, Locale::Pt];

    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Es => "es",
            Locale::Fr => "fr",
            Locale::De => "de",
            Locale::Pt => "pt",
        }
    }

    fn from_primary(tag: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(tag))
    }

    /// The best supported language of an `Accept-Language` value: by quality, then by
    /// order; a region (`pt-BR`) falls back to its language; `q=0` means "not this one".
    /// Anything unreadable or unsupported is English.
    pub fn from_accept_language(header: &str) -> Self {
        // A browser sends a handful; a long header is not worth reading to the end.
        let header = header.get(..header.len().min(256)).unwrap_or("");
        accept_language::parse_with_quality(header)
            .into_iter()
            .filter(|(_, q)| *q > 0.0)
            .find_map(|(tag, _)| Self::from_primary(tag.split('-').next().unwrap_or("")))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::Locale;

    #[test]
    fn picks_the_best_supported_language() {
        let pick = Locale::from_accept_language;
        assert_eq!(pick("pt-BR,pt;q=0.9,en;q=0.8"), Locale::Pt);
        assert_eq!(pick("ja, de;q=0.5, fr;q=0.7"), Locale::Fr);
        assert_eq!(pick("es-419"), Locale::Es);
        assert_eq!(pick("DE-de"), Locale::De);
        assert_eq!(pick("fr;q=0, de;q=0.1"), Locale::De);
        assert_eq!(pick("ja, zh"), Locale::En);
        assert_eq!(pick(""), Locale::En);
        assert_eq!(pick(";;;,q=,=,"), Locale::En);
    }
}
