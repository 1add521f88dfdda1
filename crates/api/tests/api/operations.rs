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
