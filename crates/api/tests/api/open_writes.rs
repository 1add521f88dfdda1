//! Issue #9 item 5: what anyone can send to `/auth/refresh`, `/auth/logout` and ticket
//! redemption without an account, and the pruning of what expires. Each test fails on
//! the code before the change.

use phonereg_api::{config::Config, error::ApiError, persistence::Conn};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    Backend, Resp, TestApp, check_against_spec, on_both_databases, spawn_app_with,
};

on_both_databases!(
    an_empty_refresh_token_is_422_not_the_cookie,
    a_refresh_from_the_cookie_does_not_echo_the_token,
    made_up_tokens_are_limited_per_client,
    expired_rows_are_pruned_after_the_retention,
);

fn behind_proxy(c: &mut Config) {
    c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
}

/// POST `route` from `client`, with an optional refresh cookie and JSON body.
async fn post_from(
    app: &TestApp,
    client: &str,
    route: &str,
    cookie: Option<&str>,
    body: Option<serde_json::Value>,
) -> Resp {
    let mut req = app
        .client
        .post(format!("{}{route}", app.address))
        .header("x-forwarded-for", client);
    if let Some(cookie) = cookie {
        req = req.header("cookie", format!("phonereg_refresh={cookie}"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = app.finish(req).await;
    check_against_spec(&Method::POST, route, &resp);
    resp
}

const REFRESH: &str = "/api/v1/auth/refresh";
const LOGOUT: &str = "/api/v1/auth/logout";

async fn an_empty_refresh_token_is_422_not_the_cookie(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let (_, refresh, _) = app.signup().await;
    // A script on the page cannot read the HttpOnly cookie; it used to be able to swap
    // it for a token pair in readable JSON by sending an empty field.
    let r = post_from(
        &app,
        "203.0.113.1",
        REFRESH,
        Some(&refresh),
        Some(json!({"refresh_token": ""})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.field_errors("refresh_token").is_empty(), "{}", r.body);
    let r = post_from(
        &app,
        "203.0.113.1",
        LOGOUT,
        Some(&refresh),
        Some(json!({"refresh_token": ""})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    // The cookie's session is untouched by either.
    app.refresh(&refresh).await.expect(200);
}

async fn a_refresh_from_the_cookie_does_not_echo_the_token(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let (_, refresh, _) = app.signup().await;
    let r = post_from(&app, "203.0.113.1", REFRESH, Some(&refresh), None)
        .await
        .expect(200);
    assert!(r.body.get("refresh_token").is_none(), "echoed: {}", r.body);
    assert!(r.body["access_token"].is_string());
    let set = r.header("set-cookie").expect("new cookie");
    let next = set
        .strip_prefix("phonereg_refresh=")
        .and_then(|v| v.split(';').next())
        .expect("cookie value")
        .to_owned();
    // From the body, the caller holds the token already: it gets the new one back.
    let r = app.refresh(&next).await.expect(200);
    assert!(r.body["refresh_token"].is_string(), "{}", r.body);
}

async fn made_up_tokens_are_limited_per_client(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.token_failures_per_ip_per_minute = 5;
    })
    .await;
    let (access, refresh, _) = app.signup().await;
    let stranger = "198.51.100.7";
    for n in 0..5 {
        let r = post_from(
            &app,
            stranger,
            REFRESH,
            None,
            Some(json!({"refresh_token": format!("made-up-{n}")})),
        )
        .await;
        assert_eq!(r.status, 401, "guess {n}: {}", r.body);
    }
    let r = post_from(
        &app,
        stranger,
        REFRESH,
        None,
        Some(json!({"refresh_token": "made-up-5"})),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.retry_after() <= 60);
    let r = post_from(
        &app,
        stranger,
        LOGOUT,
        None,
        Some(json!({"refresh_token": "made-up-6"})),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    let events = "/api/v1/users/me/events";
    let req = app
        .client
        .get(format!("{}{events}?ticket=made-up", app.address))
        .header("x-forwarded-for", stranger);
    let r = app.finish(req).await;
    check_against_spec(&Method::GET, events, &r);
    assert_eq!(r.status, 429, "{}", r.body);
    // Everyone else, the owner included, is unaffected.
    let r = post_from(
        &app,
        "203.0.113.50",
        REFRESH,
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = "/api/v1/users/me/events/ticket";
    app.call(Method::POST, p, p, Some(&access), None)
        .await
        .expect(201);
}

fn count(c: &mut Conn<'_>, sql: &'static str) -> Result<i64, ApiError> {
    use diesel::{QueryableByName, RunQueryDsl as _, sql_types::BigInt};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let q = diesel::sql_query(sql);
    let row: N = match c {
        Conn::Sqlite(c) => q.get_result(*c),
        Conn::Postgres(c) => q.get_result(*c),
    }
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(row.n)
}

async fn counts(app: &TestApp) -> [i64; 4] {
    let mut out = [0; 4];
    for (i, sql) in [
        "SELECT COUNT(*) AS n FROM refresh_tokens",
        "SELECT COUNT(*) AS n FROM event_tickets",
        "SELECT COUNT(*) AS n FROM events",
        "SELECT COUNT(*) AS n FROM sms_messages WHERE body <> ''",
    ]
    .into_iter()
    .enumerate()
    {
        out[i] = app
            .state
            .db
            .read(move |c| count(c, sql))
            .await
            .expect("count");
    }
    out
}

async fn expired_rows_are_pruned_after_the_retention(b: Backend) {
    let app = spawn_app_with(b, |c| c.data_retention = 3600).await;
    let r = app
        .register(
            json!({"email": "keep@example.com", "password": crate::helpers::PASSWORD,
            "full_name": "K", "phone_number": "+14155552671"}),
        )
        .await
        .expect(201);
    let access = r.body["access_token"].as_str().expect("token").to_owned();
    app.drain_outbox().await;
    let (_, gone, _) = app.signup().await;
    app.call(
        Method::POST,
        LOGOUT,
        LOGOUT,
        None,
        Some(json!({"refresh_token": gone})),
    )
    .await
    .expect(204);
    let p = "/api/v1/users/me/events/ticket";
    app.call(Method::POST, p, p, Some(&access), None)
        .await
        .expect(201);
    let [tokens, tickets, events, bodies] = counts(&app).await;
    assert_eq!((tokens, tickets, bodies), (2, 1, 1));
    assert!(events > 0);
    // Inside the retention nothing that may still matter goes.
    app.state.clock.advance(600);
    app.state.retention.prune().await.expect("prune");
    let [tokens, tickets, _, bodies] = counts(&app).await;
    assert_eq!(
        (tokens, tickets, bodies),
        (2, 0, 1),
        "the dead ticket goes at once"
    );
    app.state.clock.advance(3600);
    app.state.retention.prune().await.expect("prune");
    // The live session's token stays; the revoked one, the old events and the sent
    // message's body are gone.
    assert_eq!(counts(&app).await, [1, 0, 0, 0]);
    app.refresh(r.body["refresh_token"].as_str().expect("token"))
        .await
        .expect(200);
}
