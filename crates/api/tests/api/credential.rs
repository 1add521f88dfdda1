//! SPEC §8: the verified number as a credential — sign-in by code, password reset, and
//! SMS as a second factor; enumeration safety throughout.
//!
//! Long: the tests of SPEC §8 (sign-in by code, reset, second factor), one per rule.

use futures_util::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app, spawn_app_with,
};

pub(crate) const OWNED: &str = "+14155552671";
const NOBODYS: &str = "+14155552672";
const NEW_PASSWORD: &str = "a brand new passphrase";

on_both_databases!(
    sign_in_by_code_signs_in_once,
    a_number_without_an_account_answers_like_one_with,
    an_unverified_number_is_not_a_credential,
    password_reset_changes_it_and_ends_every_session,
    a_bad_new_password_costs_no_attempt,
    codes_are_bound_to_their_purpose,
    two_factor_on_then_login_needs_the_code,
    two_factor_cannot_be_skipped_by_sms_sign_in_and_survives_a_reset,
    mfa_token_lives_five_minutes_and_allows_max_attempts,
    two_factor_off_needs_password_then_code,
    parallel_guesses_never_exceed_the_attempts,
    sms_speak_the_callers_language_and_end_with_the_webotp_line,
);

/// An account whose number `e164` is verified: (email, access token).
pub(crate) async fn verified_account(app: &TestApp, e164: &str) -> (String, String) {
    let email = format!("{}@example.com", &e164[1..]);
    let r = app
        .register(json!({"email": email, "password": PASSWORD, "full_name": "Owner", "phone_number": e164}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(e164).await;
    app.verify(&token, id, &code).await.expect(200);
    (email, token)
}

async fn post(app: &TestApp, route: &str, token: Option<&str>, body: Value) -> Resp {
    app.call(Method::POST, route, route, token, Some(body))
        .await
}

async fn start(app: &TestApp, e164: &str, purpose: &str) -> Resp {
    post(
        app,
        "/api/v1/auth/sms/start",
        None,
        json!({"phone_number": e164, "purpose": purpose}),
    )
    .await
}

async fn sign_in(app: &TestApp, e164: &str, code: &str) -> Resp {
    post(
        app,
        "/api/v1/auth/sms/sign-in",
        None,
        json!({"phone_number": e164, "code": code}),
    )
    .await
}

async fn reset(app: &TestApp, e164: &str, code: &str, password: &str) -> Resp {
    post(
        app,
        "/api/v1/auth/password-reset",
        None,
        json!({"phone_number": e164, "code": code, "new_password": password}),
    )
    .await
}

fn sms_to(app: &TestApp, e164: &str) -> Vec<String> {
    let inbox = app.state.inbox.as_ref().expect("console provider");
    inbox
        .items()
        .into_iter()
        .filter(|m| m.to == e164)
        .map(|m| m.body)
        .collect()
}

pub(crate) fn other_than(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

/// The body with every RFC 3339 timestamp, and the seconds a 429 names, blanked, for
/// byte-for-byte comparison: two requests a second apart differ there and only there.
fn without_timestamps(body: &Value) -> String {
    let mut text = body.to_string();
    while let Some(at) = text.find("\"20") {
        let end = text[at + 1..].find('"').map_or(text.len(), |e| at + 2 + e);
        text.replace_range(at..end, "\"T\"");
    }
    let words: Vec<&str> = text.split(' ').collect();
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let seconds_follow = words.get(i + 1).is_some_and(|n| n.starts_with("second"));
        out.push(if seconds_follow && w.parse::<u64>().is_ok() {
            "N"
        } else {
            w
        });
    }
    out.join(" ")
}

async fn sign_in_by_code_signs_in_once(b: Backend) {
    let app = spawn_app(b).await;
    let (email, _) = verified_account(&app, OWNED).await;
    let r = start(&app, OWNED, "sign_in").await.expect(202);
    assert_eq!(r.body["verification"]["sent"], true);
    assert_eq!(r.body["verification"]["attempts_remaining"], 5);
    let code = app.code_sent_to(OWNED).await;
    let r = sign_in(&app, OWNED, other_than(&code)).await.expect(422);
    assert_eq!(r.body["verification"]["attempts_remaining"], 4);
    let r = sign_in(&app, OWNED, &code).await.expect(200);
    assert_eq!(r.body["user"]["email"], email);
    assert_eq!(r.body["user"]["two_factor"], false);
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.starts_with("phonereg_refresh="))
    );
    let token = r.body["access_token"].as_str().expect("token");
    app.me(token).await.expect(200);
    // Single use.
    sign_in(&app, OWNED, &code).await.expect(410);
    // The history shows the code went out.
    let phone_id = app.me(token).await.body["phone"]["id"]
        .as_i64()
        .expect("id");
    let kinds = app.history(token, phone_id).await.body["items"].to_string();
    assert!(kinds.contains("sign_in_code_sent"), "{kinds}");
}

