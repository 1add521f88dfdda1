//! SPEC §11: the bot challenge, asked only when it is risky, against a fake siteverify on
//! loopback.
//!
//! Long: the tests of SPEC §11's bot challenge, one per rule, with the fake siteverify
//! they share.

use diesel::{QueryableByName, RunQueryDsl as _, sql_types::BigInt};
use fake_captcha::{Failure, FakeSiteverify};
use phonereg_api::{
    config::{CaptchaModeSetting, CaptchaOnError, CaptchaProviderSetting, Config, Secret},
    error::ApiError,
    persistence::Conn,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, PASSWORD, Resp, TestApp, check_against_spec, on_both_databases, spawn_app,
    spawn_app_with, test_config,
};

const SECRET: &str = "captcha-test-secret";
const SITE_KEY: &str = "0x4AAAAAAAtest";

/// Turnstile through the fake, `mode`, and clients told apart by `X-Forwarded-For`.
fn challenged(fake: &FakeSiteverify, mode: CaptchaModeSetting) -> impl FnOnce(&mut Config) {
    let url = fake.verify_url.clone();
    move |c| {
        c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
        c.captcha_provider = CaptchaProviderSetting::Turnstile;
        c.captcha_site_key = Some(SITE_KEY.into());
        c.captcha_secret = Some(Secret::new(SECRET.into()));
        c.captcha_verify_url = Some(url);
        c.captcha_mode = mode;
    }
}

async fn start(b: Backend, mode: CaptchaModeSetting) -> (TestApp, FakeSiteverify) {
    start_with(b, mode, |_| {}).await
}

async fn start_with(
    b: Backend,
    mode: CaptchaModeSetting,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, FakeSiteverify) {
    let fake = FakeSiteverify::start(0, SECRET).expect("fake siteverify starts");
    let setup = challenged(&fake, mode);
    let app = spawn_app_with(b, |c| {
        setup(c);
        tweak(c);
    })
    .await;
    (app, fake)
}

/// One request from `client`, with `token` in `X-Captcha-Token` when given, checked
/// against openapi.yaml.
struct Req<'a> {
    method: Method,
    route: &'a str,
    path: &'a str,
    bearer: Option<&'a str>,
    body: Option<Value>,
}

async fn send(app: &TestApp, client: &str, token: Option<&str>, r: Req<'_>) -> Resp {
    let mut req = app
        .client
        .request(r.method.clone(), format!("{}{}", app.address, r.path))
        .header("x-forwarded-for", client);
    if let Some(t) = token {
        req = req.header("x-captcha-token", t);
    }
    if let Some(b) = r.bearer {
        req = req.bearer_auth(b);
    }
    if let Some(body) = r.body {
        req = req.json(&body);
    }
    let resp = app.finish(req).await;
    check_against_spec(&r.method, r.route, &resp);
    resp
}

fn register(number: &str) -> Req<'static> {
    Req {
        method: Method::POST,
        route: "/api/v1/auth/register",
        path: "/api/v1/auth/register",
        bearer: None,
        body: Some(json!({
            "email": format!("u{:016x}@example.com", rand::random::<u64>()),
            "password": PASSWORD,
            "full_name": "Someone",
            "phone_number": number,
        })),
    }
}

fn start_sign_in(number: &str, body_token: Option<&str>) -> Req<'static> {
    let mut body = json!({"phone_number": number, "purpose": "sign_in"});
    if let Some(t) = body_token {
        body["captcha_token"] = json!(t);
    }
    Req {
        method: Method::POST,
        route: "/api/v1/auth/sms/start",
        path: "/api/v1/auth/sms/start",
        bearer: None,
        body: Some(body),
    }
}

#[track_caller]
fn assert_captcha_required(r: &Resp) {
    assert_eq!(r.status.as_u16(), 422, "body: {}", r.body);
    assert_eq!(
        r.body["type"], "https://phonereg.dev/problems/captcha-required",
        "{}",
        r.body
    );
    assert_eq!(
        r.body["captcha"],
        json!({"provider": "turnstile", "site_key": SITE_KEY})
    );
}

/// Everything a request that sends a code writes: accounts, phones, codes, messages,
/// history, every counter (caps, cool-downs' codes, the guard's), used tokens.
#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct Footprint {
    #[diesel(sql_type = BigInt)]
    users: i64,
    #[diesel(sql_type = BigInt)]
    phones: i64,
    #[diesel(sql_type = BigInt)]
    history: i64,
    #[diesel(sql_type = BigInt)]
    codes: i64,
    #[diesel(sql_type = BigInt)]
    auth_codes: i64,
    #[diesel(sql_type = BigInt)]
    messages: i64,
    #[diesel(sql_type = BigInt)]
    counted: i64,
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

