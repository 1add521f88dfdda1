//! The provider boundary (SPEC §13): every message names who carries it and how, in
//! `last_message`, the live stream and the history.

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_twilio_app};

const US_MOBILE: &str = "+14155552671";

on_both_databases!(receipts_name_their_provider_and_channel);

async fn register(app: &TestApp) -> (String, i64) {
    let r = app
        .register(json!({"email": "p@example.com", "password": PASSWORD, "full_name": "P", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
    )
}

fn item<'a>(history: &'a Value, kind: &str) -> &'a Value {
    history["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {history}"))
}

async fn receipts_name_their_provider_and_channel(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register(&app).await;
    let queued = app.me(&token).await.expect(200).body["phone"]["last_message"].clone();
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["channel"], "sms");
    assert!(
        queued["provider"].is_null(),
        "nobody carries it yet: {queued}"
    );

    app.drain_outbox().await;
    let sid = fake.messages()[0].sid.clone();
    assert_eq!(fake.send_status(&sid, "sent", None).await.expect("cb"), 204);
    let sent = app.me(&token).await.expect(200).body["phone"]["last_message"].clone();
    assert_eq!(sent["status"], "sent");
    assert_eq!(sent["provider"], "twilio");
    assert_eq!(sent["channel"], "sms");

    assert_eq!(
        fake.send_status(&sid, "delivered", None).await.expect("cb"),
        204
    );
    let history = app.history(&token, id).await.expect(200).body;
    let delivered = item(&history, "delivered");
    assert_eq!(delivered["provider"], "twilio", "{history}");
    assert_eq!(delivered["channel"], "sms");
    let added = item(&history, "added");
    assert!(added["provider"].is_null() && added["channel"].is_null());
}
