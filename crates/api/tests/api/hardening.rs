//! Issue #9: what a stranger on the open internet can do without any SMS (hostile text,
//! parallel guesses, lockouts, floods). Each test fails on the code before its fix.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app};

on_both_databases!(control_characters_are_422_field_errors_before_any_query,);

const CONTROL: &str = "must not contain control characters";

async fn post(app: &TestApp, route: &str, token: Option<&str>, body: Value) -> Resp {
    app.call(Method::POST, route, route, token, Some(body))
        .await
}

async fn control_characters_are_422_field_errors_before_any_query(b: Backend) {
    let app = spawn_app(b).await;
    // PostgreSQL refuses NUL in text: this login used to be a 500 there.
    let r = post(
        &app,
        "/api/v1/auth/login",
        None,
        json!({"email": "a\u{0}@example.com", "password": PASSWORD}),
    )
    .await
    .expect(422);
    assert_eq!(r.field_errors("email"), vec![CONTROL]);
    let ok = json!({"email": "h@example.com", "password": PASSWORD, "full_name": "H"});
    let cases = [
        ("email", "h\u{0}@example.com"),
        ("password", "correct\u{0}horse"),
        ("full_name", "Ann\u{0}"),
        ("full_name", "Ann\u{1b}[31m"),
        ("full_name", "Ann\u{85}Lee"),
        ("phone_number", "+1 415 555 2671\u{0}"),
    ];
    for (field, value) in cases {
        let mut body = ok.clone();
        body[field] = json!(value);
        let r = app.register(body).await.expect(422);
        assert_eq!(r.field_errors(field), vec![CONTROL], "{field}: {value:?}");
    }
    let mut body = ok.clone();
    body["full_name"] = json!("Ann \u{202E}eeL");
    let r = app.register(body).await.expect(422);
    assert_eq!(
        r.field_errors("full_name").len(),
        1,
        "bidi override: {}",
        r.body
    );
    // Nothing above wrote the account.
    let r = app.register(ok).await.expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let r = post(
        &app,
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": "x\u{0}y"}),
    )
    .await
    .expect(422);
    assert_eq!(r.field_errors("refresh_token"), vec![CONTROL]);
    let r = app
        .add_phone(&token, "+1 415 555 2671\u{0}")
        .await
        .expect(422);
    assert_eq!(r.field_errors("phone_number"), vec![CONTROL]);
    let id = app.add_phone_id(&token, "+1 415 555 2671").await;
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": "+1 415 555 2672", "phone_region": "u\u{0}"})),
        )
        .await
        .expect(422);
    assert_eq!(r.field_errors("phone_region"), vec![CONTROL]);
    let r = app.verify(&token, id, "12345\u{0}").await.expect(422);
    assert_eq!(r.field_errors("code"), vec![CONTROL]);
}
