//! Issue #9: what a stranger on the open internet can do without any SMS (hostile text,
//! parallel guesses, lockouts, floods). Each test fails on the code before its fix.
//!
//! Long: one test per attack of issue 9, side by side so a reader sees what the open
//! internet may try.

use reqwest::Method;
use serde_json::{Value, json};

use futures_util::future::join_all;
use phonereg_api::config::Config;

use crate::helpers::{
    Backend, PASSWORD, Resp, TestApp, check_against_spec, on_both_databases, spawn_app,
    spawn_app_with,
};

on_both_databases!(
    control_characters_are_422_field_errors_before_any_query,
    parallel_wrong_passwords_are_checked_at_most_the_limit,
    a_strangers_guesses_do_not_lock_out_the_owner,
    parallel_wrong_codes_are_compared_at_most_max_attempts_times,
    a_full_hash_queue_answers_503_at_once,
    the_owner_signs_in_during_a_login_flood_from_other_addresses,
    made_up_methods_do_not_make_metric_series,
    every_response_carries_security_headers,
    metrics_can_live_on_their_own_port,
    the_generated_secret_is_private,
    dead_codes_are_erased_from_stored_messages,
    concurrent_logins_of_one_email_all_succeed,
);

/// Behind a trusted proxy on loopback, so each request can name its client.
fn behind_proxy(c: &mut Config) {
    c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
}

/// `POST /auth/login` from the client `ip` (via `X-Forwarded-For`).
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> Resp {
    let route = "/api/v1/auth/login";
    let req = app
        .client
        .post(format!("{}{route}", app.address))
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}));
    let resp = app.finish(req).await;
    check_against_spec(&Method::POST, route, &resp);
    resp
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

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

async fn parallel_wrong_passwords_are_checked_at_most_the_limit(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.login_failures_per_email = 5;
        c.login_per_ip = 1000;
    })
    .await;
    app.register(json!({"email": "p@example.com", "password": PASSWORD, "full_name": "P"}))
        .await
        .expect(201);
    let passwords: Vec<String> = (0..40).map(|i| format!("wrong password {i}")).collect();
    let guesses = passwords.iter().map(|p| app.login("p@example.com", p));
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    // Each 401 is a password that was checked.
    assert!(count(&statuses, 401) <= 5, "{statuses:?}");
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 429),
        40,
        "{statuses:?}"
    );
}

async fn a_strangers_guesses_do_not_lock_out_the_owner(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.login_failures_per_email = 3;
        c.login_failures_per_email_all_networks = 7;
    })
    .await;
    let email = "owner@example.com";
    app.register(json!({"email": email, "password": PASSWORD, "full_name": "O"}))
        .await
        .expect(201);
    let stranger = "203.0.113.9";
    let mut statuses = Vec::new();
    for i in 0..5 {
        statuses.push(
            login_from(&app, stranger, email, &format!("guess {i}"))
                .await
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    // The owner, on their own network, is not refused; nor, on the stranger's network,
    // does the right password get through (the guesser must not learn it).
    let owner = "198.51.100.7";
    for _ in 0..5 {
        // Right passwords are refunded: signing in often never locks anyone out.
        login_from(&app, owner, email, PASSWORD).await.expect(200);
    }
    login_from(&app, stranger, email, PASSWORD)
        .await
        .expect(429);
    // Spread over networks, the guesses meet the ceiling for the email as a whole.
    for i in 0..3 {
        login_from(&app, "203.0.113.10", email, &format!("more {i}"))
            .await
            .expect(401);
    }
    login_from(&app, "203.0.113.11", email, "one more")
        .await
        .expect(401);
    let r = login_from(&app, "203.0.113.12", email, "and more")
        .await
        .expect(429);
    assert!(r.retry_after() >= 1);
    // Other accounts are unaffected.
    login_from(&app, "203.0.113.12", "other@example.com", "x")
        .await
        .expect(401);
}

async fn parallel_wrong_codes_are_compared_at_most_max_attempts_times(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, "+1 415 555 2671").await;
    let code = app.code_sent_to("+14155552671").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let guesses = (0..20).map(|_| app.verify(&token, id, wrong));
    let statuses: Vec<u16> = join_all(guesses)
        .await
        .iter()
        .map(|r| r.status.as_u16())
        .collect();
    // Each 422 is a comparison; past the attempts the code is dead (410).
    assert_eq!(count(&statuses, 422), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 410), 15, "{statuses:?}");
    // The right code is dead too now.
    app.verify(&token, id, &code).await.expect(410);
}

