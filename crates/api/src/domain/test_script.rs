//! A scripted test number's steps (SPEC §13, `SMS_TEST_NUMBERS` `E164=CODE;step,…`):
//! what the number does with each message sent to it, parsed once when the setting is
//! read. The built-in `script` provider (`sms::script`) plays it.

/// What a scripted number does with each message sent to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Tries that fail as an unreachable provider would, before the rest applies.
    pub provider_down: u32,
    /// The send is refused with this code.
    pub reject: Option<i64>,
    pub outcome: Outcome,
    pub receipts: Receipts,
    /// The final receipt comes before `sent`.
    pub out_of_order: bool,
    /// The final receipt comes twice.
    pub duplicate: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered this many seconds after the send.
    Deliver {
        after: u32,
    },
    Undelivered(i64),
    Failed(i64),
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome::Deliver { after: 2 }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Receipts {
    #[default]
    OnTime,
    None,
    /// Due at once: they reach the database before the answer to the send does.
    Early,
}

/// Error codes a `reject=` or outcome step may name: PhoneReg's codes (SPEC §5).
fn code(step: &str, text: &str) -> Result<i64, String> {
    text.parse::<i64>()
        .ok()
        .filter(|c| (1..=99_999).contains(c))
        .ok_or_else(|| format!("{step}: {text:?} is not an error code"))
}

impl Script {
    /// Parses the steps after `;` (comma-separated; empty means deliver).
    pub fn parse(steps: &[&str]) -> Result<Self, String> {
        let mut script = Script::default();
        for step in steps.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let (name, value) = match step.split_once('=') {
                Some((n, v)) => (n.trim(), Some(v.trim())),
                None => (step, None),
            };
            match (name, value) {
                ("deliver", None) => script.outcome = Outcome::default(),
                ("deliver_after", Some(v)) => {
                    let secs = v
                        .strip_suffix('s')
                        .unwrap_or(v)
                        .parse::<u32>()
                        .ok()
                        .filter(|s| (1..=86_400).contains(s))
                        .ok_or_else(|| format!("deliver_after: {v:?} is not 1..=86400 seconds"))?;
                    script.outcome = Outcome::Deliver { after: secs };
                }
                ("undelivered", Some(v)) => script.outcome = Outcome::Undelivered(code(name, v)?),
                ("failed", Some(v)) => script.outcome = Outcome::Failed(code(name, v)?),
                ("reject", Some(v)) => script.reject = Some(code(name, v)?),
                ("provider_down", Some(v)) => {
                    script.provider_down = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| format!("provider_down: {v:?} is not 1..=100"))?;
                }
                ("no_callback", None) => script.receipts = Receipts::None,
                ("early_callback", None) => script.receipts = Receipts::Early,
                ("out_of_order", None) => script.out_of_order = true,
                ("duplicate_callback", None) => script.duplicate = true,
                _ => return Err(format!("unknown test-number step {step:?}")),
            }
        }
        Ok(script)
    }
}

/// The presets of `SMS_TEST_PRESETS` (README "Test numbers"): one number per outcome,
/// all on `+1 206 555-01XX` (fictional), all with the code `000000`.
pub const PRESETS: &[(&str, &str)] = &[
    ("+12065550100", "deliver"),
    ("+12065550101", "deliver_after=40s"),
    ("+12065550102", "undelivered=30003"),
    ("+12065550103", "failed=30007"),
    ("+12065550104", "reject=21610"),
    ("+12065550105", "reject=21614"),
    ("+12065550106", "reject=21408"),
    ("+12065550107", "provider_down=2"),
    ("+12065550108", "no_callback"),
    ("+12065550109", "early_callback"),
    ("+12065550110", "out_of_order"),
    ("+12065550111", "duplicate_callback"),
];

/// The code every preset accepts.
pub const PRESET_CODE: &str = "000000";

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(steps: &str) -> Result<Script, String> {
        Script::parse(&steps.split(',').collect::<Vec<_>>())
    }

    #[test]
    fn every_documented_step_parses() {
        for (_, steps) in PRESETS {
            parse(steps).unwrap_or_else(|e| panic!("{steps}: {e}"));
        }
        let s = parse("provider_down=2,deliver_after=40s,duplicate_callback").expect("parses");
        assert_eq!(s.provider_down, 2);
        assert_eq!(s.outcome, Outcome::Deliver { after: 40 });
        assert!(s.duplicate);
        assert_eq!(parse("").expect("empty"), Script::default());
    }

    #[test]
    fn rejects_unknown_steps_and_bad_values() {
        for bad in [
            "deliver_later",
            "reject=abc",
            "reject",
            "provider_down=0",
            "deliver_after=0s",
            "undelivered=-1",
            "no_callback=1",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
