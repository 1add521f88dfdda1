//! Where log lines go and in what form: stderr, as text or as JSON (`LOG_FORMAT`).

use std::io::IsTerminal as _;

use tracing_subscriber::{
    EnvFilter, Layer as _, fmt, layer::SubscriberExt as _, util::SubscriberInitExt as _,
};

use super::otlp::{self, Traces};
use crate::config::{Config, LogFormat};

/// Logs to stderr; `RUST_LOG` filters (default `info`). Text has colours only on a
/// terminal: in a file or a journal they are escape codes around every field. JSON is one
/// object per line, with the fields of the request's span (`request_id`, `method`,
/// `path`) beside the event's own, so a collector can group a request's lines. With an
/// OTLP endpoint, spans are exported too; keep the returned [`Traces`] until exit, when
/// dropping it flushes them.
pub fn init_tracing(config: &Config) -> anyhow::Result<Option<Traces>> {
    let format = config.log_format;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let lines = match format {
        LogFormat::Text => fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .with_target(false)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let (spans, traces) = match config.otlp_traces_endpoint() {
        Some(endpoint) => {
            let (layer, traces) = otlp::layer(&endpoint, &config.otel_service_name)?;
            (Some(layer), Some(traces))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(spans)
        .try_init();
    Ok(traces)
}
