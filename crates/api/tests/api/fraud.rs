//! SPEC §9: the SMS fraud guard, client identity, the operators' API, and the number
//! change that must not tell who owns a number.
//!
//! Long: the tests of SPEC §9's fraud guard, one per rule.

use phonereg_api::config::{Config, FraudMode, Secret};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

pub(crate) const ADMIN: &str = "operator-token-operator-token-0123456789";
pub(crate) const PAUSE: u64 = 3600;

/// Small floors so a handful of sends trips the guard; everything else at defaults but
/// the per-client caps, which every request from 127.0.0.1 would otherwise share.
pub(crate) fn guarded(c: &mut Config) {
    c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
    c.sms_fraud_range_floor = 4;
    c.sms_fraud_country_floor = 50;
    c.sms_fraud_pause = PAUSE;
    c.admin_token = Some(Secret::new(ADMIN.into()));
}

/// A request from `client` behind the trusted proxy, checked against openapi.yaml.
async fn from(
    app: &TestApp,
    client: &str,
    method: Method,
    route: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Resp {
    app.call_from(Some(client), method, route, path, token, body)
        .await
}

/// Registers an account from its own address and asks for a code to `number`.
pub(crate) async fn sign_up_with(app: &TestApp, n: u32, number: &str) -> Resp {
    from(
        app,
        &format!("198.51.{}.{}", n / 250, n % 250 + 1),
        Method::POST,
        "/api/v1/auth/register",
        "/api/v1/auth/register",
        None,
        Some(json!({
            "email": format!("user{n}-{}@example.com", rand::random::<u32>()),
            "password": PASSWORD,
            "full_name": "Someone",
            "phone_number": number,
        })),
    )
    .await
}

pub(crate) async fn admin(
    app: &TestApp,
    method: Method,
    route: &str,
    path: &str,
    token: &str,
) -> Resp {
    app.call(method, route, path, Some(token), None).await
}

pub(crate) async fn pauses(app: &TestApp) -> Vec<Value> {
    let p = "/api/v1/admin/sms/pauses";
    let r = admin(app, Method::GET, p, p, ADMIN).await.expect(200);
    r.body["items"].as_array().expect("items").clone()
}

/// `+44 7400 1xxxxx`: one GB mobile range (`+44740`) per call of `n`.
pub(crate) fn pumped(n: u32) -> String {
    format!("+4474001{n:05}")
}

#[track_caller]
pub(crate) fn assert_paused(r: &Resp) {
    assert_eq!(r.status.as_u16(), 429, "body: {}", r.body);
    assert!(
        r.body["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/problems/sms-range-paused")),
        "{}",
        r.body
    );
    let retry = r.retry_after();
    assert!((1..=PAUSE).contains(&retry), "Retry-After {retry}");
    let text = r.body.to_string();
    assert!(
        !text.contains("@example.com") && !text.contains("+44"),
        "{text}"
    );
}

