//! Issue #10 item 4: the database failing under the API. PostgreSQL is reached through a
//! TCP proxy the test cuts (every connection dropped, new ones refused) and restores,
//! as a restart does to clients; SQLite is made full (`max_page_count`) or read-only
//! (`query_only`) under its writer. Either way: 503 problem+json, fast, never a 500 or a
//! panic, nothing lost, and normal service once the database is back.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use diesel::connection::SimpleConnection as _;
use phonereg_api::{config::DatabaseUrl, persistence::Conn, services::courier::Step};
use serde_json::json;
use tokio::{net::TcpListener, task::AbortHandle};

use crate::{
    delivery::register_with_phone,
    helpers::{Backend, PASSWORD, Resp, TestApp, spawn_twilio_app, test_config},
};

/// Forwards connections to PostgreSQL until cut.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, links2) = (Arc::clone(&up), Arc::clone(&links));
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, as by a server not there.
                    continue;
                }
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links2.lock().expect("links").push(link.abort_handle());
            }
        });
        Self { port, up, links }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for link in self.links.lock().expect("links").drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// A fresh PostgreSQL schema reached through a proxy.
async fn proxied_postgres() -> (DatabaseUrl, Proxy) {
    let DatabaseUrl::Postgres(url) = test_config(Backend::Postgres).database_url else {
        unreachable!("a PostgreSQL config")
    };
    // postgres://user:pass@host:port/db?… -> the same through the proxy.
    let at = url.find('@').expect("credentials in the URL") + 1;
    let slash = at + url[at..].find('/').expect("a database");
    let target: SocketAddr = url[at..slash]
        .replace("localhost", "127.0.0.1")
        .parse()
        .expect("host:port");
    let proxy = Proxy::start(target).await;
    let proxied = format!("{}127.0.0.1:{}{}", &url[..at], proxy.port, &url[slash..]);
    (DatabaseUrl::Postgres(proxied), proxy)
}

fn is_problem_503(r: &Resp) -> bool {
    r.status == 503
        && r.header("content-type") == Some("application/problem+json")
        && r.retry_after() > 0
}

async fn readyz(app: &TestApp) -> Resp {
    app.finish(app.client.get(format!("{}/readyz", app.address)))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_is_a_fast_503_and_recovers_without_losses() {
    let (database, proxy) = proxied_postgres().await;
    let (app, fake) = spawn_twilio_app(Backend::Postgres, |c| c.database_url = database).await;
    let (token, _) = register_with_phone(&app, "pgdown@example.com", "+14155552671").await;
    proxy.cut();

    let mut longest = Duration::ZERO;
    for round in 0..3 {
        for what in ["me", "login", "register", "readyz"] {
            let started = Instant::now();
            let r = match what {
                "me" => app.me(&token).await,
                "login" => app.login("pgdown@example.com", PASSWORD).await,
                "register" => {
                    app.register(json!({
                        "email": format!("late{round}@example.com"),
                        "password": PASSWORD,
                        "full_name": "L",
                    }))
                    .await
                }
                _ => readyz(&app).await,
            };
            longest = longest.max(started.elapsed());
            assert!(is_problem_503(&r), "{what}: {} {}", r.status, r.body);
        }
    }
    assert!(
        longest < Duration::from_secs(3),
        "requests fail fast while the database is away: {longest:?}"
    );
    let step = app.state.courier.step().await;
    assert!(step.is_err(), "the worker cannot claim: {step:?}");

    proxy.restore();
    let back = Instant::now();
    loop {
        let r = app.me(&token).await;
        assert!(
            r.status == 200 || is_problem_503(&r),
            "{} {}",
            r.status,
            r.body
        );
        if r.status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "still 503 after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(readyz(&app).await.status, 200);
    // The code queued before the outage still goes out, once.
    assert!(matches!(
        app.state.courier.step().await.expect("step"),
        Step::Sent { .. }
    ));
    assert_eq!(fake.messages().len(), 1);
}

/// Runs `sql` on the SQLite writer's connection.
async fn on_writer(app: &TestApp, sql: &'static str) {
    app.state
        .db
        .write(move |c| {
            let Conn::Sqlite(c) = c else {
                unreachable!("SQLite")
            };
            c.batch_execute(sql)?;
            Ok(())
        })
        .await
        .expect("pragma");
}

/// Registers until a write is refused; every answer is 201 or a 503 problem.
async fn register_until_refused(app: &TestApp, tag: &str) -> usize {
    for i in 0..200 {
        let r = app
            .register(json!({
                "email": format!("{tag}{i}@example.com"),
                "password": PASSWORD,
                "full_name": "F",
            }))
            .await;
        if r.status == 201 {
            continue;
        }
        assert!(is_problem_503(&r), "{} {}", r.status, r.body);
        return i;
    }
    panic!("the database never refused a write");
}

async fn users(app: &TestApp) -> i64 {
    use diesel::{QueryDsl as _, RunQueryDsl as _};
    use phonereg_api::persistence::schema::users;
    app.state
        .db
        .read(|c| {
            let Conn::Sqlite(c) = c else {
                unreachable!("SQLite")
            };
            Ok(users::table.count().get_result(*c)?)
        })
        .await
        .expect("count")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_or_read_only_sqlite_disk_is_a_503_and_loses_nothing() {
    let (app, _fake) =
        spawn_twilio_app(Backend::Sqlite, |c| c.register_per_ip_per_hour = 1000).await;
    let (token, _) = register_with_phone(&app, "full@example.com", "+14155552671").await;

    // Full: the file may not grow by another page.
    on_writer(&app, "PRAGMA max_page_count = 1").await;
    let before = register_until_refused(&app, "full").await;
    assert_eq!(
        users(&app).await,
        1 + before as i64,
        "the refused one left nothing"
    );
    app.me(&token).await.expect(200);
    on_writer(&app, "PRAGMA max_page_count = 1073741823").await;
    app.signup().await;

    // Read-only: SQLite then refuses even to begin a write transaction, so this is the
    // last act (the writer cannot be told to write again).
    on_writer(&app, "PRAGMA query_only = 1").await;
    let count = users(&app).await;
    let r = app
        .register(json!({"email": "ro@example.com", "password": PASSWORD, "full_name": "R"}))
        .await;
    assert!(is_problem_503(&r), "{} {}", r.status, r.body);
    assert_eq!(users(&app).await, count);
    app.list_phones(&token).await.expect(200);
    let ok = app
        .state
        .db
        .read(|c| {
            let Conn::Sqlite(c) = c else {
                unreachable!("SQLite")
            };
            c.batch_execute("PRAGMA integrity_check")?;
            Ok(())
        })
        .await;
    assert!(ok.is_ok());
}