fn footprint(c: &mut Conn<'_>) -> Result<Footprint, ApiError> {
    let q = diesel::sql_query(
        "SELECT (SELECT COUNT(*) FROM users) AS users, \
         (SELECT COUNT(*) FROM phone_numbers) AS phones, \
         (SELECT COUNT(*) FROM phone_history) AS history, \
         (SELECT COUNT(*) FROM verification_codes) AS codes, \
         (SELECT COUNT(*) FROM auth_codes) AS auth_codes, \
         (SELECT COUNT(*) FROM sms_messages) AS messages, \
         CAST((SELECT COALESCE(SUM(count), 0) FROM rate_counters) AS BIGINT) AS counted, \
         (SELECT COUNT(*) FROM captcha_tokens) AS tokens",
    );
    Ok(match c {
        Conn::Sqlite(c) => q.get_result(*c)?,
        Conn::Postgres(c) => q.get_result(*c)?,
    })
}

async fn written(app: &TestApp) -> Footprint {
    app.state.db.read(footprint).await.expect("footprint")
}

/// `+44 7400 1xxxxx`: one GB mobile range (`+44740`).
fn in_hot_range(n: u32) -> String {
    format!("+4474001{n:05}")
}

/// GB mobiles spread over five ranges (none of them `+44740`), so no range gets hot.
fn spread(n: u32) -> String {
    let range = ["730", "750", "770", "780", "790"][n as usize % 5];
    format!("+44{range}0{n:06}")
}

async fn risky_mode_asks_only_after_the_free_sends(b: Backend) {
    let (app, fake) = start(b, CaptchaModeSetting::Risky).await;
    let client = "198.51.100.7";
    for n in 0..3 {
        send(&app, client, None, register(&spread(n)))
            .await
            .expect(201);
    }
    assert!(fake.requests().is_empty(), "free sends asked the provider");
    // The fourth code this hour from that network needs a token; without one nothing
    // is written.
    let before = written(&app).await;
    let refused = send(&app, client, None, register(&spread(3))).await;
    assert_captcha_required(&refused);
    assert_eq!(written(&app).await, before, "a refused request wrote");
    send(&app, client, Some("pass-one"), register(&spread(3)))
        .await
        .expect(201);
    let got = fake.requests();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].secret.as_deref(), Some(SECRET));
    assert_eq!(got[0].response.as_deref(), Some("pass-one"));
    assert_eq!(got[0].remoteip.as_deref(), Some(client));
    // Another network still has its own free sends.
    send(&app, "203.0.113.40", None, register(&spread(5)))
        .await
        .expect(201);
    // Starts count too, and an IPv6 client is its /64: other addresses of it are the
    // same client.
    for n in 0..3 {
        let ip = format!("2001:db8:1:2::{n:x}");
        send(&app, &ip, None, start_sign_in(&spread(10 + n), None))
            .await
            .expect(202);
    }
    let r = send(
        &app,
        "2001:db8:1:2::ff",
        None,
        start_sign_in(&spread(20), None),
    )
    .await;
    assert_captcha_required(&r);
}

/// A network rotating over its /64s stays under each /64's free sends; its /56 has 4×
/// as many (and its /48 16×), like every per-client limit (SPEC §11).
async fn a_network_rotating_its_64s_meets_the_challenge_at_its_56(b: Backend) {
    let (app, _fake) = start(b, CaptchaModeSetting::Risky).await;
    // Twelve /64s of 2001:db8:5:200::/56, one start each: the /56's 4 × 3 free sends.
    for n in 0..12u32 {
        let ip = format!("2001:db8:5:2{n:02x}::1");
        send(&app, &ip, None, start_sign_in(&spread(30 + n), None))
            .await
            .expect(202);
    }
    // A thirteenth /64 of that /56, its first send: challenged.
    let r = send(
        &app,
        "2001:db8:5:2ff::1",
        None,
        start_sign_in(&spread(50), None),
    )
    .await;
    assert_captcha_required(&r);
    // Another /56 of the same /48 (12 of its 48) still has its free sends.
    send(
        &app,
        "2001:db8:5:300::1",
        None,
        start_sign_in(&spread(51), None),
    )
    .await
    .expect(202);
}