async fn pumping_pauses_the_range_while_the_rest_of_the_country_passes(b: Backend) {
    let app = spawn_app_with(b, guarded).await;
    let mut first = None;
    for n in 0..4 {
        let r = sign_up_with(&app, n, &pumped(n)).await.expect(201);
        first.get_or_insert(r);
    }
    // The fourth unverified code reached the floor: the range is paused, and a new
    // account for it is refused before anything is written.
    let refused = sign_up_with(&app, 4, &pumped(4)).await;
    assert_paused(&refused);
    // An account that got its code before the pause cannot have another sent.
    let first = first.expect("first sign-up");
    let token = first.body["access_token"].as_str().expect("token");
    let id = first.body["user"]["phone"]["id"]
        .as_i64()
        .expect("phone id");
    assert_paused(&app.resend(token, id).await);
    let users_before = app.state.db.read(count_users).await.expect("count");
    assert_eq!(users_before, 4, "the refused registration wrote a user");
    // Real users of the same country in other ranges, and of other countries, pass.
    sign_up_with(&app, 5, "+447300123456").await.expect(201);
    sign_up_with(&app, 6, "+61412345678").await.expect(201);
    // An existing account cannot add or swap in a paused number either.
    let (token, _, _) = app.signup().await;
    let r = from(
        &app,
        "203.0.113.9",
        Method::POST,
        "/api/v1/users/me/phone-numbers",
        "/api/v1/users/me/phone-numbers",
        Some(&token),
        Some(json!({"phone_number": pumped(7)})),
    )
    .await;
    assert_paused(&r);
    let listed = app.list_phones(&token).await.expect(200);
    assert_eq!(listed.body["items"], json!([]), "nothing written");
    // Operators see it, with the counts that caused it.
    let items = pauses(&app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["scope"], "range");
    assert_eq!(items[0]["key"], "+44740");
    assert_eq!(items[0]["country"], "GB");
    assert_eq!(items[0]["sent"], 4);
    assert_eq!(items[0]["verified"], 0);
    assert_eq!(items[0]["enforced"], true);
    let p = "/api/v1/admin/sms/decisions";
    let d = admin(
        &app,
        Method::GET,
        p,
        "/api/v1/admin/sms/decisions?limit=5",
        ADMIN,
    )
    .await
    .expect(200);
    assert_eq!(d.body["items"][0]["action"], "pause");
    assert_eq!(d.body["items"][0]["key"], "+44740");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"phonereg_sms_fraud_decisions_total{action="refuse",scope="range"}"#),
        "{metrics}"
    );
}

pub(crate) fn count_users(
    c: &mut phonereg_api::persistence::Conn<'_>,
) -> Result<i64, phonereg_api::error::ApiError> {
    use diesel::{QueryDsl as _, RunQueryDsl as _};
    use phonereg_api::persistence::schema::users;
    Ok(match c {
        phonereg_api::persistence::Conn::Sqlite(c) => users::table.count().get_result(*c)?,
        phonereg_api::persistence::Conn::Postgres(c) => users::table.count().get_result(*c)?,
    })
}

async fn verified_codes_earn_a_range_more_room(b: Backend) {
    let app = spawn_app_with(b, guarded).await;
    // Six real users of one range verify; three more leave their codes unused.
    for n in 0..6 {
        let (token, _, _) = app.signup().await;
        let id = app.add_phone_id(&token, &pumped(n)).await;
        let code = app.code_sent_to(&pumped(n)).await;
        app.verify(&token, id, &code).await.expect(200);
    }
    for n in 6..11 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    // 5 unverified against 6 verified: under max(4, 1.0 × 6).
    assert!(pauses(&app).await.is_empty());
    sign_up_with(&app, 11, &pumped(11)).await.expect(201);
    // The sixth unverified code reached 1.0 × 6 verified.
    assert_paused(&sign_up_with(&app, 12, &pumped(12)).await);
}

/// SPEC §10: the guard counts and refuses claims only. An owner's verified number in a
/// paused range still gets its test message, and the pause still refuses claims there.
async fn owner_sms_to_a_paused_range_still_go_out(b: Backend) {
    let app = spawn_app_with(b, guarded).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, &pumped(100)).await;
    let code = app.code_sent_to(&pumped(100)).await;
    app.verify(&token, id, &code).await.expect(200);
    for n in 0..4 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    assert_paused(&sign_up_with(&app, 4, &pumped(4)).await);
    let path = format!("/api/v1/users/me/phone-numbers/{id}/test-message");
    let route = "/api/v1/users/me/phone-numbers/{id}/test-message";
    app.call(Method::POST, route, &path, Some(&token), None)
        .await
        .expect(202);
}

async fn record_mode_sends_everything_and_only_records(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.sms_fraud_guard = FraudMode::Record;
    })
    .await;
    for n in 0..8 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    app.drain_outbox().await;
    let inbox = app.state.inbox.as_ref().expect("console provider");
    assert_eq!(inbox.items().len(), 8, "every SMS went out");
    let items = pauses(&app).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["enforced"], false);
    let p = "/api/v1/admin/sms/decisions";
    let d = admin(&app, Method::GET, p, p, ADMIN).await.expect(200);
    assert_eq!(d.body["items"][0]["action"], "record");
}

