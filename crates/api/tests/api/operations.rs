use reqwest::Method;

use crate::helpers::{Backend, on_both_databases, spawn_app};

on_both_databases!(health_readiness_and_metrics);

async fn health_readiness_and_metrics(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .call(Method::GET, "/healthz", "/healthz", None, None)
        .await
        .expect(200);
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let r = app
        .call(Method::GET, "/readyz", "/readyz", None, None)
        .await
        .expect(200);
    let backend = if b == Backend::Sqlite {
        "sqlite"
    } else {
        "postgres"
    };
    assert_eq!(r.body["database"], backend);
    app.signup().await;
    let r = app
        .client
        .get(format!("{}/metrics", app.address))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.headers()["x-request-id"], "trace-me-1");
    let text = r.text().await.expect("text");
    assert!(
        text.contains(r#"phonereg_http_requests_total{method="POST",route="/api/v1/auth/register",status="201"}"#),
        "{text}"
    );
    assert!(text.contains("phonereg_http_request_duration_seconds_bucket"));
    let r = app
        .call(
            Method::GET,
            "/api/openapi.yaml",
            "/api/openapi.yaml",
            None,
            None,
        )
        .await
        .expect(200);
    assert!(
        r.body
            .as_str()
            .is_some_and(|s| s.starts_with("openapi: 3.1"))
    );
}

on_both_databases!(serves_the_spa_with_client_route_fallback);

async fn serves_the_spa_with_client_route_fallback(b: Backend) {
    let dir = std::env::temp_dir().join(format!("phonereg-dist-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).expect("dist");
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>PhoneReg</title>",
    )
    .expect("index");
    std::fs::write(dir.join("app-1a2b3c4d5e6f7a8b_bg.wasm"), b"\0asm").expect("asset");
    let static_dir = dir.clone();
    let app = crate::helpers::spawn_app_with(b, move |c| c.static_dir = static_dir).await;
    let get = |p: &str| app.client.get(format!("{}{p}", app.address)).send();
    for route in ["/", "/register", "/dashboard/phone-management"] {
        let r = get(route).await.expect("sent");
        assert_eq!(r.status(), 200, "{route}");
        assert_eq!(r.headers()["cache-control"], "no-cache", "{route}");
        assert!(
            r.text().await.expect("text").contains("<title>PhoneReg"),
            "{route}"
        );
    }
    let r = get("/app-1a2b3c4d5e6f7a8b_bg.wasm").await.expect("sent");
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("immutable")
    );
    let r = get("/api/v1/unknown").await.expect("sent");
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = get("/..%2f..%2fetc/passwd").await.expect("sent");
    assert!(
        !r.text().await.expect("text").contains("root:"),
        "no escape from STATIC_DIR"
    );
}
