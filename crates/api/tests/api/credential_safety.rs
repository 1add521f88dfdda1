//! SPEC §10: what an anonymous request may spend, and what needs a password. Each test is
//! one lever of the attacks in issue 17, tried against the real server: anonymous starts
//! must not pause a country or spend the budget, a stranger's starts must not refuse the
//! owner's login code, guesses are bounded per number and client, a stolen access token
//! cannot move the number, and recovery codes stand in for the SIM.
//!
//! Long: one test per rule of SPEC §10, each an attack of issue 17; split by rule, each
//! file would repeat the same account setup.

use reqwest::Method;
use serde_json::{Value, json};

use phonereg_api::config::{Config, Secret};

use crate::helpers::{
    Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app, spawn_app_with,
};

const OWNED: &str = "+14155552671";
const ADMIN: &str = "an operator token of at least thirty-two bytes";

on_both_databases!(
    anonymous_starts_never_pause_a_country_nor_refuse_the_owner,
    starts_to_numbers_without_accounts_spend_no_budget,
    the_reserve_keeps_owner_sms_going_past_the_budget,
    a_strangers_starts_never_refuse_the_owners_login_code,
    starts_have_their_own_caps_alike_with_and_without_an_account,
    guesses_are_bounded_per_number_and_per_client,
    test_number_guesses_are_bounded_too,
    a_stolen_token_cannot_move_or_remove_the_number,
    a_verified_change_notifies_and_ends_other_sessions,
    a_wrong_reauthentication_is_wrong_password_not_a_dead_token,
    recovery_codes_stand_in_for_the_sim,
    a_reset_on_a_two_factor_account_needs_a_recovery_code,
    a_right_password_is_never_a_login_failure,
    a_stolen_token_spending_test_messages_never_refuses_the_login_code,
    the_dev_inbox_refuses_what_came_through_a_proxy,
);

/// Moves the clock to just past the start of the next UTC hour, so a test's fixed
/// windows (hourly caps, 15-minute guess windows) cannot roll over halfway through it.
fn align_to_hour(app: &TestApp) {
    let now = app.state.clock.now();
    app.state.clock.advance(3600 - now.rem_euclid(3600) + 1);
}

/// Behind a trusted proxy, so each test can speak as many clients.
fn proxied(c: &mut Config) {
    c.trusted_proxies = "127.0.0.1".parse().expect("proxy");
    c.admin_token = Some(Secret::new(ADMIN.into()));
}

async fn post_from(app: &TestApp, client: &str, route: &str, body: Value) -> Resp {
    app.call_from(Some(client), Method::POST, route, route, None, Some(body))
        .await
}

async fn start_from(app: &TestApp, client: &str, e164: &str, purpose: &str) -> Resp {
    post_from(
        app,
        client,
        "/api/v1/auth/sms/start",
        json!({"phone_number": e164, "purpose": purpose}),
    )
    .await
}

