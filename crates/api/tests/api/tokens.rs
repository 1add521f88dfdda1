use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, JWT_SECRET, on_both_databases, spawn_app, spawn_app_with};

on_both_databases!(
    refresh_rotates_and_old_token_is_refused,
    reused_token_after_grace_revokes_the_family,
    concurrent_refreshes_of_one_token_let_one_through,
    refresh_and_logout_work_from_the_cookie,
    logout_revokes_only_that_session,
    bad_access_tokens_are_401,
);

async fn refresh_rotates_and_old_token_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let (_, first, user_id) = app.signup().await;
    let r = app.refresh(&first).await.expect(200);
    assert_eq!(r.body["user"]["id"], user_id);
    let second = r.body["refresh_token"].as_str().expect("token").to_owned();
    assert_ne!(second, first);
    app.me(r.body["access_token"].as_str().expect("token"))
        .await
        .expect(200);
    // Inside the grace period the old token is only refused; the new one still works.
    app.refresh(&first).await.expect(401);
    app.refresh(&second).await.expect(200);
    app.refresh("not-a-token").await.expect(401);
}

async fn reused_token_after_grace_revokes_the_family(b: Backend) {
    let app = spawn_app_with(b, |c| c.refresh_reuse_grace = 0).await;
    let (_, first, _) = app.signup().await;
    let second = app.refresh(&first).await.expect(200).body["refresh_token"]
        .as_str()
        .expect("token")
        .to_owned();
    // Step past the (zero) grace.
    app.state.clock.advance(1);
    app.refresh(&first).await.expect(401);
    // The whole family is gone, including the newest token.
    app.refresh(&second).await.expect(401);
}

async fn concurrent_refreshes_of_one_token_let_one_through(b: Backend) {
    let app = spawn_app(b).await;
    let (_, token, _) = app.signup().await;
    let results = join_all((0..8).map(|_| app.refresh(&token))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(results.iter().all(|r| r.status == 200 || r.status == 401));
}

async fn refresh_and_logout_work_from_the_cookie(b: Backend) {
    let app = spawn_app(b).await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .cookie_store(true)
        .build()
        .expect("client");
    let url = |p: &str| format!("{}{p}", app.address);
    let res = client
        .post(url("/api/v1/auth/register"))
        .json(&json!({"email": "c@example.com", "password": "correct horse", "full_name": "C"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    // The SPA sends no body at all: the HttpOnly cookie carries the token.
    let refreshed = app
        .finish(client.post(url("/api/v1/auth/refresh")))
        .await
        .expect(200);
    crate::helpers::check_against_spec(&Method::POST, "/api/v1/auth/refresh", &refreshed);
    let logout = app
        .finish(client.post(url("/api/v1/auth/logout")))
        .await
        .expect(204);
    let cleared = logout.header("set-cookie").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // Answered from the cookie, so the new token is only in the new cookie.
    let set = refreshed.header("set-cookie").expect("new cookie");
    let token = set
        .strip_prefix("phonereg_refresh=")
        .and_then(|v| v.split(';').next())
        .expect("cookie value");
    app.refresh(token).await.expect(401);
}

async fn logout_revokes_only_that_session(b: Backend) {
    let app = spawn_app(b).await;
    let (access, laptop, _) = app.signup().await;
    let me = app.me(&access).await.expect(200);
    let email = me.body["email"].as_str().expect("email");
    let phone = app.login(email, crate::helpers::PASSWORD).await.expect(200);
    let phone_refresh = phone.body["refresh_token"].as_str().expect("token");
    let r = app
        .call(
            Method::POST,
            "/api/v1/auth/logout",
            "/api/v1/auth/logout",
            None,
            Some(json!({"refresh_token": phone_refresh})),
        )
        .await
        .expect(204);
    assert!(r.body.is_null());
    app.refresh(phone_refresh).await.expect(401);
    // The other session lives on.
    app.refresh(&laptop).await.expect(200);
    // Logging out twice is fine.
    app.call(
        Method::POST,
        "/api/v1/auth/logout",
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": phone_refresh})),
    )
    .await
    .expect(204);
}

fn sign(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

async fn bad_access_tokens_are_401(b: Backend) {
    let app = spawn_app(b).await;
    let (good, _, user_id) = app.signup().await;
    let now = chrono::Utc::now().timestamp();
    let claims = |iat: i64, exp: i64, iss: &str, aud: &str| json!({"sub": user_id.to_string(), "iat": iat, "exp": exp, "iss": iss, "aud": aud, "jti": "x"});
    // Our own signer agrees with the server, so the failures below are the claims' fault.
    app.me(&sign(
        claims(now, now + 60, "phonereg", "phonereg-api"),
        JWT_SECRET,
    ))
    .await
    .expect(200);

    let (head, rest) = good.split_once('.').expect("jwt");
    let (payload, signature) = rest.split_once('.').expect("jwt");
    let mut sig = signature.to_owned();
    let last = if sig.ends_with('A') { 'B' } else { 'A' };
    sig.pop();
    sig.push(last);
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims(now, now + 60, "phonereg", "phonereg-api"),
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign");
    let cases = [
        (format!("{head}.{payload}.{sig}"), "tampered signature"),
        (format!("{none_header}.{payload}."), "alg none"),
        (hs512, "another algorithm"),
        (
            sign(
                claims(now - 1000, now - 100, "phonereg", "phonereg-api"),
                JWT_SECRET,
            ),
            "expired beyond leeway",
        ),
        (
            sign(
                claims(now, now + 60, "someone-else", "phonereg-api"),
                JWT_SECRET,
            ),
            "wrong issuer",
        ),
        (
            sign(claims(now, now + 60, "phonereg", "other-api"), JWT_SECRET),
            "wrong audience",
        ),
        (
            sign(
                claims(now, now + 60, "phonereg", "phonereg-api"),
                "another secret entirely!!",
            ),
            "wrong key",
        ),
        ("garbage".to_owned(), "not a JWT"),
    ];
    for (token, why) in cases {
        let r = app.me(&token).await;
        assert_eq!(r.status, 401, "{why} was accepted");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{why}");
    }
    let p = "/api/v1/users/me";
    app.call(Method::GET, p, p, None, None).await.expect(401);
    let p = "/api/v1/users/me/phone-numbers";
    app.call(Method::GET, p, p, None, None).await.expect(401);
}
