//! Issue #10 item 5: on PostgreSQL event ids are taken at insert but commit in any order,
//! so a stream that had moved past a higher id never showed a lower one that committed
//! later. (SQLite has one writer: ids commit in order, there is no gap to test.)

use std::time::Duration;

use diesel::{
    Connection as _, RunQueryDsl as _, connection::SimpleConnection as _, pg::PgConnection,
};
use futures_util::StreamExt as _;
use phonereg_api::config::DatabaseUrl;

use crate::{
    delivery::register_with_phone,
    helpers::{Backend, spawn_twilio_app},
};

#[derive(diesel::QueryableByName)]
struct Id {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    id: i64,
}

/// Reads SSE frames until one has `id: want`; fails after `within`.
async fn wait_for_id(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buf: &mut String,
    want: i64,
    within: Duration,
) -> Vec<i64> {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if let Some(id) = frame.lines().find_map(|l| l.strip_prefix("id: ")) {
                let id: i64 = id.trim().parse().expect("numeric id");
                seen.push(id);
                if id == want {
                    return seen;
                }
            }
        }
        match tokio::time::timeout_at(deadline, body.next()).await {
            Ok(Some(chunk)) => buf.push_str(&String::from_utf8_lossy(&chunk.expect("chunk"))),
            _ => panic!("event {want} never arrived; the stream showed {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_event_id_that_commits_late_is_still_streamed() {
    let (app, fake) = spawn_twilio_app(Backend::Postgres, |_| {}).await;
    let (token, _) = register_with_phone(&app, "gap@example.com", "+14155552671").await;
    let user = app.me(&token).await.expect(200).body["id"]
        .as_i64()
        .expect("id");
    let res = app
        .client
        .get(format!("{}/api/v1/users/me/events", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .expect("stream");
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    let mut buf = String::new();

    // Another process's transaction takes an event id and has not committed yet.
    let DatabaseUrl::Postgres(url) = &app.database_url else {
        unreachable!("PostgreSQL")
    };
    let mut other = PgConnection::establish(url).expect("connect");
    other.batch_execute("BEGIN").expect("begin");
    let late: Id = diesel::sql_query(format!(
        "INSERT INTO events (user_id, kind, data, created_at) \
         VALUES ({user}, 'message', '{{\"phone_id\":0,\"status\":\"sent\",\"error_code\":null,\"guidance\":null,\"updated_at\":\"2026-01-01T00:00:00Z\"}}', 0) \
         RETURNING id"
    ))
    .get_result(&mut other)
    .expect("insert");

    // Meanwhile this process commits later events (the SMS handed over, then delivered).
    app.state.courier.step().await.expect("step");
    let sid = fake.messages()[0].sid.clone();
    fake.send_status(&sid, "delivered", None)
        .await
        .expect("callback");
    let newest: Id = diesel::sql_query("SELECT max(id) AS id FROM events")
        .get_result(&mut PgConnection::establish(url).expect("connect"))
        .expect("max");
    assert!(newest.id > late.id);

    other.batch_execute("COMMIT").expect("commit");
    let seen = wait_for_id(&mut body, &mut buf, late.id, Duration::from_secs(5)).await;
    // And nothing was skipped the other way round.
    let more = wait_for_id(&mut body, &mut buf, newest.id, Duration::from_secs(5)).await;
    let all: Vec<i64> = seen.into_iter().chain(more).collect();
    assert!(
        all.contains(&late.id) && all.contains(&newest.id),
        "{all:?}"
    );
}
