//! SPEC §12 support API: the three support cases through the API alone ("I never got
//! the code", "I lost my phone and two-step sign-in is on", "my number is on someone
//! else's account"), sessions, unlock and deletion; every call recorded with the
//! operator's name; exact matches only; no lever that hands an account to the caller.
//!
//! Long: one test per support case of SPEC §12, each walking the case end to end.

use phonereg_api::config::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    credential::{OWNED, set_two_factor, verified_account},
    helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with},
};

pub(crate) const OPS: &str = "support-operator-token-support-operator-01";
const SEARCH: &str = "/api/v1/admin/audit-events";

on_both_databases!(
    never_got_the_code_shows_deliveries_and_limits_without_bodies,
    lookups_match_exactly_one_key_and_are_recorded,
    lost_phone_two_step_goes_off_and_never_on,
    a_number_on_another_account_is_released_for_its_holder,
    sessions_end_and_a_login_lock_is_cleared,
    an_operator_deletes_an_account_and_the_audit_keeps_its_ids,
);

pub(crate) async fn support_app(b: Backend) -> TestApp {
    spawn_app_with(b, |c| {
        c.admin_tokens = Some(Secret::new(format!("ops:{OPS}")))
    })
    .await
}

async fn admin(
    app: &TestApp,
    method: Method,
    route: &str,
    path: &str,
    body: Option<Value>,
) -> Resp {
    app.call(method, route, path, Some(OPS), body).await
}

async fn lookup(app: &TestApp, query: &str) -> Resp {
    let route = "/api/v1/admin/users";
    admin(app, Method::GET, route, &format!("{route}?{query}"), None).await
}

async fn detail(app: &TestApp, id: i64) -> Resp {
    let path = format!("/api/v1/admin/users/{id}");
    admin(app, Method::GET, "/api/v1/admin/users/{id}", &path, None).await
}

/// `POST|PUT|DELETE /admin/users/{id}{tail}` with `body`.
async fn act(app: &TestApp, method: Method, id: i64, tail: &str, body: Value) -> Resp {
    let route = format!("/api/v1/admin/users/{{id}}{tail}");
    let path = format!("/api/v1/admin/users/{id}{tail}");
    admin(app, method, &route, &path, Some(body)).await
}

fn reason() -> Value {
    json!({"reason": "ticket 1234: identity checked by video call"})
}

/// The audit rows of `user` of `kind` (`GET /admin/audit-events`).
async fn audited(app: &TestApp, user: i64, kind: &str) -> Vec<Value> {
    let path = format!("{SEARCH}?user_id={user}&type={kind}");
    let r = admin(app, Method::GET, SEARCH, &path, None)
        .await
        .expect(200);
    r.body["items"].as_array().expect("items").clone()
}

fn user_id(r: &Resp) -> i64 {
    r.body["user"]["id"].as_i64().expect("user id")
}

async fn never_got_the_code_shows_deliveries_and_limits_without_bodies(b: Backend) {
    let app = support_app(b).await;
    let r = app
        .register(json!({"email": "ann@example.com", "password": PASSWORD,
            "full_name": "Ann", "phone_number": OWNED}))
        .await
        .expect(201);
    let (token, id) = (
        r.body["access_token"].as_str().expect("t").to_owned(),
        user_id(&r),
    );
    let phone = r.body["user"]["phone"]["id"].as_i64().expect("phone");
    app.drain_outbox().await;
    app.resend(&token, phone).await.expect(202);

    let d = detail(&app, id).await.expect(200);
    assert_eq!(d.header("cache-control"), Some("no-store"));
    let messages = d.body["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{}", d.body);
    // Newest first: the resend is still queued, the first code went out.
    assert_eq!(messages[0]["status"], "queued");
    assert!(messages[0]["provider"].is_null());
    assert_eq!(messages[1]["kind"], "code");
    assert_eq!(messages[1]["provider"], "console");
    assert!(d.body.to_string().find("body").is_none(), "never a body");
    let code = app.code_sent_to(OWNED).await;
    assert!(!d.body.to_string().contains(&code), "never a code");
    let limit = |name: &str| {
        d.body["limits"]
            .as_array()
            .expect("limits")
            .iter()
            .find(|l| l["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {}", d.body))
    };
    // The counters the allowance charged, read back under their names.
    assert_eq!(limit("sms_number")["used"], 2);
    assert_eq!(limit("sms_number")["scope"], "number");
    assert_eq!(limit("sms_account")["used"], 2);
    assert_eq!(limit("sms_account")["blocked"], false);
    assert_eq!(d.body["email"], "ann@example.com");
    assert_eq!(d.body["phone"]["e164"], OWNED);
    assert!(d.body["locked_until"].is_null());
    assert!(d.body.get("password_hash").is_none());

    // A resend cool-down in force is shown, with when it ends.
    let cool = support_cooldown_app(b).await;
    let (t, _, uid) = cool.signup().await;
    cool.add_phone_id(&t, OWNED).await;
    let d = detail(&cool, uid).await.expect(200);
    let limits = d.body["limits"].as_array().expect("limits");
    let cooldown = limits
        .iter()
        .find(|l| l["name"] == "resend_cooldown")
        .expect("cool-down listed");
    assert_eq!(cooldown["blocked"], true);
    detail(&app, 999_999).await.expect(404);
}

