//! The generic signed HTTP provider (SPEC §13) against a fake gateway on loopback that
//! checks every request, and signs every receipt, with Standard Webhooks' own library.

use fake_sms_http::{Failure, FakeSmsHttp};
use phonereg_api::{
    config::{Secret, SmsProvider},
    services::courier::{LEASE_SECS, Step},
};
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_app_with};

/// Standard Webhooks' example secret.
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const US_MOBILE: &str = "+14155552671";

on_both_databases!(
    a_code_goes_out_signed_and_its_receipts_move_it_forward,
    refusals_fail_with_their_code_and_outages_are_retried,
    receipts_must_be_signed_by_the_gateway,
    a_send_whose_answer_was_lost_is_found_not_sent_again,
    a_gateway_that_reuses_an_id_does_not_wedge_the_outbox,
);

async fn spawn_http_app(b: Backend) -> (TestApp, FakeSmsHttp) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let public_url = format!("http://127.0.0.1:{port}");
    let receipts = format!("{public_url}/api/v1/webhooks/sms/http/status");
    let fake = FakeSmsHttp::start(0, SECRET, &receipts).expect("fake gateway starts");
    let app = spawn_app_with(b, |c| {
        c.bind = format!("127.0.0.1:{port}").parse().expect("addr");
        c.public_url = public_url;
        c.sms_provider = SmsProvider::Http;
        c.sms_http_url = Some(fake.url.clone());
        c.sms_http_secret = Some(Secret::new(SECRET.into()));
    })
    .await;
    (app, fake)
}

async fn register(app: &TestApp) -> (String, i64) {
    let r = app
        .register(json!({"email": "h@example.com", "password": PASSWORD, "full_name": "H", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
    )
}

async fn last_message(app: &TestApp, token: &str) -> serde_json::Value {
    app.me(token).await.expect(200).body["phone"]["last_message"].clone()
}

async fn a_code_goes_out_signed_and_its_receipts_move_it_forward(b: Backend) {
    let (app, fake) = spawn_http_app(b).await;
    let (token, id) = register(&app).await;
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    assert_eq!(
        fake.bad_signatures(),
        0,
        "the standard's library took our signature"
    );
    let sent = fake.messages();
    assert_eq!(sent.len(), 1);
    let msg = &sent[0];
    assert_eq!(msg.to, US_MOBILE);
    assert_eq!(msg.purpose, "code");
    assert_eq!(msg.locale, "en");
    assert_eq!(msg.channel, "sms");
    assert!(
        msg.validity_seconds
            .is_some_and(|v| (590..=600).contains(&v)),
        "{msg:?}"
    );
    assert_eq!(last_message(&app, &token).await["status"], "queued");
    let gw = msg.provider_message_id.clone();
    assert_eq!(
        fake.send_receipt(&gw, "sent", None).await.expect("receipt"),
        204
    );
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "sent");
    assert_eq!(last["provider"], "http");
    assert_eq!(
        fake.send_receipt(&gw, "delivered", None)
            .await
            .expect("receipt"),
        204
    );
    // Repeats and late reports change nothing.
    assert_eq!(
        fake.send_receipt(&gw, "sent", None).await.expect("receipt"),
        204
    );
    assert_eq!(last_message(&app, &token).await["status"], "delivered");
    let code: String = msg
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code")
        .to_owned();
    app.verify(&token, id, &code).await.expect(200);
}

async fn refusals_fail_with_their_code_and_outages_are_retried(b: Backend) {
    let (app, fake) = spawn_http_app(b).await;
    let (token, id) = register(&app).await;
    fake.fail_next(Failure::Unavailable, 1);
    fake.fail_next(
        Failure::Refused {
            error_code: 30007,
            permanent: false,
        },
        1,
    );
    fake.fail_next(
        Failure::Refused {
            error_code: 21211,
            permanent: true,
        },
        1,
    );
    for _ in 0..2 {
        assert!(matches!(
            app.state.courier.step().await.expect("step"),
            Step::Retrying { .. }
        ));
        app.state.clock.advance(10);
    }
    assert_eq!(
        app.state.courier.step().await.expect("step"),
        Step::Failed {
            id: 1,
            error_code: Some(21211)
        }
    );
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "failed");
    assert_eq!(last["error_code"], 21211);
    assert_eq!(last["provider"], "http");
    assert!(
        last["guidance"]
            .as_str()
            .unwrap_or_default()
            .contains("valid phone number")
    );
    let history = app.history(&token, id).await.expect(200).body;
    assert_eq!(history["items"][0]["kind"], "failed");
    assert_eq!(history["items"][0]["provider"], "http");
    assert!(fake.messages().is_empty());
}

