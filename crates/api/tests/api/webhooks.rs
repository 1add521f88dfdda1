//! SPEC §12 outbound webhooks: a real receiver on loopback, signatures checked with the
//! `standardwebhooks` crate's own verifier, the worker stepped by hand and time moved
//! with the injected clock.
//!
//! Long: the receiver and one test per rule of §12 (signing, order and filters, retries,
//! 410, rotation, SSRF, the transaction, no secrets); split, each would need the receiver.

use std::{
    net::TcpListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use phonereg_api::{
    config::Secret,
    error::ApiError,
    persistence::webhooks as rows,
    services::{
        audit::{self, Entry, Origin},
        budget_alarm::BudgetAlarm,
    },
};
use phonereg_types::{SecurityEventType, SmsKind, WebhookDeliveryResult};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, Resp, TestApp, on_both_databases, spawn_app_with};

const OPS: &str = "webhook-operator-token-webhook-operator-01";

on_both_databases!(
    a_signup_is_posted_signed_and_verifies_with_the_standard_library,
    each_endpoint_gets_its_types_in_order_and_no_secrets,
    a_failed_post_is_retried_on_schedule_with_the_same_webhook_id,
    a_410_disables_the_endpoint,
    both_secrets_sign_during_a_rotation_grace,
    private_targets_are_refused_when_not_allowed,
    an_event_exists_only_if_its_change_commits,
    a_test_event_and_a_redelivery_reach_one_endpoint,
    a_spent_budget_is_announced_once_per_day_and_kind,
);

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    headers: http::HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }

    fn kind(&self) -> String {
        self.json()["type"].as_str().expect("type").to_owned()
    }

    fn id(&self) -> String {
        self.headers["webhook-id"].to_str().expect("id").to_owned()
    }

    /// Checked by the Standard Webhooks library, not by PhoneReg's code.
    fn verifies_with(&self, secret: &str) -> bool {
        standardwebhooks::Webhook::new(secret)
            .expect("secret")
            .verify(&self.body, &self.headers)
            .is_ok()
    }
}

/// A receiver on loopback answering `status` (200 unless changed).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    fn start() -> Self {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (g, s) = (Arc::clone(&got), Arc::clone(&status));
        let server = HttpServer::new(move || {
            let (g, s) = (Arc::clone(&g), Arc::clone(&s));
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (g, s) = (Arc::clone(&g), Arc::clone(&s));
                async move {
                    let mut headers = http::HeaderMap::new();
                    for (name, value) in req.headers() {
                        headers.insert(
                            http::HeaderName::from_bytes(name.as_str().as_bytes()).expect("name"),
                            http::HeaderValue::from_bytes(value.as_bytes()).expect("value"),
                        );
                    }
                    g.lock().expect("lock").push(Received {
                        headers,
                        body: body.to_vec(),
                    });
                    let code = actix_web::http::StatusCode::from_u16(s.load(Ordering::SeqCst))
                        .expect("status");
                    HttpResponse::build(code).finish()
                }
            }))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hooks"),
            got,
            status,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().expect("lock").clone()
    }

    fn kinds(&self) -> Vec<String> {
        self.got().iter().map(Received::kind).collect()
    }

    fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }
}

async fn hooks_app(b: Backend, allow_private: bool) -> TestApp {
    spawn_app_with(b, |c| {
        c.admin_tokens = Some(Secret::new(format!("ops:{OPS}")));
        c.webhook_allow_private = Some(allow_private);
    })
    .await
}

async fn admin(
    app: &TestApp,
    method: Method,
    route: &str,
    path: &str,
    body: Option<Value>,
) -> Resp {
    app.call(method, route, path, Some(OPS), body).await
}

