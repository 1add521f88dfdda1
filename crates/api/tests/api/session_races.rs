//! SPEC §11 "Sessions end when they are ended": a password reset, a logout and a reuse
//! revocation also end a refresh token rotated at the same moment. A thief refreshes a
//! stolen token in a tight loop while the owner ends the session; afterwards no token of
//! the family may work. On PostgreSQL under READ COMMITTED the revoking UPDATE did not see
//! the row a concurrent rotation inserted, and the thief's newest token lived on.

use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, PASSWORD, TestApp, on_both_databases, spawn_app, spawn_app_with};

const OWNED: &str = "+14155550187";

on_both_databases!(
    a_password_reset_ends_a_token_rotated_at_the_same_moment,
    a_logout_ends_a_token_rotated_at_the_same_moment,
    a_reuse_revocation_ends_a_token_rotated_at_the_same_moment,
);

/// Refreshes `token` until told to stop or refused; the newest token it holds.
async fn thief(app: &TestApp, mut token: String, stop: &AtomicBool) -> String {
    while !stop.load(Ordering::Relaxed) {
        let r = app.refresh(&token).await;
        if r.status != 200 {
            break;
        }
        token = r.body["refresh_token"].as_str().expect("token").to_owned();
    }
    token
}

/// Runs the thief beside `end` (which ends the session); whether the thief's newest token
/// still refreshes afterwards, so a caller can count the rounds the thief won.
async fn race(app: &TestApp, stolen: String, end: impl Future<Output = ()>) -> bool {
    let stop = AtomicBool::new(false);
    let ender = async {
        // Let the loop get going so the ending meets rotations in flight.
        tokio::time::sleep(Duration::from_millis(15)).await;
        end.await;
        stop.store(true, Ordering::Relaxed);
    };
    let (newest, ()) = tokio::join!(thief(app, stolen, &stop), ender);
    app.refresh(&newest).await.status == 200
}

async fn logout(app: &TestApp, token: &str) {
    app.call(
        Method::POST,
        "/api/v1/auth/logout",
        "/api/v1/auth/logout",
        None,
        Some(json!({"refresh_token": token})),
    )
    .await
    .expect(204);
}

async fn a_password_reset_ends_a_token_rotated_at_the_same_moment(b: Backend) {
    let app = spawn_app(b).await;
    let email = "owner@example.com";
    let r = app
        .register(json!({"email": email, "password": PASSWORD, "full_name": "Owner", "phone_number": OWNED}))
        .await
        .expect(201);
    let access = r.body["access_token"].as_str().expect("token").to_owned();
    let id = r.body["user"]["phone"]["id"].as_i64().expect("id");
    let code = app.code_sent_to(OWNED).await;
    app.verify(&access, id, &code).await.expect(200);

    let mut password = PASSWORD.to_owned();
    let mut survivors = 0;
    for round in 0..20 {
        // Past every per-hour limit on starts, so each round can ask for a code.
        app.state.clock.advance(3_601);
        let stolen = app.login(email, &password).await.expect(200).body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        app.call(
            Method::POST,
            "/api/v1/auth/sms/start",
            "/api/v1/auth/sms/start",
            None,
            Some(json!({"phone_number": OWNED, "purpose": "password_reset"})),
        )
        .await
        .expect(202);
        let code = app.code_sent_to(OWNED).await;
        let next = format!("a brand new passphrase {round}");
        let reset = async {
            app.call(
                Method::POST,
                "/api/v1/auth/password-reset",
                "/api/v1/auth/password-reset",
                None,
                Some(json!({"phone_number": OWNED, "code": code, "new_password": next})),
            )
            .await
            .expect(204);
        };
        survivors += usize::from(race(&app, stolen, reset).await);
        password = next;
    }
    assert_eq!(
        survivors, 0,
        "rounds in which a thief's token outlived the reset"
    );
}

async fn a_logout_ends_a_token_rotated_at_the_same_moment(b: Backend) {
    let app = spawn_app(b).await;
    let email = "logout@example.com";
    app.register(json!({"email": email, "password": PASSWORD, "full_name": "L"}))
        .await
        .expect(201);
    let mut survivors = 0;
    for _ in 0..20 {
        let owners = app.login(email, PASSWORD).await.expect(200).body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        // The thief holds the owner's token too; the owner logs out with it.
        let stolen = owners.clone();
        survivors += usize::from(race(&app, stolen, logout(&app, &owners)).await);
    }
    assert_eq!(
        survivors, 0,
        "rounds in which a thief's token outlived the logout"
    );
}

async fn a_reuse_revocation_ends_a_token_rotated_at_the_same_moment(b: Backend) {
    // No grace: presenting a rotated token at once is reuse and revokes the family.
    let app = spawn_app_with(b, |c| c.refresh_reuse_grace = 0).await;
    let email = "reuse@example.com";
    app.register(json!({"email": email, "password": PASSWORD, "full_name": "R"}))
        .await
        .expect(201);
    let mut survivors = 0;
    for _ in 0..20 {
        let first = app.login(email, PASSWORD).await.expect(200).body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        let second = app.refresh(&first).await.expect(200).body["refresh_token"]
            .as_str()
            .expect("token")
            .to_owned();
        app.state.clock.advance(1);
        let reuse = async {
            app.refresh(&first).await.expect(401);
        };
        survivors += usize::from(race(&app, second, reuse).await);
    }
    assert_eq!(
        survivors, 0,
        "rounds in which a token outlived the reuse revocation"
    );
}
