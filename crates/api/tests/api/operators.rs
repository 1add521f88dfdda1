//! SPEC §11 "Operators' door": named operators (`ADMIN_TOKENS`) whose name goes on every
//! lift, in the row and the log; tokens under 32 bytes stop start-up; and `ADMIN_BIND`
//! serves the admin API on a listener of its own, the main one then not at all.

use clap::Parser as _;
use diesel::{QueryDsl as _, RunQueryDsl as _};
use phonereg_api::{
    config::{Config, Secret},
    error::ApiError,
    persistence::{Conn, schema::sms_fraud_pauses},
};
use reqwest::Method;

use crate::{
    fraud::{ADMIN, guarded, pauses, pumped, sign_up_with},
    helpers::{Backend, captured_logs, on_both_databases, spawn_app_with},
};

const ALICE: &str = "alice-token-alice-token-alice-token-0001";
const BOB: &str = "bob-token-bob-token-bob-token-bob-token-02";

on_both_databases!(
    a_lift_records_the_operator_who_did_it,
    admin_bind_serves_the_admin_api_on_its_own_listener_only,
);

fn lifted_by(c: &mut Conn<'_>) -> Result<Vec<Option<String>>, ApiError> {
    let q = sms_fraud_pauses::table.select(sms_fraud_pauses::lifted_by);
    Ok(match c {
        Conn::Sqlite(c) => q.load(*c)?,
        Conn::Postgres(c) => q.load(*c)?,
    })
}

async fn a_lift_records_the_operator_who_did_it(b: Backend) {
    captured_logs();
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.admin_tokens = Some(Secret::new(format!("alice:{ALICE}, bob:{BOB}")));
    })
    .await;
    for n in 0..4 {
        sign_up_with(&app, n, &pumped(n)).await.expect(201);
    }
    let id = pauses(&app).await[0]["id"].as_i64().expect("id");
    let route = "/api/v1/admin/sms/pauses/{id}";
    let path = format!("/api/v1/admin/sms/pauses/{id}");
    // Every operator gets in: both named ones and the single ADMIN_TOKEN (`admin`).
    for token in [ALICE, BOB, ADMIN] {
        let p = "/api/v1/admin/sms/decisions";
        app.call(Method::GET, p, p, Some(token), None)
            .await
            .expect(200);
    }
    app.call(Method::DELETE, route, &path, Some(BOB), None)
        .await
        .expect(204);
    // On the pause row, on the decision, and in the log line.
    let rows = app.state.db.read(lifted_by).await.expect("rows");
    assert_eq!(rows, vec![Some("bob".to_owned())]);
    let p = "/api/v1/admin/sms/decisions";
    let d = app
        .call(Method::GET, p, p, Some(ALICE), None)
        .await
        .expect(200);
    assert_eq!(d.body["items"][0]["action"], "lift");
    assert_eq!(d.body["items"][0]["operator"], "bob");
    assert!(d.body["items"][1]["operator"].is_null(), "{}", d.body);
    let logged = captured_logs()
        .into_iter()
        .any(|l| l.contains("lifted by an operator") && l.contains("bob"));
    assert!(logged, "no log line names the operator");
    // The audit log (SPEC §12): the guard's pause as a system event, and the lift as the
    // guard's `fraud.lift` and the admin call's own event, both naming the operator.
    let p = "/api/v1/admin/audit-events?type=fraud.*";
    let audit = app
        .call(
            Method::GET,
            "/api/v1/admin/audit-events",
            p,
            Some(ALICE),
            None,
        )
        .await
        .expect(200);
    let items = audit.body["items"].as_array().expect("items");
    let of = |t: &str| items.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
    assert_eq!(of("fraud.pause").len(), 1, "{}", audit.body);
    assert_eq!(of("fraud.pause")[0]["actor"], "system");
    assert_eq!(of("fraud.lift").len(), 1, "{}", audit.body);
    assert_eq!(of("fraud.lift")[0]["actor_name"], "bob");
    let p = "/api/v1/admin/audit-events?type=admin.sms.pause_lifted";
    let audit = app
        .call(
            Method::GET,
            "/api/v1/admin/audit-events",
            p,
            Some(ALICE),
            None,
        )
        .await
        .expect(200);
    assert_eq!(
        audit.body["items"][0]["actor_name"], "bob",
        "{}",
        audit.body
    );
}

async fn admin_bind_serves_the_admin_api_on_its_own_listener_only(b: Backend) {
    let app = spawn_app_with(b, |c| {
        guarded(c);
        c.admin_bind = Some("127.0.0.1:0".parse().expect("addr"));
    })
    .await;
    let p = "/api/v1/admin/sms/pauses";
    app.call(Method::GET, p, p, Some(ADMIN), None)
        .await
        .expect(404);
    let port = app.admin_port.expect("admin listener");
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}{p}"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    // Only the admin API there: the public API is not served on it.
    let r = app
        .client
        .get(format!("http://127.0.0.1:{port}/api/v1/users/me"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 404);
}

#[test]
fn short_or_doubled_admin_tokens_stop_start_up_without_showing_them() {
    let check = |tokens: &str| {
        let mut c = Config::parse_from(["x"]);
        c.admin_tokens = Some(Secret::new(tokens.into()));
        c.check()
    };
    assert!(check(&format!("alice:{ALICE},bob:{BOB}")).is_ok());
    let short = check(&format!("alice:{ALICE},bob:short-token")).expect_err("short");
    assert!(
        short.contains("bob") && !short.contains("short-token"),
        "{short}"
    );
    let twice = check(&format!("alice:{ALICE},alice:{BOB}")).expect_err("twice");
    assert!(twice.contains("alice") && !twice.contains(ALICE), "{twice}");
    assert!(check(ALICE).is_err(), "no name");
    let mut single = Config::parse_from(["x"]);
    single.admin_token = Some(Secret::new("too-short".into()));
    assert!(single.check().is_err());
}
