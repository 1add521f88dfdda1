//! OpenTelemetry over OTLP (SPEC §14 "Operations"): the real binary exports to a local
//! OTLP/HTTP receiver, which decodes what arrives with `opentelemetry-proto`; one signup is
//! one trace from the request through the outbox and the provider to the receipt.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, web};
use fake_twilio::FakeTwilio;
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::any_value::Value as AnyValue,
    trace::v1::{Span, span::SpanKind},
};
use prost::Message as _;
use serde_json::{Value, json};

use crate::{
    helpers::{Backend, PASSWORD, TWILIO_SID, TWILIO_TOKEN, spawn_app},
    process::ApiProcess,
};

/// Spans received, with the `service.name` of the resource that sent each.
type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// An OTLP/HTTP receiver on loopback: `POST /v1/traces`, protobuf.
async fn start_receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let data = web::Data::new(Arc::clone(&received));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 << 20))
            .route("/v1/traces", web::post().to(receive))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .expect("bind the receiver");
    let url = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    tokio::spawn(server.run());
    (url, received)
}

async fn receive(received: web::Data<Received>, body: web::Bytes) -> HttpResponse {
    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP protobuf request");
    let mut spans = received.lock().expect("lock");
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
        }
    }
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .body(ExportTraceServiceResponse::default().encode_to_vec())
}

/// The first span called `name`.
fn named<'a>(spans: &'a [Span], name: &str) -> &'a Span {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {:?}", names(spans)))
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

/// The trace as an indented tree, for the test's output.
fn tree(spans: &[Span], parent: &[u8], depth: usize, out: &mut String) {
    for span in spans.iter().filter(|s| s.parent_span_id == parent) {
        let ms = span
            .end_time_unix_nano
            .saturating_sub(span.start_time_unix_nano) as f64
            / 1e6;
        out.push_str(&format!(
            "{}{} ({ms:.1} ms)\n",
            "  ".repeat(depth),
            span.name
        ));
        tree(spans, &span.span_id, depth + 1, out);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
/// Long: one signup followed through every span of its trace, each parent link checked.
async fn a_signup_is_one_trace_from_request_to_receipt() {
    let (receiver, received) = start_receiver().await;
    let twilio = FakeTwilio::start(0, TWILIO_SID, TWILIO_TOKEN).expect("fake Twilio");
    let migrated = spawn_app(Backend::Sqlite).await;
    let process = ApiProcess::start(
        &migrated.database_url,
        &twilio.base_url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
            ("RUST_LOG", "info"),
        ],
    )
    .await;

    let r = migrated
        .client
        .post(format!("{}/api/v1/auth/register", process.address))
        .json(&json!({
            "email": "traced@example.com", "password": PASSWORD, "full_name": "Traced",
            "phone_number": "+14155550177"
        }))
        .send()
        .await
        .expect("register");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    assert!(body["user"]["phone"]["id"].is_i64());

    // The process's courier sends the code; then Twilio reports it delivered.
    let mut sid = None;
    for _ in 0..200 {
        sid = twilio.messages().first().map(|m| m.sid.clone());
        if sid.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let sid = sid.expect("the code's SMS reached the provider");
    let status = twilio
        .send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    assert_eq!(status, 204, "the receipt was accepted");

    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = received.lock().expect("lock").clone();
        if spans.iter().any(|(_, s)| s.name == "sms.receipt") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(spans.iter().all(|(service, _)| service == "phonereg-api"));
    let spans: Vec<Span> = spans.into_iter().map(|(_, s)| s).collect();

    let request = named(&spans, "POST /api/v1/auth/register");
    let queue = named(&spans, "sms.queue");
    let deliver = named(&spans, "sms.deliver");
    let send = named(&spans, "sms.send");
    let receipt = named(&spans, "sms.receipt");
    assert_eq!(request.kind, SpanKind::Server as i32);
    assert!(
        request.parent_span_id.is_empty(),
        "the request starts the trace"
    );
    for span in [queue, deliver, send, receipt] {
        assert_eq!(
            span.trace_id, request.trace_id,
            "{} is in the signup's trace",
            span.name
        );
    }
    // The outbox row written in the request carried the context: each later step is a
    // child of the step before it, though it ran in another task or another request.
    assert_eq!(queue.parent_span_id, request.span_id, "outbox <- request");
    assert_eq!(deliver.parent_span_id, queue.span_id, "courier <- outbox");
    assert_eq!(send.parent_span_id, deliver.span_id, "provider <- courier");
    assert_eq!(receipt.parent_span_id, queue.span_id, "receipt <- outbox");
    assert_eq!(send.kind, SpanKind::Client as i32);

    let trace: Vec<Span> = spans
        .iter()
        .filter(|s| s.trace_id == request.trace_id)
        .cloned()
        .collect();
    let ids: HashMap<_, _> = trace.iter().map(|s| (s.span_id.clone(), ())).collect();
    assert!(
        trace
            .iter()
            .all(|s| s.parent_span_id.is_empty() || ids.contains_key(&s.parent_span_id)),
        "every span of the trace hangs from one of its spans"
    );
    let mut out = String::new();
    tree(&trace, &[], 0, &mut out);
    println!("the signup's trace, as the OTLP receiver got it:\n{out}");
    drop(process);
}