async fn a_full_hash_queue_answers_503_at_once(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.hash_threads = Some(1);
        c.hash_queue = Some(1);
        c.login_per_ip = 1000;
    })
    .await;
    let emails: Vec<String> = (0..30).map(|i| format!("flood{i}@example.com")).collect();
    let logins = emails.iter().map(|e| app.login(e, "wrong password"));
    let answers = join_all(logins).await;
    let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        count(&statuses, 401) + count(&statuses, 503),
        30,
        "{statuses:?}"
    );
    assert!(count(&statuses, 503) >= 1, "{statuses:?}");
    for r in answers.iter().filter(|r| r.status == 503) {
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert_eq!(r.retry_after(), 1);
    }
    // Once the flood has passed, logins are checked again.
    app.login("after@example.com", "wrong password")
        .await
        .expect(401);
}

async fn the_owner_signs_in_during_a_login_flood_from_other_addresses(b: Backend) {
    let app = std::sync::Arc::new(
        spawn_app_with(b, |c| {
            behind_proxy(c);
            c.hash_threads = Some(1);
            c.hash_queue = Some(2);
        })
        .await,
    );
    let (_, _, _) = app.signup().await;
    let email = "owner@example.com";
    app.register(json!({"email": email, "password": PASSWORD, "full_name": "O"}))
        .await
        .expect(201);
    // The owner has signed in from home before.
    login_from(&app, "198.51.100.8", email, PASSWORD)
        .await
        .expect(200);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The owner logs in once the flood is refusing: the first 503 says the queue is full.
    let full = std::sync::Arc::new(tokio::sync::Notify::new());
    let flooders: Vec<_> = (0..40)
        .map(|n| {
            let (app, stop, full) = (app.clone(), stop.clone(), full.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    let ip = format!("10.{n}.{}.1", i % 250);
                    let r = login_from(
                        &app,
                        &ip,
                        &format!("x{n}-{i}@example.com"),
                        "wrong password",
                    )
                    .await;
                    if r.status == 503 {
                        full.notify_one();
                    }
                    statuses.push(r.status.as_u16());
                }
                statuses
            })
        })
        .collect();
    full.notified().await;
    let started = std::time::Instant::now();
    let owner = login_from(&app, "198.51.100.8", email, PASSWORD).await;
    let took = started.elapsed();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for f in flooders {
        statuses.extend(f.await.expect("flooder"));
    }
    assert!(
        count(&statuses, 503) > 0,
        "the flood never filled the queue: {statuses:?}"
    );
    // It used to be refused at once with 503 like the flood.
    assert_eq!(owner.status, 200, "{}", owner.body);
    assert!(took.as_secs_f64() < 3.0, "took {took:?}");
}

/// The distinct `method` labels of `phonereg_http_requests_total`.
async fn method_labels(app: &TestApp) -> std::collections::BTreeSet<String> {
    let text = app.metrics_text().await;
    text.lines()
        .filter(|l| l.starts_with("phonereg_http_requests_total{"))
        .filter_map(|l| {
            l.split("method=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect()
}

async fn made_up_methods_do_not_make_metric_series(b: Backend) {
    let app = spawn_app(b).await;
    for i in 0..300 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).expect("method");
        let path = if i % 2 == 0 {
            "/api/v1/users/me"
        } else {
            "/anything"
        };
        let r = app
            .finish(app.client.request(method, format!("{}{path}", app.address)))
            .await;
        assert!(r.status.is_client_error(), "{}", r.status);
    }
    let labels = method_labels(&app).await;
    let known = [
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "OTHER",
    ];
    assert!(
        labels.iter().all(|l| known.contains(&l.as_str())),
        "{labels:?}"
    );
    assert!(labels.contains("OTHER"), "{labels:?}");
}

async fn every_response_carries_security_headers(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let get = |path: &str, token: Option<&str>| {
        let mut req = app.client.get(format!("{}{path}", app.address));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        app.finish(req)
    };
    let answers = [
        ("/healthz", get("/healthz", None).await),
        (
            "/api/v1/users/me",
            get("/api/v1/users/me", Some(&token)).await,
        ),
        ("401", get("/api/v1/users/me", None).await),
        ("404", get("/api/v1/nothing", None).await),
        ("SPA", get("/dashboard", None).await),
        (
            "phones",
            get("/api/v1/users/me/phone-numbers", Some(&token)).await,
        ),
    ];
    for (what, r) in &answers {
        let csp = r.header("content-security-policy").unwrap_or_default();
        for part in [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(part), "{what}: CSP {csp:?} lacks {part}");
        }
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    }
    for (what, r) in &answers[1..3] {
        assert_eq!(r.header("cache-control"), Some("no-store"), "{what}");
    }
    assert_eq!(answers[5].1.header("cache-control"), Some("no-store"));
}

