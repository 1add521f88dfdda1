//! The webhook worker: posts each enabled endpoint's next event, signed per Standard
//! Webhooks, in the style of the SMS courier (`services::courier`): a lease in the
//! database, a retry schedule, the injected [`Clock`], [`WebhookWorker::step`] for tests
//! and [`WebhookWorker::run`] for the server.
//!
//! At least once, in order per endpoint:
//! - an endpoint's place moves past an event only once it was posted (2xx) or is not one
//!   the endpoint takes, so a crash at any point posts the event again (same
//!   `webhook-id`, same body) and never skips it;
//! - the head is leased (`claim`) before it is posted, so among all processes only one
//!   posts it at a time, and the next event waits for it; a worker killed mid-post
//!   frees it when the lease ends;
//! - only the worker still holding the lease records the outcome.
//!
//! Long: the at-least-once argument above spans reading, leasing, posting and recording;
//! kept in one file it stays checkable, as in the courier.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use phonereg_types::{WebhookDeliveryResult, WebhookEventType};
use rand::Rng as _;
use serde_json::{Map, Value};
use standardwebhooks::Webhook;

use super::target::{self, POST_TIMEOUT, TargetRule};
use crate::services::wakeups::Wakeups;
use crate::{
    clock::Clock,
    error::ApiError,
    persistence::{
        Db,
        webhooks::{self as rows, EndpointRow, EventRow, NewDelivery, Outcome},
    },
    telemetry,
};

/// How long a head is reserved for the worker that claimed it: longer than one post can
/// take (15 s) plus the write that records it. A worker that dies mid-post frees it
/// after this, and the event goes out again.
pub const LEASE_MS: i64 = 20_000;
const _: () = assert!(LEASE_MS > POST_TIMEOUT.as_millis() as i64 + 2_000);

/// SPEC §12: after the first failure, retry after these many seconds (the first try is
/// at once); the last repeats until the endpoint has failed for [`DISABLE_AFTER`].
const RETRY_SECS: [i64; 9] = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400];
/// SPEC §12: an endpoint failing for this long is disabled.
pub const DISABLE_AFTER: i64 = 5 * 86_400;
/// Events read per look at an endpoint's queue (most are skipped unread by type).
const PAGE: i64 = 64;
/// Delivered events are recorded together, one write per page (the request path shares
/// the SQLite writer with these records), but never later than this after the lease was
/// last renewed, so every post starts with the lease's other 17 s ahead of it.
const RECORD_WITHIN: Duration =
    Duration::from_millis(LEASE_MS as u64 - POST_TIMEOUT.as_millis() as u64 - 2_000);
/// After a look that posted something, how long the worker lets new events gather
/// before it looks again: under a steady stream of events this turns a write or two per
/// event on the shared writer into two per page, for at most this much more lag.
const GATHER: Duration = Duration::from_millis(20);
/// How often an idle worker looks for events other processes wrote.
const POLL: Duration = Duration::from_millis(500);
/// How soon to look again at events committed but not settled yet (PostgreSQL): they
/// settle as soon as the older transactions still running end, usually within a
/// request's time.
const SETTLE_RECHECK: Duration = Duration::from_millis(10);
/// How long [`WebhookWorker::drain`] waits for events to settle.
const SETTLE_WAIT: Duration = Duration::from_secs(5);

/// The wait before attempt `failures + 1`, ±10 % so receivers coming back are not hit
/// by every endpoint's retries at once; milliseconds.
pub fn retry_delay_ms(failures: i32) -> i64 {
    let index = usize::try_from(failures.max(1) - 1).unwrap_or(0);
    let base = RETRY_SECS[index.min(RETRY_SECS.len() - 1)] as f64 * 1000.0;
    (base * rand::thread_rng().gen_range(0.9..=1.1)).round() as i64
}

/// What one attempt did, for tests and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub endpoint_id: i64,
    pub event_id: i64,
    pub result: WebhookDeliveryResult,
    pub status_code: Option<u16>,
    /// This worker still held the lease when it recorded the outcome.
    pub recorded: bool,
}