async fn support_cooldown_app(b: Backend) -> TestApp {
    spawn_app_with(b, |c| {
        c.admin_tokens = Some(Secret::new(format!("ops:{OPS}")));
        c.verify_resend_cooldown = 30;
    })
    .await
}

async fn lookups_match_exactly_one_key_and_are_recorded(b: Backend) {
    let app = support_app(b).await;
    let r = app
        .register(json!({"email": "Bea@Example.com", "password": PASSWORD, "full_name": "Bea"}))
        .await
        .expect(201);
    let id = user_id(&r);
    let found = lookup(&app, "email=%20bea@example.COM%20")
        .await
        .expect(200);
    assert_eq!(found.body["items"][0]["id"], id);
    assert_eq!(found.body["items"].as_array().expect("items").len(), 1);
    let by_id = lookup(&app, &format!("id={id}")).await.expect(200);
    assert_eq!(by_id.body["items"][0]["email"], "bea@example.com");
    // No pattern, no listing: a prefix or a wildcard finds nothing or is refused.
    let none = lookup(&app, "email=bea@example.co").await.expect(200);
    assert!(none.body["items"].as_array().expect("items").is_empty());
    for bad in [
        "",
        "email=%25",
        "id=1&email=bea@example.com",
        "id=abc",
        "phone=12",
    ] {
        let r = lookup(&app, bad).await.expect(422);
        assert_eq!(
            r.body["type"]
                .as_str()
                .map(|t| t.ends_with("validation-error")),
            Some(true)
        );
    }
    // Each lookup is recorded with the operator's name and what it found, never the
    // email or number asked for.
    let reads = audited(&app, id, "admin.users.read").await;
    assert_eq!(reads.len(), 2, "the two lookups that found Bea alone");
    assert_eq!(reads[0]["actor_name"], "ops");
    assert_eq!(reads[0]["detail"]["by"], "id");
    assert!(!reads[1].to_string().contains("bea@"), "{}", reads[1]);
    let route = "/api/v1/admin/users";
    let path = format!("{route}?id={id}");
    let wrong = app
        .call(
            Method::GET,
            route,
            &path,
            Some("not-the-operator-token-at-all-000000"),
            None,
        )
        .await;
    wrong.expect(401);
}

/// Long: the whole "lost my phone" case, from the refused sign-in to the owner back in.
async fn lost_phone_two_step_goes_off_and_never_on(b: Backend) {
    let app = support_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let id = app.me(&token).await.expect(200).body["id"]
        .as_i64()
        .expect("id");
    set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    assert_eq!(
        app.login(&email, PASSWORD).await.expect(200).body["mfa_required"],
        true
    );

    // Never on, never without a reason.
    let on = act(
        &app,
        Method::PUT,
        id,
        "/two-factor",
        json!({"enabled": true, "reason": "x"}),
    );
    assert!(on.await.expect(422).field_errors("enabled").len() == 1);
    let blank = act(
        &app,
        Method::PUT,
        id,
        "/two-factor",
        json!({"enabled": false, "reason": " "}),
    );
    blank.await.expect(422);
    let off = json!({"enabled": false, "reason": "ticket 77: lost phone, ID checked"});
    let r = act(&app, Method::PUT, id, "/two-factor", off.clone())
        .await
        .expect(200);
    assert_eq!(r.body["enabled"], false);
    let me = app.me(&token).await.expect(200);
    assert_eq!(
        (
            me.body["two_factor"].clone(),
            me.body["recovery_codes_left"].clone()
        ),
        (json!(false), json!(0))
    );
    // The password alone signs in again; nothing else was handed out.
    let login = app.login(&email, PASSWORD).await.expect(200);
    assert!(login.body["access_token"].is_string());
    act(&app, Method::PUT, id, "/two-factor", off)
        .await
        .expect(200);

    let changed = audited(&app, id, "two_factor.disabled").await;
    assert_eq!(changed.len(), 1, "turning off what is off changes nothing");
    assert_eq!(
        (
            changed[0]["actor"].clone(),
            changed[0]["actor_name"].clone()
        ),
        (json!("admin"), json!("ops"))
    );
    let admin_rows = audited(&app, id, "admin.users.two_factor_disabled").await;
    assert_eq!(admin_rows.len(), 2);
    assert_eq!(
        admin_rows[1]["detail"]["reason"],
        "ticket 77: lost phone, ID checked"
    );
    // The account's holder sees what support did, but not the operator's network.
    let mine = app
        .call(
            Method::GET,
            "/api/v1/users/me/security-events",
            "/api/v1/users/me/security-events",
            Some(&token),
            None,
        )
        .await
        .expect(200);
    let theirs = mine.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["type"] == "two_factor.disabled")
        .cloned()
        .expect("listed");
    assert!(theirs["client"].is_null(), "{theirs}");
    act(
        &app,
        Method::PUT,
        999_999,
        "/two-factor",
        json!({"enabled": false, "reason": "x"}),
    )
    .await
    .expect(404);
}

