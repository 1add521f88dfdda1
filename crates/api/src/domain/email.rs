use phonereg_types::validation::parse_email;

/// A normalised email address (trimmed, lower-cased, shape checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        parse_email(raw).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
