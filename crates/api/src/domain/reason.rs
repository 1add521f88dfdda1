//! An operator's `reason` for a support action (SPEC §12), kept in the audit log.

use phonereg_types::REASON_MAX_CHARS;

/// Trimmed, 1..=500 characters. The JSON extractor has already refused control
/// characters, so the audit log's line stays one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("is required: say why (a ticket number, what was checked)".into());
        }
        if trimmed.chars().count() > REASON_MAX_CHARS {
            return Err(format!("must be at most {REASON_MAX_CHARS} characters"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_trimmed_and_neither_empty_nor_over_500_characters() {
        assert_eq!(
            Reason::parse("  ticket 42  ").expect("ok").as_str(),
            "ticket 42"
        );
        assert!(Reason::parse("   ").is_err());
        assert!(Reason::parse(&"é".repeat(500)).is_ok());
        assert!(Reason::parse(&"é".repeat(501)).is_err());
    }
}
