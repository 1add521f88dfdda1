//! Issue #24: what a client that knows only SPEC.md and openapi.yaml found from outside —
//! whitespace around trimmed fields, parallel resends on PostgreSQL, and numbers or
//! unsalted digests in the logs and the counters. Each test fails on the code before
//! its fix.

use std::time::Duration;

use diesel::{QueryDsl as _, RunQueryDsl as _};
use fake_twilio::Failure;
use futures_util::future::join_all;
use phonereg_api::{
    config::FraudMode,
    persistence::{
        Conn,
        schema::{known_sign_ins, rate_counters},
    },
};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::{
    helpers::{
        Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with, spawn_twilio_app,
    },
    process::ApiProcess,
};

on_both_databases!(
    whitespace_around_trimmed_fields_is_trimmed_not_refused,
    parallel_resends_send_one_code_per_cool_down,
    parallel_starts_and_two_factor_codes_send_one_per_cool_down,
    provider_errors_reach_the_log_without_the_number,
    counter_keys_hold_neither_numbers_nor_plain_digests,
);

const CONTROL: &str = "must not contain control characters";
const NUMBER: &str = "+14155552671";
/// Requests raced at once, and how many times.
const PARALLEL: usize = 12;
const ROUNDS: usize = 4;

async fn post(app: &TestApp, route: &str, token: Option<&str>, body: Value) -> Resp {
    app.call(Method::POST, route, route, token, Some(body))
        .await
}

fn statuses(rs: &[Resp]) -> Vec<u16> {
    rs.iter().map(|r| r.status.as_u16()).collect()
}

async fn whitespace_around_trimmed_fields_is_trimmed_not_refused(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    // Tab, newline and carriage return are whitespace that trimming removes, at either end
    // of every trimmed field.
    let r = app
        .register(json!({
            "email": "\tAda@Example.com\r\n",
            "password": PASSWORD,
            "full_name": "  Ada Lovelace \t",
            "phone_number": "\n+1 415 555 2671\t",
            "phone_region": " us\n",
        }))
        .await
        .expect(201);
    assert_eq!(r.body["user"]["full_name"], "Ada Lovelace");
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    assert_eq!(r.body["user"]["phone"]["e164"], NUMBER);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    app.login("\nada@example.com\t", PASSWORD).await.expect(200);
    app.phone(
        Method::PATCH,
        &token,
        id,
        Some(json!({"phone_number": "\t07400 123456\n", "phone_region": "gb\t"})),
    )
    .await
    .expect(200);
    post(
        &app,
        "/api/v1/auth/sms/start",
        None,
        json!({"phone_number": "+14155552672\n", "purpose": "sign_in"}),
    )
    .await
    .expect(202);
    let lookup = app
        .call(
            Method::GET,
            "/api/v1/phone-numbers/parse",
            "/api/v1/phone-numbers/parse?number=%2B14155552671%0A&region=us%09",
            None,
            None,
        )
        .await
        .expect(200);
    assert_eq!(lookup.body["valid"], true, "{}", lookup.body);

    // What is left inside after trimming is still refused, and passwords are not trimmed.
    let ok = json!({"email": "h@example.com", "password": PASSWORD, "full_name": "H"});
    let cases = [
        ("full_name", "Ada\tLovelace"),
        ("full_name", "Ada Lovelace\n\u{0}"),
        ("email", "h\n@example.com"),
        ("phone_number", "+1 415\t555 2673"),
        ("password", "correct horse battery\n"),
    ];
    for (field, value) in cases {
        let mut body = ok.clone();
        body[field] = json!(value);
        let r = app.register(body).await.expect(422);
        assert_eq!(r.field_errors(field), vec![CONTROL], "{field}: {value:?}");
    }
}

/// Generous caps, the guard off: only the cool-down can refuse.
fn only_the_cool_down(c: &mut phonereg_api::config::Config) {
    c.verify_resend_cooldown = 30;
    c.sms_per_number_per_hour = 1000;
    c.sms_per_account_per_day = 1000;
    c.sms_per_ip_per_hour = 1000;
    // SPEC §10's own caps for starts and owner SMS, likewise out of the way.
    c.sms_starts_per_number_per_hour = 1000;
    c.sms_starts_per_ip_per_hour = 1000;
    c.sms_owner_per_account_per_hour = 1000;
    c.sms_fraud_guard = FraudMode::Off;
}

async fn parallel_resends_send_one_code_per_cool_down(b: Backend) {
    let app = spawn_app_with(b, only_the_cool_down).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, NUMBER).await;
    app.drain_outbox().await;
    // A few rounds: on PostgreSQL the race is won by timing, not every time.
    for round in 0..ROUNDS {
        app.state.clock.advance(31);
        let rs = join_all((0..PARALLEL).map(|_| app.resend(&token, id))).await;
        let s = statuses(&rs);
        assert_eq!(
            (
                s.iter().filter(|s| **s == 202).count(),
                s.iter().filter(|s| **s == 429).count()
            ),
            (1, PARALLEL - 1),
            "round {round}: one resend per cool-down: {s:?}"
        );
        assert_eq!(app.drain_outbox().await, 1, "round {round}: one code sent");
    }
}

