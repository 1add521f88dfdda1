//! Gauges sampled when `/metrics` is scraped: the SMS backlog, the connection pool, the
//! password-hash queue and the open event streams (SPEC §14 "Operations").
//!
//! Sampled per scrape from the app's own state rather than kept in the process-wide
//! registry: a level is only true at the moment it is read, and the app that answers the
//! scrape is the one whose levels it must show. The backlog is three counts over the
//! outbox's partial index of queued messages; when the database cannot answer, its
//! gauges are left out (`/metrics` still answers, and `/readyz` tells why).

use prometheus::{Encoder as _, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::{persistence::outbox, state::AppState};

/// The gauges' Prometheus text, sampled now.
pub async fn render(state: &AppState) -> String {
    let registry = Registry::new();
    let now_ms = state.clock.now_ms();
    match state
        .db
        .read(move |conn| outbox::backlog(conn, now_ms))
        .await
    {
        Ok(backlog) => {
            let sms = vec_gauge(
                &registry,
                "phonereg_sms_outbox_messages",
                "SMS not yet handed to the provider: due (no courier has it), in_flight (being sent), waiting (a retry's backoff)",
                "state",
            );
            sms.with_label_values(&["due"]).set(backlog.due);
            sms.with_label_values(&["in_flight"]).set(backlog.in_flight);
            sms.with_label_values(&["waiting"]).set(backlog.waiting);
        }
        Err(e) => tracing::debug!(error = %e, "the SMS backlog gauge could not be read"),
    }
    let pool_use = state.db.pool_use();
    let pool = vec_gauge(
        &registry,
        "phonereg_db_pool_connections",
        "Connections of the request pool: in_use, idle",
        "state",
    );
    pool.with_label_values(&["in_use"])
        .set(i64::from(pool_use.open - pool_use.idle.min(pool_use.open)));
    pool.with_label_values(&["idle"])
        .set(i64::from(pool_use.idle));
    gauge(
        &registry,
        "phonereg_db_pool_max_connections",
        "The request pool's size (DB_POOL_SIZE)",
    )
    .set(i64::from(pool_use.max));
    gauge(
        &registry,
        "phonereg_hash_queue_jobs",
        "Password hashes waiting for a hashing thread",
    )
    .set(count(state.hasher.waiting()));
    gauge(
        &registry,
        "phonereg_event_streams_open",
        "Live event streams this process holds open",
    )
    .set(count(state.streams.total()));

    let mut buf = Vec::new();
    let _ = TextEncoder::new().encode(&registry.gather(), &mut buf);
    String::from_utf8(buf).unwrap_or_default()
}

fn gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    let gauge = IntGauge::new(name, help).expect("valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("unique metric");
    gauge
}

fn vec_gauge(registry: &Registry, name: &str, help: &str, label: &str) -> IntGaugeVec {
    let gauge = IntGaugeVec::new(Opts::new(name, help), &[label]).expect("valid metric");
    registry
        .register(Box::new(gauge.clone()))
        .expect("unique metric");
    gauge
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
