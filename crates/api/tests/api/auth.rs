use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, on_both_databases, spawn_app, spawn_app_with};

on_both_databases!(
    register_returns_tokens_user_and_refresh_cookie,
    register_rejects_each_invalid_field,
    register_with_taken_email_is_409,
    concurrent_duplicate_registrations_create_one_account,
    register_with_phone_creates_user_and_phone,
    register_with_invalid_phone_creates_nothing,
    login_accepts_normalised_email_and_refuses_alike,
    login_failures_per_email_are_limited,
    login_attempts_per_ip_are_limited,
    registrations_per_ip_are_limited,
);

async fn register_returns_tokens_user_and_refresh_cookie(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .register(json!({
            "email": "  Zoë.Ñúñez@Example.COM ",
            "password": "pässwörd-ünïcode",
            "full_name": "  Zoë Ñúñez 山田 ",
            "ignored_field": true
        }))
        .await
        .expect(201);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert_eq!(r.body["user"]["email"], "zoë.ñúñez@example.com");
    assert_eq!(r.body["user"]["full_name"], "Zoë Ñúñez 山田");
    assert!(r.body["user"]["phone"].is_null());
    assert!(r.body.get("verification").is_none());
    let cookie = r.header("set-cookie").expect("refresh cookie");
    let refresh = r.body["refresh_token"].as_str().expect("refresh token");
    assert!(
        cookie.starts_with(&format!("phonereg_refresh={refresh}")),
        "{cookie}"
    );
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.contains(attr), "cookie lacks {attr}: {cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain-http PUBLIC_URL must not set Secure"
    );

    let me = app
        .me(r.body["access_token"].as_str().expect("token"))
        .await
        .expect(200);
    assert_eq!(me.body, r.body["user"]);
    app.login("zoë.ñúñez@example.com", "pässwörd-ünïcode")
        .await
        .expect(200);
}

async fn register_rejects_each_invalid_field(b: Backend) {
    let app = spawn_app(b).await;
    let ok = json!({"email": "a@example.com", "password": PASSWORD, "full_name": "A"});
    let cases = [
        ("email", json!("not-an-email"), "no @"),
        ("email", json!("a@localhost"), "domain without a dot"),
        (
            "email",
            json!(format!("{}@example.com", "a".repeat(250))),
            "over 254 characters",
        ),
        ("password", json!("short"), "under 8 characters"),
        ("password", json!("x".repeat(129)), "over 128 characters"),
        ("full_name", json!("   "), "blank name"),
        (
            "full_name",
            json!("n".repeat(101)),
            "name over 100 characters",
        ),
        ("email", json!(42), "email of the wrong type"),
        ("phone_number", json!("12"), "impossible phone number"),
        ("phone_region", json!("XX1"), "bad region"),
    ];
    for (field, value, why) in cases {
        let mut body = ok.clone();
        body[field] = value;
        if field == "phone_region" {
            body["phone_number"] = json!("4155552671");
        }
        let r = app.register(body).await.expect(422);
        assert!(
            !r.field_errors(field).is_empty(),
            "{why}: no error on {field}: {}",
            r.body
        );
    }
    for missing in ["email", "password", "full_name"] {
        let mut body = ok.clone();
        body.as_object_mut().expect("object").remove(missing);
        let r = app.register(body).await.expect(422);
        assert_eq!(
            r.field_errors(missing),
            vec!["is required"],
            "missing {missing}"
        );
    }
    // Nothing above created the account.
    app.register(ok).await.expect(201);
}

async fn register_with_taken_email_is_409(b: Backend) {
    let app = spawn_app(b).await;
    let body = json!({"email": "dup@example.com", "password": PASSWORD, "full_name": "A"});
    app.register(body).await.expect(201);
    let again = json!({"email": " DUP@example.com", "password": PASSWORD, "full_name": "B"});
    let r = app.register(again).await.expect(409);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
}