/// An account whose number `e164` is verified: (email, access token, phone id).
async fn verified_account(app: &TestApp, e164: &str) -> (String, String, i64) {
    let email = format!("{}@example.com", &e164[1..]);
    let r = app
        .register(json!({"email": email, "password": PASSWORD, "full_name": "Owner", "phone_number": e164}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(e164).await;
    app.verify(&token, id, &code).await.expect(200);
    (email, token, id)
}

async fn set_two_factor(app: &TestApp, token: &str, body: Value) -> Resp {
    let route = "/api/v1/users/me/two-factor";
    app.call(Method::PUT, route, route, Some(token), Some(body))
        .await
}

/// A verified account with two-step sign-in on: (email, token, its recovery codes).
async fn two_factor_account(app: &TestApp, e164: &str) -> (String, String, Vec<String>) {
    let (email, token, _) = verified_account(app, e164).await;
    let r = set_two_factor(app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    let codes = r.body["recovery_codes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    (email, token, codes)
}

/// The SMS sent to `e164` so far, newest first.
fn sms_to(app: &TestApp, e164: &str) -> Vec<String> {
    app.state
        .inbox
        .as_ref()
        .expect("console provider")
        .items()
        .into_iter()
        .filter(|m| m.to == e164)
        .map(|m| m.body)
        .collect()
}

async fn login(app: &TestApp, email: &str, password: &str) -> Resp {
    app.login(email, password).await
}

fn problem_type(r: &Resp) -> String {
    r.body["type"].as_str().unwrap_or_default().to_owned()
}

/// Issue 17's first attack: anonymous starts to numbers without accounts, in many ranges
/// of one country, from many clients. Nothing is sent, so the guard never sees them: no
/// range or country is paused, the two-factor owner's login code still goes out, and a
/// new signup in that country still gets its code.
async fn anonymous_starts_never_pause_a_country_nor_refuse_the_owner(b: Backend) {
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.sms_fraud_range_floor = 2;
        c.sms_fraud_country_floor = 5;
    })
    .await;
    align_to_hour(&app);
    let (email, _, _) = two_factor_account(&app, OWNED).await;
    app.drain_outbox().await;
    let before = sms_to(&app, OWNED).len();
    let mut answered = 0;
    for (i, area) in ["201", "202", "203", "205"].iter().enumerate() {
        for n in 0..15 {
            let number = format!("+1{area}555{:04}", 100 + n);
            let client = format!("198.51.100.{}", i * 15 + n + 1);
            let purpose = if n % 2 == 0 {
                "sign_in"
            } else {
                "password_reset"
            };
            answered += u32::from(start_from(&app, &client, &number, purpose).await.status == 202);
        }
    }
    assert_eq!(answered, 60, "every start answers 202");
    let route = "/api/v1/admin/sms/pauses";
    let pauses = app
        .call(Method::GET, route, route, Some(ADMIN), None)
        .await
        .expect(200);
    assert_eq!(
        pauses.body["items"],
        json!([]),
        "no pause from anonymous starts"
    );
    let r = login(&app, &email, PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true);
    app.drain_outbox().await;
    assert_eq!(
        sms_to(&app, OWNED).len(),
        before + 1,
        "the login code went out"
    );
    app.register(json!({"email": "new@example.com", "password": PASSWORD, "full_name": "N", "phone_number": "+12125550123"}))
        .await
        .expect(201);
}

/// Issue 17's second attack: reset starts to numbers without accounts spend nothing of
/// the daily budget, so the owner's login code and new signups still go out.
async fn starts_to_numbers_without_accounts_spend_no_budget(b: Backend) {
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.sms_daily_budget = 4;
        c.sms_budget_reserve = Some(1);
    })
    .await;
    align_to_hour(&app);
    let (email, _, _) = two_factor_account(&app, OWNED).await;
    for n in 0..39 {
        let number = format!("+1646555{:04}", 200 + n);
        let client = format!("203.0.113.{}", n + 1);
        start_from(&app, &client, &number, "password_reset")
            .await
            .expect(202);
    }
    let r = login(&app, &email, PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true);
    app.register(json!({"email": "new@example.com", "password": PASSWORD, "full_name": "N", "phone_number": "+12125550123"}))
        .await
        .expect(201);
}

/// Claims stop at the budget; owner SMS and starts to verified numbers go on from the
/// reserve; past the reserve every kind is refused alike, starts without an account too.
async fn the_reserve_keeps_owner_sms_going_past_the_budget(b: Backend) {
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.sms_daily_budget = 2;
        // Starts may spend half of it (2 + 2), owner SMS all of it (2 + 4).
        c.sms_budget_reserve = Some(4);
    })
    .await;
    align_to_hour(&app);
    // Two claims: the owner's own number and one more signup spend the budget.
    let (email, token, _) = verified_account(&app, OWNED).await;
    app.register(json!({"email": "b@example.com", "password": PASSWORD, "full_name": "B", "phone_number": "+14155550101"}))
        .await
        .expect(201);
    let r = app
        .register(json!({"email": "c@example.com", "password": PASSWORD, "full_name": "C", "phone_number": "+14155550102"}))
        .await
        .expect(503);
    assert!(r.retry_after() > 0);
    // Owner SMS go on from the reserve: turning two-step on needs no SMS; the login does.
    set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    login(&app, &email, PASSWORD).await.expect(200);
    // A start to the verified number takes the last of the starts' half of the reserve.
    start_from(&app, "198.51.100.7", OWNED, "sign_in")
        .await
        .expect(202);
    // Past it: a start answers 503 with or without an account; owner SMS go on.
    let owned = start_from(&app, "198.51.100.8", OWNED, "password_reset").await;
    let nobodys = start_from(&app, "198.51.100.9", "+14155550199", "password_reset").await;
    assert_eq!(owned.status, 503);
    assert_eq!(nobodys.status, 503);
    assert_eq!(owned.body["type"], nobodys.body["type"]);
    app.state.clock.advance(31);
    login(&app, &email, PASSWORD).await.expect(200);
}

