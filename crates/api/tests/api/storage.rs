//! SPEC §11 "Bounded storage": counter rows go once their window and longest
//! `Retry-After` have passed, rotated refresh tokens after the reuse grace (their reuse
//! still ends the session), and pruning deletes at most 5 000 rows per transaction.

use diesel::{QueryDsl as _, RunQueryDsl as _};
use phonereg_api::{
    error::ApiError,
    persistence::{
        Conn, rate_limits,
        schema::{rate_counters, refresh_tokens},
    },
};

use crate::helpers::{Backend, on_both_databases, spawn_app};

on_both_databases!(
    counter_rows_go_a_day_after_their_window_started,
    rotated_tokens_go_after_the_grace_and_their_reuse_still_ends_the_session,
    a_prune_of_many_rows_deletes_at_most_5000_per_transaction,
);

fn counters(c: &mut Conn<'_>) -> Result<i64, ApiError> {
    Ok(match c {
        Conn::Sqlite(c) => rate_counters::table.count().get_result(*c)?,
        Conn::Postgres(c) => rate_counters::table.count().get_result(*c)?,
    })
}

fn tokens(c: &mut Conn<'_>) -> Result<i64, ApiError> {
    Ok(match c {
        Conn::Sqlite(c) => refresh_tokens::table.count().get_result(*c)?,
        Conn::Postgres(c) => refresh_tokens::table.count().get_result(*c)?,
    })
}

async fn counter_rows_go_a_day_after_their_window_started(b: Backend) {
    let app = spawn_app(b).await;
    // A registration counts against the per-client limits: counter rows.
    app.signup().await;
    assert!(app.state.db.read(counters).await.expect("count") > 0);
    // The longest window (a day) has passed, and every refusal it could have caused.
    app.state.clock.advance(86_400 + 3_600);
    app.state.retention.prune().await.expect("prune");
    assert_eq!(app.state.db.read(counters).await.expect("count"), 0);
}

async fn rotated_tokens_go_after_the_grace_and_their_reuse_still_ends_the_session(b: Backend) {
    let app = spawn_app(b).await;
    let (_, first, _) = app.signup().await;
    let second = app.refresh(&first).await.expect(200).body["refresh_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let third = app.refresh(&second).await.expect(200).body["refresh_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(app.state.db.read(tokens).await.expect("count"), 3);
    // Past the reuse grace (10 s): the two rotated tokens go, the live one stays.
    app.state.clock.advance(11);
    let pruned = app.state.retention.prune().await.expect("prune");
    assert_eq!(pruned.refresh_tokens, 2);
    assert_eq!(app.state.db.read(tokens).await.expect("count"), 1);
    // The first token is gone from the table, but it names its session: using it again
    // is reuse, and the whole session ends, the newest token included.
    app.refresh(&first).await.expect(401);
    app.refresh(&third).await.expect(401);
}

async fn a_prune_of_many_rows_deletes_at_most_5000_per_transaction(b: Backend) {
    let app = spawn_app(b).await;
    // Rows of the current window, made old by moving the clock (not seeded old: the
    // prune every process runs at start-up would take some of them).
    let now = app.state.clock.now();
    app.state
        .db
        .write(move |c| {
            for i in 0..12_000 {
                rate_limits::hit(c, &format!("seeded:{i:05}"), now)?;
            }
            Ok(())
        })
        .await
        .expect("seed");
    app.state.clock.advance(3 * 86_400);
    let live = app.state.clock.now();
    app.state
        .db
        .write(move |c| {
            // Live rows before, among and after the old ones in the key's order (SQLite
            // walks the counters by key): the walk must step over them and go on.
            for key in ["seeded:", "seeded:06000-live", "seeded:live"] {
                rate_limits::hit(c, key, live)?;
            }
            Ok(())
        })
        .await
        .expect("seed");
    let pruned = app.state.retention.prune().await.expect("prune");
    assert_eq!(pruned.counters, 12_000, "{pruned:?}");
    assert!(pruned.largest_batch <= 5_000, "{pruned:?}");
    assert_eq!(app.state.db.read(counters).await.expect("count"), 3);
}