async fn receipts_must_be_signed_by_the_gateway(b: Backend) {
    let (app, fake) = spawn_http_app(b).await;
    let (token, _) = register(&app).await;
    app.drain_outbox().await;
    let gw = fake.messages()[0].provider_message_id.clone();
    let body = json!({"provider_message_id": gw, "status": "delivered"});
    let other = "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
    assert_eq!(fake.post_receipt(other, &body).await.expect("post"), 403);
    assert_eq!(last_message(&app, &token).await["status"], "queued");
    let url = format!("{}/api/v1/webhooks/sms/http/status", app.address);
    let unsigned = app
        .client
        .post(&url)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(unsigned.status(), 403);
    let form = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .expect("post");
    assert_eq!(form.status(), 415);
    let unknown = json!({"provider_message_id": "gw-404", "status": "delivered"});
    assert_eq!(
        fake.post_receipt(SECRET, &unknown).await.expect("post"),
        204
    );
    let odd = json!({"provider_message_id": gw, "status": "teleported"});
    assert_eq!(fake.post_receipt(SECRET, &odd).await.expect("post"), 204);
    let malformed = json!({"status": "delivered"});
    assert_eq!(
        fake.post_receipt(SECRET, &malformed).await.expect("post"),
        400
    );
    assert_eq!(last_message(&app, &token).await["status"], "queued");
    // Twilio is not configured here: its webhook trusts nobody.
    let twilio = app
        .client
        .post(format!("{}/api/v1/webhooks/twilio/status", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("MessageSid={gw}&MessageStatus=delivered"))
        .send()
        .await
        .expect("post");
    assert_eq!(twilio.status(), 403);
}

async fn a_send_whose_answer_was_lost_is_found_not_sent_again(b: Backend) {
    let (app, fake) = spawn_http_app(b).await;
    let (token, _) = register(&app).await;
    fake.fail_next(Failure::TakenButLost, 1);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Retrying { .. }
    ));
    app.state.clock.advance(LEASE_SECS);
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Reconciled { .. }
    ));
    assert_eq!(fake.messages().len(), 1, "sent once");
    assert_eq!(fake.sends(), 1, "not even tried twice");
    let gw = fake.messages()[0].provider_message_id.clone();
    assert_eq!(
        fake.send_receipt(&gw, "delivered", None)
            .await
            .expect("receipt"),
        204
    );
    assert_eq!(last_message(&app, &token).await["status"], "delivered");
}

async fn a_gateway_that_reuses_an_id_does_not_wedge_the_outbox(b: Backend) {
    let (app, fake) = spawn_http_app(b).await;
    fake.reuse_id("gw-same");
    register(&app).await;
    let r = app
        .register(json!({"email": "h2@example.com", "password": PASSWORD, "full_name": "H", "phone_number": "+14155552672"}))
        .await
        .expect(201);
    let token2 = r.body["access_token"].as_str().expect("token").to_owned();
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    // The second message's id is taken: stored under a mark, not sent again.
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    app.state.clock.advance(LEASE_SECS + 60);
    assert_eq!(app.state.courier.step().await.expect("step"), Step::Idle);
    assert_eq!(fake.messages().len(), 2, "each message once");
    assert_eq!(last_message(&app, &token2).await["status"], "queued");
}