async fn concurrent_duplicate_registrations_create_one_account(b: Backend) {
    let app = spawn_app(b).await;
    let attempts = (0..20).map(|i| {
        app.register(json!({"email": "race@example.com", "password": PASSWORD, "full_name": format!("R{i}")}))
    });
    let statuses: Vec<u16> = join_all(attempts)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

async fn register_with_phone_creates_user_and_phone(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .register(json!({
            "email": "p@example.com", "password": PASSWORD, "full_name": "P",
            "phone_number": "07400 123456", "phone_region": "gb"
        }))
        .await
        .expect(201);
    let phone = &r.body["user"]["phone"];
    assert_eq!(phone["e164"], "+447400123456");
    assert_eq!(phone["national"], "07400 123456");
    assert_eq!(phone["international"], "+44 7400 123456");
    assert_eq!(phone["country"], "GB");
    assert_eq!(phone["number_type"], "mobile");
    assert_eq!(phone["status"], "unverified");
    assert!(phone["pending_e164"].is_null());
    let token = r.body["access_token"].as_str().expect("token");
    let list = app.list_phones(token).await.expect(200);
    assert_eq!(list.body["items"].as_array().map(Vec::len), Some(1));
    let history = app
        .history(token, phone["id"].as_i64().expect("id"))
        .await
        .expect(200);
    let kinds: Vec<_> = history.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        ["code_sent", "added"],
        "the first code went out with the account"
    );
    assert_eq!(r.body["verification"]["sent"], true);
}

async fn register_with_invalid_phone_creates_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let body = |phone: &str| json!({"email": "np@example.com", "password": PASSWORD, "full_name": "N", "phone_number": phone});
    let r = app.register(body("+44 20 7946 0958")).await.expect(422);
    let msg = r.field_errors("phone_number").join(" ");
    assert!(msg.contains("landline"), "{msg}");
    app.register(body("+1 555")).await.expect(422);
    // The email is still free: no user was written.
    app.register(body("+1 415 555 2671")).await.expect(201);
}

async fn login_accepts_normalised_email_and_refuses_alike(b: Backend) {
    let app = spawn_app(b).await;
    app.register(json!({"email": "l@example.com", "password": PASSWORD, "full_name": "L"}))
        .await
        .expect(201);
    let r = app.login("  L@EXAMPLE.com ", PASSWORD).await.expect(200);
    assert_eq!(r.body["user"]["email"], "l@example.com");
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("phonereg_refresh="))
    );
    let wrong = app
        .login("l@example.com", "wrong password")
        .await
        .expect(401);
    let unknown = app.login("nobody@example.com", PASSWORD).await.expect(401);
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    assert_eq!(wrong.body["title"], unknown.body["title"]);
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": "l@example.com"})),
        )
        .await
        .expect(422);
    assert_eq!(r.field_errors("password"), vec!["is required"]);
}

async fn login_failures_per_email_are_limited(b: Backend) {
    let app = spawn_app_with(b, |c| c.login_failures_per_email = 3).await;
    app.register(json!({"email": "f@example.com", "password": PASSWORD, "full_name": "F"}))
        .await
        .expect(201);
    for _ in 0..3 {
        app.login("f@example.com", "wrong password")
            .await
            .expect(401);
    }
    // Even the right password waits out the window: the guesser must not learn it.
    let r = app.login("F@example.com", PASSWORD).await.expect(429);
    let retry = r.retry_after();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another account is unaffected.
    app.login("other@example.com", "wrong password")
        .await
        .expect(401);
}

async fn login_attempts_per_ip_are_limited(b: Backend) {
    let app = spawn_app_with(b, |c| c.login_per_ip = 2).await;
    app.login("a@example.com", PASSWORD).await.expect(401);
    app.login("b@example.com", PASSWORD).await.expect(401);
    let r = app.login("c@example.com", PASSWORD).await.expect(429);
    assert!(r.header("retry-after").is_some());
}

async fn registrations_per_ip_are_limited(b: Backend) {
    let app = spawn_app_with(b, |c| c.register_per_ip_per_hour = 2).await;
    app.signup().await;
    app.signup().await;
    let r = app
        .register(json!({"email": "third@example.com", "password": PASSWORD, "full_name": "T"}))
        .await
        .expect(429);
    let retry = r.retry_after();
    assert!((1..=3600).contains(&retry));
}
