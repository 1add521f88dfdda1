//! Issue #10 item 6: three API processes on one PostgreSQL under sign-up load, one killed
//! with SIGKILL mid-run while its sends are in flight: every queued message reaches
//! Twilio exactly once, and the daily SMS budget holds across the processes.

use std::{collections::HashSet, time::Duration};

use diesel::{ExpressionMethods as _, QueryDsl as _, RunQueryDsl as _};
use futures_util::future::join_all;
use phonereg_api::persistence::{Conn, schema::sms_messages};
use serde_json::json;

use crate::{
    helpers::{Backend, PASSWORD, spawn_twilio_app},
    process::ApiProcess,
};

const BUDGET: usize = 60;
const SIGNUPS: usize = 90;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// Long: one end-to-end scenario (three processes, a kill -9, the drain, the count),
/// whose steps only mean something in order.
async fn three_processes_one_killed_send_each_message_once_within_the_budget() {
    let (app, fake) = spawn_twilio_app(Backend::Postgres, |_| {}).await;
    // Twilio takes the first half's messages but holds its answers, so the process
    // killed then has sends in flight (each worker sends what its own requests queued).
    fake.hold_answers(true);
    let budget = BUDGET.to_string();
    let env = [
        ("SMS_DAILY_BUDGET", budget.as_str()),
        ("REGISTER_PER_IP_PER_HOUR", "1000"),
        ("SMS_PER_IP_PER_HOUR", "1000"),
        ("SMS_FRAUD_GUARD", "off"),
        ("RUST_LOG", "warn,phonereg_api::services::courier=info"),
    ];
    let mut processes = Vec::new();
    for _ in 0..3 {
        processes.push(ApiProcess::start(&app.database_url, &fake.base_url, &env).await);
    }
    let addresses: Vec<String> = processes.iter().map(|p| p.address.clone()).collect();
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let signup = |i: usize, address: String| {
        let client = client.clone();
        async move {
            let r = client
                .post(format!("{address}/api/v1/auth/register"))
                .json(&json!({
                    "email": format!("load{i}@example.com"),
                    "password": PASSWORD,
                    "full_name": "Load",
                    "phone_number": format!("+1415555{i:04}"),
                }))
                .send()
                .await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }
    };
    // The first half on all three processes; then process 0 dies with its sends in flight;
    // the second half on the other two.
    let first: Vec<u16> =
        join_all((0..SIGNUPS / 2).map(|i| signup(i, addresses[i % 3].clone()))).await;
    let in_flight = first.iter().filter(|s| **s == 201).count();
    wait_for(
        || fake.held() == in_flight,
        "every queued message is in flight",
    )
    .await;
    processes[0].kill();
    fake.hold_answers(false);
    let second: Vec<u16> =
        join_all((SIGNUPS / 2..SIGNUPS).map(|i| signup(i, addresses[1 + i % 2].clone()))).await;
    let statuses: Vec<u16> = first.into_iter().chain(second).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    let spent = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(created + spent, SIGNUPS, "only 201 or 503: {statuses:?}");
    assert_eq!(created, BUDGET, "the budget holds across processes");

    // The survivors send what is queued and, once the dead one's lease runs out, find
    // its in-flight messages at Twilio.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let unsent = count(&app, true).await;
        if unsent == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{unsent} messages still unsent"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stored = count(&app, false).await;
    assert_eq!(stored, BUDGET as i64, "one code per account created");
    let messages = fake.messages();
    let bodies: HashSet<&str> = messages.iter().map(|m| m.body.as_str()).collect();
    let numbers: HashSet<&str> = messages.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(
        (messages.len(), bodies.len(), numbers.len()),
        (BUDGET, BUDGET, BUDGET),
        "each message reached Twilio exactly once"
    );
    let mut found = 0;
    for p in &processes[1..] {
        let log = p.log();
        assert!(!log.contains("panicked"), "{log}");
        found += log.matches("not sent again").count();
    }
    assert!(
        found > 0,
        "the dead process's messages were found at Twilio"
    );
}

async fn wait_for(done: impl Fn() -> bool, what: &str) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// Code messages in the database: all, or those without a Twilio Sid yet.
async fn count(app: &crate::helpers::TestApp, unsent_only: bool) -> i64 {
    app.state
        .db
        .read(move |c| {
            let Conn::Postgres(c) = c else {
                unreachable!("PostgreSQL")
            };
            let mut q = sms_messages::table.into_boxed();
            if unsent_only {
                q = q.filter(sms_messages::provider_sid.is_null());
            }
            Ok(q.count().get_result(*c)?)
        })
        .await
        .expect("count")
}