async fn parallel_starts_and_two_factor_codes_send_one_per_cool_down(b: Backend) {
    let app = spawn_app_with(b, only_the_cool_down).await;
    let r = app
        .register(json!({"email": "o@example.com", "password": PASSWORD, "full_name": "O", "phone_number": NUMBER}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(NUMBER).await;
    app.verify(&token, id, &code).await.expect(200);

    let start = |e164: &'static str| {
        post(
            &app,
            "/api/v1/auth/sms/start",
            None,
            json!({"phone_number": e164, "purpose": "sign_in"}),
        )
    };
    let two_factor_code = || {
        post(
            &app,
            "/api/v1/users/me/two-factor/code",
            Some(&token),
            json!({}),
        )
    };
    app.drain_outbox().await;
    // Each round: a number with an account and one without (in the first round no code
    // row exists yet for either), and the owner's two-factor code, a second purpose.
    for round in 0..ROUNDS {
        for e164 in [NUMBER, "+14155552672"] {
            let s = statuses(&join_all((0..PARALLEL).map(|_| start(e164))).await);
            assert_eq!(
                s.iter().filter(|s| **s == 202).count(),
                1,
                "round {round}, {e164}: one start per cool-down: {s:?}"
            );
            assert!(s.iter().all(|s| [202, 429].contains(s)), "{s:?}");
        }
        let s = statuses(&join_all((0..PARALLEL).map(|_| two_factor_code())).await);
        assert_eq!(
            s.iter().filter(|s| **s == 202).count(),
            1,
            "round {round}: one two-factor code per cool-down: {s:?}"
        );
        assert_eq!(
            app.drain_outbox().await,
            2,
            "round {round}: one sign-in and one two-factor code sent"
        );
        app.state.clock.advance(31);
    }
}

async fn provider_errors_reach_the_log_without_the_number(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let env = [("RUST_LOG", "info"), ("SMS_FRAUD_GUARD", "off")];
    let process = ApiProcess::start(&app.database_url, &fake.base_url, &env).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    // Twilio refuses the number for good; its error text names it.
    fake.fail_next(Failure::InvalidNumber, 1);
    let r = client
        .post(format!("{}/api/v1/auth/register", process.address))
        .json(&json!({"email": "l@example.com", "password": PASSWORD, "full_name": "L", "phone_number": NUMBER}))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status().as_u16(), 201);
    for _ in 0..400 {
        if process.log().contains("rejected by the provider") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = process.log();
    assert!(log.contains("rejected by the provider"), "{log}");
    // Not the number in any spelling: E.164, without the plus, or URL-encoded.
    for full in ["4155552671", "415 555 2671", "415-555-2671"] {
        assert!(!log.contains(full), "the log holds {full}:\n{log}");
    }
    // The last four digits say which number it was.
    assert!(log.contains("2671"), "{log}");
}

/// The first 16 bytes of SHA-256 in hex, as counter keys held them before.
fn plain_digest(value: &str) -> String {
    Sha256::digest(value.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn counter_keys_hold_neither_numbers_nor_plain_digests(b: Backend) {
    let app = spawn_app_with(b, |c| c.sms_fraud_guard = FraudMode::Off).await;
    let email = "k@example.com";
    app.register(
        json!({"email": email, "password": PASSWORD, "full_name": "K", "phone_number": NUMBER}),
    )
    .await
    .expect(201);
    app.login(email, "a wrong password!").await.expect(401);
    app.login(email, PASSWORD).await.expect(200);
    post(
        &app,
        "/api/v1/auth/sms/start",
        None,
        json!({"phone_number": "+14155552672", "purpose": "sign_in"}),
    )
    .await
    .expect(202);
    let (keys, pairs) = app
        .state
        .db
        .read(|c| {
            let read = |c: &mut Conn<'_>| -> diesel::QueryResult<(Vec<String>, Vec<String>)> {
                Ok(match c {
                    Conn::Sqlite(c) => (
                        rate_counters::table.select(rate_counters::key).load(*c)?,
                        known_sign_ins::table
                            .select(known_sign_ins::pair)
                            .load(*c)?,
                    ),
                    Conn::Postgres(c) => (
                        rate_counters::table.select(rate_counters::key).load(*c)?,
                        known_sign_ins::table
                            .select(known_sign_ins::pair)
                            .load(*c)?,
                    ),
                })
            };
            Ok(read(c)?)
        })
        .await
        .expect("read counters");
    assert!(keys.len() >= 5, "{keys:?}");
    assert!(!pairs.is_empty(), "the sign-in was remembered");
    let mut secrets = vec![
        NUMBER.to_owned(),
        "14155552671".to_owned(),
        "14155552672".to_owned(),
        email.to_owned(),
        "127.0.0.1".to_owned(),
    ];
    for value in [
        NUMBER,
        "+14155552672",
        email,
        &format!("phone:{NUMBER}"),
        &format!("number:{NUMBER}"),
        &format!("{email}\n127.0.0.1"),
        "127.0.0.1",
    ] {
        secrets.push(plain_digest(value));
    }
    for key in keys.iter().chain(&pairs) {
        for secret in &secrets {
            assert!(!key.contains(secret.as_str()), "{key:?} holds {secret:?}");
        }
    }
}
