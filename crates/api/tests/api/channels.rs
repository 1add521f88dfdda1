//! SPEC §13 "Voice and WhatsApp": the live code again by call or WhatsApp when the SMS
//! does not come, a landline verified by voice, and what a call costs.
//!
//! Long: the tests of issue 22, one per rule, through the fake Twilio.

use fake_twilio::FakeTwilio;
use phonereg_api::config::{Config, Countries, FraudMode};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    fraud::{guarded, pauses, pumped, sign_up_with},
    helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_twilio_app},
};

const US_MOBILE: &str = "+14155552671";
/// Ofcom's drama range: a valid London fixed line.
const GB_LANDLINE: &str = "+442079460018";

on_both_databases!(
    a_dropped_sms_is_followed_by_a_call_that_says_the_same_code,
    a_failed_sms_opens_the_other_channels_at_once,
    a_landline_verifies_by_voice,
    whatsapp_carries_the_code_and_63003_says_the_number_is_not_on_whatsapp,
    channels_that_are_off_used_or_without_a_live_code_are_refused,
    a_call_spends_its_weight_of_the_budget,
    the_fraud_guard_counts_a_call_at_its_weight,
    a_start_switches_channel_alike_with_and_without_an_account,
);

/// Voice and WhatsApp on for every country, fixed lines by voice.
fn channels_on(c: &mut Config) {
    c.voice_enabled = true;
    c.voice_for_landlines = true;
    c.whatsapp_enabled = true;
    c.whatsapp_content_sid = Some("HXtest0000000000000000000000000000".into());
}

async fn register(app: &TestApp, number: &str) -> (String, i64, Value) {
    let r = app
        .register(
            json!({"email": format!("c{}@example.com", rand::random::<u32>()),
            "password": PASSWORD, "full_name": "C", "phone_number": number}),
        )
        .await
        .expect(201);
    (
        r.body["access_token"].as_str().expect("token").to_owned(),
        r.body["user"]["phone"]["id"].as_i64().expect("id"),
        r.body["verification"].clone(),
    )
}

/// `POST …/verification` with `channel` (None: no body).
async fn resend_by(app: &TestApp, token: &str, id: i64, channel: Option<&str>) -> Resp {
    let path = format!("/api/v1/users/me/phone-numbers/{id}/verification");
    let body = channel.map(|c| json!({ "channel": c }));
    app.call(
        Method::POST,
        "/api/v1/users/me/phone-numbers/{id}/verification",
        &path,
        Some(token),
        body,
    )
    .await
}

/// The offers of a `verification`: channel -> available_at.
fn offers(v: &Value) -> Vec<(String, String)> {
    v["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .map(|o| {
            (
                o["channel"].as_str().expect("channel").to_owned(),
                o["available_at"].as_str().expect("available_at").to_owned(),
            )
        })
        .collect()
}

/// The code a call said: the digits of its first `<Say>`.
fn spoken_code(twiml: &str) -> String {
    let said = twiml
        .split("<Say")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .and_then(|(_, s)| s.split_once("</Say>"))
        .map(|(s, _)| s)
        .expect("a <Say>");
    let code: String = said.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(code.len(), 6, "{twiml}");
    code
}

fn the_one_call(fake: &FakeTwilio) -> fake_twilio::Recorded {
    let calls = fake.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    calls[0].clone()
}

#[track_caller]
fn assert_problem(r: &Resp, status: u16, kind: &str) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    let t = r.body["type"].as_str().unwrap_or_default();
    assert!(t.ends_with(&format!("/problems/{kind}")), "{}", r.body);
}

async fn last_message(app: &TestApp, token: &str) -> Value {
    app.me(token).await.expect(200).body["phone"]["last_message"].clone()
}

