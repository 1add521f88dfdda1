//! SPEC §12 `DELETE /users/me`: the password asked again; sessions, number, codes and
//! messages go in one transaction; event streams end (in this process and in others);
//! an SMS still queued is never sent; the audit log keeps the account's rows by id.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    credential::{OWNED, verified_account},
    helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with},
    streams::{ends_within, open},
    support::support_app,
};

const ME: &str = "/api/v1/users/me";

on_both_databases!(
    deleting_your_account_needs_the_password,
    a_deleted_account_leaves_nothing_but_audit_ids,
);

async fn delete_me(app: &TestApp, token: Option<&str>, body: Value) -> Resp {
    app.call(Method::DELETE, ME, ME, token, Some(body)).await
}

async fn deleting_your_account_needs_the_password(b: Backend) {
    let app = support_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let missing = delete_me(&app, Some(&token), json!({})).await.expect(422);
    assert_eq!(missing.field_errors("current_password").len(), 1);
    let wrong = delete_me(
        &app,
        Some(&token),
        json!({"current_password": "not it at all"}),
    )
    .await
    .expect(401);
    assert!(
        wrong.body["type"]
            .as_str()
            .expect("type")
            .ends_with("/wrong-password"),
        "a typo must not read as a dead token: {}",
        wrong.body
    );
    delete_me(&app, None, json!({"current_password": PASSWORD}))
        .await
        .expect(401);
    // A stolen access token cannot guess the password faster than the login form: the
    // wrong guesses above count as login failures of the account.
    for _ in 0..9 {
        delete_me(&app, Some(&token), json!({"current_password": "guess"})).await;
    }
    delete_me(&app, Some(&token), json!({"current_password": PASSWORD}))
        .await
        .expect(429);
    app.me(&token).await.expect(200);
    app.login(&email, "still wrong").await.expect(429);
}

async fn a_deleted_account_leaves_nothing_but_audit_ids(b: Backend) {
    let app = support_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let id = app.me(&token).await.expect(200).body["id"]
        .as_i64()
        .expect("id");
    let login = app.login(&email, PASSWORD).await.expect(200);
    let refresh = login.body["refresh_token"].as_str().expect("r").to_owned();
    // A second API process on the same database holds a stream of the account too.
    let other = spawn_app_with(b, |c| c.database_url = app.database_url.clone()).await;
    let here = open(&app, &token).await.expect("stream here");
    let there = open(&other, &token).await.expect("stream there");
    // A test message is queued and not yet sent when the account goes.
    let path = format!(
        "{ME}/phone-numbers/{}/test-message",
        phone_id(&app, &token).await
    );
    let route = "/api/v1/users/me/phone-numbers/{id}/test-message";
    app.call(Method::POST, route, &path, Some(&token), None)
        .await
        .expect(202);

    delete_me(&app, Some(&token), json!({"current_password": PASSWORD}))
        .await
        .expect(204);
    ends_within(here, Duration::from_secs(2)).await;
    ends_within(there, Duration::from_secs(5)).await;
    assert_eq!(app.drain_outbox().await, 0, "the queued SMS is never sent");
    app.me(&token).await.expect(401);
    app.refresh(&refresh).await.expect(401);
    app.login(&email, PASSWORD).await.expect(401);
    // The access token still runs until it expires; what it asks for now is refused
    // cleanly and writes nothing.
    let p = "/api/v1/users/me/phone-numbers";
    let late = app
        .call(
            Method::POST,
            p,
            p,
            Some(&token),
            Some(json!({"phone_number": "+14155552680"})),
        )
        .await;
    assert_eq!(late.status, 401, "{}", late.body);
    assert_eq!(app.drain_outbox().await, 0);
    // The number is free: another account verifies it.
    let (t2, _, _) = app.signup().await;
    app.add_verified_phone(&t2, OWNED).await;
    // The audit log keeps the account's rows, by id.
    let search = "/api/v1/admin/audit-events";
    let q = format!("{search}?user_id={id}");
    let rows = app
        .call(Method::GET, search, &q, Some(crate::support::OPS), None)
        .await
        .expect(200);
    let types: Vec<&str> = rows.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect();
    assert_eq!(types.first(), Some(&"account.deleted"), "{types:?}");
    assert!(types.contains(&"auth.registered"));
    assert!(!rows.body.to_string().contains(&email), "ids only");
}

async fn phone_id(app: &TestApp, token: &str) -> i64 {
    app.me(token).await.expect(200).body["phone"]["id"]
        .as_i64()
        .expect("phone")
}
