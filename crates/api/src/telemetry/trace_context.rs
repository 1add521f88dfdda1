//! A span's place in its trace as W3C `traceparent` text, so work done later, elsewhere,
//! joins the trace of the request that caused it: the outbox row keeps the context of the
//! request that queued the SMS, and the courier's send and the provider's receipt take it
//! as their parent (SPEC §14 "Operations").
//!
//! Without an OpenTelemetry exporter (`OTEL_EXPORTER_OTLP_ENDPOINT` unset) spans carry no
//! trace context, so nothing is stored and nothing is followed.

use std::collections::HashMap;

use opentelemetry::{propagation::TextMapPropagator as _, trace::TraceContextExt as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";

/// The current span's `traceparent`, when it is part of a trace.
pub fn current() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the span `traceparent` names (what [`current`] stored). A
/// missing or malformed value leaves `span` where it is.
pub fn follow(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// Renames `span`'s OpenTelemetry span (an `otel.name` recorded once the span has been
/// entered is not applied by tracing-opentelemetry 0.32). `name` is only built when the
/// span is traced.
pub fn rename(span: &tracing::Span, name: impl FnOnce() -> String) {
    let context = span.context();
    let otel = context.span();
    if otel.span_context().is_valid() {
        otel.update_name(name());
    }
}
