//! Automatic failover between providers (SPEC §13): Twilio first, the generic HTTP
//! provider second, each a real fake on loopback; circuits shared through the database.

use fake_sms_http::{Failure as GatewayFailure, FakeSmsHttp};
use fake_twilio::FakeTwilio;
use phonereg_api::{
    config::{Config, DatabaseUrl, Secret, SmsProvider},
    services::courier::{LEASE_SECS, Step},
};
use serde_json::json;

use crate::helpers::{
    Backend, PASSWORD, TWILIO_SID, TWILIO_TOKEN, TestApp, on_both_databases, spawn_app_with,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

on_both_databases!(
    codes_move_to_the_next_provider_while_twilio_is_down,
    a_provider_side_refusal_moves_a_code_a_number_side_one_does_not,
    a_try_that_may_have_landed_is_looked_up_before_another_provider_is_tried,
);

struct Fleet {
    twilio: FakeTwilio,
    gateway: FakeSmsHttp,
}

/// An app sending through `order`, both fakes running; `shared` reuses a database.
async fn spawn(
    b: Backend,
    order: [SmsProvider; 2],
    shared: Option<&DatabaseUrl>,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, Fleet) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let public_url = format!("http://127.0.0.1:{port}");
    let twilio = FakeTwilio::start(0, TWILIO_SID, TWILIO_TOKEN).expect("fake Twilio");
    let receipts = format!("{public_url}/api/v1/webhooks/sms/http/status");
    let gateway = FakeSmsHttp::start(0, SECRET, &receipts).expect("fake gateway");
    let app = spawn_app_with(b, |c| {
        c.bind = format!("127.0.0.1:{port}").parse().expect("addr");
        c.public_url = public_url;
        c.sms_providers = order.to_vec();
        c.twilio_api_base = twilio.base_url.clone();
        c.twilio_account_sid = Some(TWILIO_SID.into());
        c.twilio_auth_token = Some(Secret::new(TWILIO_TOKEN.into()));
        c.twilio_from = Some("+15005550006".into());
        c.sms_http_url = Some(gateway.url.clone());
        c.sms_http_secret = Some(Secret::new(SECRET.into()));
        if let Some(url) = shared {
            c.database_url = url.clone();
        }
        tweak(c);
    })
    .await;
    (app, Fleet { twilio, gateway })
}

async fn register(app: &TestApp, n: u32) -> String {
    let r = app
        .register(json!({"email": format!("f{n}@example.com"), "password": PASSWORD, "full_name": "F", "phone_number": format!("+1415555{:04}", 2600 + n)}))
        .await
        .expect(201);
    r.body["access_token"].as_str().expect("token").to_owned()
}

async fn step(app: &TestApp) -> Step {
    app.state.courier.step().await.expect("step")
}

async fn codes_move_to_the_next_provider_while_twilio_is_down(b: Backend) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Twilio, Http], None, |_| {}).await;
    fleet.twilio.set_down(true);
    let token = register(&app, 1).await;
    // Two failures of this message at Twilio (SMS_FAILOVER_ATTEMPTS), then the next.
    for _ in 0..2 {
        assert!(matches!(step(&app).await, Step::Retrying { .. }));
        app.state.clock.advance(10);
    }
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    assert_eq!(fleet.gateway.messages().len(), 1);
    assert!(fleet.twilio.messages().is_empty());
    let gw = fleet.gateway.messages()[0].provider_message_id.clone();
    fleet
        .gateway
        .send_receipt(&gw, "delivered", None)
        .await
        .expect("receipt");
    let last = app.me(&token).await.expect(200).body["phone"]["last_message"].clone();
    assert_eq!(last["status"], "delivered");
    assert_eq!(last["provider"], "http");

    // A third failure within the minute opens Twilio's circuit for every process.
    register(&app, 2).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    let asked = fleet.twilio.requests();
    register(&app, 3).await;
    app.state.clock.advance(3);
    while !matches!(step(&app).await, Step::Idle) {}
    assert_eq!(
        fleet.twilio.requests(),
        asked,
        "an open circuit is not asked"
    );
    assert_eq!(
        fleet.gateway.messages().len(),
        3,
        "the waiting second code moved, the third went to http at once"
    );
    let (other, other_fleet) = spawn(b, [Twilio, Http], Some(&app.database_url), |_| {}).await;
    register(&other, 4).await;
    assert!(matches!(step(&other).await, Step::Sent { .. }));
    assert_eq!(
        other_fleet.twilio.requests(),
        0,
        "the other process saw the circuit"
    );
    assert_eq!(other_fleet.gateway.messages().len(), 1);

    // Half-open two minutes later: Twilio, back up, is tried again and closes it.
    fleet.twilio.set_down(false);
    app.state.clock.advance(121);
    register(&app, 5).await;
    while !matches!(step(&app).await, Step::Idle) {}
    assert_eq!(fleet.twilio.messages().len(), 1, "Twilio has the new code");
    assert_eq!(fleet.gateway.messages().len(), 3);
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"phonereg_sms_failovers_total{from="twilio",to="http"}"#),
        "{metrics}"
    );
    assert!(metrics.contains(
        r#"phonereg_sms_provider_attempts_total{provider="twilio",result="unavailable"}"#
    ));
}

async fn a_provider_side_refusal_moves_a_code_a_number_side_one_does_not(b: Backend) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Http, Twilio], None, |_| {}).await;
    fleet.gateway.fail_next(
        GatewayFailure::Refused {
            error_code: 21408,
            permanent: true,
        },
        1,
    );
    let token = register(&app, 1).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    assert_eq!(
        fleet.twilio.messages().len(),
        1,
        "21408 at http: sent by Twilio"
    );
    fleet.gateway.fail_next(
        GatewayFailure::Refused {
            error_code: 21211,
            permanent: true,
        },
        1,
    );
    let token2 = register(&app, 2).await;
    assert!(matches!(
        step(&app).await,
        Step::Failed {
            error_code: Some(21211),
            ..
        }
    ));
    assert_eq!(
        fleet.twilio.messages().len(),
        1,
        "21211 is the number's: not moved"
    );
    let last = app.me(&token2).await.expect(200).body["phone"]["last_message"].clone();
    assert_eq!(last["error_code"], 21211);
    let _ = token;
}

async fn a_try_that_may_have_landed_is_looked_up_before_another_provider_is_tried(b: Backend) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Http, Twilio], None, |c| c.sms_failover_attempts = 1).await;
    fleet.gateway.fail_next(GatewayFailure::TakenButLost, 1);
    register(&app, 1).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    // The gateway cannot be asked: the message waits rather than risk a second copy.
    fleet.gateway.set_down(true);
    app.state.clock.advance(LEASE_SECS);
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    assert!(fleet.twilio.messages().is_empty());
    // Asked again, the gateway has it: found, not sent anywhere again.
    fleet.gateway.set_down(false);
    app.state.clock.advance(30);
    assert!(matches!(step(&app).await, Step::Reconciled { .. }));
    assert_eq!(fleet.gateway.messages().len(), 1);
    assert!(fleet.twilio.messages().is_empty());
}
