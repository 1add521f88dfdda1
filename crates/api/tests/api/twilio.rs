//! Delivery through the fake Twilio: the outbox, retries, failures and signed callbacks.
//!
//! Long: the tests of delivery through the fake Twilio, one per provider behaviour.

use std::collections::HashSet;

use fake_twilio::{Failure, signature};
use phonereg_api::{domain::Locale, persistence::outbox, services::courier::Step};
use phonereg_types::{MessageKind, SmsProviderName};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{
    Backend, PASSWORD, TWILIO_TOKEN, TestApp, on_both_databases, spawn_twilio_app,
};

const US_MOBILE: &str = "+14155552671";

on_both_databases!(
    signup_to_verified_with_delivery_reports,
    callbacks_are_idempotent_and_only_move_forward,
    outage_then_recovery_loses_nothing,
    last_failed_try_marks_the_message_failed,
    other_messages_get_sms_max_attempts,
    twilio_4xx_fails_with_its_code_and_guidance,
    bad_credentials_are_retried_not_blamed_on_the_user,
    stop_reply_marks_the_number_opted_out,
    webhook_refuses_bad_signatures,
    messages_queued_before_a_restart_are_sent_after,
    two_processes_send_each_message_once,
    a_slow_message_does_not_hold_back_its_batch,
);

async fn register_with_phone(app: &TestApp) -> (String, i64) {
    let r = app
        .register(json!({"email": "w@example.com", "password": PASSWORD, "full_name": "W", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
    )
}

fn code_in(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned()
}

async fn last_message(app: &TestApp, token: &str) -> serde_json::Value {
    app.me(token).await.expect(200).body["phone"]["last_message"].clone()
}

async fn signup_to_verified_with_delivery_reports(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register_with_phone(&app).await;
    assert!(fake.messages().is_empty(), "the request only queues");
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    let sent = fake.messages();
    assert_eq!(sent.len(), 1);
    let msg = &sent[0];
    assert_eq!(msg.to, US_MOBILE);
    assert_eq!(msg.from.as_deref(), Some("+15005550006"));
    assert_eq!(
        msg.status_callback.as_deref(),
        Some(format!("{}/api/v1/webhooks/twilio/status", app.address).as_str())
    );
    assert_eq!(last_message(&app, &token).await["status"], "queued");
    assert_eq!(
        fake.send_status(&msg.sid, "sent", None)
            .await
            .expect("callback"),
        204
    );
    assert_eq!(
        fake.send_status(&msg.sid, "delivered", None)
            .await
            .expect("callback"),
        204
    );
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "delivered");
    assert!(last["error_code"].is_null());
    let r = app
        .verify(&token, id, &code_in(&msg.body))
        .await
        .expect(200);
    assert_eq!(r.body["status"], "verified");
    let kinds: Vec<String> = app.history(&token, id).await.expect(200).body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(kinds, ["verified", "delivered", "code_sent", "added"]);
}

async fn callbacks_are_idempotent_and_only_move_forward(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register_with_phone(&app).await;
    app.state.courier.step().await.expect("step");
    let sid = fake.messages()[0].sid.clone();
    fake.send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    // A late `sent` and a repeated `delivered` change nothing.
    fake.send_status(&sid, "sent", None)
        .await
        .expect("callback");
    fake.send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    fake.send_status(&sid, "undelivered", Some(30003))
        .await
        .expect("callback");
    assert_eq!(last_message(&app, &token).await["status"], "delivered");
    let history = app.history(&token, id).await.expect(200);
    let delivered = history.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|i| i["kind"] == "delivered")
        .count();
    assert_eq!(delivered, 1);
}

async fn outage_then_recovery_loses_nothing(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, _) = register_with_phone(&app).await;
    fake.fail_next(Failure::ServerError, 1);
    fake.fail_next(Failure::TooManyRequests, 1);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    // Backed off: nothing is due right away.
    assert_eq!(app.state.courier.step().await.expect("step"), Step::Idle);
    assert_eq!(last_message(&app, &token).await["status"], "queued");
    app.state.clock.advance(3);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    app.state.clock.advance(5);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    assert_eq!(fake.requests(), 3);
    assert_eq!(fake.messages().len(), 1, "exactly one message got through");
}

