//! The oracle test: every number in `tests/data/phone_oracle.tsv` (built from every
//! region's example numbers by `scripts/oracle/gen_phone_table.py`, with Google's
//! libphonenumber's verdicts) goes through `GET /phone-numbers/parse` and through
//! registration's parser, and both must agree with libphonenumber on validity, type and
//! E.164. A real mobile that libphonenumber accepts must be accepted for SMS: a person
//! who cannot register their own mobile cannot use the product at all.

use futures_util::{StreamExt as _, stream};
use phonereg_api::domain::PhoneNumber;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, check_against_spec, on_both_databases, spawn_app_with};

const TABLE: &str = include_str!("../data/phone_oracle.tsv");
const ROUTE: &str = "/api/v1/phone-numbers/parse";

/// The agreement the product promises (issue #13) and the floor on the table's size, so
/// a truncated table cannot pass.
const MIN_AGREEMENT: f64 = 0.999;
const MIN_CASES: usize = 2000;
const MIN_REGIONS: usize = 240;

/// SPEC §7: the types SMS is accepted for.
const SMS_TYPES: [&str; 4] = ["mobile", "fixed_line_or_mobile", "voip", "personal_number"];
/// The types a person's own handset can have: every one of these must be accepted.
const MOBILE_TYPES: [&str; 2] = ["mobile", "fixed_line_or_mobile"];

struct Case {
    line: usize,
    case: String,
    region: String,
    input: String,
    /// libphonenumber's verdict: `Some((e164, type))` when valid.
    expected: Option<(String, String)>,
}

impl Case {
    fn is_real_mobile(&self) -> bool {
        self.expected
            .as_ref()
            .is_some_and(|(_, t)| MOBILE_TYPES.contains(&t.as_str()))
    }

    /// Compares a parser's verdict with libphonenumber's; `None` when they agree.
    fn disagreement(&self, got: Option<(&str, &str)>) -> Option<String> {
        let want = self
            .expected
            .as_ref()
            .map(|(e, t)| (e.as_str(), t.as_str()));
        (got != want).then(|| {
            format!(
                "line {} {} {:?} (region {}): libphonenumber {want:?}, got {got:?}",
                self.line, self.case, self.input, self.region
            )
        })
    }
}

fn load_table() -> Vec<Case> {
    let mut lines = TABLE
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'));
    let (_, header) = lines.next().expect("header");
    assert_eq!(header, "case\tregion\tinput\tvalid\te164\ttype");
    lines
        .map(|(i, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "line {}: {l:?}", i + 1);
            Case {
                line: i + 1,
                case: f[0].into(),
                region: f[1].into(),
                input: f[2].into(),
                expected: match f[3] {
                    "1" => Some((f[4].into(), f[5].into())),
                    "0" => None,
                    v => panic!("line {}: valid is {v:?}", i + 1),
                },
            }
        })
        .collect()
}

/// Agreement over one parser: counts, and the first disagreements for the report.
#[derive(Default)]
struct Tally {
    agree: usize,
    total: usize,
    mobiles_accepted: usize,
    mobiles: usize,
    misses: Vec<String>,
}

impl Tally {
    fn add(&mut self, disagreement: Option<String>) {
        self.total += 1;
        match disagreement {
            None => self.agree += 1,
            Some(m) => self.misses.push(m),
        }
    }

    fn mobile(&mut self, accepted: bool, case: &Case) {
        self.mobiles += 1;
        if accepted {
            self.mobiles_accepted += 1;
        } else {
            self.misses.push(format!(
                "line {} {:?} (region {}): a real mobile refused for SMS",
                case.line, case.input, case.region
            ));
        }
    }

    fn share(&self) -> f64 {
        self.agree as f64 / self.total.max(1) as f64
    }

    fn report(&self, what: &str) -> String {
        format!(
            "phone oracle, {what}: {}/{} agree ({:.2} %), real mobiles accepted for SMS: {}/{}",
            self.agree,
            self.total,
            100.0 * self.share(),
            self.mobiles_accepted,
            self.mobiles
        )
    }

    fn passes(&self) -> bool {
        self.share() >= MIN_AGREEMENT && self.mobiles_accepted == self.mobiles
    }
}

on_both_databases!(lookup_and_registration_agree_with_libphonenumber);

