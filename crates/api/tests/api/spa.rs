//! The built SPA as the API serves it: precompressed files chosen by `Accept-Encoding`,
//! caching by file name, `/robots.txt`, and the cookie that tells the SPA whether a
//! silent refresh is worth trying.

use std::{collections::BTreeSet, path::PathBuf};

use reqwest::{Method, header::HeaderMap};
use serde_json::json;

use crate::helpers::{
    Backend, PASSWORD, TestApp, on_both_databases, spawn_app_with, spawn_twilio_app,
};

const WASM: &str = "/phonereg-frontend-822529d48e79724a_bg.wasm";
const PLAIN_WASM: &[u8] = b"\0asm plain";
const BROTLI_WASM: &[u8] = b"brotli bytes";
const GZIP_WASM: &[u8] = b"gzip bytes";

/// A `dist/` as scripts/build-spa.sh leaves it: each file beside its `.br` and `.gz`
/// (their contents are stand-ins, so a test can tell which one was sent).
fn dist() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("phonereg-dist-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("dist");
    let files: [(&str, &[u8]); 8] = [
        ("index.html", b"<!doctype html><title>PhoneReg</title>"),
        ("index.html.br", b"brotli index"),
        ("index.html.gz", b"gzip index"),
        (&WASM[1..], PLAIN_WASM),
        (&format!("{}.br", &WASM[1..]), BROTLI_WASM),
        (&format!("{}.gz", &WASM[1..]), GZIP_WASM),
        ("robots.txt", b"User-agent: *\nDisallow: /dashboard\n"),
        ("style-ef443a772eee4498.css", b"body{}"),
    ];
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    dir
}

/// Static files touch no database: SQLite only.
async fn spa_app() -> TestApp {
    let dir = dist();
    spawn_app_with(Backend::Sqlite, move |c| c.static_dir = dir).await
}