async fn a_number_without_an_account_answers_like_one_with(b: Backend) {
    let app = spawn_app_with(b, |c| c.verify_resend_cooldown = 30).await;
    verified_account(&app, OWNED).await;
    app.drain_outbox().await;
    let before = sms_to(&app, NOBODYS).len() + sms_to(&app, OWNED).len();

    // Start: the same status and body, apart from timestamps.
    let owned = start(&app, OWNED, "sign_in").await.expect(202);
    let nobodys = start(&app, NOBODYS, "sign_in").await.expect(202);
    assert_eq!(
        without_timestamps(&owned.body),
        without_timestamps(&nobodys.body)
    );
    assert_eq!(owned.header("content-type"), nobodys.header("content-type"));
    app.drain_outbox().await;
    assert_eq!(
        sms_to(&app, NOBODYS).len(),
        0,
        "nothing goes to a number without an account"
    );
    assert_eq!(
        sms_to(&app, OWNED).len() + sms_to(&app, NOBODYS).len(),
        before + 1
    );

    // The cool-down holds for both alike.
    let a = start(&app, OWNED, "sign_in").await.expect(429);
    let b2 = start(&app, NOBODYS, "sign_in").await.expect(429);
    assert_eq!(without_timestamps(&a.body), without_timestamps(&b2.body));
    assert!(a.retry_after().abs_diff(b2.retry_after()) <= 1);

    // Wrong codes: the same answers all the way down to 410.
    for _ in 0..5 {
        let a = sign_in(&app, OWNED, "999999").await;
        let n = sign_in(&app, NOBODYS, "999999").await;
        assert_eq!(a.status, n.status);
        assert_eq!(without_timestamps(&a.body), without_timestamps(&n.body));
    }
    let a = sign_in(&app, OWNED, "999999").await.expect(410);
    let n = sign_in(&app, NOBODYS, "999999").await.expect(410);
    assert_eq!(without_timestamps(&a.body), without_timestamps(&n.body));

    // A number that never had a start is 410, like every number.
    sign_in(&app, "+14155552673", "123456").await.expect(410);
    // Validity is not account information: an impossible number is a field error.
    let r = start(&app, "+1415", "sign_in").await.expect(422);
    assert!(!r.field_errors("phone_number").is_empty());
}

async fn an_unverified_number_is_not_a_credential(b: Backend) {
    let app = spawn_app(b).await;
    app.register(json!({"email": "u@example.com", "password": PASSWORD, "full_name": "U", "phone_number": OWNED}))
        .await
        .expect(201);
    app.drain_outbox().await;
    let sent = sms_to(&app, OWNED).len();
    start(&app, OWNED, "sign_in").await.expect(202);
    app.drain_outbox().await;
    assert_eq!(
        sms_to(&app, OWNED).len(),
        sent,
        "no sign-in code to an unverified number"
    );
}

async fn password_reset_changes_it_and_ends_every_session(b: Backend) {
    let app = spawn_app(b).await;
    let (email, _) = verified_account(&app, OWNED).await;
    let first = app.login(&email, PASSWORD).await.expect(200);
    let second = app.login(&email, PASSWORD).await.expect(200);
    start(&app, OWNED, "password_reset").await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    reset(&app, OWNED, &code, NEW_PASSWORD).await.expect(204);

    for session in [&first, &second] {
        let refresh = session.body["refresh_token"].as_str().expect("refresh");
        app.refresh(refresh).await.expect(401);
    }
    app.login(&email, PASSWORD).await.expect(401);
    app.login(&email, NEW_PASSWORD).await.expect(200);
    // The code is used up, and the number got a notice.
    reset(&app, OWNED, &code, "yet another passphrase")
        .await
        .expect(410);
    app.drain_outbox().await;
    let newest = sms_to(&app, OWNED).into_iter().next().expect("notice");
    assert!(newest.contains("password was just reset"), "{newest}");
    assert!(!newest.contains(&code));
}

