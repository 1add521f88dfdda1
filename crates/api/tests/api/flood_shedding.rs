//! SPEC §11 bounded work: once the database has refused a client by a limit every request
//! to that endpoint is charged, the same client's next requests there are refused from
//! memory until the window ends, with no database write. Each test fails on the code
//! before the change, which asked the database every time.

use diesel::{RunQueryDsl as _, connection::SimpleConnection as _};
use phonereg_api::persistence::Conn;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

on_both_databases!(
    a_client_past_its_login_limit_is_refused_without_the_database,
    the_shed_ends_with_the_window_and_spares_other_clients,
    password_resets_are_limited_per_client_and_shed,
);

const LOGIN: &str = "/api/v1/auth/login";

async fn login_from(app: &TestApp, client: &str) -> Resp {
    let body = json!({"email": "nobody@example.com", "password": PASSWORD});
    app.call_from(Some(client), Method::POST, LOGIN, LOGIN, None, Some(body))
        .await
}

/// Forgets every rate counter behind the server's back: from here on only a refusal
/// kept in memory can refuse.
async fn forget_counters(app: &TestApp) {
    app.state
        .db
        .write(|c| {
            match c {
                Conn::Sqlite(c) => c.batch_execute("DELETE FROM rate_counters"),
                Conn::Postgres(c) => diesel::sql_query("DELETE FROM rate_counters")
                    .execute(*c)
                    .map(drop),
            }
            .map_err(|e| phonereg_api::error::ApiError::Internal(e.into()))
        })
        .await
        .expect("counters deleted");
}

async fn limited_app(b: Backend) -> TestApp {
    spawn_app_with(b, |c| {
        c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
        c.login_per_ip = 2;
        c.login_failures_per_email = 1000;
        c.login_failures_per_email_all_networks = 1000;
    })
    .await
}

async fn a_client_past_its_login_limit_is_refused_without_the_database(b: Backend) {
    let app = limited_app(b).await;
    let client = "198.51.100.9";
    login_from(&app, client).await.expect(401);
    login_from(&app, client).await.expect(401);
    let refused = login_from(&app, client).await.expect(429);
    forget_counters(&app).await;
    // The database would let it in now; memory still knows the window is full.
    let shed = login_from(&app, client).await.expect(429);
    assert_eq!(shed.body["type"], refused.body["type"]);
    let (a, b) = (refused.retry_after(), shed.retry_after());
    assert!(b <= a && b + 5 >= a, "the same window: {a} then {b}");
}

async fn the_shed_ends_with_the_window_and_spares_other_clients(b: Backend) {
    let app = limited_app(b).await;
    let client = "198.51.100.10";
    for _ in 0..2 {
        login_from(&app, client).await.expect(401);
    }
    let refused = login_from(&app, client).await.expect(429);
    // Another client, even in the same /24 (login is not widened to it), is untouched.
    login_from(&app, "198.51.100.11").await.expect(401);
    // Never stricter than the database: when the window ends, so does the refusal.
    app.state.clock.advance(refused.retry_after() as i64);
    login_from(&app, client).await.expect(401);
}

async fn password_resets_are_limited_per_client_and_shed(b: Backend) {
    let app = limited_app(b).await;
    let route = "/api/v1/auth/password-reset";
    let reset = |n: u32| {
        let body = json!({
            "phone_number": format!("+1415555{:04}", 4000 + n),
            "code": "123456",
            "new_password": "a new long password",
        });
        app.call_from(
            Some("198.51.100.20"),
            Method::POST,
            route,
            route,
            None,
            Some(body),
        )
    };
    for n in 0..2 {
        let r = reset(n).await;
        assert_ne!(r.status, 429, "reset {n} is within the limit: {}", r.body);
    }
    let refused = reset(2).await.expect(429);
    assert_eq!(
        refused.body["type"],
        "https://phonereg.dev/problems/rate-limited"
    );
    forget_counters(&app).await;
    reset(3).await.expect(429);
}
