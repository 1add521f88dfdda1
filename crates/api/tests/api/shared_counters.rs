//! PostgreSQL under load (issue 25): what many concurrent sends share in the database.
//! SQLite has one writer at a time: neither a stale plan's scan under a held lock nor a
//! queue on a shared row arises there the same way, so these run on PostgreSQL only.

use crate::{
    fraud::guarded,
    helpers::{Backend, spawn_app_with},
};

#[derive(diesel::QueryableByName)]
struct Scans {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// PostgreSQL (issue 25): the guard reads its counters by key range on every send. A
/// connection keeps that read prepared, planned for the table as it was when it was
/// small; once the table has grown, the read must still use the primary key, never scan
/// the whole table (which it did, inside the send's lock on the shared counters, until
/// the next ANALYZE).
#[tokio::test]
async fn the_guards_counter_reads_keep_to_the_key_range_as_the_table_grows() {
    use diesel::{Connection as _, RunQueryDsl as _, pg::PgConnection};
    use phonereg_api::{
        config::DatabaseUrl,
        persistence::{Conn, fraud},
    };

    let app = spawn_app_with(Backend::Postgres, guarded).await;
    let DatabaseUrl::Postgres(url) = &app.database_url else {
        unreachable!("PostgreSQL")
    };
    let mut pg = PgConnection::establish(url).expect("connect");
    let sql = |pg: &mut PgConnection, q: &str| diesel::sql_query(q).execute(pg).expect(q);
    // A new server's table: a few rows, analyzed as such.
    sql(
        &mut pg,
        "INSERT INTO rate_counters (key, window_start, count) \
         SELECT 'sms_number:' || md5(i::text), 0, 1 FROM generate_series(1, 40) i",
    );
    sql(&mut pg, "ANALYZE rate_counters");
    let read = |pg: &mut PgConnection| {
        let ranges = [
            ("fraud:r:+1415:", 0),
            ("fraud:c:US:", 0),
            ("fraud:g:all:", 0),
        ];
        fraud::counts_under_three(&mut Conn::Postgres(pg), ranges).expect("read");
    };
    // More than the five runs after which PostgreSQL keeps one plan for a statement.
    for _ in 0..8 {
        read(&mut pg);
    }
    // The table grows, as it does within a minute of sends; no ANALYZE has run yet.
    sql(
        &mut pg,
        "INSERT INTO rate_counters (key, window_start, count) \
         SELECT 'sms_account:' || md5(i::text), 0, 1 FROM generate_series(1, 20000) i",
    );
    pg.transaction(|pg| {
        read(pg);
        read(pg);
        let scans: Scans = diesel::sql_query(
            "SELECT coalesce(sum(seq_scan), 0)::bigint AS n FROM pg_stat_xact_user_tables \
             WHERE relname = 'rate_counters' AND schemaname = current_schema()",
        )
        .get_result(pg)?;
        assert_eq!(scans.n, 0, "the reads scanned the whole table");
        diesel::QueryResult::Ok(())
    })
    .expect("transaction");
}

/// PostgreSQL (issue 25): a send counts rows every send shares (the budget, the client's
/// networks, the guard's counts), striped over a few rows each. A send must take a row
/// no other transaction holds rather than queue behind it: with all but one of the
/// budget's rows held by a long transaction, sends still go through at once.
#[tokio::test]
async fn sends_take_a_free_row_of_a_shared_counter_instead_of_waiting() {
    use diesel::{Connection as _, RunQueryDsl as _, connection::SimpleConnection as _};
    use phonereg_api::config::DatabaseUrl;

    let app = spawn_app_with(Backend::Postgres, |c| {
        c.sms_daily_budget = 1_000;
        c.sms_fraud_global_unverified = Some(1_000);
    })
    .await;
    let DatabaseUrl::Postgres(url) = &app.database_url else {
        unreachable!("PostgreSQL")
    };
    let day = {
        let now = app.state.clock.now();
        now - now.rem_euclid(86_400)
    };
    let mut holder = diesel::PgConnection::establish(url).expect("connect");
    let rows: Vec<String> = (0..8)
        .map(|i| match i {
            0 => format!("('sms_budget:all', {day}, 0)"),
            _ => format!("('sms_budget:all#{i}', {day}, 0)"),
        })
        .collect();
    diesel::sql_query(format!(
        "INSERT INTO rate_counters (key, window_start, count) VALUES {}",
        rows.join(", ")
    ))
    .execute(&mut holder)
    .expect("budget rows");
    // Another request's transaction holds seven of the eight rows and does not end.
    holder
        .batch_execute(
            "BEGIN; SELECT 1 FROM rate_counters \
             WHERE key LIKE 'sms_budget:all%' AND key <> 'sms_budget:all#7' FOR UPDATE",
        )
        .expect("hold the rows");
    for i in 0..3 {
        let (token, _, _) = app.signup().await;
        let number = format!("+1415555{:04}", 2671 + i);
        let sent = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            app.add_phone(&token, &number),
        )
        .await
        .expect("the send waited for the held rows");
        sent.expect(201);
    }
    holder.batch_execute("ROLLBACK").expect("release");
}
