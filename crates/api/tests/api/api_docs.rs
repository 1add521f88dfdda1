//! The API reference at `/api/docs` (SPEC §14): served from the binary, everything it
//! loads from this origin, cached by content hash, compressed like the SPA. Whether
//! Swagger UI really renders under the page's CSP is tests/e2e/specs/api_docs.test.js.

use reqwest::header::HeaderMap;

use crate::helpers::{Backend, TestApp, spawn_app};

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

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// Every `src="…"` and `href="…"` in the page.
fn links(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1))
        .filter_map(|rest| rest.split_once('"').map(|(url, _)| url))
        .collect()
}

#[tokio::test]
async fn the_reference_page_loads_everything_from_this_origin() {
    // test.sh and release builds set this and embed the viewer; a plain `cargo test`
    // checks the fallback page instead.
    if std::env::var("PHONEREG_REQUIRE_API_DOCS").is_ok_and(|v| !v.is_empty() && v != "0") {
        assert!(phonereg_api_docs::BUNDLED, "Swagger UI is not compiled in");
    }
    let app = spawn_app(Backend::Sqlite).await;
    let (status, headers, body) = get(&app, "/api/docs", None).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&headers, "cache-control"), "no-cache");
    let csp = header(&headers, "content-security-policy");
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self';"),
        "{csp}"
    );
    assert!(!csp.contains("http"), "the CSP names another origin: {csp}");
    let html = String::from_utf8(body).expect("utf-8");
    assert!(
        !html.contains("//"),
        "the page names another origin:\n{html}"
    );

    let links = links(&html);
    // The empty icon keeps browsers from asking for /favicon.ico.
    assert!(links.contains(&"data:,"), "{html}");
    assert!(links.contains(&"/api/openapi.yaml"), "{html}");
    let assets: Vec<_> = links
        .iter()
        .filter(|l| l.starts_with("/api/docs/"))
        .collect();
    assert_eq!(assets.len() + 2, links.len(), "{links:?}");
    if !phonereg_api_docs::BUNDLED {
        assert!(assets.is_empty(), "{html}");
        return;
    }
    assert_eq!(
        assets.len(),
        4,
        "two Swagger UI files and two of ours: {assets:?}"
    );
    for url in assets {
        let (status, headers, plain) = get(&app, url, None).await;
        assert_eq!(status, 200, "{url}");
        assert_eq!(
            header(&headers, "cache-control"),
            "public, max-age=31536000, immutable",
            "{url}"
        );
        assert_eq!(header(&headers, "content-encoding"), "", "{url}");
        let expected = if url.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        assert!(
            header(&headers, "content-type").starts_with(expected),
            "{url}"
        );
        assert!(!plain.is_empty(), "{url}");
        if url.contains("swagger-ui-bundle") {
            let text = String::from_utf8_lossy(&plain);
            assert!(text.contains("SwaggerUIBundle"), "not Swagger UI: {url}");
            // Sent compressed to a browser, as the SPA is: the bundle is 1.8 MB as built.
            let (_, headers, brotli) = get(&app, url, Some("gzip, deflate, br")).await;
            assert_eq!(header(&headers, "content-encoding"), "br");
            assert_eq!(header(&headers, "vary"), "accept-encoding");
            assert!(
                brotli.len() < plain.len() / 3,
                "{} of {}",
                brotli.len(),
                plain.len()
            );
            let (_, headers, gzip) = get(&app, url, Some("gzip")).await;
            assert_eq!(header(&headers, "content-encoding"), "gzip");
            assert_eq!(&gzip[..2], [0x1f, 0x8b], "a gzip stream");
        }
    }
}

#[tokio::test]
async fn only_the_names_the_page_links_to_are_served() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in [
        "/api/docs/swagger-ui-bundle.js",
        "/api/docs/swagger-ui-bundle-0000000000000000.js",
        "/api/docs/..%2F..%2FCargo.toml",
        "/api/docs/index.html",
    ] {
        let (status, headers, _) = get(&app, path, None).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(
            header(&headers, "content-type"),
            "application/problem+json",
            "{path}"
        );
    }
}