async fn allowed_ranges_and_test_numbers_are_never_paused(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.sms_fraud_allow = "+447400, US".parse_allow();
        c.sms_test_numbers = "+447300900999=123456".parse_tests();
    })
    .await;
    for n in 0..8 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    for n in 8..16 {
        sign_up_with(&app, n, &format!("+1415523{n:04}"))
            .await
            .expect(201);
    }
    for n in 16..24 {
        sign_up_with(&app, n, "+447300900999").await.expect(201);
    }
    assert!(pauses(&app).await.is_empty());
}

async fn a_pause_is_shared_by_every_process(b: Backend) {
    let one = spawn_app_with(b, guarded).await;
    let database = one.database_url.clone();
    let two = spawn_app_with(b, |c| {
        guarded(c);
        c.database_url = database;
    })
    .await;
    for n in 0..4 {
        sign_up_with(&one, n, &pumped(n)).await.expect(201);
    }
    assert_paused(&sign_up_with(&two, 4, &pumped(4)).await);
}

async fn a_pause_ends_after_its_time_and_the_window_starts_over(b: Backend) {
    let app = spawn_app_with(b, guarded).await;
    for n in 0..4 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    assert_paused(&sign_up_with(&app, 4, &pumped(4)).await);
    app.state.clock.advance(PAUSE as i64 - 5);
    assert_paused(&sign_up_with(&app, 5, &pumped(5)).await);
    app.state.clock.advance(10);
    // Free again, and the codes that caused the pause do not pause it at once.
    sign_up_with(&app, 6, &pumped(6)).await.expect(201);
    sign_up_with(&app, 7, &pumped(7)).await.expect(201);
    assert!(pauses(&app).await.is_empty());
}

async fn operators_lift_a_pause_with_the_admin_token(b: Backend) {
    let app = spawn_app_with(b, guarded).await;
    for n in 0..4 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    let id = pauses(&app).await[0]["id"].as_i64().expect("id");
    let route = "/api/v1/admin/sms/pauses/{id}";
    let path = format!("/api/v1/admin/sms/pauses/{id}");
    let (user_token, _, _) = app.signup().await;
    admin(&app, Method::DELETE, route, &path, &user_token)
        .await
        .expect(401);
    admin(&app, Method::DELETE, route, &path, ADMIN)
        .await
        .expect(204);
    admin(&app, Method::DELETE, route, &path, ADMIN)
        .await
        .expect(404);
    sign_up_with(&app, 4, &pumped(4)).await.expect(201);
    let p = "/api/v1/admin/sms/decisions";
    let d = admin(&app, Method::GET, p, p, ADMIN).await.expect(200);
    assert_eq!(d.body["items"][0]["action"], "lift");
    // Without ADMIN_TOKEN there is no admin API at all.
    let plain = spawn_app_with(b, |_| {}).await;
    let p = "/api/v1/admin/sms/pauses";
    admin(&plain, Method::GET, p, p, ADMIN).await.expect(404);
}

async fn a_country_is_paused_when_many_of_its_ranges_are(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.sms_fraud_country_ranges = 2;
    })
    .await;
    let mut n = 0;
    for range in ["+4474001", "+4471230"] {
        for _ in 0..4 {
            let number = format!("{range}{n:05}");
            sign_up_with(&app, n, &number).await.expect(201);
            n += 1;
        }
    }
    let items = pauses(&app).await;
    assert!(
        items
            .iter()
            .any(|p| p["scope"] == "country" && p["key"] == "GB"),
        "{items:?}"
    );
    assert_paused(&sign_up_with(&app, 99, "+447300123456").await);
    sign_up_with(&app, 98, "+61412345678").await.expect(201);
}

/// Verifies `e164` on an account of its own: someone else's number to the caller.
async fn verified_elsewhere(app: &TestApp, e164: &str) {
    let (owner, _, _) = app.signup().await;
    let id = app.add_phone_id(&owner, e164).await;
    let code = app.code_sent_to(e164).await;
    app.verify(&owner, id, &code).await.expect(200);
}

