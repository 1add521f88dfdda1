use std::fmt;

use phonereg_types::validation::check_password;

/// A plaintext password of valid length. No `Display`/`Serialize`; `Debug` redacts.
pub struct Password(String);

impl Password {
    pub fn parse(raw: String) -> Result<Self, &'static str> {
        check_password(&raw)?;
        Ok(Self(raw))
    }

    /// For login: any string is worth checking against the stored hash.
    pub fn unchecked(raw: String) -> Self {
        Self(raw)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_does_not_show_the_password() {
        let p = Password::parse("hunter2hunter2".into()).expect("valid");
        assert_eq!(format!("{p:?}"), "Password(..)");
    }
}
