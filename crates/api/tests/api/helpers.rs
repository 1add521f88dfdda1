//! `spawn_app`: the real server on a random loopback port, over a fresh SQLite file or a
//! fresh PostgreSQL schema, plus a client that checks every response against openapi.yaml.
//!
//! Long: the one harness every test file shares (server, databases, fakes, clock,
//! response validation); split, every test would import from several.

use std::sync::LazyLock;

use actix_web::web;
use clap::Parser as _;
use diesel::{Connection as _, RunQueryDsl as _, pg::PgConnection};
use fake_twilio::FakeTwilio;
use phonereg_api::{
    config::{Config, DatabaseUrl, Secret, SmsProvider},
    services::courier::Step,
    startup,
    state::AppState,
};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(Backend)` once per backend.
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        })+
    };
}
pub(crate) use on_both_databases;

/// The server's OpenAPI description as JSON, for response validation.
pub static SPEC: LazyLock<Value> = LazyLock::new(|| {
    let text = include_str!("../../../../openapi.yaml");
    yaml_serde::from_str(text).expect("openapi.yaml parses")
});

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    /// The database this app uses, so a second process can share it.
    pub database_url: DatabaseUrl,
    /// The `/metrics` listener's port, with `METRICS_BIND`.
    pub metrics_port: Option<u16>,
    /// The admin listener's port, with `ADMIN_BIND`.
    pub admin_port: Option<u16>,
}

pub const TWILIO_SID: &str = "ACtest0000000000000000000000000000";
pub const TWILIO_TOKEN: &str = "twilio-test-auth-token";

/// A fake Twilio on loopback and an app that sends through it. The app's `PUBLIC_URL`
/// is its own address, so the fake's signed callbacks reach it.
pub async fn spawn_twilio_app(
    backend: Backend,
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, FakeTwilio) {
    let fake = FakeTwilio::start(0, TWILIO_SID, TWILIO_TOKEN).expect("fake Twilio starts");
    let app = spawn_app_with(backend, |c| {
        // Pick the port up front: the callback URL must name it before the server binds.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        c.bind = format!("127.0.0.1:{port}").parse().expect("addr");
        c.public_url = format!("http://127.0.0.1:{port}");
        c.sms_provider = SmsProvider::Twilio;
        c.twilio_api_base = fake.base_url.clone();
        c.twilio_account_sid = Some(TWILIO_SID.into());
        c.twilio_auth_token = Some(Secret::new(TWILIO_TOKEN.into()));
        c.twilio_from = Some("+15005550006".into());
        tweak(c);
    })
    .await;
    (app, fake)
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    /// The seconds of `Retry-After`, which every 429 and 503 must carry.
    #[track_caller]
    pub fn retry_after(&self) -> u64 {
        self.header("retry-after")
            .expect("Retry-After")
            .parse()
            .expect("seconds")
    }

    /// The messages of one field on a 422.
    pub fn field_errors(&self, field: &str) -> Vec<String> {
        self.body["errors"][field]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{:016x}", rand::random::<u64>())
}

pub fn test_config(backend: Backend) -> Config {
    let mut config = Config::parse_from(["phonereg-api"]);
    config.bind = "127.0.0.1:0".parse().expect("addr");
    config.jwt_secret = Some(Secret::new(JWT_SECRET.into()));
    config.data_dir = std::env::temp_dir().join(unique("phonereg-data-"));
    config.db_pool_size = 4;
    config.hash_threads = Some(2);
    // Tests step the outbox by hand instead of racing a background worker.
    config.outbox_worker = false;
    // Most tests resend at will; the cool-down has its own test.
    config.verify_resend_cooldown = 0;
    config.database_url = match backend {
        Backend::Sqlite => DatabaseUrl::Sqlite(
            std::env::temp_dir()
                .join(unique("phonereg-test-"))
                .with_extension("db"),
        ),
        Backend::Postgres => DatabaseUrl::Postgres(fresh_postgres_schema()),
    };
    config
}

/// A new schema in the test database; the URL pins `search_path` to it.
fn fresh_postgres_schema() -> String {
    let base = std::env::var("PHONEREG_TEST_POSTGRES_URL").expect(
        "PHONEREG_TEST_POSTGRES_URL is not set: run the suite with scripts/test.sh, which starts PostgreSQL",
    );
    let schema = unique("t_");
    let mut conn = PgConnection::establish(&base).expect("connect to the test PostgreSQL");
    diesel::sql_query(format!("CREATE SCHEMA {schema}"))
        .execute(&mut conn)
        .expect("create schema");
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(backend);
    tweak(&mut config);
    let database_url = config.database_url.clone();
    let app = startup::build(config).await.expect("server starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    let metrics_port = app.metrics_port;
    let admin_port = app.admin_port;
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        state,
        database_url,
        metrics_port,
        admin_port,
    }
}

impl TestApp {
    /// Sends a request and checks the response against openapi.yaml for `route`
    /// (the path template), so an undocumented status or a wrong shape fails the test.
    pub async fn call(
        &self,
        method: Method,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        self.call_from(None, method, route, path, token, body).await
    }

    /// [`TestApp::call`] as a client behind a proxy: `X-Forwarded-For: client`.
    pub async fn call_from(
        &self,
        client: Option<&str>,
        method: Method,
        route: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.address));
        if let Some(client) = client {
            req = req.header("x-forwarded-for", client);
        }
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = self.finish(req).await;
        check_against_spec(&method, route, &resp);
        resp
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.address))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    }

    pub async fn finish(&self, req: reqwest::RequestBuilder) -> Resp {
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Sends a request for the event stream (`GET /api/v1/users/me/events`): the open
    /// stream on 200, else the refusal, its problem+json checked against openapi.yaml.
    pub async fn open_events(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Resp> {
        let res = req.send().await.expect("sent");
        if res.status() == 200 {
            return Ok(res);
        }
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.expect("problem json");
        let resp = Resp {
            status,
            headers,
            body,
        };
        check_against_spec(&Method::GET, "/api/v1/users/me/events", &resp);
        Err(resp)
    }

    pub async fn register(&self, body: Value) -> Resp {
        self.call(
            Method::POST,
            "/api/v1/auth/register",
            "/api/v1/auth/register",
            None,
            Some(body),
        )
        .await
    }

    /// Registers a fresh account and returns (access token, refresh token, user id).
    pub async fn signup(&self) -> (String, String, i64) {
        let email = format!("{}@example.com", unique("user"));
        let r = self
            .register(json!({"email": email, "password": PASSWORD, "full_name": "Test User"}))
            .await
            .expect(201);
        (
            r.body["access_token"].as_str().expect("token").into(),
            r.body["refresh_token"].as_str().expect("token").into(),
            r.body["user"]["id"].as_i64().expect("id"),
        )
    }

    pub async fn login(&self, email: &str, password: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/v1/auth/login",
            "/api/v1/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    pub async fn refresh(&self, token: &str) -> Resp {
        self.call(
            Method::POST,
            "/api/v1/auth/refresh",
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": token})),
        )
        .await
    }

    pub async fn me(&self, token: &str) -> Resp {
        self.call(
            Method::GET,
            "/api/v1/users/me",
            "/api/v1/users/me",
            Some(token),
            None,
        )
        .await
    }

    pub async fn list_phones(&self, token: &str) -> Resp {
        let p = "/api/v1/users/me/phone-numbers";
        self.call(Method::GET, p, p, Some(token), None).await
    }

    pub async fn add_phone(&self, token: &str, number: &str) -> Resp {
        let p = "/api/v1/users/me/phone-numbers";
        self.call(
            Method::POST,
            p,
            p,
            Some(token),
            Some(json!({"phone_number": number})),
        )
        .await
    }

    /// Adds a number (expecting 201) and returns the record's id.
    pub async fn add_phone_id(&self, token: &str, number: &str) -> i64 {
        self.add_phone(token, number).await.expect(201).body["id"]
            .as_i64()
            .expect("id")
    }

    /// Adds `e164`, reads the code sent to it and verifies it: a verified record's id.
    pub async fn add_verified_phone(&self, token: &str, e164: &str) -> i64 {
        let id = self.add_phone_id(token, e164).await;
        let code = self.code_sent_to(e164).await;
        self.verify(token, id, &code).await.expect(200);
        id
    }

    /// A call on the phone record. PATCH and DELETE carry `current_password` =
    /// [`PASSWORD`] unless the body names one (SPEC §10 asks for it on a verified number);
    /// [`TestApp::phone_as_sent`] sends the body exactly as given.
    pub async fn phone(&self, method: Method, token: &str, id: i64, body: Option<Value>) -> Resp {
        let body = if method == Method::PATCH || method == Method::DELETE {
            let mut body = body.unwrap_or_else(|| json!({}));
            if let Some(obj) = body.as_object_mut() {
                obj.entry("current_password").or_insert(json!(PASSWORD));
            }
            Some(body)
        } else {
            body
        };
        self.phone_as_sent(method, token, id, body).await
    }

    pub async fn phone_as_sent(
        &self,
        method: Method,
        token: &str,
        id: i64,
        body: Option<Value>,
    ) -> Resp {
        let path = format!("/api/v1/users/me/phone-numbers/{id}");
        self.call(
            method,
            "/api/v1/users/me/phone-numbers/{id}",
            &path,
            Some(token),
            body,
        )
        .await
    }

    pub async fn history(&self, token: &str, id: i64) -> Resp {
        let path = format!("/api/v1/users/me/phone-numbers/{id}/history");
        self.call(
            Method::GET,
            "/api/v1/users/me/phone-numbers/{id}/history",
            &path,
            Some(token),
            None,
        )
        .await
    }

    /// Sends everything due, one message per step, as the worker would.
    pub async fn drain_outbox(&self) -> usize {
        let mut sent = 0;
        while self.state.courier.step().await.expect("outbox step") != Step::Idle {
            sent += 1;
        }
        sent
    }

    /// Delivers queued SMS and returns the code in the newest console message to `e164`.
    pub async fn code_sent_to(&self, e164: &str) -> String {
        self.drain_outbox().await;
        let inbox = self.state.inbox.as_ref().expect("console provider");
        let sms = inbox
            .items()
            .into_iter()
            .find(|m| m.to == e164)
            .unwrap_or_else(|| panic!("no SMS to {e164}"));
        sms.body
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .expect("a six-digit code in the SMS")
            .to_owned()
    }

    pub async fn resend(&self, token: &str, id: i64) -> Resp {
        let path = format!("/api/v1/users/me/phone-numbers/{id}/verification");
        self.call(
            Method::POST,
            "/api/v1/users/me/phone-numbers/{id}/verification",
            &path,
            Some(token),
            None,
        )
        .await
    }

    pub async fn verify(&self, token: &str, id: i64, code: &str) -> Resp {
        let path = format!("/api/v1/users/me/phone-numbers/{id}/verify");
        self.call(
            Method::POST,
            "/api/v1/users/me/phone-numbers/{id}/verify",
            &path,
            Some(token),
            Some(json!({ "code": code })),
        )
        .await
    }

    /// Verifies the record the way a user does: request a code, read it, send it back.
    pub async fn verify_by_sms(&self, token: &str, id: i64) {
        self.resend(token, id).await.expect(202);
        let phone = self.phone(Method::GET, token, id, None).await.expect(200);
        let target = phone.body["pending_e164"]
            .as_str()
            .or(phone.body["e164"].as_str())
            .expect("number")
            .to_owned();
        let code = self.code_sent_to(&target).await;
        let r = self.verify(token, id, &code).await.expect(200);
        assert_eq!(r.body["status"], "verified");
    }
}

/// Follows local `$ref`s; returns the node and its JSON pointer.
fn resolve(mut node: &Value, mut pointer: String) -> (&Value, String) {
    while let Some(r) = node.get("$ref").and_then(Value::as_str) {
        let p = r.strip_prefix('#').expect("local $ref");
        node = SPEC
            .pointer(p)
            .unwrap_or_else(|| panic!("dangling $ref {r}"));
        pointer = p.to_owned();
    }
    (node, pointer)
}

/// Warnings and errors the server logged since the first call, one string a line.
/// The first call installs the process-wide subscriber that collects them, so a test
/// calls it before it acts; every test in this binary logs into the same buffer, so
/// filter the lines by something only your test wrote (a client address).
pub fn captured_logs() -> Vec<String> {
    static LOGS: LazyLock<std::sync::Mutex<Vec<u8>>> = LazyLock::new(|| {
        struct Sink;
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                lock_logs().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(|| Sink)
            .try_init();
        std::sync::Mutex::new(Vec::new())
    });
    fn lock_logs() -> std::sync::MutexGuard<'static, Vec<u8>> {
        LOGS.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    String::from_utf8_lossy(&lock_logs())
        .lines()
        .map(str::to_owned)
        .collect()
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

pub fn check_against_spec(method: &Method, route: &str, resp: &Resp) {
    let op_pointer = format!(
        "/paths/{}/{}",
        escape(route),
        method.as_str().to_lowercase()
    );
    let op = SPEC
        .pointer(&op_pointer)
        .unwrap_or_else(|| panic!("openapi.yaml lacks {method} {route}"));
    let status = resp.status.as_str();
    let responses = &op["responses"];
    let (response, pointer) = match responses.get(status) {
        Some(r) => resolve(r, format!("{op_pointer}/responses/{status}")),
        None => panic!(
            "openapi.yaml does not document {status} for {method} {route}: {}",
            resp.body
        ),
    };
    let content_type = resp
        .header("content-type")
        .map(|c| c.split(';').next().unwrap_or(c).trim().to_owned());
    let Some(content_type) = content_type else {
        assert!(
            response.get("content").is_none() || resp.body.is_null(),
            "{method} {route} {status}: documented with a body but none was sent"
        );
        return;
    };
    let Some(media) = response.get("content").and_then(|c| c.get(&content_type)) else {
        panic!("{method} {route} {status}: content type {content_type} is not documented");
    };
    if !content_type.ends_with("json") {
        return;
    }
    let (_, schema_pointer) = resolve(
        &media["schema"],
        format!("{pointer}/content/{}/schema", escape(&content_type)),
    );
    let mut root = SPEC.clone();
    root["$ref"] = Value::String(format!("#{schema_pointer}"));
    let validator = jsonschema::draft202012::new(&root).expect("schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&resp.body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {route} {status} does not match openapi.yaml:\n{}\nbody: {}",
        errors.join("\n"),
        resp.body
    );
}