async fn a_hot_range_asks_even_a_fresh_client(b: Backend) {
    // The range pauses at 5 unverified codes: from 3 it is past half.
    let (app, _fake) = start_with(b, CaptchaModeSetting::Risky, |c| {
        c.sms_fraud_range_floor = 5;
    })
    .await;
    for n in 0..3 {
        let client = format!("198.51.100.{}", n + 1);
        send(&app, &client, None, register(&in_hot_range(n)))
            .await
            .expect(201);
    }
    // A new client, its first send, to the hot range: challenged.
    let r = send(&app, "203.0.113.1", None, register(&in_hot_range(3))).await;
    assert_captcha_required(&r);
    let r = send(
        &app,
        "203.0.113.2",
        None,
        start_sign_in(&in_hot_range(4), None),
    )
    .await;
    assert_captcha_required(&r);
    // The same client to a quiet range of the same country passes.
    send(&app, "203.0.113.1", None, register("+447300123456"))
        .await
        .expect(201);
    send(
        &app,
        "203.0.113.1",
        Some("pass-hot"),
        register(&in_hot_range(3)),
    )
    .await
    .expect(201);
}

/// Long: one check per door that sends a code, each the same three steps.
async fn always_mode_asks_every_claim_and_start(b: Backend) {
    let (app, fake) = start(b, CaptchaModeSetting::Always).await;
    let ip = "198.51.100.9";
    // No number, nothing sent: no challenge.
    let (token, _, _) = app.signup().await;
    let before = written(&app).await;
    assert_captcha_required(&send(&app, ip, None, register(&spread(1))).await);
    assert_captcha_required(&send(&app, ip, None, start_sign_in(&spread(1), None)).await);
    let add = |t: Option<&str>| Req {
        method: Method::POST,
        route: "/api/v1/users/me/phone-numbers",
        path: "/api/v1/users/me/phone-numbers",
        bearer: Some(&token),
        body: Some(match t {
            Some(t) => json!({"phone_number": spread(2), "captcha_token": t}),
            None => json!({"phone_number": spread(2)}),
        }),
    };
    assert_captcha_required(&send(&app, ip, None, add(None)).await);
    // A token the provider refuses is no better, and writes nothing either.
    assert_captcha_required(&send(&app, ip, None, add(Some("made-up"))).await);
    assert_eq!(written(&app).await, before, "a refused request wrote");
    let r = send(&app, ip, None, add(Some("pass-add")))
        .await
        .expect(201);
    let id = r.body["id"].as_i64().expect("id");
    let item = format!("/api/v1/users/me/phone-numbers/{id}");
    let resend_path = format!("{item}/verification");
    let resend = |body: Option<Value>| Req {
        method: Method::POST,
        route: "/api/v1/users/me/phone-numbers/{id}/verification",
        path: &resend_path,
        bearer: Some(&token),
        body,
    };
    let before = written(&app).await;
    assert_captcha_required(&send(&app, ip, None, resend(None)).await);
    let patch = |t: Option<&str>| Req {
        method: Method::PATCH,
        route: "/api/v1/users/me/phone-numbers/{id}",
        path: &item,
        bearer: Some(&token),
        body: Some(match t {
            Some(t) => json!({"phone_number": spread(3), "captcha_token": t}),
            None => json!({"phone_number": spread(3)}),
        }),
    };
    assert_captcha_required(&send(&app, ip, None, patch(None)).await);
    assert_eq!(written(&app).await, before, "a refused request wrote");
    send(
        &app,
        ip,
        None,
        resend(Some(json!({"captcha_token": "pass-resend"}))),
    )
    .await
    .expect(202);
    send(&app, ip, None, patch(Some("pass-patch")))
        .await
        .expect(200);
    send(
        &app,
        ip,
        None,
        start_sign_in(&spread(4), Some("pass-start")),
    )
    .await
    .expect(202);
    let seen: Vec<_> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.response)
        .collect();
    assert_eq!(
        seen,
        [
            "made-up",
            "pass-add",
            "pass-resend",
            "pass-patch",
            "pass-start"
        ]
    );
}

