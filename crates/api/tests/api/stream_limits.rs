//! SPEC §11 event streams and tickets: a per-client cap on streams (so no one network
//! fills the process-wide cap), and at most five live tickets per account. Each test
//! fails on the code before the change.

use reqwest::Method;

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

on_both_databases!(
    one_client_network_cannot_fill_the_process_cap,
    an_account_holds_at_most_five_live_tickets,
);

const EVENTS: &str = "/api/v1/users/me/events";
const TICKET: &str = "/api/v1/users/me/events/ticket";

/// Opens a stream with the bearer token from `client` (via `X-Forwarded-For`).
async fn open_from(app: &TestApp, client: &str, token: &str) -> Result<reqwest::Response, Resp> {
    let req = app
        .client
        .get(format!("{}{EVENTS}", app.address))
        .header("x-forwarded-for", client)
        .bearer_auth(token);
    app.open_events(req).await
}

async fn token(app: &TestApp, n: usize) -> String {
    let email = format!("streamer{n}@example.com");
    let body = serde_json::json!({"email": email, "password": PASSWORD, "full_name": "S"});
    let r = app.register(body).await.expect(201);
    r.body["access_token"].as_str().expect("token").to_owned()
}

fn assert_client_capped(r: &Resp, what: &str) {
    assert_eq!(r.status.as_u16(), 429, "{what}: {}", r.body);
    assert_eq!(
        r.body["type"], "https://phonereg.dev/problems/rate-limited",
        "{what}"
    );
    assert!(r.retry_after() > 0, "{what}: Retry-After");
}

async fn one_client_network_cannot_fill_the_process_cap(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
        c.event_streams_per_client = 2;
        c.event_streams_max = 100;
    })
    .await;
    // Many accounts, one /64: the client's cap holds whoever the streams belong to.
    let mut tokens = Vec::new();
    for n in 0..12 {
        tokens.push(token(&app, n).await);
    }
    let mut open = Vec::new();
    open.push(
        open_from(&app, "2001:db8:1::1", &tokens[0])
            .await
            .expect("first"),
    );
    open.push(
        open_from(&app, "2001:db8:1::2", &tokens[1])
            .await
            .expect("second"),
    );
    let r = open_from(&app, "2001:db8:1::3", &tokens[2])
        .await
        .expect_err("a third stream of one /64");
    assert_client_capped(&r, "a third stream of one /64");
    // The /56 holds 4× as many: three more /64s fill it, a fifth /64 is refused.
    for (i, low) in (1..4).enumerate() {
        for j in 0..2 {
            let client = format!("2001:db8:1:{low:x}::{j:x}");
            let t = &tokens[2 + 2 * i + j];
            open.push(open_from(&app, &client, t).await.expect("room in the /56"));
        }
    }
    assert_eq!(open.len(), 8);
    let r = open_from(&app, "2001:db8:1:4::1", &tokens[8])
        .await
        .expect_err("a ninth stream of one /56");
    assert_client_capped(&r, "a ninth stream of one /56");
    // Another network is another client.
    open_from(&app, "2001:db8:2::1", &tokens[9])
        .await
        .expect("another /48");
    open_from(&app, "198.51.100.1", &tokens[10])
        .await
        .expect("an IPv4 client");
}

async fn issue(app: &TestApp, token: &str) -> String {
    let r = app
        .call(Method::POST, TICKET, TICKET, Some(token), None)
        .await
        .expect(201);
    r.body["ticket"].as_str().expect("ticket").to_owned()
}

async fn redeem(app: &TestApp, ticket: &str) -> Result<reqwest::Response, Resp> {
    let url = format!("{}{EVENTS}?ticket={ticket}", app.address);
    app.open_events(app.client.get(url)).await
}

async fn an_account_holds_at_most_five_live_tickets(b: Backend) {
    let app = spawn_app_with(b, |c| c.event_streams_per_account = 10).await;
    let (token, _, _) = app.signup().await;
    let mut tickets = Vec::new();
    for _ in 0..7 {
        tickets.push(issue(&app, &token).await);
        // A second apart, so "oldest" is well defined (tickets live 60 s).
        app.state.clock.advance(1);
    }
    // The two oldest made room for the newest five; those all still open a stream.
    for old in &tickets[..2] {
        let r = redeem(&app, old).await.expect_err("an old ticket is gone");
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let mut open = Vec::new();
    for live in &tickets[2..] {
        open.push(redeem(&app, live).await.expect("one of the newest five"));
    }
    assert_eq!(open.len(), 5);
}
