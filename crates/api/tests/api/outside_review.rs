//! Issue #24: what a client that knows only SPEC.md and openapi.yaml found from outside —
//! whitespace around trimmed fields, parallel resends on PostgreSQL, and numbers or
//! unsalted digests in the logs and the counters. Each test fails on the code before
//! its fix.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

on_both_databases!(whitespace_around_trimmed_fields_is_trimmed_not_refused,);

const CONTROL: &str = "must not contain control characters";
const NUMBER: &str = "+14155552671";

async fn post(app: &TestApp, route: &str, token: Option<&str>, body: Value) -> Resp {
    app.call(Method::POST, route, route, token, Some(body))
        .await
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