/// The event a leased worker posts, and where the endpoint's place goes on success.
struct Head {
    event: EventRow,
    past: rows::Place,
    /// Another event of the page follows: the record keeps the lease for it.
    keep_lease: bool,
}

/// One post, not recorded yet.
struct Posted {
    attempt: Attempt,
    webhook_id: String,
    event_type: WebhookEventType,
    /// Which attempt at this event it was (1 for the first).
    number: i32,
    error: Option<String>,
    duration_ms: i64,
    at_ms: i64,
    outcome: Outcome,
}

impl Posted {
    fn row(&self) -> NewDelivery<'_> {
        NewDelivery {
            endpoint_id: self.attempt.endpoint_id,
            event_id: self.attempt.event_id,
            webhook_id: &self.webhook_id,
            event_type: self.event_type,
            attempt: self.number,
            result: self.attempt.result,
            status_code: self.attempt.status_code.map(i32::from),
            error: self.error.as_deref(),
            duration_ms: self.duration_ms,
            at: self.at_ms.div_euclid(1000),
        }
    }
}

/// What one look at an endpoint posted: the delivered events not recorded yet, the
/// failure that ended it, and every attempt recorded so far.
#[derive(Default)]
struct Batch {
    delivered: Vec<Posted>,
    failed: Option<Posted>,
    done: Vec<Attempt>,
}

#[derive(Clone)]
pub struct WebhookWorker {
    db: Db,
    clock: Clock,
    client: reqwest::Client,
    rule: TargetRule,
    retries: Wakeups,
}

/// The body as posted (and signed): the same bytes on every attempt of an event.
pub fn body(event: &EventRow) -> String {
    let mut data: Map<String, Value> = serde_json::from_str(&event.data).unwrap_or_default();
    if let Some(user_id) = event.user_id {
        data.insert("user_id".into(), user_id.into());
    }
    if let Some(phone_id) = event.phone_id {
        data.insert("phone_id".into(), phone_id.into());
    }
    if let Some(e164) = &event.e164 {
        data.insert("phone".into(), e164.clone().into());
    }
    let timestamp = chrono::DateTime::from_timestamp_millis(event.at_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    serde_json::json!({
        "type": event.event_type.as_str(),
        "timestamp": timestamp,
        "data": data,
    })
    .to_string()
}

/// `webhook-id`: the event's, or the first one's for a redelivery.
pub fn webhook_id(event: &EventRow) -> String {
    format!("msg_{}", event.replay_of.unwrap_or(event.id))
}

/// `webhook-signature`: `v1,…` under the current secret, and under the previous one
/// while its grace lasts (space-separated, as Standard Webhooks verifiers accept).
fn signature(endpoint: &EndpointRow, id: &str, ts: i64, body: &str) -> Result<String, ApiError> {
    let mut secrets = vec![endpoint.secret.as_str()];
    if let (Some(old), Some(until)) = (&endpoint.previous_secret, endpoint.previous_secret_until)
        && ts < until
    {
        secrets.push(old);
    }
    let signed: Result<Vec<String>, _> = secrets
        .into_iter()
        .map(|s| Webhook::new(s).and_then(|w| w.sign(id, ts, body.as_bytes())))
        .collect();
    signed
        .map(|s| s.join(" "))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("sign webhook: {e}")))
}

impl WebhookWorker {
    pub fn new(db: Db, clock: Clock, rule: TargetRule) -> anyhow::Result<Self> {
        Ok(Self {
            db,
            clock,
            client: target::client(rule)?,
            rule,
            retries: Wakeups::default(),
        })
    }