async fn a_number_change_answers_alike_whoever_owns_the_number(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.sms_per_account_per_day = 2;
    })
    .await;
    verified_elsewhere(&app, "+14155550001").await;
    verified_elsewhere(&app, "+14155550005").await;
    let (prober, _, _) = app.signup().await;
    let id = app.add_phone_id(&prober, "+14155550002").await;
    let patch = |n: &str| json!({"phone_number": n});
    // SPEC §10: the taken number answers like a free one.
    let taken = app
        .phone(Method::PATCH, &prober, id, Some(patch("+14155550001")))
        .await
        .expect(200);
    assert_eq!(taken.body["verification"]["sent"], true);
    // The account's SMS are spent: both numbers now get the same 429.
    let taken = app
        .phone(Method::PATCH, &prober, id, Some(patch("+14155550005")))
        .await
        .expect(429);
    let free = app
        .phone(Method::PATCH, &prober, id, Some(patch("+14155550004")))
        .await
        .expect(429);
    assert_eq!(taken.body["type"], free.body["type"]);
    assert_eq!(taken.body["title"], free.body["title"]);
}

async fn number_changes_are_counted_before_any_lookup(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.phone_changes_per_account_per_day = 3;
    })
    .await;
    verified_elsewhere(&app, "+14155550001").await;
    let (prober, _, _) = app.signup().await;
    let id = app.add_phone_id(&prober, "+14155550002").await;
    let probe = json!({"phone_number": "+14155550001"});
    // SPEC §10: a taken number answers like a free one (a code is sent to it); the
    // change allowance bounds the probing all the same.
    let free = json!({"phone_number": "+14155550003"});
    app.phone(Method::PATCH, &prober, id, Some(probe.clone()))
        .await
        .expect(200);
    app.phone(Method::PATCH, &prober, id, Some(free))
        .await
        .expect(200);
    // The third change of the day: refused before the number is looked up.
    let r = app
        .phone(Method::PATCH, &prober, id, Some(probe))
        .await
        .expect(429);
    assert!(r.retry_after() > 0);
}

async fn addresses_of_one_ipv6_64_are_one_client(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.register_per_ip_per_hour = 3;
    })
    .await;
    let register = |n: u32, ip: String| {
        let app = &app;
        async move {
            from(
                app,
                &ip,
                Method::POST,
                "/api/v1/auth/register",
                "/api/v1/auth/register",
                None,
                Some(json!({
                    "email": format!("v6-{n}-{}@example.com", rand::random::<u32>()),
                    "password": PASSWORD,
                    "full_name": "Someone",
                })),
            )
            .await
        }
    };
    for n in 0..3 {
        register(n, format!("2001:db8:aa:1:{n:x}::{n:x}"))
            .await
            .expect(201);
    }
    register(3, "2001:db8:aa:1:ffff::7".into())
        .await
        .expect(429);
    register(4, "::ffff:192.0.2.1".into()).await.expect(201);
    register(5, "2001:db8:aa:2::1".into()).await.expect(201);
}

trait ParseSetting {
    fn parse_allow(&self) -> phonereg_api::config::FraudAllow;
    fn parse_tests(&self) -> phonereg_api::config::TestNumbers;
}

impl ParseSetting for str {
    fn parse_allow(&self) -> phonereg_api::config::FraudAllow {
        use clap::Parser as _;
        Config::parse_from(["x", "--sms-fraud-allow", self]).sms_fraud_allow
    }
    fn parse_tests(&self) -> phonereg_api::config::TestNumbers {
        use clap::Parser as _;
        Config::parse_from(["x", "--sms-test-numbers", self]).sms_test_numbers
    }
}

on_both_databases!(
    pumping_pauses_the_range_while_the_rest_of_the_country_passes,
    verified_codes_earn_a_range_more_room,
    owner_sms_to_a_paused_range_still_go_out,
    record_mode_sends_everything_and_only_records,
    allowed_ranges_and_test_numbers_are_never_paused,
    a_pause_is_shared_by_every_process,
    a_pause_ends_after_its_time_and_the_window_starts_over,
    operators_lift_a_pause_with_the_admin_token,
    a_country_is_paused_when_many_of_its_ranges_are,
    a_number_change_answers_alike_whoever_owns_the_number,
    number_changes_are_counted_before_any_lookup,
    addresses_of_one_ipv6_64_are_one_client,
);
