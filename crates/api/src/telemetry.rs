//! Logs (tracing, with a request id on every line of a request) and Prometheus metrics.

pub mod gauges;
mod logs;
pub mod otlp;
pub mod trace_context;

pub use logs::init_tracing;

use std::{
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{HeaderName, HeaderValue},
    },
    middleware::Next,
};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder,
};
use tracing::Instrument as _;

struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    rate_limited: IntCounterVec,
    sms_messages: IntCounterVec,
    sms_config_faults: prometheus::IntCounter,
    fraud_decisions: IntCounterVec,
    hash_jobs_skipped: prometheus::IntCounter,
    captcha: IntCounterVec,
    audit_events: IntCounterVec,
    sms_provider_attempts: IntCounterVec,
    sms_failovers: IntCounterVec,
    webhook_deliveries: IntCounterVec,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new(
            "phonereg_http_requests_total",
            "HTTP requests by route and status",
        ),
        &["method", "route", "status"],
    )
    .expect("valid metric");
    let duration = HistogramVec::new(
        HistogramOpts::new(
            "phonereg_http_request_duration_seconds",
            "HTTP request latency",
        )
        .buckets(vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ]),
        &["method", "route"],
    )
    .expect("valid metric");
    let rate_limited = IntCounterVec::new(
        Opts::new(
            "phonereg_rate_limited_total",
            "Requests refused by a rate limit",
        ),
        &["limit"],
    )
    .expect("valid metric");
    let sms_messages = IntCounterVec::new(
        Opts::new(
            "phonereg_sms_messages_total",
            "SMS outcomes seen by this process, by status",
        ),
        &["status"],
    )
    .expect("valid metric");
    let sms_config_faults = prometheus::IntCounter::new(
        "phonereg_sms_provider_auth_failures_total",
        "Provider refusals of our credentials (401/403): a configuration fault",
    )
    .expect("valid metric");
    let fraud_decisions = IntCounterVec::new(
        Opts::new(
            "phonereg_sms_fraud_decisions_total",
            "SMS fraud guard decisions: pause, refuse, record (would have refused), lift",
        ),
        &["action", "scope"],
    )
    .expect("valid metric");
    let captcha = IntCounterVec::new(
        Opts::new(
            "phonereg_captcha_total",
            "Bot-challenge outcomes: asked (no token), passed, refused, provider_error (allowed or denied), busy",
        ),
        &["outcome"],
    )
    .expect("valid metric");
    let audit_events = IntCounterVec::new(
        Opts::new(
            "phonereg_audit_events_total",
            "Audit events committed by this process, by type",
        ),
        &["type"],
    )
    .expect("valid metric");
    let webhook_deliveries = IntCounterVec::new(
        Opts::new(
            "phonereg_webhook_deliveries_total",
            "Attempts to post an outbound webhook, by result",
        ),
        &["result"],
    )
    .expect("valid metric");
    let sms_provider_attempts = IntCounterVec::new(
        Opts::new(
            "phonereg_sms_provider_attempts_total",
            "Sends of an SMS to a provider, by provider and result: sent, retry (no clear answer), unavailable (not taken), rejected",
        ),
        &["provider", "result"],
    )
    .expect("valid metric");
    let sms_failovers = IntCounterVec::new(
        Opts::new(
            "phonereg_sms_failovers_total",
            "SMS moved from one provider to the next",
        ),
        &["from", "to"],
    )
    .expect("valid metric");
    let hash_jobs_skipped = prometheus::IntCounter::new(
        "phonereg_hash_jobs_skipped_total",
        "Queued password hashes skipped because their caller had gone",
    )
    .expect("valid metric");
    for m in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(duration.clone()),
        Box::new(rate_limited.clone()),
        Box::new(sms_messages.clone()),
        Box::new(sms_config_faults.clone()),
        Box::new(fraud_decisions.clone()),
        Box::new(hash_jobs_skipped.clone()),
        Box::new(captcha.clone()),
        Box::new(audit_events.clone()),
        Box::new(sms_provider_attempts.clone()),
        Box::new(sms_failovers.clone()),
        Box::new(webhook_deliveries.clone()),
    ] {
        registry.register(m).expect("unique metric");
    }
    #[cfg(target_os = "linux")]
    let _ = registry.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ));
    Metrics {
        registry,
        requests,
        duration,
        rate_limited,
        sms_messages,
        sms_config_faults,
        fraud_decisions,
        hash_jobs_skipped,
        captcha,
        audit_events,
        sms_provider_attempts,
        sms_failovers,
        webhook_deliveries,
    }
});

