//! SPEC §11 client networks: every per-IP limit also holds, at 4× its value, for the
//! client's IPv6 /56 and, at 16×, for its /48; the SMS and registration limits also hold
//! at 8× for an IPv4 client's /24. Each test fails on the code before the change, which
//! keyed every limit by the client's /64 (or IPv4 address) alone.

use reqwest::Method;
use serde_json::json;

use phonereg_api::config::Config;

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

on_both_databases!(
    registrations_from_one_48_stop_at_16_times_the_limit,
    ipv4_registrations_and_claims_stop_at_8_times_per_24,
    ipv4_starts_stop_at_8_times_per_24,
    login_limits_widen_to_the_56_but_not_to_an_ipv4_24,
);

/// Behind a trusted proxy on loopback, so each request can name its client.
fn behind_proxy(c: &mut Config) {
    c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
}

async fn post_from(app: &TestApp, client: &str, route: &str, body: serde_json::Value) -> Resp {
    app.call_from(Some(client), Method::POST, route, route, None, Some(body))
        .await
}

async fn register_from(app: &TestApp, client: &str, n: usize) -> Resp {
    let email = format!("net{n}@example.com");
    let body = json!({"email": email, "password": PASSWORD, "full_name": "N"});
    post_from(app, client, "/api/v1/auth/register", body).await
}

fn assert_rate_limited(r: &Resp, what: &str) {
    assert_eq!(r.status.as_u16(), 429, "{what}: {}", r.body);
    assert_eq!(
        r.body["type"], "https://phonereg.dev/problems/rate-limited",
        "{what}"
    );
    assert!(r.retry_after() > 0, "{what}: Retry-After");
}

async fn registrations_from_one_48_stop_at_16_times_the_limit(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.register_per_ip_per_hour = 1;
    })
    .await;
    let mut n = 0;
    // One /56 (2001:db8:77:00xx::/56): four fresh /64s pass, the fifth is refused.
    for low in 0..4 {
        let client = format!("2001:db8:77:{low:x}::1");
        register_from(&app, &client, n).await.expect(201);
        n += 1;
    }
    let r = register_from(&app, "2001:db8:77:4::1", n).await;
    assert_rate_limited(&r, "a fifth /64 of one /56");
    // Three more /56s of the same /48 fill it to 16; a fresh /64 in a fresh /56 is
    // refused once the /48 is full.
    for high in 1..4u16 {
        for low in 0..4u16 {
            let client = format!("2001:db8:77:{:x}::1", (high << 8) | low);
            register_from(&app, &client, n).await.expect(201);
            n += 1;
        }
    }
    assert_eq!(n, 16);
    let r = register_from(&app, "2001:db8:77:4000::1", n).await;
    assert_rate_limited(&r, "a 17th /64 of one /48");
    // Another /48 is another client network.
    register_from(&app, "2001:db8:78::1", n).await.expect(201);
}

async fn ipv4_registrations_and_claims_stop_at_8_times_per_24(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.register_per_ip_per_hour = 1;
        c.sms_per_ip_per_hour = 1;
    })
    .await;
    for last in 1..=8 {
        register_from(&app, &format!("10.1.2.{last}"), last)
            .await
            .expect(201);
    }
    let r = register_from(&app, "10.1.2.9", 9).await;
    assert_rate_limited(&r, "a ninth address of one /24");
    register_from(&app, "10.1.3.1", 10).await.expect(201);

    // Claims (a registration with a number sends a code) per /24 too. Registrations of
    // this /24 have room (another /24 than above), so the SMS limit is the one refusing.
    for last in 1..=8u32 {
        let body = json!({
            "email": format!("claim{last}@example.com"),
            "password": PASSWORD,
            "full_name": "C",
            "phone_number": format!("+1415555{:04}", 2600 + last),
        });
        post_from(
            &app,
            &format!("10.7.7.{last}"),
            "/api/v1/auth/register",
            body,
        )
        .await
        .expect(201);
    }
    let body = json!({
        "email": "claim9@example.com", "password": PASSWORD, "full_name": "C",
        "phone_number": "+14155552699",
    });
    let r = post_from(&app, "10.7.7.9", "/api/v1/auth/register", body).await;
    assert_rate_limited(&r, "a ninth claim from one /24");
}

async fn start(app: &TestApp, client: String, last: u32) -> Resp {
    let e164 = format!("+1415555{:04}", 3000 + last);
    let body = json!({"phone_number": e164, "purpose": "sign_in"});
    post_from(app, &client, "/api/v1/auth/sms/start", body).await
}

async fn login(app: &TestApp, client: String, n: u32) -> Resp {
    let body = json!({"email": format!("nobody{n}@example.com"), "password": PASSWORD});
    post_from(app, &client, "/api/v1/auth/login", body).await
}

async fn ipv4_starts_stop_at_8_times_per_24(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.sms_starts_per_ip_per_hour = 1;
    })
    .await;
    for last in 1..=8 {
        start(&app, format!("10.9.9.{last}"), last)
            .await
            .expect(202);
    }
    let r = start(&app, "10.9.9.9".into(), 9).await;
    assert_rate_limited(&r, "a ninth start from one /24");
    start(&app, "10.9.10.1".into(), 10).await.expect(202);
}

async fn login_limits_widen_to_the_56_but_not_to_an_ipv4_24(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.login_per_ip = 1;
    })
    .await;
    // The login limit is not an SMS or registration limit: no /24 ceiling for IPv4.
    for last in 1..=12 {
        login(&app, format!("10.5.5.{last}"), last)
            .await
            .expect(401);
    }
    for low in 0..4 {
        login(&app, format!("2001:db8:5:{low:x}::1"), 100 + low)
            .await
            .expect(401);
    }
    let r = login(&app, "2001:db8:5:4::1".into(), 200).await;
    assert_rate_limited(&r, "a fifth /64 of one /56 signing in");
}