/// Issue 17's third attack: a stranger who knows the number spends its starts; the owner's
/// own password login still gets its code.
async fn a_strangers_starts_never_refuse_the_owners_login_code(b: Backend) {
    let app = spawn_app_with(b, proxied).await;
    align_to_hour(&app);
    let (email, _, _) = two_factor_account(&app, OWNED).await;
    let mut statuses = Vec::new();
    for (i, purpose) in ["sign_in", "password_reset", "sign_in", "password_reset"]
        .iter()
        .enumerate()
    {
        let client = format!("203.0.113.{}", 40 + i);
        statuses.push(
            start_from(&app, &client, OWNED, purpose)
                .await
                .status
                .as_u16(),
        );
        app.state.clock.advance(31);
    }
    assert_eq!(
        statuses,
        [202, 202, 202, 429],
        "three starts per number an hour"
    );
    app.drain_outbox().await;
    let before = sms_to(&app, OWNED).len();
    let r = login(&app, &email, PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true);
    app.drain_outbox().await;
    assert_eq!(
        sms_to(&app, OWNED).len(),
        before + 1,
        "the login code went out"
    );
    assert!(sms_to(&app, OWNED)[0].contains("login code"));
}

/// The start caps bite alike for a number with and without an account (same status and
/// problem), per number and per client network.
async fn starts_have_their_own_caps_alike_with_and_without_an_account(b: Backend) {
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.sms_starts_per_ip_per_hour = 4;
    })
    .await;
    align_to_hour(&app);
    verified_account(&app, OWNED).await;
    let nobodys = "+14155550177";
    let mut owned = Vec::new();
    let mut free = Vec::new();
    for i in 0..4 {
        let purpose = if i % 2 == 0 {
            "sign_in"
        } else {
            "password_reset"
        };
        let client = format!("198.51.100.{}", 60 + i);
        owned.push(start_from(&app, &client, OWNED, purpose).await);
        free.push(start_from(&app, &client, nobodys, purpose).await);
        app.state.clock.advance(31);
    }
    let s = |v: &[Resp]| v.iter().map(|r| r.status.as_u16()).collect::<Vec<_>>();
    assert_eq!(s(&owned), [202, 202, 202, 429]);
    assert_eq!(s(&owned), s(&free));
    assert_eq!(owned[3].body["type"], free[3].body["type"]);
    // Per client network: the fifth start from one client is refused, whatever number.
    for n in 0..4 {
        start_from(
            &app,
            "203.0.113.99",
            &format!("+1415555{:04}", 300 + n),
            "sign_in",
        )
        .await
        .expect(202);
    }
    start_from(&app, "203.0.113.99", "+14155550400", "sign_in")
        .await
        .expect(429);
}

async fn reset_from(app: &TestApp, client: &str, e164: &str, code: &str) -> Resp {
    post_from(
        app,
        client,
        "/api/v1/auth/password-reset",
        json!({"phone_number": e164, "code": code, "new_password": "a new passphrase"}),
    )
    .await
}

fn other_than(code: &str) -> String {
    let wrong = (code.parse::<u32>().expect("digits") + 1) % 1_000_000;
    format!("{wrong:06}")
}

/// Wrong codes are bounded per number (whatever the client) and per client (whatever the
/// number): past either, 429 and the guess is not checked, the right code included.
async fn guesses_are_bounded_per_number_and_per_client(b: Backend) {
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.code_failures_per_number = 6;
        c.code_failures_per_ip = 8;
        c.verify_max_attempts = 100;
    })
    .await;
    align_to_hour(&app);
    verified_account(&app, OWNED).await;
    start_from(&app, "198.51.100.1", OWNED, "password_reset")
        .await
        .expect(202);
    let code = app.code_sent_to(OWNED).await;
    let wrong = other_than(&code);
    for i in 0..6 {
        let client = format!("198.51.100.{}", 10 + i);
        reset_from(&app, &client, OWNED, &wrong).await.expect(422);
    }
    // The number's allowance is spent: refused from a fresh client, right code or not.
    let r = reset_from(&app, "198.51.100.50", OWNED, &wrong)
        .await
        .expect(429);
    assert!(r.retry_after() > 0);
    reset_from(&app, "198.51.100.51", OWNED, &code)
        .await
        .expect(429);
    // Per client: eight wrong guesses over other numbers, then the client is refused.
    for n in 0..8 {
        let number = format!("+1646555{:04}", 500 + n);
        start_from(&app, &format!("203.0.113.{}", 100 + n), &number, "sign_in")
            .await
            .expect(202);
        post_from(
            &app,
            "192.0.2.7",
            "/api/v1/auth/sms/sign-in",
            json!({"phone_number": number, "code": "123456"}),
        )
        .await
        .expect(422);
    }
    let number = "+16465550600";
    start_from(&app, "203.0.113.200", number, "sign_in")
        .await
        .expect(202);
    post_from(
        &app,
        "192.0.2.7",
        "/api/v1/auth/sms/sign-in",
        json!({"phone_number": number, "code": "123456"}),
    )
    .await
    .expect(429);
    // After the window the owner's right code works again (a fresh one: the first
    // expired meanwhile).
    app.state.clock.advance(900);
    start_from(&app, "198.51.100.1", OWNED, "password_reset")
        .await
        .expect(202);
    let code = app.code_sent_to(OWNED).await;
    reset_from(&app, "198.51.100.52", OWNED, &code)
        .await
        .expect(204);
}

