//! What an operator watches (SPEC §14 "Operations"): the gauges on `/metrics` and
//! `LOG_FORMAT=json`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    helpers::{Backend, PASSWORD, on_both_databases, spawn_app, spawn_app_with},
    process::ApiProcess,
};

/// The value of the sample `series` (name and labels as Prometheus prints them).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

on_both_databases!(gauges_show_the_sms_backlog_pool_hash_queue_and_streams);

async fn gauges_show_the_sms_backlog_pool_hash_queue_and_streams(b: Backend) {
    // No worker: a queued SMS stays due until the test steps the courier.
    let app = spawn_app(b).await;
    let due = r#"phonereg_sms_outbox_messages{state="due"}"#;
    let text = app.metrics_text().await;
    assert_eq!(sample(&text, due), Some(0.0), "{text}");
    assert_eq!(
        sample(&text, r#"phonereg_sms_outbox_messages{state="in_flight"}"#),
        Some(0.0)
    );
    assert_eq!(sample(&text, "phonereg_db_pool_max_connections"), Some(4.0));
    assert!(sample(&text, r#"phonereg_db_pool_connections{state="idle"}"#).is_some());
    assert_eq!(sample(&text, "phonereg_hash_queue_jobs"), Some(0.0));
    assert_eq!(sample(&text, "phonereg_event_streams_open"), Some(0.0));

    let r = app
        .register(json!({
            "email": "gauges@example.com", "password": PASSWORD, "full_name": "Gauges",
            "phone_number": "+14155550142"
        }))
        .await
        .expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    assert_eq!(
        sample(&app.metrics_text().await, due),
        Some(1.0),
        "the code's SMS is due"
    );
    app.drain_outbox().await;
    assert_eq!(sample(&app.metrics_text().await, due), Some(0.0), "sent");

    let stream = app
        .client
        .get(format!("{}/api/v1/users/me/events", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    let text = app.metrics_text().await;
    assert_eq!(
        sample(&text, "phonereg_event_streams_open"),
        Some(1.0),
        "{text}"
    );
    drop(stream);
}

on_both_databases!(the_separate_metrics_listener_has_the_gauges_too);

async fn the_separate_metrics_listener_has_the_gauges_too(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.metrics_bind = Some("127.0.0.1:0".parse().expect("addr"))
    })
    .await;
    let port = app.metrics_port.expect("metrics listener");
    let text = app
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert_eq!(
        sample(&text, r#"phonereg_sms_outbox_messages{state="due"}"#),
        Some(0.0),
        "{text}"
    );
    assert_eq!(sample(&text, "phonereg_db_pool_max_connections"), Some(4.0));
}

/// `LOG_FORMAT=json`: every line the process writes is one JSON object, and a request's
/// lines carry its span's fields (the request id) for a collector to group them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    let app = spawn_app(Backend::Sqlite).await; // migrates the database the process uses
    let process = ApiProcess::start(
        &app.database_url,
        "http://127.0.0.1:9",
        &[("LOG_FORMAT", "json"), ("RUST_LOG", "debug")],
    )
    .await;
    let r = app
        .client
        .get(format!("{}/healthz", process.address))
        .header("x-request-id", "json-logs-1")
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status(), 200);
    let mut found = None;
    for _ in 0..100 {
        let log = process.log();
        let lines: Vec<Value> = log
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect();
        assert!(!lines.is_empty());
        found = lines
            .into_iter()
            .find(|l| l["span"]["request_id"] == "json-logs-1");
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let line = found.expect("a line of the request, with its request id");
    assert_eq!(line["span"]["path"], "/healthz");
    assert!(
        line["level"].is_string() && line["timestamp"].is_string(),
        "{line}"
    );
}
