//! Traces over OTLP/HTTP (protobuf), configured by the standard OpenTelemetry variables
//! (SPEC §14 "Operations"): `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`) turns
//! it on; the SDK reads the rest itself (`…_HEADERS`, `…_TIMEOUT`, `OTEL_BSP_*`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`).
//!
//! Every `tracing` span becomes an OpenTelemetry span: the request (`observe`), the SMS
//! queued in its transaction, the courier's delivery, the provider call, the receipt
//! (see `trace_context` for how the later ones join the request's trace). Spans are
//! exported in batches from the SDK's own thread, so a slow collector never holds a
//! request; when its queue is full, spans are dropped, not waited for.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::{Resource, trace::SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::{Layer, registry::LookupSpan};

/// The exporter's provider; dropping it flushes the spans still queued.
pub struct Traces(SdkTracerProvider);

impl Drop for Traces {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("phonereg-api: flushing traces: {e}");
        }
    }
}

/// The layer that exports spans to `endpoint` (the full traces URL) as `service_name`,
/// and the provider that owns it.
pub fn layer<S>(
    endpoint: &str,
    service_name: &str,
) -> anyhow::Result<(impl Layer<S> + use<S>, Traces)>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    let exporter = SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service_name.to_owned())
                .build(),
        )
        .build();
    let tracer = provider.tracer("phonereg-api");
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Traces(provider),
    ))
}