async fn a_token_is_accepted_once(b: Backend) {
    let (app, fake) = start(b, CaptchaModeSetting::Always).await;
    send(
        &app,
        "198.51.100.1",
        Some("pass-once"),
        start_sign_in(&spread(1), None),
    )
    .await
    .expect(202);
    // The fake would vouch for it again; the API does not take it twice, from any
    // client, in the header or the body.
    let before = written(&app).await;
    let again = send(&app, "203.0.113.5", Some("pass-once"), register(&spread(2))).await;
    assert_captcha_required(&again);
    let body = send(
        &app,
        "203.0.113.6",
        None,
        start_sign_in(&spread(3), Some("pass-once")),
    );
    assert_captcha_required(&body.await);
    assert_eq!(written(&app).await, before, "a replayed token wrote");
    assert_eq!(
        fake.requests().len(),
        1,
        "a used token was sent to the provider"
    );
}

async fn provider_errors_follow_on_error(b: Backend) {
    // allow: the request goes on to the usual limits; a token is still needed.
    let (app, fake) = start(b, CaptchaModeSetting::Always).await;
    fake.fail(Failure::ServerError);
    let ip = "198.51.100.3";
    assert_captcha_required(&send(&app, ip, None, start_sign_in(&spread(1), None)).await);
    send(&app, ip, Some("anything"), start_sign_in(&spread(1), None))
        .await
        .expect(202);
    fake.fail(Failure::InternalError);
    send(&app, ip, Some("anything-else"), register(&spread(2)))
        .await
        .expect(201);
    // deny: 503 with Retry-After, and nothing written.
    let (app, fake) = start_with(b, CaptchaModeSetting::Always, |c| {
        c.captcha_on_error = CaptchaOnError::Deny;
    })
    .await;
    for failure in [Failure::ServerError, Failure::InternalError] {
        fake.fail(failure);
        let before = written(&app).await;
        let r = send(&app, ip, Some("pass-down"), register(&spread(3)))
            .await
            .expect(503);
        assert!(r.retry_after() >= 1);
        assert_eq!(written(&app).await, before, "a denied request wrote");
    }
    fake.fail(Failure::None);
    send(&app, ip, Some("pass-down"), register(&spread(3)))
        .await
        .expect(201);
    let metrics = app.metrics_text().await;
    for outcome in [
        "provider_error_denied",
        "provider_error_allowed",
        "passed",
        "asked",
    ] {
        let line = format!("phonereg_captcha_total{{outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&line), "no {line} in /metrics");
    }
}

async fn get_config(app: &TestApp) -> Resp {
    app.call(Method::GET, "/api/v1/config", "/api/v1/config", None, None)
        .await
        .expect(200)
}

async fn config_tells_the_challenge(b: Backend) {
    let plain = spawn_app(b).await;
    let r = get_config(&plain).await;
    assert_eq!(r.body, json!({"captcha": null}));
    assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
    let (app, _fake) = start(b, CaptchaModeSetting::Risky).await;
    let r = get_config(&app).await;
    assert_eq!(
        r.body,
        json!({"captcha": {"provider": "turnstile", "site_key": SITE_KEY, "mode": "risky"}})
    );
    // The widget's script and frame may load; nothing else is opened.
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'")
            && csp.contains("https://challenges.cloudflare.com;")
            && csp.contains("frame-src https://challenges.cloudflare.com;"),
        "{csp}"
    );
    // Without a provider, every request sends as before.
    for n in 0..5 {
        send(
            &plain,
            "198.51.100.1",
            None,
            start_sign_in(&spread(n), None),
        )
        .await
        .expect(202);
    }
}

async fn a_provider_without_keys_stops_start_up(b: Backend) {
    for (key, secret) in [(None, Some(SECRET)), (Some(SITE_KEY), None)] {
        let mut c = test_config(b);
        c.captcha_provider = CaptchaProviderSetting::Hcaptcha;
        c.captcha_site_key = key.map(str::to_owned);
        c.captcha_secret = secret.map(|s| Secret::new(s.into()));
        let refused = c.check().expect_err("checked config");
        assert!(refused.contains("CAPTCHA_SITE_KEY"), "{refused}");
        let built = phonereg_api::startup::build(c).await;
        assert!(built.is_err(), "started without captcha keys");
    }
}

on_both_databases!(
    a_network_rotating_its_64s_meets_the_challenge_at_its_56,
    risky_mode_asks_only_after_the_free_sends,
    a_hot_range_asks_even_a_fresh_client,
    always_mode_asks_every_claim_and_start,
    a_token_is_accepted_once,
    provider_errors_follow_on_error,
    config_tells_the_challenge,
    a_provider_without_keys_stops_start_up,
);
