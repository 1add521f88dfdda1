//! The live event stream and test messages.

use std::time::Duration;

use futures_util::StreamExt as _;
use phonereg_types::{EventTicket, MessageEvent};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_app, spawn_twilio_app};

const US_MOBILE: &str = "+14155552671";

on_both_databases!(
    stream_shows_a_delivery_update,
    tickets_are_single_use_and_required,
    stream_resumes_after_last_event_id,
    test_message_needs_a_verified_number,
);

/// Reads SSE frames until one of `kind` satisfies `pred`, or fails after 10 s.
async fn wait_for_event(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buf: &mut String,
    kind: &str,
    pred: impl Fn(&Value) -> bool,
) -> (i64, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let field = |name: &str| {
                frame
                    .lines()
                    .find_map(|l| l.strip_prefix(name).map(str::trim).map(str::to_owned))
            };
            if field("event:").as_deref() == Some(kind) {
                let data: Value =
                    serde_json::from_str(&field("data:").expect("data")).expect("json data");
                let id = field("id:").expect("id").parse().expect("numeric id");
                if pred(&data) {
                    return (id, data);
                }
            }
        }
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .unwrap_or_else(|_| panic!("no matching {kind} event within 10 s; got: {buf}"))
            .expect("stream open")
            .expect("chunk");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn ticket(app: &TestApp, token: &str) -> String {
    let p = "/api/v1/users/me/events/ticket";
    let r = app
        .call(Method::POST, p, p, Some(token), None)
        .await
        .expect(201);
    let ticket: EventTicket = serde_json::from_value(r.body).expect("the shared EventTicket");
    assert_eq!(ticket.expires_in, 60);
    ticket.ticket
}

async fn register(app: &TestApp, email: &str) -> (String, i64) {
    let r = app
        .register(json!({"email": email, "password": PASSWORD, "full_name": "E", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
    )
}

async fn stream_shows_a_delivery_update(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register(&app, "e@example.com").await;
    let ticket = ticket(&app, &token).await;
    let res = app
        .client
        .get(format!(
            "{}/api/v1/users/me/events?ticket={ticket}",
            app.address
        ))
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.bytes_stream();
    let mut buf = String::new();
    app.state.courier.step().await.expect("step");
    let sid = fake.messages()[0].sid.clone();
    fake.send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    let (_, msg) = wait_for_event(&mut body, &mut buf, "message", |d| {
        d["status"] == "delivered"
    })
    .await;
    let msg: MessageEvent = serde_json::from_value(msg).expect("the shared MessageEvent");
    assert_eq!(msg.phone_id, id);
    let (_, phone) = wait_for_event(&mut body, &mut buf, "phone", |d| {
        d["last_message"]["status"] == "delivered"
    })
    .await;
    assert_eq!(phone["id"], id);
    assert_eq!(phone["e164"], US_MOBILE);
}

async fn tickets_are_single_use_and_required(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let url = format!("{}/api/v1/users/me/events", app.address);
    let t = ticket(&app, &token).await;
    let first = app
        .client
        .get(format!("{url}?ticket={t}"))
        .send()
        .await
        .expect("sent");
    assert_eq!(first.status(), 200);
    drop(first);
    let again = app
        .finish(app.client.get(format!("{url}?ticket={t}")))
        .await
        .expect(401);
    assert_eq!(
        again.header("content-type"),
        Some("application/problem+json")
    );
    app.finish(app.client.get(&url)).await.expect(401);
    app.finish(app.client.get(format!("{url}?ticket=forged")))
        .await
        .expect(401);
    let p = "/api/v1/users/me/events/ticket";
    app.call(Method::POST, p, p, None, None).await.expect(401);
}

async fn stream_resumes_after_last_event_id(b: Backend) {
    let app = spawn_app(b).await;
    let (token, id) = register(&app, "r@example.com").await;
    // Events from before the stream opened are replayed from Last-Event-ID on.
    let res = app
        .client
        .get(format!("{}/api/v1/users/me/events", app.address))
        .bearer_auth(&token)
        .header("Last-Event-ID", "0")
        .send()
        .await
        .expect("stream");
    let mut body = res.bytes_stream();
    let mut buf = String::new();
    let (first_id, phone) = wait_for_event(&mut body, &mut buf, "phone", |_| true).await;
    assert_eq!(phone["id"], id);
    drop(body);
    // A stream resuming after that event does not see it again, but sees what follows.
    let res = app
        .client
        .get(format!("{}/api/v1/users/me/events", app.address))
        .bearer_auth(&token)
        .header("Last-Event-ID", first_id.to_string())
        .send()
        .await
        .expect("stream");
    let mut body = res.bytes_stream();
    let mut buf = String::new();
    let (next_id, _) = wait_for_event(&mut body, &mut buf, "message", |_| true).await;
    assert!(next_id > first_id);
}

async fn test_message_needs_a_verified_number(b: Backend) {
    let app = spawn_app(b).await;
    let (token, id) = register(&app, "m@example.com").await;
    let path = format!("/api/v1/users/me/phone-numbers/{id}/test-message");
    let route = "/api/v1/users/me/phone-numbers/{id}/test-message";
    app.call(Method::POST, route, &path, Some(&token), None)
        .await
        .expect(409);
    app.verify_by_sms(&token, id).await;
    let r = app
        .call(Method::POST, route, &path, Some(&token), None)
        .await
        .expect(202);
    assert_eq!(r.body["status"], "queued");
    app.drain_outbox().await;
    let inbox = app.state.inbox.as_ref().expect("console").items();
    assert!(inbox[0].body.contains("test message"), "{}", inbox[0].body);
    let kinds = app.history(&token, id).await.expect(200).body["items"].to_string();
    assert!(kinds.contains("test_sent"));
    let (mallory, _, _) = app.signup().await;
    app.call(Method::POST, route, &path, Some(&mallory), None)
        .await
        .expect(404);
}
