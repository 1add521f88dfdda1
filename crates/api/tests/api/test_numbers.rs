//! Scripted test numbers (SPEC §13): the presets play each outcome through the real
//! outbox, retries, receipts, guidance, history and `last_message`, and nothing is
//! handed to a real provider.

use phonereg_api::services::courier::Step;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_app, spawn_twilio_app};

on_both_databases!(
    a_preset_is_delivered_through_the_outbox_and_verifies_with_its_code,
    refusals_and_failures_show_their_code_and_guidance,
    a_provider_down_preset_is_retried_then_delivered,
    early_out_of_order_and_duplicate_receipts_end_delivered_once,
    a_scripted_number_never_reaches_the_real_provider,
);

/// Registers with `number`; the token and the phone id.
async fn register(app: &TestApp, number: &str) -> (String, i64) {
    let email = format!("{}@example.com", number.trim_start_matches('+'));
    let r = app
        .register(
            json!({"email": email, "password": PASSWORD, "full_name": "T", "phone_number": number}),
        )
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
    )
}

async fn phone(app: &TestApp, token: &str) -> Value {
    app.me(token).await.expect(200).body["phone"].clone()
}

/// Moves time on by `seconds` and applies the script's receipts due by then.
async fn later(app: &TestApp, seconds: i64) {
    app.state.clock.advance(seconds);
    app.state
        .courier
        .apply_due_receipts()
        .await
        .expect("receipts");
}

async fn history_kinds(app: &TestApp, token: &str, id: i64) -> Vec<String> {
    app.history(token, id).await.expect(200).body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect()
}

async fn a_preset_is_delivered_through_the_outbox_and_verifies_with_its_code(b: Backend) {
    let app = spawn_app(b).await;
    let (token, id) = register(&app, "+12065550100").await;
    assert_eq!(
        phone(&app, &token).await["last_message"]["status"],
        "queued"
    );
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    later(&app, 1).await;
    let last = phone(&app, &token).await["last_message"].clone();
    assert_eq!(last["status"], "sent");
    assert_eq!(last["provider"], "script");
    later(&app, 1).await;
    let last = phone(&app, &token).await["last_message"].clone();
    assert_eq!(last["status"], "delivered", "{last}");
    assert_eq!(last["channel"], "sms");
    let inbox = app.state.inbox.as_ref().expect("console");
    assert!(inbox.items().is_empty(), "nothing reached the console");
    app.verify(&token, id, "000000").await.expect(200);
    let history = app.history(&token, id).await.expect(200).body;
    let delivered = &history["items"][1];
    assert_eq!(delivered["kind"], "delivered", "{history}");
    assert_eq!(delivered["provider"], "script");
}

async fn refusals_and_failures_show_their_code_and_guidance(b: Backend) {
    let app = spawn_app(b).await;
    // (number, status, error code, words of the guidance, opted out)
    let cases = [
        ("+12065550104", "failed", 21610, "replied STOP", true),
        (
            "+12065550105",
            "failed",
            21614,
            "Use a mobile number",
            false,
        ),
        ("+12065550106", "failed", 21408, "this country", false),
        ("+12065550102", "undelivered", 30003, "switched off", false),
        ("+12065550103", "failed", 30007, "carrier filtered", false),
    ];
    for (number, status, code, words, opted_out) in cases {
        let (token, id) = register(&app, number).await;
        app.drain_outbox().await;
        later(&app, 3).await;
        let p = phone(&app, &token).await;
        let last = &p["last_message"];
        assert_eq!(last["status"], status, "{number}: {last}");
        assert_eq!(last["error_code"], code, "{number}");
        let guidance = last["guidance"].as_str().unwrap_or_default();
        assert!(guidance.contains(words), "{number}: {guidance}");
        assert_eq!(p["sms_opted_out"], opted_out, "{number}");
        assert_eq!(last["provider"], "script", "{number}: {last}");
        let kinds = history_kinds(&app, &token, id).await;
        assert_eq!(kinds[0], "failed", "{number}: {kinds:?}");
    }
}

async fn a_provider_down_preset_is_retried_then_delivered(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _) = register(&app, "+12065550107").await;
    for _ in 0..2 {
        assert!(matches!(
            app.state.courier.step().await.expect("step"),
            Step::Retrying { .. }
        ));
        assert_eq!(app.state.courier.step().await.expect("step"), Step::Idle);
        app.state.clock.advance(10);
    }
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    later(&app, 2).await;
    assert_eq!(
        phone(&app, &token).await["last_message"]["status"],
        "delivered"
    );
}

async fn early_out_of_order_and_duplicate_receipts_end_delivered_once(b: Backend) {
    let app = spawn_app(b).await;
    for number in ["+12065550109", "+12065550110", "+12065550111"] {
        let (token, id) = register(&app, number).await;
        app.drain_outbox().await;
        later(&app, 5).await;
        let last = phone(&app, &token).await["last_message"].clone();
        assert_eq!(last["status"], "delivered", "{number}: {last}");
        let kinds = history_kinds(&app, &token, id).await;
        let delivered = kinds.iter().filter(|k| *k == "delivered").count();
        assert_eq!(delivered, 1, "{number}: {kinds:?}");
    }
    // No receipt at all: the message stays with the provider, `queued`.
    let (token, _) = register(&app, "+12065550108").await;
    app.drain_outbox().await;
    later(&app, 60).await;
    let last = phone(&app, &token).await["last_message"].clone();
    assert_eq!(last["status"], "queued", "{last}");
}

async fn a_scripted_number_never_reaches_the_real_provider(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |c| {
        c.sms_test_numbers = phonereg_api::config::TestNumbers(vec![(
            "+15005550100".into(),
            "123456;deliver_after=40s".into(),
        )]);
    })
    .await;
    let (token, id) = register(&app, "+15005550100").await;
    app.drain_outbox().await;
    later(&app, 39).await;
    assert_eq!(phone(&app, &token).await["last_message"]["status"], "sent");
    later(&app, 1).await;
    assert_eq!(
        phone(&app, &token).await["last_message"]["status"],
        "delivered"
    );
    assert!(fake.messages().is_empty(), "Twilio got nothing");
    app.verify(&token, id, "123456").await.expect(200);
}

/// The presets the server plays are the ones README and openapi.yaml document.
#[test]
fn readme_and_openapi_list_the_presets_the_server_plays() {
    use phonereg_api::domain::test_script::{PRESET_CODE, PRESETS};
    let readme = include_str!("../../../../README.md");
    let from_readme: Vec<(String, String)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let number = cells
                .get(1)?
                .strip_prefix("`+1206555")?
                .trim_end_matches('`');
            let steps = cells.get(2)?.trim_matches('`');
            Some((format!("+1206555{number}"), steps.to_owned()))
        })
        .collect();
    let from_openapi: Vec<(String, String)> = crate::helpers::SPEC["x-test-numbers"]
        .as_array()
        .expect("x-test-numbers")
        .iter()
        .map(|t| {
            assert_eq!(t["code"], PRESET_CODE);
            let field = |k: &str| t[k].as_str().expect("string").to_owned();
            (field("number"), field("steps"))
        })
        .collect();
    let played: Vec<(String, String)> = PRESETS
        .iter()
        .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
        .collect();
    assert_eq!(from_readme, played, "README's table");
    assert_eq!(from_openapi, played, "openapi.yaml's x-test-numbers");
}
