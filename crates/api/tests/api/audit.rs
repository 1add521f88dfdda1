//! SPEC §12 audit log: every path writes its event in the transaction of its change, a
//! user sees only their own, operators search with filters and a cursor (and are
//! recorded doing it), and old rows are pruned.

use phonereg_api::config::Secret;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    credential::{OWNED, login_verify, other_than, set_two_factor, verified_account},
    helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_app, spawn_app_with},
};

const ADMIN: &str = "audit-operator-token-audit-operator-token";
const MINE: &str = "/api/v1/users/me/security-events";
const SEARCH: &str = "/api/v1/admin/audit-events";

on_both_databases!(
    each_path_records_its_event_and_users_see_only_their_own,
    two_step_sign_in_records_failures_and_used_recovery_codes,
    a_refused_change_records_nothing,
    operators_search_by_account_type_and_cursor_and_are_recorded,
    old_events_are_pruned_after_the_retention,
);

async fn mine(app: &TestApp, token: &str, query: &str) -> Value {
    app.call(
        Method::GET,
        MINE,
        &format!("{MINE}{query}"),
        Some(token),
        None,
    )
    .await
    .expect(200)
    .body
}

fn types(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .collect()
}

async fn search(app: &TestApp, query: &str) -> Value {
    let path = format!("{SEARCH}{query}");
    app.call(Method::GET, SEARCH, &path, Some(ADMIN), None)
        .await
        .expect(200)
        .body
}