/// Counts one refusal by `limit`.
pub fn rate_limited(limit: &str) {
    METRICS.rate_limited.with_label_values(&[limit]).inc();
}

/// Counts one SMS reaching `status` (handed over, delivered, failed, …).
pub fn sms_message(status: phonereg_types::MessageStatus) {
    METRICS
        .sms_messages
        .with_label_values(&[status.as_str()])
        .inc();
}

/// Counts one try of an SMS at `provider`; `result` comes from a fixed vocabulary.
pub fn sms_provider_attempt(provider: phonereg_types::SmsProviderName, result: &'static str) {
    METRICS
        .sms_provider_attempts
        .with_label_values(&[provider.as_str(), result])
        .inc();
}

/// Counts one message moved from provider `from` to `to`.
pub fn sms_failover(from: phonereg_types::SmsProviderName, to: phonereg_types::SmsProviderName) {
    METRICS
        .sms_failovers
        .with_label_values(&[from.as_str(), to.as_str()])
        .inc();
}

/// Counts one provider refusal of our credentials.
pub fn sms_config_fault() {
    METRICS.sms_config_faults.inc();
}

/// Counts one fraud-guard decision; `action` and `scope` come from fixed vocabularies.
pub fn fraud_decision(action: &'static str, scope: &'static str) {
    METRICS
        .fraud_decisions
        .with_label_values(&[action, scope])
        .inc();
}

/// Counts one bot-challenge outcome; `outcome` comes from a fixed vocabulary.
pub fn captcha(outcome: &'static str) {
    METRICS.captcha.with_label_values(&[outcome]).inc();
}

/// Counts one committed audit event; `kind` comes from a fixed vocabulary.
pub fn audit_event(kind: &'static str) {
    METRICS.audit_events.with_label_values(&[kind]).inc();
}

/// Counts one attempt to post a webhook, by how it ended.
pub fn webhook_delivery(result: phonereg_types::WebhookDeliveryResult) {
    METRICS
        .webhook_deliveries
        .with_label_values(&[result.as_str()])
        .inc();
}

/// The request's id, in its extensions for the audit log (SPEC §12 `request_id`).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Counts one queued hash skipped because its caller had gone.
pub fn hash_job_skipped() {
    METRICS.hash_jobs_skipped.inc();
}

/// The Prometheus text exposition of every metric.
pub fn render_metrics() -> String {
    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

static REQUEST_SEQ: AtomicU64 = AtomicU64::new(0);
static PROCESS_TAG: LazyLock<u32> = LazyLock::new(rand::random);
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A caller's `X-Request-Id` if it is short and printable, else `<process>-<sequence>`.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let n = REQUEST_SEQ.fetch_add(1, Ordering::Relaxed);
            format!("{:08x}-{n:x}", *PROCESS_TAG)
        })
}

/// The metric label of a request method: the standard ones by name, anything else
/// `OTHER`. Methods are free text, so labelling them raw let 300 made-up methods make
/// 300 series; routes are labelled by their pattern for the same reason.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Middleware: request id, a span around the request, metrics by matched route.
/// Kept to a handful of allocations: it runs on every request.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let method_label = method_label(&method);
    // `otel.*` and `http.*` name the span as OpenTelemetry expects (`telemetry::otlp`);
    // the name takes the route pattern once routing has matched one (`METHOD /route`).
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %method,
        path = %req.path(),
        otel.name = method_label,
        otel.kind = "server",
        http.route = tracing::field::Empty,
        http.response.status_code = tracing::field::Empty,
    );
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(id.clone()));
    let mut res = next.call(req).instrument(span.clone()).await?;
    let elapsed = start.elapsed().as_secs_f64();
    let status = res.status();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    trace_context::rename(&span, || format!("{method_label} {route}"));
    span.record("http.route", &*route);
    span.record("http.response.status_code", status.as_u16());
    let m = &*METRICS;
    m.requests
        .with_label_values(&[method_label, &route, status.as_str()])
        .inc();
    m.duration
        .with_label_values(&[method_label, &route])
        .observe(elapsed);
    if status.is_server_error() {
        tracing::warn!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request failed");
    } else {
        tracing::debug!(parent: &span, status = status.as_u16(), elapsed_ms = elapsed * 1e3, "request finished");
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID.clone(), v);
    }
    Ok(res)
}