async fn last_failed_try_marks_the_message_failed(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, _) = register_with_phone(&app).await;
    fake.set_down(true);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    // A code's SMS is tried while the code lives: three seconds before it dies, the
    // next try (at least 3.2 s on) would come too late, so this one is the last.
    app.state.clock.advance(597);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Failed {
            error_code: None,
            ..
        }
    ));
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "failed");
    assert!(
        last["guidance"]
            .as_str()
            .expect("guidance")
            .contains("could not be reached")
    );
}

async fn other_messages_get_sms_max_attempts(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |c| c.sms_max_attempts = 2).await;
    let now = app.state.clock.now();
    app.state
        .db
        .write(move |c| {
            outbox::insert(
                c,
                None,
                US_MOBILE,
                "notice",
                MessageKind::Notice,
                None,
                Locale::En,
                now,
            )
        })
        .await
        .expect("queue");
    fake.fail_next(Failure::ServerError, 2);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    app.state.clock.advance(3);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Failed {
            error_code: None,
            ..
        }
    ));
    assert_eq!(fake.requests(), 2);
}

async fn twilio_4xx_fails_with_its_code_and_guidance(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register_with_phone(&app).await;
    fake.fail_next(Failure::NotMobile, 1);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Failed {
            error_code: Some(21614),
            ..
        }
    ));
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "failed");
    assert_eq!(last["error_code"], 21614);
    assert!(
        last["guidance"]
            .as_str()
            .expect("guidance")
            .contains("mobile")
    );
    let history = app.history(&token, id).await.expect(200);
    assert_eq!(history.body["items"][0]["kind"], "failed");
}

async fn bad_credentials_are_retried_not_blamed_on_the_user(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, _) = register_with_phone(&app).await;
    fake.fail_next(Failure::BadCredentials, 1);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "queued");
    assert!(last["error_code"].is_null());
}

async fn stop_reply_marks_the_number_opted_out(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id) = register_with_phone(&app).await;
    app.state.courier.step().await.expect("step");
    let sid = fake.messages()[0].sid.clone();
    fake.send_status(&sid, "undelivered", Some(21610))
        .await
        .expect("callback");
    let phone = app.phone(Method::GET, &token, id, None).await.expect(200);
    assert_eq!(phone.body["sms_opted_out"], true);
    assert_eq!(phone.body["last_message"]["error_code"], 21610);
    assert!(
        phone.body["last_message"]["guidance"]
            .as_str()
            .expect("guidance")
            .contains("STOP")
    );
    // A user-requested resend is still tried, and its delivery clears the flag.
    app.resend(&token, id).await.expect(202);
    app.state.courier.step().await.expect("step");
    let sid = fake.messages()[1].sid.clone();
    fake.send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    let phone = app.phone(Method::GET, &token, id, None).await.expect(200);
    assert_eq!(phone.body["sms_opted_out"], false);
}

async fn webhook_refuses_bad_signatures(b: Backend) {
    let (app, _fake) = spawn_twilio_app(b, |_| {}).await;
    let url = format!("{}/api/v1/webhooks/twilio/status", app.address);
    let params = vec![
        ("MessageSid".to_owned(), "SMunknown".to_owned()),
        ("MessageStatus".to_owned(), "delivered".to_owned()),
    ];
    let route = "/api/v1/webhooks/twilio/status";
    let post = |sig: Option<String>, params: Vec<(String, String)>| {
        let mut req = app.client.post(&url).form(&params);
        if let Some(sig) = sig {
            req = req.header("X-Twilio-Signature", sig);
        }
        app.finish(req)
    };
    let good = signature(TWILIO_TOKEN, &url, &params);
    // Well signed, unknown message: accepted so Twilio stops retrying.
    let r = post(Some(good.clone()), params.clone()).await.expect(204);
    crate::helpers::check_against_spec(&Method::POST, route, &r);
    let r = post(None, params.clone()).await.expect(403);
    crate::helpers::check_against_spec(&Method::POST, route, &r);
    post(
        Some(signature("another-token", &url, &params)),
        params.clone(),
    )
    .await
    .expect(403);
    let mut tampered = params.clone();
    tampered[1].1 = "failed".into();
    post(Some(good), tampered).await.expect(403);
    let r = app
        .finish(app.client.post(&url).json(&json!({"MessageSid": "x"})))
        .await
        .expect(415);
    crate::helpers::check_against_spec(&Method::POST, route, &r);
    let big = vec![("Body".to_owned(), "x".repeat(17 * 1024))];
    let r = post(None, big).await.expect(413);
    crate::helpers::check_against_spec(&Method::POST, route, &r);
}