/// Issue 17's fifth attack: a test number's fixed code is bounded like any other.
async fn test_number_guesses_are_bounded_too(b: Backend) {
    const TEST: &str = "+15005550100";
    let app = spawn_app_with(b, |c| {
        proxied(c);
        c.sms_test_numbers.0 = vec![(TEST.into(), "123456".into())];
    })
    .await;
    align_to_hour(&app);
    let r = app
        .register(json!({"email": "t@example.com", "password": PASSWORD, "full_name": "T", "phone_number": TEST}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    app.verify(&token, id, "123456").await.expect(200);
    let mut checked = 0;
    let mut refused = 0;
    for i in 0..60 {
        start_from(&app, "198.51.100.1", TEST, "password_reset").await;
        let client = format!("203.0.113.{}", i + 1);
        let guess = format!("{:06}", 200_000 + i);
        match reset_from(&app, &client, TEST, &guess)
            .await
            .status
            .as_u16()
        {
            422 | 410 => checked += 1,
            429 => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(
        checked, 10,
        "CODE_FAILURES_PER_NUMBER wrong guesses checked"
    );
    assert_eq!(refused, 50);
}

async fn patch_from(app: &TestApp, token: &str, id: i64, body: Value) -> Resp {
    app.phone_as_sent(Method::PATCH, token, id, Some(body))
        .await
}

/// Issue 17's fourth attack: with only the access token, the verified number can be
/// neither replaced nor removed; with the password it can.
async fn a_stolen_token_cannot_move_or_remove_the_number(b: Backend) {
    let app = spawn_app(b).await;
    align_to_hour(&app);
    let (_, token, id) = verified_account(&app, OWNED).await;
    let attacker = "+14155550123";
    let r = patch_from(&app, &token, id, json!({"phone_number": attacker}))
        .await
        .expect(422);
    assert!(!r.field_errors("current_password").is_empty());
    let r = patch_from(
        &app,
        &token,
        id,
        json!({"phone_number": attacker, "current_password": "a guess at it"}),
    )
    .await
    .expect(401);
    assert!(problem_type(&r).ends_with("/problems/wrong-password"));
    app.drain_outbox().await;
    assert!(
        sms_to(&app, attacker).is_empty(),
        "nothing sent to the attacker"
    );
    let phone = app.phone(Method::GET, &token, id, None).await.expect(200);
    assert!(phone.body["pending_e164"].is_null());
    // DELETE: the same.
    let r = app
        .phone_as_sent(Method::DELETE, &token, id, None)
        .await
        .expect(422);
    assert!(!r.field_errors("current_password").is_empty());
    let r = app
        .phone_as_sent(
            Method::DELETE,
            &token,
            id,
            Some(json!({"current_password": "a guess at it"})),
        )
        .await
        .expect(401);
    assert!(problem_type(&r).ends_with("/problems/wrong-password"));
    app.phone(Method::GET, &token, id, None).await.expect(200);
    // With the password both go through.
    patch_from(
        &app,
        &token,
        id,
        json!({"phone_number": attacker, "current_password": PASSWORD}),
    )
    .await
    .expect(200);
    app.phone(Method::DELETE, &token, id, None)
        .await
        .expect(204);
}

/// The verified number hears of a change at once, and again when it takes effect; then
/// every other session of the account ends while the caller's stays.
async fn a_verified_change_notifies_and_ends_other_sessions(b: Backend) {
    let app = spawn_app(b).await;
    align_to_hour(&app);
    let (email, token, id) = verified_account(&app, OWNED).await;
    let other = login(&app, &email, PASSWORD).await.expect(200);
    let other_refresh = other.body["refresh_token"].as_str().expect("rt").to_owned();
    let new = "+14155550188";
    app.drain_outbox().await;
    let before = sms_to(&app, OWNED).len();
    app.phone(
        Method::PATCH,
        &token,
        id,
        Some(json!({"phone_number": new})),
    )
    .await
    .expect(200);
    app.drain_outbox().await;
    let to_old = sms_to(&app, OWNED);
    assert_eq!(to_old.len(), before + 1, "a notice at request time");
    assert!(to_old[0].contains("88"), "{}", to_old[0]);
    let code = app.code_sent_to(new).await;
    app.verify(&token, id, &code).await.expect(200);
    app.drain_outbox().await;
    assert_eq!(
        sms_to(&app, OWNED).len(),
        before + 2,
        "and when it takes effect"
    );
    app.refresh(&other_refresh).await.expect(401);
    app.me(&token).await.expect(200);
}

/// `wrong-password` wherever a password is re-checked, distinct from a dead token's 401.
async fn a_wrong_reauthentication_is_wrong_password_not_a_dead_token(b: Backend) {
    let app = spawn_app(b).await;
    align_to_hour(&app);
    let (_, token, _) = verified_account(&app, OWNED).await;
    let r = set_two_factor(&app, &token, json!({"enabled": true, "password": "not it"}))
        .await
        .expect(401);
    assert!(problem_type(&r).ends_with("/problems/wrong-password"));
    let route = "/api/v1/users/me/recovery-codes";
    let r = app
        .call(
            Method::POST,
            route,
            route,
            Some(&token),
            Some(json!({"password": "not it"})),
        )
        .await
        .expect(401);
    assert!(problem_type(&r).ends_with("/problems/wrong-password"));
    let r = app.me("not a token").await.expect(401);
    assert!(problem_type(&r).ends_with("/problems/unauthorized"));
}

async fn login_verify(app: &TestApp, body: Value) -> Resp {
    let route = "/api/v1/auth/login/verify";
    app.call(Method::POST, route, route, None, Some(body)).await
}

/// Ten single-use codes when two-step goes on; each signs in once in place of the SMS
/// code; a new set replaces the old; the count is on `user`.
/// Long: one story (lost SIM, recovery code, reset, renewal), step by step.
async fn recovery_codes_stand_in_for_the_sim(b: Backend) {
    let app = spawn_app(b).await;
    align_to_hour(&app);
    let (email, token, codes) = two_factor_account(&app, OWNED).await;
    assert_eq!(codes.len(), 10);
    assert!(codes.iter().all(|c| {
        c.len() == 9
            && c.as_bytes()[4] == b'-'
            && c.chars()
                .filter(|ch| *ch != '-')
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
    }));
    assert_eq!(app.me(&token).await.body["recovery_codes_left"], 10);
    let mfa = login(&app, &email, PASSWORD).await.expect(200);
    let mfa_token = mfa.body["mfa_token"].as_str().expect("mfa").to_owned();
    // Upper case and a missing hyphen are forgiven.
    let typed = codes[0].replace('-', "").to_uppercase();
    let r = login_verify(
        &app,
        json!({"mfa_token": mfa_token, "recovery_code": typed}),
    )
    .await
    .expect(200);
    assert_eq!(r.body["user"]["recovery_codes_left"], 9);
    // Used up.
    app.state.clock.advance(31);
    let mfa = login(&app, &email, PASSWORD).await.expect(200);
    let mfa_token = mfa.body["mfa_token"].as_str().expect("mfa").to_owned();
    let r = login_verify(
        &app,
        json!({"mfa_token": mfa_token, "recovery_code": codes[0]}),
    )
    .await
    .expect(422);
    assert!(!r.field_errors("recovery_code").is_empty());
    // Neither or both is a field error.
    login_verify(&app, json!({"mfa_token": mfa_token}))
        .await
        .expect(422);
    // A new set replaces the old one.
    let route = "/api/v1/users/me/recovery-codes";
    let r = app
        .call(
            Method::POST,
            route,
            route,
            Some(&token),
            Some(json!({"password": PASSWORD})),
        )
        .await
        .expect(201);
    let fresh: Vec<String> = r.body["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(fresh.len(), 10);
    login_verify(
        &app,
        json!({"mfa_token": mfa_token, "recovery_code": codes[1]}),
    )
    .await
    .expect(422);
    login_verify(
        &app,
        json!({"mfa_token": mfa_token, "recovery_code": fresh[0]}),
    )
    .await
    .expect(200);
    // Off: the codes go with it.
    let route2 = "/api/v1/users/me/two-factor/code";
    app.state.clock.advance(31);
    app.call(Method::POST, route2, route2, Some(&token), None)
        .await
        .expect(202);
    let code = app.code_sent_to(OWNED).await;
    set_two_factor(
        &app,
        &token,
        json!({"enabled": false, "password": PASSWORD, "code": code}),
    )
    .await
    .expect(200);
    assert_eq!(app.me(&token).await.body["recovery_codes_left"], 0);
}

/// Whoever holds only the SIM cannot take a two-factor account: the right SMS code alone
/// is 401 `recovery-code-required` and stays usable; with a recovery code the reset goes
/// through and two-step stays on.
async fn a_reset_on_a_two_factor_account_needs_a_recovery_code(b: Backend) {
    let app = spawn_app(b).await;
    align_to_hour(&app);
    let (email, _, codes) = two_factor_account(&app, OWNED).await;
    start_from(&app, "198.51.100.1", OWNED, "password_reset")
        .await
        .expect(202);
    let code = app.code_sent_to(OWNED).await;
    let r = reset_from(&app, "198.51.100.2", OWNED, &code)
        .await
        .expect(401);
    assert!(problem_type(&r).ends_with("/problems/recovery-code-required"));
    let body = |recovery: &str| json!({"phone_number": OWNED, "code": code, "new_password": "a new passphrase", "recovery_code": recovery});
    let r = post_from(
        &app,
        "198.51.100.2",
        "/api/v1/auth/password-reset",
        body("zzzz-zzzz"),
    )
    .await
    .expect(422);
    assert!(!r.field_errors("recovery_code").is_empty());
    post_from(
        &app,
        "198.51.100.2",
        "/api/v1/auth/password-reset",
        body(&codes[3]),
    )
    .await
    .expect(204);
    let r = login(&app, &email, "a new passphrase").await.expect(200);
    assert_eq!(r.body["mfa_required"], true, "two-step stays on");
}

/// A right password whose second-factor SMS is refused is not a login failure: the
/// account's failure allowance is intact afterwards.
async fn a_right_password_is_never_a_login_failure(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sms_owner_per_account_per_hour = 1;
        c.login_failures_per_email = 2;
    })
    .await;
    align_to_hour(&app);
    let (email, _, _) = two_factor_account(&app, OWNED).await;
    login(&app, &email, PASSWORD).await.expect(200);
    for _ in 0..3 {
        app.state.clock.advance(31);
        // The owner's hourly SMS are spent: 429, but the password was right.
        login(&app, &email, PASSWORD).await.expect(429);
    }
    // Two wrong passwords are still the account's to make.
    login(&app, &email, "wrong one").await.expect(401);
    login(&app, &email, "wrong two").await.expect(401);
}

/// The owner's hourly cap of SMS is spent apart for a login's code: a stolen access
/// token sending test messages cannot refuse the owner's next password login.
async fn a_stolen_token_spending_test_messages_never_refuses_the_login_code(b: Backend) {
    let app = spawn_app_with(b, |c| c.sms_owner_per_account_per_hour = 2).await;
    align_to_hour(&app);
    let (email, token, _) = two_factor_account(&app, OWNED).await;
    let id = app.me(&token).await.body["phone"]["id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/v1/users/me/phone-numbers/{id}/test-message");
    let route = "/api/v1/users/me/phone-numbers/{id}/test-message";
    for _ in 0..2 {
        app.call(Method::POST, route, &path, Some(&token), None)
            .await
            .expect(202);
    }
    app.call(Method::POST, route, &path, Some(&token), None)
        .await
        .expect(429);
    let r = login(&app, &email, PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true);
}

/// The development inbox answers loopback peers only, and never a request that came
/// through a proxy: a proxy on the same host makes every peer look like loopback.
async fn the_dev_inbox_refuses_what_came_through_a_proxy(b: Backend) {
    let app = spawn_app(b).await;
    let route = "/api/v1/dev/sms";
    app.call(Method::GET, route, route, None, None)
        .await
        .expect(200);
    app.call_from(Some("203.0.113.9"), Method::GET, route, route, None, None)
        .await
        .expect(404);
}
