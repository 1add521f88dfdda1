//! Automatic failover between providers (SPEC §13): Twilio first, the generic HTTP
//! provider second, each a real fake on loopback; circuits shared through the database.

use fake_sms_http::{Failure as GatewayFailure, FakeSmsHttp};
use fake_twilio::{Failure as TwilioFailure, FakeTwilio};
use phonereg_api::{
    config::{Config, DatabaseUrl, Secret, SmsProvider},
    services::courier::{LEASE_SECS, Step},
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{
        Backend, PASSWORD, Resp, TWILIO_SID, TWILIO_TOKEN, TestApp, on_both_databases,
        spawn_app_with,
    },
    support::OPS,
};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

on_both_databases!(
    codes_move_to_the_next_provider_while_twilio_is_down,
    a_provider_side_refusal_moves_a_code_a_number_side_one_does_not,
    a_try_that_may_have_landed_is_looked_up_before_another_provider_is_tried,
    an_operator_disables_a_provider_for_every_process_and_enables_it_again,
    a_disabled_provider_is_asked_about_its_unresolved_try_before_the_message_moves,
    refused_credentials_open_the_circuit_at_once,
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
        c.admin_tokens = Some(Secret::new(format!("ops:{OPS}")));
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

const PROVIDERS: &str = "/api/v1/admin/sms/providers";

/// `GET /admin/sms/providers`, by name.
async fn providers(app: &TestApp) -> Vec<Value> {
    let r = app
        .call(Method::GET, PROVIDERS, PROVIDERS, Some(OPS), None)
        .await
        .expect(200);
    r.body.as_array().expect("an array").clone()
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{name} in {list:?}"))
}

/// `POST /admin/sms/providers/{name}/{switch}`, with `body` when given.
async fn switch(app: &TestApp, name: &str, switch: &str, body: Option<Value>) -> Resp {
    let route = format!("{PROVIDERS}/{{name}}/{switch}");
    let path = format!("{PROVIDERS}/{name}/{switch}");
    app.call(Method::POST, &route, &path, Some(OPS), body).await
}

/// Long: the view, the refusals, the switch seen by two processes, the switch back and
/// its audit rows are one operator's story, told in order.
async fn an_operator_disables_a_provider_for_every_process_and_enables_it_again(b: Backend) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Twilio, Http], None, |_| {}).await;
    let list = providers(&app).await;
    assert_eq!(
        list.len(),
        2,
        "the configured providers, in order: {list:?}"
    );
    assert_eq!(list[0]["name"], "twilio");
    assert_eq!(list[0]["state"], "closed");
    assert_eq!(list[0]["since"], Value::Null);
    assert_eq!(list[0]["sent_1h"], 0);

    // Not an operator, not a provider, the last one left: refused.
    let path = format!("{PROVIDERS}/twilio/disable");
    let route = format!("{PROVIDERS}/{{name}}/disable");
    app.call(Method::POST, &route, &path, None, None)
        .await
        .expect(401);
    switch(&app, "carrier-pigeon", "disable", None)
        .await
        .expect(404);
    switch(&app, "script", "disable", None).await.expect(404);

    let r = switch(
        &app,
        "twilio",
        "disable",
        Some(json!({"reason": "ticket 77: Twilio incident"})),
    )
    .await
    .expect(200);
    assert_eq!(r.body["state"], "disabled");
    assert!(r.body["since"].is_string());
    switch(&app, "http", "disable", None).await.expect(409);

    // Skipped like an open circuit, here and in another process on the same database.
    register(&app, 1).await;
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    let (other, other_fleet) = spawn(b, [Twilio, Http], Some(&app.database_url), |_| {}).await;
    register(&other, 2).await;
    assert!(matches!(step(&other).await, Step::Sent { .. }));
    assert_eq!(fleet.twilio.requests() + other_fleet.twilio.requests(), 0);
    assert_eq!(fleet.gateway.messages().len(), 1);
    assert_eq!(other_fleet.gateway.messages().len(), 1);
    let list = providers(&other).await;
    assert_eq!(named(&list, "twilio")["state"], "disabled");
    assert_eq!(named(&list, "http")["sent_1h"], 2);

    // Enabled again (no body needed): the next code goes to Twilio in both processes.
    let r = switch(&other, "twilio", "enable", None).await.expect(200);
    assert_eq!(r.body["state"], "closed");
    other.state.clock.advance(2);
    register(&other, 3).await;
    assert!(matches!(step(&other).await, Step::Sent { .. }));
    assert_eq!(other_fleet.twilio.messages().len(), 1);
    app.state.clock.advance(2);
    register(&app, 4).await;
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    assert_eq!(fleet.twilio.messages().len(), 1);

    // Both switches are in the audit log, the reason with the first.
    let search = "/api/v1/admin/audit-events";
    let r = app
        .call(
            Method::GET,
            search,
            &format!("{search}?type=admin.sms.*"),
            Some(OPS),
            None,
        )
        .await
        .expect(200);
    let items = r.body["items"].as_array().expect("items");
    let kinds: Vec<&str> = items.iter().filter_map(|e| e["type"].as_str()).collect();
    assert!(kinds.contains(&"admin.sms.provider_disabled"), "{kinds:?}");
    assert!(kinds.contains(&"admin.sms.provider_enabled"), "{kinds:?}");
    let disabled = items
        .iter()
        .find(|e| e["type"] == "admin.sms.provider_disabled")
        .expect("disabled");
    assert_eq!(disabled["detail"]["provider"], "twilio");
    assert_eq!(disabled["detail"]["reason"], "ticket 77: Twilio incident");
    assert_eq!(disabled["actor_name"], "ops");
}