async fn a_number_on_another_account_is_released_for_its_holder(b: Backend) {
    let app = support_app(b).await;
    // The number's previous holder verified it and turned two-step sign-in on.
    let (_, old_token) = verified_account(&app, OWNED).await;
    let old = app.me(&old_token).await.expect(200).body["id"]
        .as_i64()
        .expect("id");
    set_two_factor(
        &app,
        &old_token,
        json!({"enabled": true, "password": PASSWORD}),
    )
    .await
    .expect(200);
    // Its new holder proves possession and is told it is taken.
    let (token, _, new) = app.signup().await;
    let phone = app.add_phone_id(&token, OWNED).await;
    let code = app.code_sent_to(OWNED).await;
    app.verify(&token, phone, &code).await.expect(409);

    let found = lookup(&app, "phone=%28415%29%20555-2671").await.expect(200);
    let ids: Vec<i64> = found.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|u| u["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [old, new],
        "both records holding the number, in the region's format too"
    );
    assert_eq!(found.body["items"][0]["phone"]["status"], "verified");
    assert_eq!(found.body["items"][0]["two_factor"], true);

    act(&app, Method::POST, old, "/phone/release", json!({}))
        .await
        .expect(422);
    act(&app, Method::POST, old, "/phone/release", reason())
        .await
        .expect(204);
    let me = app.me(&old_token).await.expect(200);
    assert!(me.body["phone"].is_null());
    assert_eq!(
        me.body["two_factor"], false,
        "it served the released number"
    );
    // The new holder verifies it now, with a fresh code.
    app.verify_by_sms(&token, phone).await;
    act(&app, Method::POST, old, "/phone/release", reason())
        .await
        .expect(404);
    let released = audited(&app, old, "admin.users.phone_released").await;
    assert_eq!(released[0]["detail"]["reason"], reason()["reason"]);
    assert_eq!(
        audited(&app, old, "phone.removed").await[0]["actor"],
        "admin"
    );
}

async fn sessions_end_and_a_login_lock_is_cleared(b: Backend) {
    let app = support_app(b).await;
    let r = app
        .register(json!({"email": "cy@example.com", "password": PASSWORD, "full_name": "Cy"}))
        .await
        .expect(201);
    let (refresh, id) = (
        r.body["refresh_token"].as_str().expect("r").to_owned(),
        user_id(&r),
    );
    let revoked = act(&app, Method::POST, id, "/sessions/revoke", reason())
        .await
        .expect(200);
    assert_eq!(revoked.body["revoked"], 1);
    app.refresh(&refresh).await.expect(401);

    for _ in 0..10 {
        app.login("cy@example.com", "not the password")
            .await
            .expect(401);
    }
    app.login("cy@example.com", PASSWORD).await.expect(429);
    let locked = detail(&app, id).await.expect(200);
    assert!(locked.body["locked_until"].is_string(), "{}", locked.body);
    let found = lookup(&app, &format!("id={id}")).await.expect(200);
    assert_eq!(
        found.body["items"][0]["locked_until"],
        locked.body["locked_until"]
    );
    act(&app, Method::POST, id, "/unlock", json!({"reason": ""}))
        .await
        .expect(422);
    act(&app, Method::POST, id, "/unlock", reason())
        .await
        .expect(204);
    assert!(detail(&app, id).await.expect(200).body["locked_until"].is_null());
    app.login("cy@example.com", PASSWORD).await.expect(200);
    let unlocked = audited(&app, id, "admin.users.unlocked").await;
    assert_eq!(unlocked[0]["actor_name"], "ops");
    act(&app, Method::POST, 999_999, "/unlock", reason())
        .await
        .expect(404);
    act(&app, Method::POST, 999_999, "/sessions/revoke", reason())
        .await
        .expect(404);
}

async fn an_operator_deletes_an_account_and_the_audit_keeps_its_ids(b: Backend) {
    let app = support_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let id = app.me(&token).await.expect(200).body["id"]
        .as_i64()
        .expect("id");
    act(&app, Method::DELETE, id, "", json!({}))
        .await
        .expect(422);
    act(&app, Method::DELETE, id, "", reason())
        .await
        .expect(204);
    detail(&app, id).await.expect(404);
    app.login(&email, PASSWORD).await.expect(401);
    let deleted = audited(&app, id, "account.deleted").await;
    assert_eq!(deleted[0]["actor_name"], "ops");
    assert_eq!(
        audited(&app, id, "auth.registered").await.len(),
        1,
        "earlier rows stay"
    );
    act(&app, Method::DELETE, id, "", reason())
        .await
        .expect(404);
}