async fn get(
    app: &TestApp,
    path: &str,
    accept_encoding: Option<&str>,
) -> (u16, HeaderMap, Vec<u8>) {
    let mut req = app.client.get(format!("{}{path}", app.address));
    if let Some(value) = accept_encoding {
        req = req.header("accept-encoding", value);
    }
    let res = req.send().await.expect("sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Headers of a file that has compressed copies.
#[track_caller]
fn expect_negotiated(
    headers: &HeaderMap,
    content_type: &str,
    encoding: Option<&str>,
    cache: &str,
    why: &str,
) {
    assert_eq!(header(headers, "content-type"), Some(content_type), "{why}");
    assert_eq!(header(headers, "content-encoding"), encoding, "{why}");
    assert_eq!(header(headers, "vary"), Some("accept-encoding"), "{why}");
    assert_eq!(header(headers, "cache-control"), Some(cache), "{why}");
    assert_eq!(header(headers, "content-disposition"), None, "{why}");
}

/// Accept-Encoding sent, the body and Content-Encoding expected back, and why.
struct Case(
    Option<&'static str>,
    &'static [u8],
    Option<&'static str>,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_go_out_in_the_best_encoding_the_browser_accepts() {
    let app = spa_app().await;
    let cases = [
        Case(
            Some("gzip, deflate, br, zstd"),
            BROTLI_WASM,
            Some("br"),
            "Chromium's header: brotli",
        ),
        Case(
            Some("gzip, deflate"),
            GZIP_WASM,
            Some("gzip"),
            "no brotli: gzip",
        ),
        Case(
            Some("br;q=0.5, gzip;q=0.9"),
            GZIP_WASM,
            Some("gzip"),
            "q-values decide",
        ),
        Case(
            Some("gzip;q=0.2, br"),
            BROTLI_WASM,
            Some("br"),
            "a missing q is 1",
        ),
        Case(
            Some("br;q=0, gzip;q=0"),
            PLAIN_WASM,
            None,
            "both refused: identity",
        ),
        Case(
            Some("deflate"),
            PLAIN_WASM,
            None,
            "nothing we have: identity",
        ),
        Case(Some("identity"), PLAIN_WASM, None, "identity asked for"),
        Case(None, PLAIN_WASM, None, "no header: identity"),
    ];
    for Case(accept, body, encoding, why) in cases {
        let (status, headers, bytes) = get(&app, WASM, accept).await;
        assert_eq!(status, 200, "{why}");
        assert_eq!(bytes, body, "{why}");
        // The name carries the content hash: cached for good.
        let immutable = "public, max-age=31536000, immutable";
        expect_negotiated(&headers, "application/wasm", encoding, immutable, why);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_routes_get_the_compressed_index_revalidated() {
    let app = spa_app().await;
    for route in ["/", "/login", "/dashboard/phone-management"] {
        let (status, headers, bytes) = get(&app, route, Some("gzip, br")).await;
        assert_eq!(status, 200, "{route}");
        assert_eq!(bytes, b"brotli index", "{route}");
        let html = "text/html; charset=utf-8";
        expect_negotiated(&headers, html, Some("br"), "no-cache", route);
    }
    // The representations differ, so their validators must too.
    let (_, br, _) = get(&app, "/login", Some("br")).await;
    let (_, plain, _) = get(&app, "/login", None).await;
    assert_ne!(header(&br, "etag"), header(&plain, "etag"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn robots_txt_is_a_real_file_and_missing_assets_are_404() {
    let app = spa_app().await;
    let (status, headers, bytes) = get(&app, "/robots.txt", Some("gzip, br")).await;
    assert_eq!(status, 200);
    assert!(bytes.starts_with(b"User-agent: *"));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    // No compressed copy: nothing to negotiate.
    assert_eq!(header(&headers, "content-encoding"), None);
    assert_eq!(header(&headers, "vary"), None);
    assert_eq!(
        header(&headers, "cache-control"),
        Some("no-cache"),
        "a name without a content hash must be revalidated"
    );

    // A file name that is not there (an old build's wasm, a typo) is not a client route:
    // answering index.html would hand the browser HTML as wasm or script.
    for path in [
        "/phonereg-frontend-0123456789abcdef_bg.wasm",
        "/favicon.ico",
    ] {
        let (status, headers, _) = get(&app, path, Some("br")).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/problem+json"),
            "{path}"
        );
    }
}

on_both_databases!(sessions_carry_a_hint_cookie_the_spa_can_read);

/// `phonereg_session=1`: readable by the page (not HttpOnly), no secret in it, living
/// exactly as long as the refresh cookie, so the SPA asks `/auth/refresh` only when a
/// refresh cookie may exist (a visitor without one would otherwise log a 401).
async fn sessions_carry_a_hint_cookie_the_spa_can_read(b: Backend) {
    let app = spawn_app_with(b, |_| {}).await;
    let ttl = app.state.refresh_ttl();
    // The cookie's parts, in any order.
    let hint_of = |headers: &HeaderMap| -> Option<BTreeSet<String>> {
        headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("phonereg_session="))
            .map(|c| c.split("; ").map(str::to_owned).collect())
    };
    let expected: BTreeSet<String> = [
        "phonereg_session=1".to_owned(),
        "Path=/".to_owned(),
        "SameSite=Strict".to_owned(),
        format!("Max-Age={ttl}"),
    ]
    .into();
    let email = "hint@example.com";
    let r = app
        .register(json!({"email": email, "password": PASSWORD, "full_name": "H"}))
        .await
        .expect(201);
    assert_eq!(hint_of(&r.headers).as_ref(), Some(&expected));
    let refresh_token = r.body["refresh_token"].as_str().expect("token").to_owned();

    let r = app.login(email, PASSWORD).await.expect(200);
    assert_eq!(hint_of(&r.headers).as_ref(), Some(&expected));

    let r = app.refresh(&refresh_token).await.expect(200);
    assert_eq!(hint_of(&r.headers).as_ref(), Some(&expected));

    let p = "/api/v1/auth/logout";
    let r = app
        .call(
            Method::POST,
            p,
            p,
            None,
            Some(json!({"refresh_token": r.body["refresh_token"]})),
        )
        .await
        .expect(204);
    let cleared = hint_of(&r.headers).expect("logout clears the hint");
    for part in ["phonereg_session=", "Path=/", "Max-Age=0"] {
        assert!(cleared.contains(part), "{part} in {cleared:?}");
    }
}

/// The SPA offers a link to the development inbox only where there is one, and learns
/// that from a header on the API's answers instead of asking `/api/v1/dev/sms` (whose
/// 404 elsewhere would be an error in every visitor's console).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_say_where_the_development_inbox_is_when_there_is_one() {
    let console = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let p = "/api/v1/dev/sms";
    let r = console
        .call(Method::GET, p, p, None, None)
        .await
        .expect(200);
    assert_eq!(r.header("x-dev-inbox"), Some(p));
    let r = console
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            "/api/v1/auth/refresh",
            None,
            None,
        )
        .await
        .expect(401);
    assert_eq!(
        r.header("x-dev-inbox"),
        Some(p),
        "on every answer, errors too"
    );

    let (twilio, _fake) = spawn_twilio_app(Backend::Sqlite, |_| {}).await;
    let r = twilio
        .call(
            Method::POST,
            "/api/v1/auth/refresh",
            "/api/v1/auth/refresh",
            None,
            None,
        )
        .await
        .expect(401);
    assert_eq!(r.header("x-dev-inbox"), None);
}
