use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, check_against_spec, on_both_databases, spawn_app};

on_both_databases!(protocol_errors_are_problem_json);

async fn protocol_errors_are_problem_json(b: Backend) {
    let app = spawn_app(b).await;
    let url = format!("{}/api/v1/auth/register", app.address);
    let register = "/api/v1/auth/register";
    let problem = |r: &crate::helpers::Resp| {
        assert_eq!(
            r.header("content-type"),
            Some("application/problem+json"),
            "{}",
            r.body
        );
        assert_eq!(r.body["status"], r.status.as_u16());
        for key in ["type", "title", "detail"] {
            assert!(r.body[key].is_string(), "problem lacks {key}: {}", r.body);
        }
    };
    let send = |req: reqwest::RequestBuilder| app.finish(req);

    let r = send(
        app.client
            .post(&url)
            .header("content-type", "application/json")
            .body("{\"email\": "),
    )
    .await
    .expect(400);
    problem(&r);
    check_against_spec(&Method::POST, register, &r);

    let r = send(
        app.client
            .post(&url)
            .header("content-type", "text/plain")
            .body("{}"),
    )
    .await
    .expect(415);
    problem(&r);
    check_against_spec(&Method::POST, register, &r);

    let big =
        json!({"email": "a@example.com", "password": "x".repeat(17 * 1024), "full_name": "A"});
    let r = send(app.client.post(&url).json(&big)).await.expect(413);
    problem(&r);
    check_against_spec(&Method::POST, register, &r);

    let r = send(app.client.post(&url).json(&json!(["not", "an", "object"])))
        .await
        .expect(422);
    problem(&r);
    let r = send(
        app.client
            .post(&url)
            .json(&json!({"email": null, "password": 5, "full_name": "A"})),
    )
    .await
    .expect(422);
    problem(&r);
    assert!(r.body["errors"].is_object());

    let r = send(app.client.get(&url)).await.expect(405);
    problem(&r);
    assert_eq!(r.header("allow"), Some("POST"));
    let r = send(
        app.client
            .put(format!("{}/api/v1/users/me/phone-numbers/1", app.address)),
    )
    .await
    .expect(405);
    assert_eq!(r.header("allow"), Some("GET, PATCH, DELETE"));

    let r = send(app.client.get(format!("{}/api/v1/nope", app.address)))
        .await
        .expect(404);
    problem(&r);
    let r = send(app.client.get(format!("{}/api/v2/users/me", app.address)))
        .await
        .expect(404);
    problem(&r);
}