/// Registers `url` for `types`: (id, secret).
async fn endpoint(app: &TestApp, url: &str, types: Value) -> (i64, String) {
    let route = "/api/v1/admin/webhooks";
    let r = admin(
        app,
        Method::POST,
        route,
        route,
        Some(json!({"url": url, "event_types": types})),
    )
    .await
    .expect(201);
    let secret = r.body["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (r.body["id"].as_i64().expect("id"), secret)
}

async fn webhook(app: &TestApp, id: i64) -> Resp {
    let path = format!("/api/v1/admin/webhooks/{id}");
    admin(app, Method::GET, "/api/v1/admin/webhooks/{id}", &path, None).await
}

async fn deliveries(app: &TestApp, id: i64) -> Vec<Value> {
    let path = format!("/api/v1/admin/webhooks/{id}/deliveries?limit=100");
    let route = "/api/v1/admin/webhooks/{id}/deliveries";
    let r = admin(app, Method::GET, route, &path, None)
        .await
        .expect(200);
    r.body["items"].as_array().expect("items").clone()
}

async fn drain(app: &TestApp) -> Vec<phonereg_api::services::webhooks::worker::Attempt> {
    app.state
        .webhook_worker
        .drain()
        .await
        .expect("webhook step")
}

async fn a_signup_is_posted_signed_and_verifies_with_the_standard_library(b: Backend) {
    let app = hooks_app(b, true).await;
    let rx = Receiver::start();
    let (id, secret) = endpoint(&app, &rx.url, json!(["auth.registered"])).await;
    let (_, _, user_id) = app.signup().await;
    let done = drain(&app).await;
    assert_eq!(done.len(), 1, "{done:?}");
    let got = rx.got();
    assert_eq!(got.len(), 1);
    let hook = &got[0];
    assert!(hook.verifies_with(&secret), "signature verifies");
    assert!(
        !hook.verifies_with("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "not any secret"
    );
    let body = hook.json();
    assert_eq!(body["type"], "auth.registered");
    assert_eq!(body["data"]["user_id"], user_id);
    assert!(body["timestamp"].as_str().expect("ts").ends_with('Z'));
    assert!(hook.id().starts_with("msg_"));
    // The secret is shown once: never in a read.
    let read = webhook(&app, id).await.expect(200);
    assert!(read.body.get("secret").is_none(), "{:?}", read.body);
    assert_eq!(deliveries(&app, id).await[0]["result"], "delivered");
    assert!(
        app.metrics_text()
            .await
            .contains("phonereg_webhook_deliveries_total{result=\"delivered\"}")
    );
}

async fn each_endpoint_gets_its_types_in_order_and_no_secrets(b: Backend) {
    let app = hooks_app(b, true).await;
    let (all, phones) = (Receiver::start(), Receiver::start());
    let (_, all_secret) = endpoint(&app, &all.url, json!(["*"])).await;
    let (_, phone_secret) = endpoint(&app, &phones.url, json!(["phone.*"])).await;
    let (token, refresh, user_id) = app.signup().await;
    let phone = app.add_phone_id(&token, "+14155552671").await;
    let code = app.code_sent_to("+14155552671").await;
    app.verify(&token, phone, "000001").await;
    app.verify(&token, phone, &code).await.expect(200);
    drain(&app).await;
    let kinds = all.kinds();
    let expected = [
        "auth.registered",
        "phone.added",
        "phone.verify_failed",
        "phone.verified",
    ];
    let seen: Vec<&str> = kinds
        .iter()
        .map(String::as_str)
        .filter(|k| expected.contains(k))
        .collect();
    assert_eq!(seen, expected, "in the order of the changes: {kinds:?}");
    assert_eq!(
        phones.kinds(),
        ["phone.added", "phone.verify_failed", "phone.verified"],
        "`phone.*` takes only phone events"
    );
    for hook in all.got() {
        assert!(hook.verifies_with(&all_secret));
        let text = String::from_utf8(hook.body.clone()).expect("utf-8");
        for secret in [code.as_str(), PASSWORD, token.as_str(), refresh.as_str()] {
            assert!(!text.contains(secret), "a secret in {text}");
        }
    }
    for hook in phones.got() {
        assert!(hook.verifies_with(&phone_secret));
        assert_eq!(hook.json()["data"]["user_id"], user_id);
        assert_eq!(hook.json()["data"]["phone"], "+14155552671");
    }
}

async fn a_failed_post_is_retried_on_schedule_with_the_same_webhook_id(b: Backend) {
    let app = hooks_app(b, true).await;
    let rx = Receiver::start();
    rx.answer(503);
    let (id, _) = endpoint(&app, &rx.url, json!(["auth.*"])).await;
    app.signup().await;
    app.signup().await;
    let first = drain(&app).await;
    assert_eq!(first.len(), 1, "one try, then the head waits: {first:?}");
    assert_eq!(first[0].result, WebhookDeliveryResult::Failed);
    assert!(drain(&app).await.is_empty(), "not due before 5 s");
    app.state.clock.advance(6);
    let second = drain(&app).await;
    assert_eq!(
        second.len(),
        1,
        "the retry, still the first event: {second:?}"
    );
    assert_eq!(second[0].event_id, first[0].event_id);
    rx.answer(200);
    app.state.clock.advance(330);
    let rest = drain(&app).await;
    assert_eq!(rest.len(), 2, "the head, then the next event: {rest:?}");
    let got = rx.got();
    assert_eq!(got.len(), 4);
    assert_eq!(got[0].id(), got[1].id(), "a retry keeps its webhook-id");
    assert_eq!(got[1].id(), got[2].id());
    assert_ne!(
        got[2].id(),
        got[3].id(),
        "the next event waited for the first"
    );
    let log = deliveries(&app, id).await;
    let attempts: Vec<i64> = log
        .iter()
        .rev()
        .map(|d| d["attempt"].as_i64().expect("n"))
        .collect();
    assert_eq!(attempts, [1, 2, 3, 1]);
    assert_eq!(log[3]["status_code"], 503);
}

async fn a_410_disables_the_endpoint(b: Backend) {
    let app = hooks_app(b, true).await;
    let rx = Receiver::start();
    rx.answer(410);
    let (id, _) = endpoint(&app, &rx.url, json!(["*"])).await;
    app.signup().await;
    let done = drain(&app).await;
    assert_eq!(done[0].result, WebhookDeliveryResult::Gone);
    let read = webhook(&app, id).await.expect(200);
    assert_eq!(read.body["status"], "disabled");
    assert_eq!(read.body["disabled_reason"], "gone");
    app.signup().await;
    app.state.clock.advance(86_400);
    assert!(
        drain(&app).await.is_empty(),
        "a disabled endpoint gets nothing"
    );
    assert_eq!(rx.got().len(), 1);
}

async fn both_secrets_sign_during_a_rotation_grace(b: Backend) {
    let app = hooks_app(b, true).await;
    let rx = Receiver::start();
    let (id, old) = endpoint(&app, &rx.url, json!(["auth.registered"])).await;
    let path = format!("/api/v1/admin/webhooks/{id}/rotate-secret");
    let route = "/api/v1/admin/webhooks/{id}/rotate-secret";
    let rotate = |grace: i64| {
        admin(
            &app,
            Method::POST,
            route,
            &path,
            Some(json!({"grace_seconds": grace})),
        )
    };
    let new = rotate(3600).await.expect(200).body["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(new, old);
    app.signup().await;
    drain(&app).await;
    let during = &rx.got()[0];
    assert!(
        during.verifies_with(&new) && during.verifies_with(&old),
        "both sign"
    );
    assert_eq!(
        during.headers["webhook-signature"]
            .to_str()
            .expect("sig")
            .matches("v1,")
            .count(),
        2
    );
    let newest = rotate(0).await.expect(200).body["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.signup().await;
    drain(&app).await;
    let after = &rx.got()[1];
    assert!(after.verifies_with(&newest), "the newest signs");
    assert!(
        !after.verifies_with(&new) && !after.verifies_with(&old),
        "no grace: only it"
    );
    rotate(-1).await.expect(422);
}

async fn private_targets_are_refused_when_not_allowed(b: Backend) {
    let app = hooks_app(b, false).await;
    let rx = Receiver::start();
    let route = "/api/v1/admin/webhooks";
    for url in [
        rx.url.clone(),
        "http://169.254.169.254/latest".into(),
        "http://[::1]/x".into(),
    ] {
        let r = admin(
            &app,
            Method::POST,
            route,
            route,
            Some(json!({"url": url, "event_types": ["*"]})),
        )
        .await
        .expect(422);
        assert!(!r.field_errors("url").is_empty(), "{url}");
    }
    // A name is checked when it resolves: `localhost` is loopback.
    let named = rx.url.replace("127.0.0.1", "localhost");
    let (id, _) = endpoint(&app, &named, json!(["*"])).await;
    app.signup().await;
    let done = drain(&app).await;
    assert_eq!(done[0].result, WebhookDeliveryResult::Refused, "{done:?}");
    assert!(rx.got().is_empty(), "nothing reached the loopback receiver");
    assert_eq!(deliveries(&app, id).await[0]["result"], "refused");
}

async fn an_event_exists_only_if_its_change_commits(b: Backend) {
    let app = hooks_app(b, true).await;
    // No endpoint: a change writes no event row at all.
    app.signup().await;
    let none = app.state.db.read(rows::newest_place).await.expect("read");
    assert_eq!(none.id, 0, "nothing written without an endpoint");
    let rx = Receiver::start();
    endpoint(&app, &rx.url, json!(["account.*"])).await;
    let now = app.state.clock.now();
    let entry = Entry::system(SecurityEventType::AccountDeleted, Some(424_242));
    let (e1, e2) = (entry.clone(), entry);
    let rolled_back = app
        .state
        .db
        .write(move |c| {
            audit::record(c, &Origin::system(), &e1, now)?;
            Err::<(), _>(ApiError::Conflict("the change failed".into()))
        })
        .await;
    assert!(rolled_back.is_err());
    drain(&app).await;
    assert!(rx.got().is_empty(), "a rolled-back change sends nothing");
    app.state
        .db
        .write(move |c| audit::record(c, &Origin::system(), &e2, now).map(|_| ()))
        .await
        .expect("commit");
    drain(&app).await;
    assert_eq!(rx.kinds(), ["account.deleted"]);
    assert_eq!(rx.got()[0].json()["data"]["user_id"], 424_242);
}

async fn a_test_event_and_a_redelivery_reach_one_endpoint(b: Backend) {
    let app = hooks_app(b, true).await;
    let (one, other) = (Receiver::start(), Receiver::start());
    let (id, secret) = endpoint(&app, &one.url, json!(["*"])).await;
    endpoint(&app, &other.url, json!(["*"])).await;
    let path = format!("/api/v1/admin/webhooks/{id}/test");
    admin(
        &app,
        Method::POST,
        "/api/v1/admin/webhooks/{id}/test",
        &path,
        None,
    )
    .await
    .expect(202);
    drain(&app).await;
    assert_eq!(one.kinds(), ["webhook.test"]);
    assert!(other.got().is_empty(), "a test goes to its endpoint only");
    let event_id = deliveries(&app, id).await[0]["event_id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/v1/admin/webhooks/{id}/deliveries/{event_id}/redeliver");
    let route = "/api/v1/admin/webhooks/{id}/deliveries/{event_id}/redeliver";
    admin(&app, Method::POST, route, &path, None)
        .await
        .expect(202);
    drain(&app).await;
    let got = one.got();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].id(),
        got[1].id(),
        "a redelivery keeps the webhook-id"
    );
    assert_eq!(got[0].body, got[1].body);
    assert!(got[1].verifies_with(&secret));
    let missing = format!("/api/v1/admin/webhooks/{id}/deliveries/999999/redeliver");
    admin(&app, Method::POST, route, &missing, None)
        .await
        .expect(404);
    let del = format!("/api/v1/admin/webhooks/{id}");
    admin(
        &app,
        Method::DELETE,
        "/api/v1/admin/webhooks/{id}",
        &del,
        None,
    )
    .await
    .expect(204);
    webhook(&app, id).await.expect(404);
}

/// `sms.budget_exhausted`: the refused request rolls back, yet the first refusal of a
/// day is announced (once, however many follow, and once across processes); the next
/// day's first refusal is announced again.
async fn a_spent_budget_is_announced_once_per_day_and_kind(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.admin_tokens = Some(Secret::new(format!("ops:{OPS}")));
        c.webhook_allow_private = Some(true);
        c.sms_daily_budget = 1;
        // The guard's global ceiling (20 % of the budget, SPEC §11) would refuse first.
        c.sms_fraud_global_unverified = Some(1_000);
    })
    .await;
    let rx = Receiver::start();
    let (_, secret) = endpoint(&app, &rx.url, json!(["sms.budget_exhausted"])).await;
    let claim = |n: u32| format!("+1415555{:04}", 2671 + n);
    let (first, _, _) = app.signup().await;
    app.add_phone(&first, &claim(0)).await.expect(201);
    for n in 1..=3 {
        let (other, _, _) = app.signup().await;
        app.add_phone(&other, &claim(n)).await.expect(503);
    }
    drain(&app).await;
    assert_eq!(rx.kinds(), ["sms.budget_exhausted"], "announced once");
    // Another process that has not announced it yet finds it announced in the database.
    BudgetAlarm::new(app.state.db.clone(), app.state.clock.clone(), 1)
        .refused(SmsKind::Claim)
        .await;
    drain(&app).await;
    assert_eq!(rx.kinds().len(), 1, "once across processes");
    let got = rx.got();
    assert!(got[0].verifies_with(&secret));
    let data = &got[0].json()["data"];
    assert_eq!(data["kind"], "claim");
    assert_eq!(data["daily_budget"], 1);
    assert!(
        data["resumes_at"]
            .as_str()
            .is_some_and(|t| t.ends_with("T00:00:00Z"))
    );

    app.state.clock.advance(86_400);
    let (next, _, _) = app.signup().await;
    app.add_phone(&next, &claim(4)).await.expect(201);
    let (late, _, _) = app.signup().await;
    app.add_phone(&late, &claim(5)).await.expect(503);
    drain(&app).await;
    assert_eq!(
        rx.kinds().len(),
        2,
        "the next day's first refusal is announced"
    );
}