async fn metrics_can_live_on_their_own_port(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.metrics_bind = Some("127.0.0.1:0".parse().expect("addr"))
    })
    .await;
    let port = app.metrics_port.expect("metrics listener");
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("text").contains("phonereg_"));
    let r = app
        .finish(app.client.get(format!("{}/metrics", app.address)))
        .await;
    assert_eq!(r.status, 404, "not on the public listener");
}

async fn the_generated_secret_is_private(b: Backend) {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("phonereg-gen-{:x}", rand::random::<u64>()));
    let data = dir.join("data");
    let app = spawn_app_with(b, |c| {
        c.jwt_secret = None;
        c.data_dir = data.clone();
    })
    .await;
    app.signup().await;
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("jwt-secret")), 0o600);
    assert_eq!(mode(&data), 0o700);
    let leftovers = std::fs::read_dir(&data).expect("dir").count();
    assert_eq!(leftovers, 1, "no temporary file left behind");
}

/// Every stored SMS body that still holds a six-digit run (a code).
async fn bodies_with_codes(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use phonereg_api::persistence::{Conn, schema::sms_messages};
    let bodies: Vec<String> = app
        .state
        .db
        .read(|conn| {
            Ok(match conn {
                Conn::Sqlite(c) => sms_messages::table.select(sms_messages::body).load(*c)?,
                Conn::Postgres(c) => sms_messages::table.select(sms_messages::body).load(*c)?,
            })
        })
        .await
        .expect("read bodies");
    bodies
        .into_iter()
        .filter(|b| b.split(|c: char| !c.is_ascii_digit()).any(|w| w.len() == 6))
        .collect()
}

async fn dead_codes_are_erased_from_stored_messages(b: Backend) {
    use fake_twilio::Failure;
    let (app, fake) = crate::helpers::spawn_twilio_app(b, |_| {}).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, "+1 415 555 2671").await;
    // Twilio refuses it for good: the failed message must not keep the code.
    fake.fail_next(Failure::InvalidNumber, 1);
    app.drain_outbox().await;
    assert_eq!(
        bodies_with_codes(&app).await,
        Vec::<String>::new(),
        "after a final failure"
    );
    // A code replaced before it was sent: its message is not sent and keeps nothing.
    app.resend(&token, id).await.expect(202);
    app.resend(&token, id).await.expect(202);
    app.drain_outbox().await;
    assert_eq!(fake.messages().len(), 1, "only the live code went out");
    assert_eq!(
        bodies_with_codes(&app).await,
        Vec::<String>::new(),
        "after a replacement"
    );
    let body = fake.messages().last().expect("sms").body.clone();
    let code = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code")
        .to_owned();
    app.verify(&token, id, &code).await.expect(200);
    assert_eq!(
        bodies_with_codes(&app).await,
        Vec::<String>::new(),
        "after verifying"
    );
}

/// The bench's logins on PostgreSQL answered 500 ("deadlock detected"): a login's charge
/// (INSERT … ON CONFLICT, rows in list order) and another's refund (one UPDATE over
/// `key = ANY(…)`, rows in scan order) locked the same two counter rows in opposite
/// orders. The email's all-networks row is made first here, from another network, so it
/// lies before this network's row and a scan meets it first.
async fn concurrent_logins_of_one_email_all_succeed(b: Backend) {
    let app = spawn_app_with(b, |c| {
        behind_proxy(c);
        c.db_pool_size = 16;
        // Concurrent logins are all charged before any is refunded: the failure caps are
        // raised (as the bench does) so only the locking is under test.
        c.login_failures_per_email = 1000;
        c.login_failures_per_email_all_networks = 1000;
    })
    .await;
    let email = "many@example.com";
    app.register(json!({"email": email, "password": PASSWORD, "full_name": "M"}))
        .await
        .expect(201);
    login_from(&app, "198.51.100.1", email, "not the password")
        .await
        .expect(401);
    for _ in 0..4 {
        let answers = futures_util::future::join_all(
            (0..24).map(|_| login_from(&app, "198.51.100.2", email, PASSWORD)),
        )
        .await;
        let statuses: Vec<u16> = answers.iter().map(|r| r.status.as_u16()).collect();
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
}