async fn a_dropped_sms_is_followed_by_a_call_that_says_the_same_code(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, channels_on).await;
    fake.drop_sms_to(Some(US_MOBILE));
    let (token, id, first) = register(&app, US_MOBILE).await;
    assert_eq!(first["channel"], "sms");
    let offered = offers(&first);
    let names: Vec<&str> = offered.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(names, ["sms", "voice", "whatsapp"]);
    assert_eq!(
        offered[0].1,
        first["resend_after"].as_str().expect("resend_after")
    );
    app.drain_outbox().await;
    let sms = fake.messages();
    assert!(sms.len() == 1 && sms[0].dropped, "{sms:?}");

    // Before CHANNEL_FALLBACK_AFTER: not yet, and when.
    let r = resend_by(&app, &token, id, Some("voice")).await;
    assert_problem(&r, 429, "channel-not-yet");
    assert!((28..=30).contains(&r.retry_after()), "{}", r.retry_after());
    assert_eq!(r.body["verification"]["expires_at"], first["expires_at"]);

    app.state.clock.advance(31);
    let r = resend_by(&app, &token, id, Some("voice")).await.expect(202);
    assert_eq!(r.body["channel"], "voice");
    assert_eq!(r.body["expires_at"], first["expires_at"], "the same code");
    assert_eq!(r.body["attempts_remaining"], first["attempts_remaining"]);
    let names: Vec<String> = offers(&r.body).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["sms", "whatsapp"], "a channel carries a code once");
    assert!(
        !r.body.to_string().contains("code\":\""),
        "no code in answers"
    );

    app.drain_outbox().await;
    let call = the_one_call(&fake);
    assert_eq!(call.to, US_MOBILE);
    assert_eq!(
        call.from.as_deref(),
        Some("+15005550006"),
        "VOICE_FROM = TWILIO_FROM"
    );
    assert_eq!(
        call.status_callback.as_deref(),
        Some(format!("{}/api/v1/webhooks/twilio/voice-status", app.address).as_str())
    );
    let twiml = call.twiml.clone().expect("twiml");
    assert_eq!(twiml.matches("<Say").count(), 2, "said twice: {twiml}");
    assert!(twiml.contains("language=\"en-US\""), "{twiml}");
    let code = spoken_code(&twiml);

    // The call's outcome comes to the voice callback, signed like the SMS one.
    assert_eq!(
        fake.send_status(&call.sid, "completed", None)
            .await
            .expect("cb"),
        204
    );
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "delivered");
    assert_eq!(last["channel"], "voice");

    let again = resend_by(&app, &token, id, Some("voice")).await;
    assert_problem(&again, 422, "channel-unavailable");

    let r = app.verify(&token, id, &code).await.expect(200);
    assert_eq!(r.body["status"], "verified");
    let history = app.history(&token, id).await.expect(200);
    assert!(
        history.body.to_string().contains("(voice)"),
        "{}",
        history.body
    );
}

async fn a_failed_sms_opens_the_other_channels_at_once(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, channels_on).await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.drain_outbox().await;
    let sms = fake.messages()[0].sid.clone();
    assert_eq!(
        fake.send_status(&sms, "undelivered", Some(30003))
            .await
            .expect("cb"),
        204
    );
    // No clock moved: the failure opened the call.
    let r = resend_by(&app, &token, id, Some("voice")).await.expect(202);
    assert_eq!(r.body["channel"], "voice");
    app.drain_outbox().await;
    let call = the_one_call(&fake);
    // Nobody answered: the call failed, shown like a failed message.
    assert_eq!(
        fake.send_status(&call.sid, "no-answer", None)
            .await
            .expect("cb"),
        204
    );
    let last = last_message(&app, &token).await;
    assert_eq!(last["status"], "failed", "{last}");
    assert_eq!(last["channel"], "voice");
    let guidance = last["guidance"].as_str().expect("guidance");
    assert!(guidance.contains("call was not answered"), "{guidance}");
}

async fn a_landline_verifies_by_voice(b: Backend) {
    // Without VOICE_FOR_LANDLINES a fixed line is refused, as before.
    let (app, _fake) = spawn_twilio_app(b, |c| c.voice_enabled = true).await;
    let r = app
        .register(
            json!({"email": "l@example.com", "password": PASSWORD, "full_name": "L",
            "phone_number": GB_LANDLINE}),
        )
        .await
        .expect(422);
    assert!(!r.field_errors("phone_number").is_empty(), "{}", r.body);

    let (app, fake) = spawn_twilio_app(b, channels_on).await;
    let (token, id, v) = register(&app, GB_LANDLINE).await;
    assert_eq!(v["channel"], "voice", "{v}");
    let names: Vec<String> = offers(&v).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["voice"], "a call is all a landline takes");
    let sms = resend_by(&app, &token, id, Some("sms")).await;
    assert_problem(&sms, 422, "channel-unavailable");
    app.drain_outbox().await;
    assert!(fake.messages().iter().all(|m| m.kind == "call"));
    let code = spoken_code(&the_one_call(&fake).twiml.expect("twiml"));
    let r = app.verify(&token, id, &code).await.expect(200);
    assert_eq!(r.body["status"], "verified");
    assert_eq!(r.body["number_type"], "fixed_line");
}