/// Long: one table-driven comparison, its report and its thresholds together.
async fn lookup_and_registration_agree_with_libphonenumber(b: Backend) {
    let cases = load_table();
    let mut regions: Vec<&str> = cases.iter().map(|c| c.region.as_str()).collect();
    regions.sort_unstable();
    regions.dedup();
    assert!(cases.len() >= MIN_CASES, "only {} cases", cases.len());
    assert!(
        regions.len() >= MIN_REGIONS,
        "only {} regions",
        regions.len()
    );

    // Every request comes from 127.0.0.1: the per-IP caps would measure themselves.
    let app = &spawn_app_with(b, |c| {
        c.lookup_per_ip_per_minute = 1_000_000;
        c.register_per_ip_per_hour = 1_000_000;
        c.sms_per_ip_per_hour = 1_000_000;
    })
    .await;

    // Registration's parser, as register, POST and PATCH call it (default config: every
    // country allowed, so a refusal can only come from the number's type).
    let rules = app.state.phones.rules();
    let mut registration = Tally::default();
    for case in &cases {
        let parsed = PhoneNumber::parse(&case.input, &case.region).ok();
        registration.add(
            case.disagreement(
                parsed
                    .as_ref()
                    .map(|n| (n.e164.as_str(), n.number_type.as_str())),
            ),
        );
        if case.is_real_mobile() {
            let accepted = rules.parse(&case.input, Some(&case.region)).is_ok();
            registration.mobile(accepted, case);
        }
    }

    // The lookup, over HTTP. Every 25th answer is also checked against openapi.yaml
    // (all of them would spend most of the test compiling the schema).
    let answers: Vec<(usize, Value)> = stream::iter(cases.iter().enumerate())
        .map(|(i, case)| async move {
            let query = serde_urlencoded::to_string([
                ("number", case.input.as_str()),
                ("region", case.region.as_str()),
            ])
            .expect("query");
            let req = app.client.get(format!("{}{ROUTE}?{query}", app.address));
            let resp = app.finish(req).await;
            if i % 25 == 0 {
                check_against_spec(&Method::GET, ROUTE, &resp);
            }
            assert_eq!(resp.status, 200, "{:?}: {}", case.input, resp.body);
            (i, resp.body)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut lookup = Tally::default();
    let mut answers = answers;
    answers.sort_by_key(|(i, _)| *i);
    for ((_, body), case) in answers.iter().zip(&cases) {
        let got = (body["valid"] == true).then(|| {
            (
                body["e164"].as_str().unwrap_or_default(),
                body["number_type"].as_str().unwrap_or_default(),
            )
        });
        lookup.add(case.disagreement(got));
        // `sms_capable` follows the type exactly (SPEC §7), for every valid number.
        if let Some((_, t)) = &case.expected
            && body["valid"] == true
            && body["sms_capable"] != SMS_TYPES.contains(&t.as_str())
        {
            lookup.misses.push(format!(
                "line {} {:?}: sms_capable {} for type {t}",
                case.line, case.input, body["sms_capable"]
            ));
            lookup.agree -= 1;
        }
        if case.is_real_mobile() {
            lookup.mobile(body["sms_capable"] == true, case);
        }
    }

    // A handful through the real register endpoint: the quoted ones from the issue and
    // one real mobile in every 60 (a spread of regions), stored as libphonenumber's E.164.
    let samples = cases
        .iter()
        .filter(|c| c.is_real_mobile())
        .enumerate()
        .filter(|(i, c)| c.case == "issue" || i % 60 == 0)
        .map(|(_, c)| c);
    let (mut registered, mut tried) = (0, 0);
    for (i, case) in samples.enumerate() {
        tried += 1;
        let r = app
            .register(json!({
                "email": format!("oracle{i}@example.com"),
                "password": PASSWORD,
                "full_name": "Oracle",
                "phone_number": case.input,
                "phone_region": case.region,
            }))
            .await;
        let want = case.expected.as_ref().map(|(e, _)| e.as_str());
        if r.status == 201 && r.body["user"]["phone"]["e164"].as_str() == want {
            registered += 1;
        } else {
            registration.misses.push(format!(
                "line {} {:?} (region {}): register answered {} {}",
                case.line, case.input, case.region, r.status, r.body
            ));
        }
    }

    let lookup_report = lookup.report(&format!("GET {ROUTE}"));
    let registration_report = registration.report("registration's parser");
    println!("{lookup_report}");
    println!("{registration_report}");
    let register_report = format!(
        "phone oracle, POST /api/v1/auth/register: {registered}/{tried} real mobiles registered"
    );
    println!("{register_report}");
    let misses: Vec<&String> = lookup.misses.iter().chain(&registration.misses).collect();
    for m in misses.iter().take(40) {
        println!("  {m}");
    }
    assert!(
        lookup.passes() && registration.passes() && registered == tried,
        "{lookup_report}\n{registration_report}\n{register_report}\n{} disagreements, e.g.\n{}",
        misses.len(),
        misses
            .iter()
            .take(40)
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