async fn a_bad_new_password_costs_no_attempt(b: Backend) {
    let app = spawn_app(b).await;
    verified_account(&app, OWNED).await;
    start(&app, OWNED, "password_reset").await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    let r = reset(&app, OWNED, &code, "short").await.expect(422);
    assert!(!r.field_errors("new_password").is_empty());
    let r = reset(&app, OWNED, "12ab", NEW_PASSWORD).await.expect(422);
    assert!(!r.field_errors("code").is_empty());
    let r = reset(&app, OWNED, other_than(&code), NEW_PASSWORD)
        .await
        .expect(422);
    assert_eq!(
        r.body["verification"]["attempts_remaining"], 4,
        "only the wrong code cost one"
    );
    reset(&app, OWNED, &code, NEW_PASSWORD).await.expect(204);
}

async fn codes_are_bound_to_their_purpose(b: Backend) {
    let app = spawn_app(b).await;
    verified_account(&app, OWNED).await;
    start(&app, OWNED, "sign_in").await.expect(202);
    let sign_in_code = app.code_sent_to(OWNED).await;
    // No reset was started: a sign-in code cannot reset.
    reset(&app, OWNED, &sign_in_code, NEW_PASSWORD)
        .await
        .expect(410);
    start(&app, OWNED, "password_reset").await.expect(202);
    let reset_code = app.code_sent_to(OWNED).await;
    if reset_code != sign_in_code {
        reset(&app, OWNED, &sign_in_code, NEW_PASSWORD)
            .await
            .expect(422);
        sign_in(&app, OWNED, &reset_code).await.expect(422);
    }
    sign_in(&app, OWNED, &sign_in_code).await.expect(200);
    reset(&app, OWNED, &reset_code, NEW_PASSWORD)
        .await
        .expect(204);
}

pub(crate) async fn set_two_factor(app: &TestApp, token: &str, body: Value) -> Resp {
    let route = "/api/v1/users/me/two-factor";
    app.call(Method::PUT, route, route, Some(token), Some(body))
        .await
}

async fn two_factor_code(app: &TestApp, token: &str) -> Resp {
    let route = "/api/v1/users/me/two-factor/code";
    app.call(Method::POST, route, route, Some(token), None)
        .await
}

pub(crate) async fn login_verify(app: &TestApp, mfa_token: &str, code: &str) -> Resp {
    post(
        app,
        "/api/v1/auth/login/verify",
        None,
        json!({"mfa_token": mfa_token, "code": code}),
    )
    .await
}

async fn two_factor_on_then_login_needs_the_code(b: Backend) {
    let app = spawn_app(b).await;
    // Without a verified number it cannot be turned on.
    let (plain_token, _, _) = app.signup().await;
    set_two_factor(
        &app,
        &plain_token,
        json!({"enabled": true, "password": PASSWORD}),
    )
    .await
    .expect(409);

    let (email, token) = verified_account(&app, OWNED).await;
    set_two_factor(
        &app,
        &token,
        json!({"enabled": true, "password": "not it at all"}),
    )
    .await
    .expect(401);
    let r = set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    assert_eq!(r.body["enabled"], true);
    assert_eq!(app.me(&token).await.body["two_factor"], true);

    let r = app.login(&email, PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true);
    assert!(r.body.get("access_token").is_none());
    assert!(
        r.header("set-cookie").is_none(),
        "no session before the code"
    );
    let mfa_token = r.body["mfa_token"].as_str().expect("mfa_token").to_owned();
    let code = app.code_sent_to(OWNED).await;
    let r = login_verify(&app, &mfa_token, other_than(&code))
        .await
        .expect(422);
    assert_eq!(r.body["verification"]["attempts_remaining"], 4);
    let r = login_verify(&app, &mfa_token, &code).await.expect(200);
    assert!(r.body["access_token"].is_string());
    assert!(r.header("set-cookie").is_some());
    // Single use.
    login_verify(&app, &mfa_token, &code).await.expect(410);
    // A made-up token is just gone.
    login_verify(&app, "made-up", &code).await.expect(410);

    // The number cannot be removed while it is the second factor.
    let id = app.me(&token).await.body["phone"]["id"]
        .as_i64()
        .expect("id");
    app.phone(Method::DELETE, &token, id, None)
        .await
        .expect(409);
}