async fn each_path_records_its_event_and_users_see_only_their_own(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .register(json!({"email": "ann@example.com", "password": PASSWORD, "full_name": "Ann"}))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let refresh = r.body["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();
    app.login("ann@example.com", "not the password")
        .await
        .expect(401);
    app.login("nobody@example.com", "not the password")
        .await
        .expect(401);
    app.login("ann@example.com", PASSWORD).await.expect(200);
    let id = app.add_phone_id(&token, OWNED).await;
    let code = app.code_sent_to(OWNED).await;
    app.verify(&token, id, other_than(&code)).await.expect(422);
    app.verify(&token, id, &code).await.expect(200);
    let route = "/api/v1/auth/logout";
    app.call(
        Method::POST,
        route,
        route,
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await
    .expect(204);
    let (other, _, _) = app.signup().await;

    let list = mine(&app, &token, "").await;
    assert_eq!(
        types(&list),
        [
            "auth.logout",
            "phone.verified",
            "phone.verify_failed",
            "phone.added",
            "auth.login.succeeded",
            "auth.login.failed",
            "auth.registered",
        ],
        "Ann's own events, newest first; the unknown email's failure is nobody's"
    );
    let first = &list["items"][0];
    assert_eq!(first["client"], "127.0.0.1");
    assert!(
        first["user_agent"].is_null(),
        "reqwest sends none by default"
    );
    assert_eq!(list["items"][5]["outcome"], "failure");
    assert_eq!(types(&mine(&app, &other, "").await), ["auth.registered"]);

    // Pages: `before` the last id seen, `limit` bounded.
    let page = mine(&app, &token, "?limit=2").await;
    assert_eq!(types(&page), ["auth.logout", "phone.verified"]);
    let last = page["items"][1]["id"].as_i64().expect("id");
    let next = mine(&app, &token, &format!("?limit=2&before={last}")).await;
    assert_eq!(types(&next), ["phone.verify_failed", "phone.added"]);
    for bad in ["?limit=0", "?limit=101", "?before=x"] {
        let path = format!("{MINE}{bad}");
        app.call(Method::GET, MINE, &path, Some(&token), None)
            .await
            .expect(422);
    }
    app.call(Method::GET, MINE, MINE, None, None)
        .await
        .expect(401);
}

async fn two_step_sign_in_records_failures_and_used_recovery_codes(b: Backend) {
    let app = spawn_app(b).await;
    let (email, token) = verified_account(&app, OWNED).await;
    let on = set_two_factor(&app, &token, json!({"enabled": true, "password": PASSWORD}))
        .await
        .expect(200);
    let recovery = on.body["recovery_codes"][0]
        .as_str()
        .expect("code")
        .to_owned();
    let r = app.login(&email, PASSWORD).await.expect(200);
    let mfa = r.body["mfa_token"].as_str().expect("mfa").to_owned();
    let code = app.code_sent_to(OWNED).await;
    login_verify(&app, &mfa, other_than(&code))
        .await
        .expect(422);
    let route = "/api/v1/auth/login/verify";
    app.call(
        Method::POST,
        route,
        route,
        None,
        Some(json!({"mfa_token": mfa, "recovery_code": recovery})),
    )
    .await
    .expect(200);
    let list = mine(&app, &token, "?limit=6").await;
    assert_eq!(
        types(&list),
        [
            "recovery_codes.used",
            "two_factor.challenge_failed",
            "auth.login.succeeded",
            "recovery_codes.created",
            "two_factor.enabled",
            "phone.verified",
        ]
    );
}

async fn a_refused_change_records_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let body = json!({"email": "dup@example.com", "password": PASSWORD, "full_name": "Dup"});
    let r = app.register(body.clone()).await.expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    // The second insert fails on the unique email after nothing else was written: its
    // transaction, audit row included, is rolled back.
    app.register(body).await.expect(409);
    let count = app
        .state
        .audit_log
        .for_user(r.body["user"]["id"].as_i64().expect("id"), None, 100)
        .await
        .expect("rows")
        .len();
    assert_eq!(count, 1);
    assert_eq!(types(&mine(&app, &token, "").await), ["auth.registered"]);
}

async fn operators_search_by_account_type_and_cursor_and_are_recorded(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.admin_tokens = Some(Secret::new(format!("ops:{ADMIN}")))
    })
    .await;
    let (_, _, ann) = app.signup().await;
    let (_, _, bob) = app.signup().await;
    let logins = search(&app, &format!("?user_id={ann}")).await;
    assert_eq!(types(&logins), ["auth.registered"]);
    assert_eq!(logins["items"][0]["user_id"], ann);
    assert!(logins["next_cursor"].is_null());

    // A cursor walks the rest; `prefix.*` names a family of types.
    let page = search(&app, "?type=auth.*&limit=1").await;
    assert_eq!(page["items"][0]["user_id"], bob);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let rest = search(&app, &format!("?type=auth.*&limit=1&cursor={cursor}")).await;
    assert_eq!(rest["items"][0]["user_id"], ann);
    assert!(
        rest["next_cursor"].is_null(),
        "two registrations, two pages"
    );

    // Each search is itself recorded, with the operator's name.
    let reads = search(&app, "?type=admin.audit_events.read").await;
    let items = reads["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "the three searches before this one");
    assert_eq!(items[0]["actor"], "admin");
    assert_eq!(items[0]["actor_name"], "ops");
    let future = search(&app, "?since=2999-01-01T00:00:00Z").await;
    assert!(future["items"].as_array().expect("items").is_empty());

    for bad in [
        "?type=auth.nope",
        "?limit=501",
        "?since=yesterday",
        "?user_id=-1",
    ] {
        let path = format!("{SEARCH}{bad}");
        app.call(Method::GET, SEARCH, &path, Some(ADMIN), None)
            .await
            .expect(422);
    }
    app.call(
        Method::GET,
        SEARCH,
        SEARCH,
        Some("not-the-operator-token-at-all-0000000"),
        None,
    )
    .await
    .expect(401);
}

async fn rows(app: &TestApp, user: i64) -> usize {
    let log = &app.state.audit_log;
    log.for_user(user, None, 100).await.expect("rows").len()
}

async fn old_events_are_pruned_after_the_retention(b: Backend) {
    let app = spawn_app_with(b, |c| c.audit_retention_days = 1).await;
    let (_, _, old) = app.signup().await;
    app.state.clock.advance(86_400 + 1);
    let (_, _, new) = app.signup().await;
    let pruned = app.state.retention.prune().await.expect("prune");
    assert_eq!(pruned.audit_events, 1);
    assert_eq!((rows(&app, old).await, rows(&app, new).await), (0, 1));

    // 0 keeps every row.
    let keep = spawn_app_with(b, |c| c.audit_retention_days = 0).await;
    let (_, _, user) = keep.signup().await;
    keep.state.clock.advance(400 * 86_400);
    assert_eq!(
        keep.state
            .retention
            .prune()
            .await
            .expect("prune")
            .audit_events,
        0
    );
    assert_eq!(rows(&keep, user).await, 1);
}