async fn whatsapp_carries_the_code_and_63003_says_the_number_is_not_on_whatsapp(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, channels_on).await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.drain_outbox().await;
    app.state.clock.advance(31);
    let r = resend_by(&app, &token, id, Some("whatsapp"))
        .await
        .expect(202);
    assert_eq!(r.body["channel"], "whatsapp");
    app.drain_outbox().await;
    let sent = fake.messages();
    let wa = sent.last().expect("a WhatsApp message");
    assert_eq!(wa.to, format!("whatsapp:{US_MOBILE}"));
    assert_eq!(wa.from.as_deref(), Some("whatsapp:+15005550006"));
    assert_eq!(
        wa.content_sid.as_deref(),
        Some("HXtest0000000000000000000000000000")
    );
    let vars: Value =
        serde_json::from_str(wa.content_variables.as_deref().expect("variables")).expect("json");
    let code = vars["1"].as_str().expect("the code");
    assert_eq!(code.len(), 6);
    let sms_code: String = sent[0]
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code in the SMS")
        .to_owned();
    assert_eq!(code, sms_code, "the live code, not a new one");
    // Not on WhatsApp: Twilio fails the message with 63003.
    let status = fake.send_status(&wa.sid, "undelivered", Some(63003)).await;
    assert_eq!(status.expect("cb"), 204);
    let last = last_message(&app, &token).await;
    assert_eq!(last["error_code"], 63003);
    assert_eq!(last["channel"], "whatsapp");
    let guidance = last["guidance"].as_str().expect("guidance");
    assert!(guidance.contains("not on WhatsApp"), "{guidance}");
}

async fn channels_that_are_off_used_or_without_a_live_code_are_refused(b: Backend) {
    // Off by default.
    let (app, _fake) = spawn_twilio_app(b, |_| {}).await;
    let (token, id, v) = register(&app, US_MOBILE).await;
    let names: Vec<String> = offers(&v).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["sms"]);
    app.state.clock.advance(31);
    for channel in ["voice", "whatsapp"] {
        let r = resend_by(&app, &token, id, Some(channel)).await;
        assert_problem(&r, 422, "channel-unavailable");
    }
    // Not for this country.
    let (app, _fake) = spawn_twilio_app(b, |c| {
        channels_on(c);
        c.voice_allowed_countries = Countries(vec!["GB".into()]);
    })
    .await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.state.clock.advance(31);
    let r = resend_by(&app, &token, id, Some("voice")).await;
    assert_problem(&r, 422, "channel-unavailable");
    // No live code: the first one expired.
    app.state.clock.advance(600);
    let r = resend_by(&app, &token, id, Some("whatsapp")).await;
    assert_problem(&r, 422, "channel-unavailable");
    // An unknown channel is a field error.
    let r = resend_by(&app, &token, id, Some("pigeon"))
        .await
        .expect(422);
    assert!(!r.field_errors("channel").is_empty(), "{}", r.body);
    // The first channel is a new code, under the cool-down as before.
    resend_by(&app, &token, id, Some("sms")).await.expect(202);
}

