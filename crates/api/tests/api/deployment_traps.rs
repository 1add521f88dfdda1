//! SPEC §11: settings that must not trap an operator or open a door — proxies given as
//! CIDR ranges, and the admin token's door limited per client.

use clap::Parser as _;
use phonereg_api::config::{Config, Secret};
use reqwest::Method;

use crate::helpers::{Backend, Resp, TestApp, captured_logs, on_both_databases, spawn_app_with};

const ADMIN: &str = "operator-token-operator-token-0123456789";
const LOOKUP: &str = "/api/v1/phone-numbers/parse";

async fn lookup(app: &TestApp, forwarded_for: &str) -> Resp {
    let path = format!("{LOOKUP}?number=%2B14155552671");
    app.call_from(Some(forwarded_for), Method::GET, LOOKUP, &path, None, None)
        .await
}

async fn trusted_proxies_take_cidr_ranges(b: Backend) {
    // A load balancer's whole subnet, loopback (the test's peer), an IPv6 range and a
    // single address, as operators write them.
    let proxies = Config::try_parse_from([
        "phonereg-api",
        "--trusted-proxies",
        "10.0.0.0/8, 127.0.0.0/8, 2001:db8::/32, 192.0.2.9",
    ])
    .expect("TRUSTED_PROXIES takes CIDR ranges")
    .trusted_proxies;
    let app = spawn_app_with(b, |c| {
        c.trusted_proxies = proxies;
        c.lookup_per_ip_per_minute = 2;
    })
    .await;
    // Hops inside the ranges are proxies; the rightmost other hop is the client.
    lookup(&app, "203.0.113.5, 2001:db8:ffff::1, 10.1.2.3")
        .await
        .expect(200);
    lookup(&app, "203.0.113.5, 192.0.2.9").await.expect(200);
    let refused = lookup(&app, "203.0.113.5").await.expect(429);
    assert!(refused.retry_after() >= 1);
    // Another client behind the same proxies has its own allowance, and an address
    // just outside a range is a client, not a proxy.
    lookup(&app, "203.0.113.5, 198.51.100.7, 10.255.255.254")
        .await
        .expect(200);
    lookup(&app, "203.0.113.5, 2001:db9::1").await.expect(200);
}

async fn admin(app: &TestApp, client: &str, token: &str) -> Resp {
    let p = "/api/v1/admin/sms/pauses";
    app.call_from(Some(client), Method::GET, p, p, Some(token), None)
        .await
}

async fn wrong_admin_tokens_are_limited_per_client_and_logged(b: Backend) {
    captured_logs();
    let app = spawn_app_with(b, |c| {
        c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
        c.admin_token = Some(Secret::new(ADMIN.into()));
        c.token_failures_per_ip_per_minute = 3;
    })
    .await;
    // A /64 of its own: the log capture is shared by every test in this binary.
    let (a, b) = (rand::random::<u16>() | 1, rand::random::<u16>() | 1);
    let guesser = format!("2001:db8:{a:x}:{b:x}::7");
    let key = format!("client=2001:db8:{a:x}:{b:x}::/64");
    for n in 0..3 {
        admin(&app, &guesser, &format!("guess-{n}"))
            .await
            .expect(401);
    }
    let refused = admin(&app, &guesser, "guess-3").await.expect(429);
    assert!((1..=60).contains(&refused.retry_after()));
    // Refused before the compare: the right token from this client waits too, so the
    // limit cannot be stepped around by guessing right.
    admin(&app, &guesser, ADMIN).await.expect(429);
    // Other clients are not locked out, and the operator gets in.
    admin(&app, "198.51.100.20", ADMIN).await.expect(200);
    admin(&app, "198.51.100.20", "guess").await.expect(401);
    // Wrong admin tokens spend their own allowance, not the refresh tokens' one.
    app.call_from(
        Some(&guesser),
        Method::POST,
        "/api/v1/auth/refresh",
        "/api/v1/auth/refresh",
        None,
        Some(serde_json::json!({"refresh_token": "made-up"})),
    )
    .await
    .expect(401);
    // One warning per wrong token, naming the client; none for the refusals.
    let lines: Vec<String> = captured_logs()
        .into_iter()
        .filter(|l| l.contains(&key))
        .collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("WARN") && l.contains("admin token")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("guess-")),
        "never the token"
    );
}

on_both_databases!(
    trusted_proxies_take_cidr_ranges,
    wrong_admin_tokens_are_limited_per_client_and_logged,
);
