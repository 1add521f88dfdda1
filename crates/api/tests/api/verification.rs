use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, on_both_databases, spawn_app, spawn_app_with};

const US_MOBILE: &str = "+14155552671";
const UK_MOBILE: &str = "+447400123456";

on_both_databases!(
    signup_with_phone_then_code_then_verified,
    wrong_codes_count_down_then_the_code_is_gone,
    malformed_code_costs_no_attempt,
    expired_code_is_410,
    resend_kills_the_previous_code,
    resend_cool_down_is_429_with_retry_after,
    per_number_cap_holds_across_accounts_and_writes_nothing,
    sms_cap_at_registration_creates_no_account,
    spent_daily_budget_is_503,
    concurrent_sends_never_pass_the_ip_cap_or_the_budget,
    verified_replacement_swaps_in_and_notices_the_old_number,
    racing_verifications_of_one_number_let_one_account_win,
    test_numbers_send_nothing_and_skip_limits,
    nothing_to_resend_for_a_verified_number,
    codes_never_appear_in_responses_or_history,
    a_used_code_dies_at_the_clocks_time,
);

async fn signup_with_phone_then_code_then_verified(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .register(json!({"email": "v@example.com", "password": PASSWORD, "full_name": "V", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    let v = &r.body["verification"];
    assert_eq!(v["sent"], true);
    assert_eq!(v["attempts_remaining"], 5);
    assert!(v["expires_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    assert_eq!(r.body["user"]["phone"]["last_message"]["status"], "queued");

    // The request only queued the SMS; the worker sends it.
    assert_eq!(app.drain_outbox().await, 1);
    let code = app.code_sent_to(US_MOBILE).await;
    let me = app.me(&token).await.expect(200);
    assert_eq!(me.body["phone"]["last_message"]["status"], "delivered");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app.verify(&token, id, wrong).await.expect(422);
    assert_eq!(r.body["verification"]["attempts_remaining"], 4);
    assert!(!r.field_errors("code").is_empty());
    let r = app.verify(&token, id, &code).await.expect(200);
    assert_eq!(r.body["status"], "verified");
    assert!(r.body["verified_at"].is_string());
    // Single use.
    app.verify(&token, id, &code).await.expect(410);
    let kinds: Vec<String> = app.history(&token, id).await.expect(200).body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(kinds, ["verified", "delivered", "code_sent", "added"]);
}

async fn wrong_codes_count_down_then_the_code_is_gone(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    let code = app.code_sent_to(US_MOBILE).await;
    let wrong = if code == "999999" { "888888" } else { "999999" };
    for left in (0..5).rev() {
        let r = app.verify(&token, id, wrong).await.expect(422);
        assert_eq!(r.body["verification"]["attempts_remaining"], left);
    }
    // Used up: even the right code is refused until a new one is requested; the 410
    // still says when a new one may be asked for.
    let r = app.verify(&token, id, wrong).await.expect(410);
    assert_eq!(r.body["verification"]["attempts_remaining"], 0);
    assert!(r.body["verification"]["resend_after"].is_string());
    app.verify(&token, id, &code).await.expect(410);
    app.resend(&token, id).await.expect(202);
    let fresh = app.code_sent_to(US_MOBILE).await;
    app.verify(&token, id, &fresh).await.expect(200);
}

async fn malformed_code_costs_no_attempt(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    for bad in ["12345", "1234567", "12a456", " 123456"] {
        let r = app.verify(&token, id, bad).await.expect(422);
        assert!(!r.field_errors("code").is_empty(), "{bad}");
        assert!(
            r.body.get("verification").is_none(),
            "{bad} cost an attempt"
        );
    }
    let p = format!("/api/v1/users/me/phone-numbers/{id}/verify");
    app.call(
        Method::POST,
        "/api/v1/users/me/phone-numbers/{id}/verify",
        &p,
        Some(&token),
        Some(json!({"code": 123456})),
    )
    .await
    .expect(422);
    let code = app.code_sent_to(US_MOBILE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = app.verify(&token, id, wrong).await.expect(422);
    assert_eq!(
        r.body["verification"]["attempts_remaining"], 4,
        "only the real guess counted"
    );
}

async fn expired_code_is_410(b: Backend) {
    // Long enough that the code cannot die between queueing and sending when a real
    // second ticks over (with 1 s it sometimes did, and no SMS went out).
    let app = spawn_app_with(b, |c| c.verify_code_ttl = 60).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    let code = app.code_sent_to(US_MOBILE).await;
    app.state.clock.advance(61);
    let r = app.verify(&token, id, &code).await.expect(410);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.body["verification"]["attempts_remaining"], 5);
    assert!(r.body["verification"]["expires_at"].is_string());
}

async fn resend_kills_the_previous_code(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    let first = app.code_sent_to(US_MOBILE).await;
    let r = app.resend(&token, id).await.expect(202);
    assert_eq!(r.body["sent"], true);
    assert_eq!(r.body["attempts_remaining"], 5);
    let second = app.code_sent_to(US_MOBILE).await;
    if first != second {
        app.verify(&token, id, &first).await.expect(422);
    }
    app.verify(&token, id, &second).await.expect(200);
}

async fn resend_cool_down_is_429_with_retry_after(b: Backend) {
    let app = spawn_app_with(b, |c| c.verify_resend_cooldown = 30).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    let r = app.resend(&token, id).await.expect(429);
    let retry = r.retry_after();
    assert!((1..=30).contains(&retry), "{retry}");
    // A 429 about a code: the live code's state, still usable.
    let v = &r.body["verification"];
    assert_eq!(v["sent"], true);
    assert_eq!(v["attempts_remaining"], 5);
    assert!(v["resend_after"].is_string() && v["expires_at"].is_string());
    // A different number is governed by the caps, not the cool-down.
    app.phone(
        Method::PATCH,
        &token,
        id,
        Some(json!({"phone_number": UK_MOBILE})),
    )
    .await
    .expect(200);
}

async fn per_number_cap_holds_across_accounts_and_writes_nothing(b: Backend) {
    let app = spawn_app_with(b, |c| c.sms_per_number_per_hour = 2).await;
    let (alice, _, _) = app.signup().await;
    let id = app.add_phone_id(&alice, US_MOBILE).await;
    app.resend(&alice, id).await.expect(202);
    let r = app.resend(&alice, id).await.expect(429);
    let retry = r.retry_after();
    assert!((1..=3600).contains(&retry));
    let (bob, _, _) = app.signup().await;
    app.add_phone(&bob, US_MOBILE).await.expect(429);
    assert_eq!(
        app.list_phones(&bob).await.expect(200).body["items"],
        json!([]),
        "nothing written"
    );
    app.add_phone(&bob, UK_MOBILE).await.expect(201);
}

async fn sms_cap_at_registration_creates_no_account(b: Backend) {
    let app = spawn_app_with(b, |c| c.sms_per_ip_per_hour = 1).await;
    let body = |email: &str| json!({"email": email, "password": PASSWORD, "full_name": "R", "phone_number": US_MOBILE});
    app.register(body("one@example.com")).await.expect(201);
    let r = app.register(body("two@example.com")).await.expect(429);
    assert!(r.header("retry-after").is_some());
    app.login("two@example.com", PASSWORD).await.expect(401);
    assert_eq!(
        app.drain_outbox().await,
        1,
        "only the first registration queued an SMS"
    );
}

async fn spent_daily_budget_is_503(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sms_daily_budget = 1;
        // The guard's global ceiling (20 % of the budget, SPEC §11) would refuse first.
        c.sms_fraud_global_unverified = Some(1_000);
    })
    .await;
    let (token, _, _) = app.signup().await;
    app.add_phone(&token, US_MOBILE).await.expect(201);
    let (other, _, _) = app.signup().await;
    let r = app.add_phone(&other, UK_MOBILE).await.expect(503);
    let retry = r.retry_after();
    assert!((1..=86_400).contains(&retry));
}

/// The per-IP cap and the budget are striped over several rows on PostgreSQL: a burst of
/// concurrent sends must still stop exactly at the limit, on every backend.
async fn concurrent_sends_never_pass_the_ip_cap_or_the_budget(b: Backend) {
    for (ip_cap, budget, allowed) in [(5, 1000, 5), (1000, 6, 6)] {
        let app = spawn_app_with(b, |c| {
            c.sms_per_ip_per_hour = ip_cap;
            c.sms_daily_budget = budget;
            // What is measured is the budget, not the guard's global ceiling (SPEC §11).
            c.sms_fraud_global_unverified = Some(1_000);
        })
        .await;
        let mut tokens = Vec::new();
        for _ in 0..12 {
            tokens.push(app.signup().await.0);
        }
        let numbers: Vec<String> = (0..12)
            .map(|i| format!("+1415555{:04}", 2671 + i))
            .collect();
        let results = join_all(
            tokens
                .iter()
                .zip(&numbers)
                .map(|(token, number)| app.add_phone(token, number)),
        )
        .await;
        let created = results.iter().filter(|r| r.status == 201).count();
        let refused = results
            .iter()
            .filter(|r| matches!(r.status.as_u16(), 429 | 503))
            .count();
        assert_eq!(
            (created, refused),
            (allowed, 12 - allowed),
            "ip cap {ip_cap}, budget {budget}"
        );
        assert_eq!(
            app.drain_outbox().await,
            allowed,
            "one SMS per accepted send"
        );
    }
}

async fn verified_replacement_swaps_in_and_notices_the_old_number(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    app.verify_by_sms(&token, id).await;
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": UK_MOBILE})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["e164"], US_MOBILE, "the old number stays in force");
    assert_eq!(r.body["pending_e164"], UK_MOBILE);
    assert_eq!(r.body["verification"]["sent"], true);
    let code = app.code_sent_to(UK_MOBILE).await;
    let r = app.verify(&token, id, &code).await.expect(200);
    assert_eq!(r.body["e164"], UK_MOBILE);
    assert_eq!(r.body["country"], "GB");
    assert_eq!(r.body["status"], "verified");
    assert!(r.body["pending_e164"].is_null());
    app.drain_outbox().await;
    let inbox = app.state.inbox.as_ref().expect("console").items();
    let notice = inbox
        .iter()
        .find(|m| m.to == US_MOBILE)
        .expect("an SMS to the old number");
    assert!(notice.body.contains("replaced"), "{}", notice.body);
    assert!(
        notice.body.contains("56"),
        "names the new number's last digits: {}",
        notice.body
    );
}

async fn racing_verifications_of_one_number_let_one_account_win(b: Backend) {
    let app = spawn_app(b).await;
    let mut accounts = Vec::new();
    for _ in 0..2 {
        let (token, _, _) = app.signup().await;
        let id = app.add_phone_id(&token, US_MOBILE).await;
        let code = app.code_sent_to(US_MOBILE).await;
        accounts.push((token, id, code));
    }
    let results = join_all(
        accounts
            .iter()
            .map(|(t, id, code)| app.verify(t, *id, code)),
    )
    .await;
    let mut statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
}

async fn test_numbers_send_nothing_and_skip_limits(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sms_test_numbers =
            phonereg_api::config::TestNumbers(vec![("+15005550100".into(), "123456".into())]);
        c.sms_daily_budget = 0;
        c.verify_resend_cooldown = 30;
    })
    .await;
    let r = app
        .register(json!({"email": "t@example.com", "password": PASSWORD, "full_name": "T", "phone_number": "+1 500 555 0100"}))
        .await
        .expect(201);
    assert_eq!(r.body["verification"]["sent"], false);
    let token = r.body["access_token"].as_str().expect("token");
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    app.resend(token, id).await.expect(202);
    assert_eq!(app.drain_outbox().await, 0);
    app.verify(token, id, "123456").await.expect(200);
}

async fn nothing_to_resend_for_a_verified_number(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    app.verify_by_sms(&token, id).await;
    app.resend(&token, id).await.expect(409);
    let (mallory, _, _) = app.signup().await;
    app.resend(&mallory, id).await.expect(404);
    app.verify(&mallory, id, "123456").await.expect(404);
}

async fn codes_never_appear_in_responses_or_history(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .register(json!({"email": "s@example.com", "password": PASSWORD, "full_name": "S", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token");
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(US_MOBILE).await;
    let resend = app.resend(token, id).await.expect(202);
    let history = app.history(token, id).await.expect(200);
    let me = app.me(token).await.expect(200);
    for body in [&r.body, &resend.body, &history.body, &me.body] {
        assert!(!body.to_string().contains(&code), "code leaked: {body}");
    }
}

/// A used code's messages learn it died at the injected clock's time: the rule read the
/// system clock, which tests (and the courier, which reads the injected one) do not.
async fn a_used_code_dies_at_the_clocks_time(b: Backend) {
    use diesel::prelude::*;
    use phonereg_api::persistence::{Conn, schema::sms_messages};
    let app = spawn_app(b).await;
    let r = app
        .register(json!({"email": "t@example.com", "password": PASSWORD, "full_name": "T", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(US_MOBILE).await;
    app.state.clock.advance(120);
    let used_at = app.state.clock.now();
    app.verify(&token, id, &code).await.expect(200);
    let dies: Vec<Option<i64>> = app
        .state
        .db
        .read(|conn| {
            let query = sms_messages::table.select(sms_messages::code_expires_at);
            Ok(match conn {
                Conn::Sqlite(c) => query.load(*c)?,
                Conn::Postgres(c) => query.load(*c)?,
            })
        })
        .await
        .expect("read");
    assert_eq!(dies.len(), 1);
    let dies = dies[0].expect("a code message");
    assert!(
        (used_at..used_at + 2).contains(&dies),
        "the code died at {dies}, used at {used_at} by the clock"
    );
}