async fn a_disabled_provider_is_asked_about_its_unresolved_try_before_the_message_moves(
    b: Backend,
) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Http, Twilio], None, |_| {}).await;
    // The gateway takes the message but its answer is lost; then it is disabled.
    fleet.gateway.fail_next(GatewayFailure::TakenButLost, 1);
    register(&app, 1).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    switch(&app, "http", "disable", None).await.expect(200);
    app.state.clock.advance(LEASE_SECS);
    assert!(
        matches!(step(&app).await, Step::Reconciled { .. }),
        "found at the disabled provider, where it was sent"
    );
    assert!(fleet.twilio.messages().is_empty(), "never sent twice");

    // A try the gateway said it did not take moves at once once it is disabled.
    switch(&app, "http", "enable", None).await.expect(200);
    fleet.gateway.set_down(true);
    register(&app, 2).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    let list = providers(&app).await;
    let http = named(&list, "http");
    // The lost answer and the 503: neither handed a message over as far as it knew.
    assert_eq!(http["failed_1h"], 2);
    assert!(http["last_error"].is_string(), "{http}");
    switch(&app, "http", "disable", None).await.expect(200);
    app.state.clock.advance(10);
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    assert_eq!(fleet.twilio.messages().len(), 1);
    assert_eq!(named(&providers(&app).await, "twilio")["sent_1h"], 1);
}

async fn refused_credentials_open_the_circuit_at_once(b: Backend) {
    use SmsProvider::{Http, Twilio};
    let (app, fleet) = spawn(b, [Twilio, Http], None, |_| {}).await;
    // One 401: Twilio will refuse every message until someone fixes the credentials.
    fleet.twilio.fail_next(TwilioFailure::BadCredentials, 1);
    register(&app, 1).await;
    assert!(matches!(step(&app).await, Step::Retrying { .. }));
    let list = providers(&app).await;
    let twilio = named(&list, "twilio");
    assert_eq!(twilio["state"], "open", "{twilio}");
    assert!(
        twilio["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("authentication")),
        "{twilio}"
    );
    // The next code goes to the gateway at once, and so does the first on its retry.
    register(&app, 2).await;
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    app.state.clock.advance(10);
    assert!(matches!(step(&app).await, Step::Sent { .. }));
    assert_eq!(fleet.gateway.messages().len(), 2);
    assert_eq!(fleet.twilio.requests(), 1);
    let metrics = app.metrics_text().await;
    assert!(metrics.contains(
        r#"phonereg_sms_provider_attempts_total{provider="twilio",result="misconfigured"}"#
    ));
}