async fn two_factor_cannot_be_skipped_by_sms_sign_in_and_survives_a_reset(b: Backend) {
    let app = spawn_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let on = set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    let recovery = on.body["recovery_codes"][0]
        .as_str()
        .expect("recovery code")
        .to_owned();
    start(&app, OWNED, "sign_in").await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    let r = sign_in(&app, OWNED, &code).await.expect(401);
    assert_eq!(
        r.body["type"],
        "https://phonereg.dev/problems/password-required"
    );
    assert!(r.header("set-cookie").is_none());

    start(&app, OWNED, "password_reset").await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    // SPEC §10: on a two-factor account the SIM alone is not enough.
    reset(&app, OWNED, &code, NEW_PASSWORD).await.expect(401);
    post(
        &app,
        "/api/v1/auth/password-reset",
        None,
        json!({"phone_number": OWNED, "code": code, "new_password": NEW_PASSWORD, "recovery_code": recovery}),
    )
    .await
    .expect(204);
    let r = app.login(&email, NEW_PASSWORD).await.expect(200);
    assert_eq!(r.body["mfa_required"], true, "a reset leaves two-factor on");
}

async fn mfa_token_lives_five_minutes_and_allows_max_attempts(b: Backend) {
    let app = spawn_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    let r = app.login(&email, PASSWORD).await.expect(200);
    let mfa_token = r.body["mfa_token"].as_str().expect("token").to_owned();
    let code = app.code_sent_to(OWNED).await;
    app.state.clock.advance(301);
    login_verify(&app, &mfa_token, &code).await.expect(410);

    // A new login (past the cool-down): five wrong codes, then it is over.
    let r = app.login(&email, PASSWORD).await.expect(200);
    let mfa_token = r.body["mfa_token"].as_str().expect("token").to_owned();
    let code = app.code_sent_to(OWNED).await;
    for left in (0..5).rev() {
        let r = login_verify(&app, &mfa_token, other_than(&code))
            .await
            .expect(422);
        assert_eq!(r.body["verification"]["attempts_remaining"], left);
    }
    login_verify(&app, &mfa_token, &code).await.expect(410);
}

async fn two_factor_off_needs_password_then_code(b: Backend) {
    let app = spawn_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    let r = set_two_factor(
        &app,
        &token,
        json!({"enabled": false, "password": PASSWORD}),
    )
    .await
    .expect(422);
    assert!(!r.field_errors("code").is_empty());
    two_factor_code(&app, &token).await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    // The password is checked before the code: a wrong one costs the code nothing.
    set_two_factor(
        &app,
        &token,
        json!({"enabled": false, "password": "wrong wrong", "code": code}),
    )
    .await
    .expect(401);
    let r = set_two_factor(
        &app,
        &token,
        json!({"enabled": false, "password": PASSWORD, "code": other_than(&code)}),
    )
    .await
    .expect(422);
    assert_eq!(r.body["verification"]["attempts_remaining"], 4);
    let r = set_two_factor(
        &app,
        &token,
        json!({"enabled": false, "password": PASSWORD, "code": code}),
    )
    .await
    .expect(200);
    assert_eq!(r.body["enabled"], false);
    let r = app.login(&email, PASSWORD).await.expect(200);
    assert!(r.body["access_token"].is_string());
    let id = app.me(&token).await.body["phone"]["id"]
        .as_i64()
        .expect("id");
    let kinds = app.history(&token, id).await.body["items"].to_string();
    assert!(
        kinds.contains("two_factor_on") && kinds.contains("two_factor_off"),
        "{kinds}"
    );
}

async fn parallel_guesses_never_exceed_the_attempts(b: Backend) {
    let app = spawn_app(b).await;
    verified_account(&app, OWNED).await;
    start(&app, OWNED, "sign_in").await.expect(202);
    let code = app.code_sent_to(OWNED).await;
    let wrong = other_than(&code);
    let answers = join_all((0..16).map(|_| sign_in(&app, OWNED, wrong))).await;
    let wrong_answers = answers.iter().filter(|r| r.status == 422).count();
    assert!(wrong_answers <= 5, "{wrong_answers} guesses were compared");
    assert!(answers.iter().all(|r| r.status == 422 || r.status == 410));
    sign_in(&app, OWNED, &code).await.expect(410);
}

async fn sms_speak_the_callers_language_and_end_with_the_webotp_line(b: Backend) {
    let app = spawn_app(b).await;
    verified_account(&app, OWNED).await;
    let r = app
        .client
        .post(format!("{}/api/v1/auth/sms/start", app.address))
        .header("accept-language", "de-CH, fr;q=0.8")
        .json(&json!({"phone_number": OWNED, "purpose": "sign_in"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 202);
    let code = app.code_sent_to(OWNED).await;
    let body = sms_to(&app, OWNED).into_iter().next().expect("sms");
    assert!(body.starts_with("Dein PhoneReg-Anmeldecode"), "{body}");
    assert!(body.ends_with(&format!("\n\n@127.0.0.1 #{code}")), "{body}");
}