async fn a_call_spends_its_weight_of_the_budget(b: Backend) {
    // Room for one SMS and one call (1 + 5), and no more.
    let (app, _fake) = spawn_twilio_app(b, |c| {
        channels_on(c);
        c.sms_daily_budget = 6;
        c.sms_budget_reserve = Some(0);
        // The guard's global ceiling is a fifth of the budget: out of the way here.
        c.sms_fraud_guard = FraudMode::Off;
    })
    .await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.state.clock.advance(31);
    resend_by(&app, &token, id, Some("voice")).await.expect(202);
    let r = app
        .register(
            json!({"email": "next@example.com", "password": PASSWORD, "full_name": "N",
            "phone_number": "+14155552672"}),
        )
        .await;
    assert_problem(&r, 503, "unavailable");

    // With one unit less, the call itself is refused and nothing is queued.
    let (app, fake) = spawn_twilio_app(b, |c| {
        channels_on(c);
        c.sms_daily_budget = 5;
        c.sms_budget_reserve = Some(0);
        c.sms_fraud_guard = FraudMode::Off;
    })
    .await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.state.clock.advance(31);
    let r = resend_by(&app, &token, id, Some("voice")).await;
    assert_problem(&r, 503, "unavailable");
    app.drain_outbox().await;
    assert!(fake.calls().is_empty(), "a refused call is not placed");
    // The refusal rolled back the switch: the call is still offered.
    let r = resend_by(&app, &token, id, Some("whatsapp"))
        .await
        .expect(202);
    let names: Vec<String> = offers(&r.body).into_iter().map(|(c, _)| c).collect();
    assert_eq!(names, ["sms", "voice"]);
}

async fn the_fraud_guard_counts_a_call_at_its_weight(b: Backend) {
    // A range floor of 4: one SMS and one call (1 + 5 unverified) pause it.
    let (app, _fake) = spawn_twilio_app(b, |c| {
        guarded(c);
        channels_on(c);
    })
    .await;
    let r = sign_up_with(&app, 1, &pumped(1)).await.expect(201);
    let token = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    app.state.clock.advance(31);
    resend_by(&app, &token, id, Some("voice")).await.expect(202);
    let paused = pauses(&app).await;
    assert_eq!(paused.len(), 1, "{paused:?}");
    assert_eq!(paused[0]["sent"], 6, "{paused:?}");
    let r = sign_up_with(&app, 2, &pumped(2)).await;
    assert_problem(&r, 429, "sms-range-paused");
}

/// Long: the two numbers' answers are compared step by step, side by side.
async fn a_start_switches_channel_alike_with_and_without_an_account(b: Backend) {
    let (app, fake) = spawn_twilio_app(b, channels_on).await;
    let (token, id, _) = register(&app, US_MOBILE).await;
    app.drain_outbox().await;
    let code: String = fake.messages()[0]
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("code")
        .to_owned();
    app.verify(&token, id, &code).await.expect(200);

    let start = |number: &'static str, channel: Option<&'static str>| {
        let mut body = json!({"phone_number": number, "purpose": "sign_in"});
        if let Some(c) = channel {
            body["channel"] = json!(c);
        }
        let p = "/api/v1/auth/sms/start";
        app.call(Method::POST, p, p, None, Some(body))
    };
    const NOBODY: &str = "+14155552699";
    let mut answers = Vec::new();
    for number in [US_MOBILE, NOBODY] {
        start(number, None).await.expect(202);
        let early = start(number, Some("voice")).await;
        assert_problem(&early, 429, "channel-not-yet");
        assert!(
            (28..=30).contains(&early.retry_after()),
            "{}",
            early.retry_after()
        );
        answers.push(Vec::new());
    }
    app.state.clock.advance(31);
    for (i, number) in [US_MOBILE, NOBODY].into_iter().enumerate() {
        let r = start(number, Some("voice")).await.expect(202);
        let v = &r.body["verification"];
        assert_eq!(v["channel"], "voice");
        answers[i] = offers(v).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer with and without an account"
    );
    app.drain_outbox().await;
    let call = the_one_call(&fake);
    assert_eq!(
        call.to, US_MOBILE,
        "nothing is said to a number without an account"
    );
    let spoken = spoken_code(&call.twiml.expect("twiml"));
    let p = "/api/v1/auth/sms/sign-in";
    let r = app
        .call(
            Method::POST,
            p,
            p,
            None,
            Some(json!({"phone_number": US_MOBILE, "code": spoken})),
        )
        .await
        .expect(200);
    assert!(r.body["access_token"].is_string());

    // The owner's two-step code takes a channel too; with no live code there is
    // nothing to resend.
    let p = "/api/v1/users/me/two-factor/code";
    let r = app
        .call(
            Method::POST,
            p,
            p,
            Some(&token),
            Some(json!({"channel": "whatsapp"})),
        )
        .await;
    assert_problem(&r, 422, "channel-unavailable");
    app.call(Method::POST, p, p, Some(&token), None)
        .await
        .expect(202);
}