async fn messages_queued_before_a_restart_are_sent_after(b: Backend) {
    let (first, fake) = spawn_twilio_app(b, |_| {}).await;
    register_with_phone(&first).await;
    let database = first.database_url.clone();
    drop(first);
    let (second, fake2) = spawn_twilio_app(b, |c| c.database_url = database).await;
    assert!(matches!(
        second.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    assert_eq!(fake.messages().len() + fake2.messages().len(), 1);
    assert_eq!(fake2.messages()[0].to, US_MOBILE);
}

async fn two_processes_send_each_message_once(b: Backend) {
    let (one, fake) = spawn_twilio_app(b, |_| {}).await;
    let fake_base = fake.base_url.clone();
    let database = one.database_url.clone();
    let (two, _unused) = spawn_twilio_app(b, |c| {
        c.database_url = database;
        c.twilio_api_base = fake_base;
    })
    .await;
    let now = one.state.clock.now();
    one.state
        .db
        .write(move |c| {
            for i in 0..200 {
                let body = format!("message {i:03}");
                outbox::insert(
                    c,
                    None,
                    US_MOBILE,
                    &body,
                    MessageKind::Test,
                    None,
                    Locale::En,
                    now,
                )?;
            }
            Ok(())
        })
        .await
        .expect("queue 200 messages");
    let drain = |app: &TestApp| {
        let courier = app.state.courier.clone();
        tokio::spawn(async move {
            // Batches, as the server's loop claims them: each process locks rows the
            // other then skips.
            let mut sent = 0;
            loop {
                let steps = courier.step_batch(8).await.expect("step");
                if steps.is_empty() {
                    break sent;
                }
                assert!(
                    steps.iter().all(|s| matches!(s, Step::Sent { .. })),
                    "{steps:?}"
                );
                sent += steps.len();
            }
        })
    };
    let (a, b2) = (drain(&one), drain(&two));
    let (a, b2) = (a.await.expect("worker one"), b2.await.expect("worker two"));
    let bodies: HashSet<String> = fake.messages().into_iter().map(|m| m.body).collect();
    assert_eq!(fake.messages().len(), 200, "each message sent exactly once");
    assert_eq!(bodies.len(), 200);
    assert_eq!(a + b2, 200);
    assert!(a > 0 && b2 > 0, "both processes took a share: {a} + {b2}");
}

/// A status callback can only be matched once the MessageSid is stored: each message of
/// a batch is recorded when its own send returns, not when the slowest one does.
async fn a_slow_message_does_not_hold_back_its_batch(b: Backend) {
    const SLOW: &str = "+447400123456";
    let (app, fake) = spawn_twilio_app(b, |_| {}).await;
    fake.set_delay_for(SLOW, std::time::Duration::from_secs(3));
    let now = app.state.clock.now();
    app.state
        .db
        .write(move |c| {
            outbox::insert(
                c,
                None,
                SLOW,
                "slow",
                MessageKind::Test,
                None,
                Locale::En,
                now,
            )?;
            outbox::insert(
                c,
                None,
                US_MOBILE,
                "fast",
                MessageKind::Test,
                None,
                Locale::En,
                now,
            )?;
            Ok(())
        })
        .await
        .expect("queue");
    let courier = app.state.courier.clone();
    let batch = tokio::spawn(async move { courier.step_batch(2).await });
    let started = std::time::Instant::now();
    let recorded = loop {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "the fast message was not recorded while the slow one was out"
        );
        let sid = fake
            .messages()
            .into_iter()
            .find(|m| m.to == US_MOBILE)
            .map(|m| m.sid);
        if let Some(sid) = sid {
            let found = app
                .state
                .db
                .read(move |c| outbox::find_by_sid(c, SmsProviderName::Twilio, &sid))
                .await
                .expect("read");
            if let Some(row) = found {
                break row;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(recorded.to_e164, US_MOBILE);
    assert!(!batch.is_finished(), "the slow message is still out");
    let steps = batch.await.expect("join").expect("batch");
    assert!(
        steps.iter().all(|s| matches!(s, Step::Sent { .. })),
        "{steps:?}"
    );
}