    /// Posts the head of every endpoint that is due, at the same time (one each).
    pub async fn step(&self) -> Result<Vec<Attempt>, ApiError> {
        let now_ms = self.clock.now_ms();
        let due = self.db.read(move |c| rows::due(c, now_ms)).await?;
        let done = join_all(due.into_iter().map(|e| self.head(e, now_ms))).await;
        Ok(done
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }

    /// Steps until nothing is due now and no committed event waits to settle (at most
    /// [`SETTLE_WAIT`] for that); every attempt made.
    pub async fn drain(&self) -> Result<Vec<Attempt>, ApiError> {
        let mut all = Vec::new();
        let started = Instant::now();
        loop {
            // Looked at before the step: an event settled by then is one the step sees.
            let waiting = self.unsettled().await?;
            let done = self.step().await?;
            if done.is_empty() {
                if waiting && started.elapsed() < SETTLE_WAIT {
                    tokio::time::sleep(SETTLE_RECHECK).await;
                    continue;
                }
                return Ok(all);
            }
            all.extend(done);
        }
    }

    /// Whether a committed event is not settled yet (PostgreSQL only).
    async fn unsettled(&self) -> Result<bool, ApiError> {
        match self.db {
            Db::Postgres { .. } => self.db.read(rows::unsettled).await,
            Db::Sqlite { .. } => Ok(false),
        }
    }

    /// Skips the endpoint past events it does not take, then leases its next one and
    /// posts the ones it takes of this page in order, while they succeed; what was
    /// posted is recorded in one write at the end (or sooner, to renew the lease).
    async fn head(&self, mut endpoint: EndpointRow, now_ms: i64) -> Result<Vec<Attempt>, ApiError> {
        let patterns: Vec<String> = serde_json::from_str(&endpoint.event_types).unwrap_or_default();
        loop {
            let read = endpoint.clone();
            let events = self.db.read(move |c| rows::pending(c, &read, PAGE)).await?;
            let Some(last) = events.last().map(EventRow::cursor) else {
                return Ok(Vec::new());
            };
            let wanted: Vec<usize> = (0..events.len())
                .filter(|&i| {
                    let e = &events[i];
                    e.endpoint_id == Some(endpoint.id)
                        || patterns.iter().any(|p| e.event_type.matches(p))
                })
                .collect();
            let from = endpoint.cursor();
            let Some(&first) = wanted.first() else {
                let id = endpoint.id;
                let moved = self
                    .db
                    .write(move |c| rows::skip(c, id, from, last, now_ms))
                    .await?;
                if !moved {
                    return Ok(Vec::new());
                }
                (endpoint.cursor_txid, endpoint.cursor_id) = (last.txid, last.id);
                continue;
            };
            let to = if first == 0 {
                from
            } else {
                events[first - 1].cursor()
            };
            let token = format!("{:016x}", rand::random::<u64>());
            let (id, held) = (endpoint.id, token.clone());
            let claimed = self
                .db
                .write(move |c| rows::claim(c, id, &held, (from, to), now_ms, now_ms + LEASE_MS))
                .await?;
            if !claimed {
                return Ok(Vec::new());
            }
            let mut batch = Batch::default();
            let mut renewed = Instant::now();
            for (k, &i) in wanted.iter().enumerate() {
                // Every post starts with most of the lease left: records written late
                // renew it before the next post could outlast it.
                if renewed.elapsed() > RECORD_WITHIN && !batch.delivered.is_empty() {
                    let kept = self.record(endpoint.id, &token, &mut batch).await?;
                    renewed = Instant::now();
                    if !kept {
                        return Ok(batch.done);
                    }
                }
                // Past this event and the ones up to the next it takes (or the page's end).
                let next = wanted.get(k + 1).map(|&j| events[j - 1].cursor());
                let head = Head {
                    event: events[i].clone(),
                    past: next.unwrap_or(last),
                    keep_lease: next.is_some(),
                };
                let posted = self.post(&endpoint, head).await?;
                if posted.attempt.result != WebhookDeliveryResult::Delivered {
                    batch.failed = Some(posted);
                    break;
                }
                batch.delivered.push(posted);
                (endpoint.attempts, endpoint.failing_since) = (0, None);
            }
            self.record(endpoint.id, &token, &mut batch).await?;
            return Ok(batch.done);
        }
    }

    /// Writes what `batch` posted since its last record, in one transaction: the
    /// delivered events move the endpoint's place past the last of them (keeping the
    /// lease when more follow), then a failure schedules its retry. Whether this worker
    /// still held the lease.
    async fn record(&self, id: i64, token: &str, batch: &mut Batch) -> Result<bool, ApiError> {
        let delivered = std::mem::take(&mut batch.delivered);
        let failed = batch.failed.take();
        if delivered.is_empty() && failed.is_none() {
            return Ok(true);
        }
        let token = token.to_owned();
        let (delivered, failed, recorded) = self
            .db
            .write(move |c| {
                let mut kept = true;
                if let Some(last) = delivered.last() {
                    let rows: Vec<NewDelivery<'_>> = delivered.iter().map(Posted::row).collect();
                    kept = rows::finish(c, id, &token, &last.outcome, &rows)?;
                }
                if kept && let Some(f) = &failed {
                    kept = rows::finish(c, id, &token, &f.outcome, &[f.row()])?;
                }
                Ok((delivered, failed, kept))
            })
            .await?;
        if !recorded {
            tracing::warn!(
                webhook.id = id,
                "webhook lease ran out before its outcome was recorded; it goes out again"
            );
        }
        batch
            .done
            .extend(delivered.into_iter().chain(failed).map(|p| Attempt {
                recorded,
                ..p.attempt
            }));
        Ok(recorded)
    }

    /// Posts `event` to the leased `endpoint`: how it went, to be recorded.
    ///
    /// Long: sign, post, classify and schedule the retry read top to bottom in the order
    /// they happen; each step is a few lines.
    async fn post(&self, endpoint: &EndpointRow, head: Head) -> Result<Posted, ApiError> {
        let Head {
            event,
            past,
            keep_lease,
        } = head;
        let (id, body) = (webhook_id(&event), body(&event));
        let now = self.clock.now();
        let started = Instant::now();
        let (result, status_code, error) = match target::check_url(self.rule, &endpoint.url) {
            Err(why) => (
                WebhookDeliveryResult::Refused,
                None,
                Some(format!("URL {why}")),
            ),
            Ok(url) => {
                let signature = signature(endpoint, &id, now, &body)?;
                self.send(url, &id, now, &signature, body).await
            }
        };
        let duration_ms = started.elapsed().as_millis() as i64;
        let after_ms = self.clock.now_ms();
        let attempt = endpoint.attempts + 1;
        let outcome = match result {
            WebhookDeliveryResult::Delivered => Outcome::Delivered {
                past,
                lease_until_ms: keep_lease.then_some(after_ms + LEASE_MS),
            },
            failed => {
                let failing_since = endpoint.failing_since.unwrap_or(now);
                let disable = if failed == WebhookDeliveryResult::Gone {
                    Some("gone")
                } else if now - failing_since >= DISABLE_AFTER {
                    Some("failing")
                } else {
                    None
                };
                let next_attempt_ms = after_ms + retry_delay_ms(attempt);
                if disable.is_none() {
                    self.remember_retry(next_attempt_ms);
                }
                Outcome::Failed {
                    attempts: attempt,
                    failing_since,
                    next_attempt_ms,
                    disable,
                }
            }
        };
        telemetry::webhook_delivery(result);
        Ok(Posted {
            attempt: Attempt {
                endpoint_id: endpoint.id,
                event_id: event.id,
                result,
                status_code,
                recorded: false,
            },
            webhook_id: id,
            event_type: event.event_type,
            number: attempt,
            error,
            duration_ms,
            at_ms: after_ms,
            outcome,
        })
    }

    /// One POST: its result, the receiver's status and why it failed. The response body
    /// is never read: only its status counts.
    async fn send(
        &self,
        url: reqwest::Url,
        id: &str,
        ts: i64,
        signature: &str,
        body: String,
    ) -> (WebhookDeliveryResult, Option<u16>, Option<String>) {
        let sent = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, id)
            .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let status = resp.status();
                let code = Some(status.as_u16());
                if status.is_success() {
                    (WebhookDeliveryResult::Delivered, code, None)
                } else if status == reqwest::StatusCode::GONE {
                    (
                        WebhookDeliveryResult::Gone,
                        code,
                        Some("410 Gone: endpoint disabled".into()),
                    )
                } else {
                    (
                        WebhookDeliveryResult::Failed,
                        code,
                        Some(format!("answered {status}")),
                    )
                }
            }
            Err(e) => {
                let refused =
                    std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| {
                        e.source()
                    })
                    .any(|s| s.to_string().contains("webhooks may not reach"));
                if refused {
                    let why = "the host resolves only to addresses webhooks may not reach";
                    (WebhookDeliveryResult::Refused, None, Some(why.into()))
                } else if e.is_timeout() {
                    (
                        WebhookDeliveryResult::Failed,
                        None,
                        Some("timed out after 15 s".into()),
                    )
                } else if e.is_connect() {
                    (
                        WebhookDeliveryResult::Failed,
                        None,
                        Some("could not connect".into()),
                    )
                } else {
                    (
                        WebhookDeliveryResult::Failed,
                        None,
                        Some("request failed".into()),
                    )
                }
            }
        }
    }

    fn remember_retry(&self, due_ms: i64) {
        self.retries.remember(due_ms);
    }

    /// How long an idle worker may sleep: until its next known retry, at most a poll.
    fn idle_wait(&self) -> Duration {
        self.retries.idle_wait(self.clock.now_ms(), POLL)
    }

    /// The worker loop: post what is due, then wait for a commit that wrote an event, a
    /// retry falling due or the next poll (for other processes' events and leases).
    pub async fn run(self) {
        loop {
            let waiting = self.unsettled().await.unwrap_or(false);
            match self.step().await {
                Ok(done) if done.is_empty() => {
                    let wait = if waiting {
                        SETTLE_RECHECK
                    } else {
                        self.idle_wait()
                    };
                    tokio::select! {
                        () = self.db.committed().hooked() => {}
                        () = tokio::time::sleep(wait) => {}
                    }
                }
                // Events keep coming: let a few milliseconds' worth gather, so the next
                // look takes a page of them for its two writes (lease, record) instead of
                // one or two (an event alone still goes at once: the wait above ends on
                // its commit).
                Ok(_) => tokio::time::sleep(GATHER).await,
                Err(e) => {
                    tracing::error!(error = %e, "webhook step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_the_schedule_within_ten_percent() {
        for (failures, secs) in [(1, 5), (2, 300), (3, 1_800), (9, 86_400), (15, 86_400)] {
            let ms = retry_delay_ms(failures);
            let base = secs * 1000;
            assert!(
                (base * 9 / 10..=base * 11 / 10).contains(&ms),
                "after {failures} failures: {ms} ms"
            );
        }
    }

    #[test]
    fn bodies_carry_ids_and_numbers_and_the_first_events_id_on_redelivery() {
        let mut event = EventRow {
            id: 7,
            txid: 0,
            event_type: WebhookEventType::PhoneVerified,
            at_ms: 1_700_000_000_123,
            user_id: Some(3),
            phone_id: Some(4),
            e164: Some("+14155550100".into()),
            data: r#"{"outcome":"success"}"#.into(),
            endpoint_id: None,
            replay_of: None,
        };
        let v: Value = serde_json::from_str(&body(&event)).expect("json");
        assert_eq!(v["type"], "phone.verified");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.123Z");
        assert_eq!(v["data"]["phone"], "+14155550100");
        assert_eq!(v["data"]["user_id"], 3);
        assert_eq!(webhook_id(&event), "msg_7");
        event.replay_of = Some(2);
        assert_eq!(webhook_id(&event), "msg_2");
    }
}
