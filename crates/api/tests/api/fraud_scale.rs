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

#[derive(diesel::QueryableByName)]
struct Scans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// PostgreSQL (issue 25): the guard reads its counters by key range on every send. A
/// connection keeps that read prepared, planned for the table as it was when it was
/// small; once the table has grown, the read must still use the primary key, never scan
/// the whole table (which it did, inside the send's lock on the shared counters, until
/// the next ANALYZE).
#[tokio::test]
async fn the_guards_counter_reads_keep_to_the_key_range_as_the_table_grows() {
    use diesel::{Connection as _, RunQueryDsl as _, pg::PgConnection};
    use phonereg_api::{
        config::DatabaseUrl,
        persistence::{Conn, fraud},
    };

    let app = spawn_app_with(Backend::Postgres, guarded).await;
    let DatabaseUrl::Postgres(url) = &app.database_url else {
        unreachable!("PostgreSQL")
    };
    let mut pg = PgConnection::establish(url).expect("connect");
    let sql = |pg: &mut PgConnection, q: &str| diesel::sql_query(q).execute(pg).expect(q);
    // A new server's table: a few rows, analyzed as such.
    sql(
        &mut pg,
        "INSERT INTO rate_counters (key, window_start, count) \
         SELECT 'sms_number:' || md5(i::text), 0, 1 FROM generate_series(1, 40) i",
    );
    sql(&mut pg, "ANALYZE rate_counters");
    let read = |pg: &mut PgConnection| {
        let ranges = [
            ("fraud:r:+1415:", 0),
            ("fraud:c:US:", 0),
            ("fraud:g:all:", 0),
        ];
        fraud::counts_under_three(&mut Conn::Postgres(pg), ranges).expect("read");
    };
    // More than the five runs after which PostgreSQL keeps one plan for a statement.
    for _ in 0..8 {
        read(&mut pg);
    }
    // The table grows, as it does within a minute of sends; no ANALYZE has run yet.
    sql(
        &mut pg,
        "INSERT INTO rate_counters (key, window_start, count) \
         SELECT 'sms_account:' || md5(i::text), 0, 1 FROM generate_series(1, 20000) i",
    );
    pg.transaction(|pg| {
        read(pg);
        read(pg);
        let scans: Scans = diesel::sql_query(
            "SELECT coalesce(sum(seq_scan), 0)::bigint AS n FROM pg_stat_xact_user_tables \
             WHERE relname = 'rate_counters' AND schemaname = current_schema()",
        )
        .get_result(pg)?;
        assert_eq!(scans.n, 0, "the reads scanned the whole table");
        diesel::QueryResult::Ok(())
    })
    .expect("transaction");
}
