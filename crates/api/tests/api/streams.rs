//! Issue #9 item 4: event streams are capped per account and in total, and end with
//! their token or session. Each test fails on the code before the change.

use std::time::Duration;

use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Resp, TestApp, on_both_databases, spawn_app_with};

on_both_databases!(
    an_accounts_oldest_stream_makes_room_and_the_total_is_capped,
    a_stream_ends_when_its_session_logs_out,
    a_stream_ends_when_its_token_expires,
);

const EVENTS: &str = "/api/v1/users/me/events";

/// Opens a stream with the bearer token; the open response, or the refusal.
pub(crate) async fn open(app: &TestApp, token: &str) -> Result<reqwest::Response, Resp> {
    let url = format!("{}{EVENTS}", app.address);
    app.open_events(app.client.get(url).bearer_auth(token))
        .await
}

/// Reads until the stream ends; fails if it is still open after `within`.
pub(crate) async fn ends_within(res: reqwest::Response, within: Duration) {
    let mut body = res.bytes_stream();
    let read_all = async {
        while let Some(chunk) = body.next().await {
            if chunk.is_err() {
                break;
            }
        }
    };
    tokio::time::timeout(within, read_all)
        .await
        .expect("the stream should have ended");
}

async fn an_accounts_oldest_stream_makes_room_and_the_total_is_capped(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.event_streams_per_account = 2;
        c.event_streams_max = 3;
    })
    .await;
    let (token, _, _) = app.signup().await;
    let first = open(&app, &token).await.expect("first stream");
    let second = open(&app, &token).await.expect("second stream");
    let _third = open(&app, &token).await.expect("third stream");
    // The account holds two at most: the oldest ended, the others stay.
    ends_within(first, Duration::from_secs(5)).await;
    assert_eq!(app.state.streams.total(), 2);
    let (other, _, _) = app.signup().await;
    let _fourth = open(&app, &other).await.expect("another account");
    let full = open(&app, &other)
        .await
        .expect_err("over the process's cap");
    assert_eq!(full.status, 503, "{}", full.body);
    assert!(full.retry_after() > 0);
    drop(second);
}

async fn a_stream_ends_when_its_session_logs_out(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let (token, refresh, _) = app.signup().await;
    let by_bearer = open(&app, &token).await.expect("stream");
    let p = "/api/v1/users/me/events/ticket";
    let r = app
        .call(Method::POST, p, p, Some(&token), None)
        .await
        .expect(201);
    let ticket = r.body["ticket"].as_str().expect("ticket");
    let by_ticket = app
        .client
        .get(format!("{}{EVENTS}?ticket={ticket}", app.address))
        .send()
        .await
        .expect("stream");
    assert_eq!(by_ticket.status(), 200);
    // Another session of the same account is not affected.
    let other = open(&app, &token).await.expect("stream");
    let logout = "/api/v1/auth/logout";
    app.call(
        Method::POST,
        logout,
        logout,
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await
    .expect(204);
    ends_within(by_bearer, Duration::from_secs(5)).await;
    ends_within(by_ticket, Duration::from_secs(5)).await;
    drop(other);
}

async fn a_stream_ends_when_its_token_expires(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let (token, _, _) = app.signup().await;
    let stream = open(&app, &token).await.expect("stream");
    app.state.clock.advance(app.state.tokens.access_ttl + 1);
    ends_within(stream, Duration::from_secs(5)).await;
}
