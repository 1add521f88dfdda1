//! SPEC §11: the fraud guard at scale — a ceiling on unverified claims over all
//! countries, verified credit by distinct numbers, and record-mode pauses that never
//! block enforced ones.

use phonereg_api::config::{Config, FraudMode};
use reqwest::Method;

use crate::{
    fraud::{assert_paused, count_users, guarded, pauses, pumped, sign_up_with},
    helpers::{Backend, TestApp, on_both_databases, spawn_app_with},
};

on_both_databases!(
    past_the_global_ceiling_only_ranges_with_real_users_get_claims,
    one_number_verified_again_and_again_earns_one_credit,
    a_record_mode_pause_never_blocks_an_enforced_one,
);

/// The guard with a global ceiling of 6 and floors no spread-out pumper reaches.
fn ceiling(c: &mut Config) {
    guarded(c);
    c.sms_fraud_range_floor = 4;
    c.sms_fraud_country_floor = 50;
    c.sms_fraud_global_unverified = Some(6);
}

/// A real user of `number`: an account that adds it and verifies the code.
async fn real_user(app: &TestApp, number: &str) -> (String, i64) {
    let (token, _, _) = app.signup().await;
    let id = app.add_verified_phone(&token, number).await;
    (token, id)
}

async fn past_the_global_ceiling_only_ranges_with_real_users_get_claims(b: Backend) {
    let app = spawn_app_with(b, ceiling).await;
    // A real user verifies in one GB range.
    real_user(&app, "+447300100001").await;
    // A pumper spreads over ranges of three countries, two claims each: under every
    // range floor (4) and country floor (50), six unverified claims in all.
    let spread = [
        "+447400100000",
        "+447500100001",
        "+33612345672",
        "+33698765433",
        "+491601234564",
        "+491701234565",
    ];
    for (n, number) in (0..).zip(spread) {
        let r = sign_up_with(&app, n, number).await;
        assert_eq!(r.status, 201, "{number}: {}", r.body);
    }
    let n = 6;
    let users = app.state.db.read(count_users).await.expect("count");
    // The seventh would pass the ceiling: refused like a pause, nothing written.
    let refused = sign_up_with(&app, n, "+34612000001").await;
    assert_paused(&refused);
    assert!(refused.retry_after() <= 3600);
    assert_eq!(app.state.db.read(count_users).await.expect("count"), users);
    // A range that verified a code today still gets claims (a real user's neighbour).
    sign_up_with(&app, n + 1, "+447300100002").await.expect(201);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"phonereg_sms_fraud_decisions_total{action="refuse",scope="global"}"#),
        "{metrics}"
    );
}

async fn one_number_verified_again_and_again_earns_one_credit(b: Backend) {
    let app = spawn_app_with(b, ceiling).await;
    // One number verified three times (added, verified, deleted, added again…).
    let number = pumped(900);
    let (token, mut id) = real_user(&app, &number).await;
    for _ in 0..2 {
        // With the account's password (`phone` adds it).
        app.phone(Method::DELETE, &token, id, None)
            .await
            .expect(204);
        id = app.add_verified_phone(&token, &number).await;
    }
    // Three codes sent, one credit: two unverified. The range floor (4) is reached by
    // the second pumped claim, which pauses the range; with three credits it would take
    // the fourth.
    sign_up_with(&app, 1, &pumped(1)).await.expect(201);
    sign_up_with(&app, 2, &pumped(2)).await.expect(201);
    assert_paused(&sign_up_with(&app, 3, &pumped(3)).await);
}

/// SPEC §11: a pause written in record mode must not stop enforce mode from pausing the
/// same range after a switch (two processes in turn on one database).
async fn a_record_mode_pause_never_blocks_an_enforced_one(b: Backend) {
    let recording = spawn_app_with(b, |c| {
        guarded(c);
        c.sms_fraud_guard = FraudMode::Record;
    })
    .await;
    for n in 0..5 {
        sign_up_with(&recording, n, &pumped(n)).await.expect(201);
    }
    let database = recording.database_url.clone();
    let enforcing = spawn_app_with(b, |c| {
        guarded(c);
        c.database_url = database;
    })
    .await;
    // The counts are over the threshold already: the next claim takes the enforced pause
    // (and goes out, as the one that reaches a threshold does); the one after is refused.
    sign_up_with(&enforcing, 5, &pumped(5)).await.expect(201);
    assert_paused(&sign_up_with(&enforcing, 6, &pumped(6)).await);
    let items = pauses(&enforcing).await;
    assert!(items.iter().any(|p| p["enforced"] == true), "{items:?}");
}
