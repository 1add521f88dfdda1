use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, on_both_databases, spawn_app, spawn_app_with};

const US_MOBILE: &str = "+1 415 555 2671";
const US_E164: &str = "+14155552671";
const UK_MOBILE: &str = "+44 7400 123456";

on_both_databases!(
    add_get_and_list_a_phone,
    second_phone_is_409,
    concurrent_second_phone_posts_let_one_through,
    other_accounts_phones_are_404,
    numbers_that_cannot_get_sms_are_422,
    patch_replaces_an_unverified_number_at_once,
    patch_of_a_verified_number_waits_in_pending,
    number_verified_elsewhere_answers_like_a_free_one_until_verify,
    delete_frees_the_number_and_hides_the_record,
    lookup_reports_validity_and_is_limited,
);

async fn add_get_and_list_a_phone(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    assert_eq!(
        app.list_phones(&token).await.expect(200).body["items"],
        json!([])
    );
    let r = app.add_phone(&token, "(415) 555-2671").await.expect(201);
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(
        r.header("location"),
        Some(format!("/api/v1/users/me/phone-numbers/{id}").as_str())
    );
    assert_eq!(r.body["e164"], "+14155552671");
    assert_eq!(r.body["national"], "(415) 555-2671");
    assert_eq!(r.body["country"], "US");
    assert_eq!(r.body["status"], "unverified");
    assert_eq!(r.body["sms_opted_out"], false);
    assert_eq!(r.body["verification"]["attempts_remaining"], 5);
    let mut stored = r.body.clone();
    stored
        .as_object_mut()
        .expect("object")
        .remove("verification");
    let got = app.phone(Method::GET, &token, id, None).await.expect(200);
    assert_eq!(
        got.body, stored,
        "GET shows the record without the code state"
    );
    assert_eq!(
        app.list_phones(&token).await.expect(200).body["items"],
        json!([stored])
    );
    assert_eq!(app.me(&token).await.expect(200).body["phone"], stored);
}

async fn second_phone_is_409(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    app.add_phone(&token, US_MOBILE).await.expect(201);
    let r = app.add_phone(&token, UK_MOBILE).await.expect(409);
    assert!(
        r.body["detail"]
            .as_str()
            .expect("detail")
            .contains("replace")
    );
}

async fn concurrent_second_phone_posts_let_one_through(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let numbers: Vec<String> = (0..10).map(|i| format!("+1 415 555 26{i:02}")).collect();
    let results = join_all(numbers.iter().map(|n| app.add_phone(&token, n))).await;
    let statuses: Vec<u16> = results.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );
    assert_eq!(
        app.list_phones(&token).await.expect(200).body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

async fn other_accounts_phones_are_404(b: Backend) {
    let app = spawn_app(b).await;
    let (alice, _, _) = app.signup().await;
    let (mallory, _, _) = app.signup().await;
    let id = app.add_phone_id(&alice, US_MOBILE).await;
    app.phone(Method::GET, &mallory, id, None).await.expect(404);
    app.phone(
        Method::PATCH,
        &mallory,
        id,
        Some(json!({"phone_number": UK_MOBILE})),
    )
    .await
    .expect(404);
    app.phone(Method::DELETE, &mallory, id, None)
        .await
        .expect(404);
    app.history(&mallory, id).await.expect(404);
    app.phone(Method::GET, &alice, id + 1000, None)
        .await
        .expect(404);
    let r = app
        .call(
            Method::GET,
            "/api/v1/users/me/phone-numbers/{id}",
            "/api/v1/users/me/phone-numbers/abc",
            Some(&alice),
            None,
        )
        .await
        .expect(404);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    // Alice's record is untouched.
    app.phone(Method::GET, &alice, id, None).await.expect(200);
}

async fn numbers_that_cannot_get_sms_are_422(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sms_allowed_countries = phonereg_api::config::Countries(vec!["US".into(), "CA".into()])
    })
    .await;
    let (token, _, _) = app.signup().await;
    let cases = [
        ("+1 800 555 0199", "toll-free"),
        ("+44 7400 123456", "only be sent to numbers from US, CA"),
        ("+1 555", "not a valid phone number"),
    ];
    for (number, expected) in cases {
        let r = app.add_phone(&token, number).await.expect(422);
        let msg = r.field_errors("phone_number").join(" ");
        assert!(msg.contains(expected), "{number}: {msg}");
    }
    let p = "/api/v1/users/me/phone-numbers";
    let r = app
        .call(
            Method::POST,
            p,
            p,
            Some(&token),
            Some(json!({"phone_number": "4155552671", "phone_region": "ZZ"})),
        )
        .await
        .expect(422);
    assert!(!r.field_errors("phone_region").is_empty());
    app.call(
        Method::POST,
        p,
        p,
        Some(&token),
        Some(json!({"phone_number": "4155552671", "phone_region": "us"})),
    )
    .await
    .expect(201);
}

async fn patch_replaces_an_unverified_number_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": "7400 123456", "phone_region": "GB"})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["id"], id);
    assert_eq!(r.body["e164"], "+447400123456");
    assert_eq!(r.body["status"], "unverified");
    assert!(r.body["pending_e164"].is_null());
    let kinds: Vec<_> = app.history(&token, id).await.expect(200).body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["kind"].as_str().expect("kind").to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["code_sent", "changed", "code_sent", "added"],
        "newest first"
    );
}

async fn patch_of_a_verified_number_waits_in_pending(b: Backend) {
    let app = spawn_app(b).await;
    let (token, _, _) = app.signup().await;
    let id = app.add_phone_id(&token, US_MOBILE).await;
    app.verify_by_sms(&token, id).await;
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": UK_MOBILE})),
        )
        .await
        .expect(200);
    assert_eq!(
        r.body["e164"], "+14155552671",
        "the verified number stays in force"
    );
    assert_eq!(r.body["status"], "verified");
    assert_eq!(r.body["pending_e164"], "+447400123456");
    // A second PATCH replaces the pending number; going back to the current one cancels.
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": "+1 415 555 2672"})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["pending_e164"], "+14155552672");
    let r = app
        .phone(
            Method::PATCH,
            &token,
            id,
            Some(json!({"phone_number": US_MOBILE})),
        )
        .await
        .expect(200);
    assert!(r.body["pending_e164"].is_null());
    assert_eq!(r.body["status"], "verified");
}

/// SPEC §10: no oracle before proof of possession. Register, POST and PATCH answer for a
/// number verified on another account exactly as for a free one; only the right code at
/// verify says 409 `phone-taken`, and the number stays with its account.
async fn number_verified_elsewhere_answers_like_a_free_one_until_verify(b: Backend) {
    let app = spawn_app(b).await;
    let (alice, _, _) = app.signup().await;
    let id = app.add_phone_id(&alice, US_MOBILE).await;
    // Unverified, the number does not belong to anyone yet.
    let (bob, _, _) = app.signup().await;
    let bob_id = app.add_phone_id(&bob, US_MOBILE).await;
    app.phone(Method::DELETE, &bob, bob_id, None)
        .await
        .expect(204);
    app.verify_by_sms(&alice, id).await;

    // POST: 201 with a code, like a free number.
    let taken = app.add_phone(&bob, US_MOBILE).await.expect(201);
    let bob_id = taken.body["id"].as_i64().expect("id");
    assert_eq!(taken.body["verification"]["sent"], true);
    let (free_token, _, _) = app.signup().await;
    let free = app.add_phone(&free_token, "+14155552672").await.expect(201);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&taken.body), keys(&free.body), "same shape");
    // The right code for it: 409 phone-taken, and Alice keeps it.
    let code = app.code_sent_to(US_E164).await;
    let r = app.verify(&bob, bob_id, &code).await.expect(409);
    assert!(
        r.body["type"]
            .as_str()
            .expect("type")
            .ends_with("/problems/phone-taken")
    );
    assert!(
        r.body["detail"]
            .as_str()
            .expect("detail")
            .contains("sign in with a code")
    );
    let alice_phone = app.phone(Method::GET, &alice, id, None).await.expect(200);
    assert_eq!(alice_phone.body["status"], "verified");
    assert_eq!(alice_phone.body["e164"], US_E164);

    // PATCH to it: 200 with a code, like a free number.
    let (carl, _, _) = app.signup().await;
    let carl_id = app.add_phone_id(&carl, UK_MOBILE).await;
    let r = app
        .phone(
            Method::PATCH,
            &carl,
            carl_id,
            Some(json!({"phone_number": US_MOBILE})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["e164"], US_E164);

    // Register with it: 201, like a free number (an hour on: the number's own cap of
    // codes per hour is spent by now, for taken and free numbers alike).
    app.state.clock.advance(3600);
    let r = app
        .register(json!({"email": "carol@example.com", "password": "correct horse", "full_name": "C", "phone_number": US_MOBILE}))
        .await
        .expect(201);
    assert_eq!(r.body["verification"]["sent"], true);
    assert_eq!(r.body["user"]["phone"]["status"], "unverified");
}

async fn delete_frees_the_number_and_hides_the_record(b: Backend) {
    let app = spawn_app(b).await;
    let (alice, _, _) = app.signup().await;
    let id = app.add_phone_id(&alice, US_MOBILE).await;
    app.verify_by_sms(&alice, id).await;
    let r = app
        .phone(Method::DELETE, &alice, id, None)
        .await
        .expect(204);
    assert!(r.body.is_null());
    app.phone(Method::GET, &alice, id, None).await.expect(404);
    app.history(&alice, id).await.expect(404);
    app.phone(Method::DELETE, &alice, id, None)
        .await
        .expect(404);
    let (bob, _, _) = app.signup().await;
    let bob_id = app.add_phone_id(&bob, US_MOBILE).await;
    assert_ne!(bob_id, id, "ids are never reused");
    // Alice may add a number again; her old id stays gone.
    let new_id = app.add_phone_id(&alice, UK_MOBILE).await;
    assert_ne!(new_id, id);
    app.phone(Method::GET, &alice, id, None).await.expect(404);
}

async fn lookup_reports_validity_and_is_limited(b: Backend) {
    let app = &spawn_app_with(b, |c| c.lookup_per_ip_per_minute = 4).await;
    let lookup = |q: &str| {
        let path = format!("/api/v1/phone-numbers/parse{q}");
        async move {
            app.call(
                Method::GET,
                "/api/v1/phone-numbers/parse",
                &path,
                None,
                None,
            )
            .await
        }
    };
    let r = lookup("?number=07400%20123456&region=gb").await.expect(200);
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["e164"], "+447400123456");
    assert_eq!(r.body["international"], "+44 7400 123456");
    assert_eq!(r.body["sms_capable"], true);
    assert!(r.body["message"].is_null());
    let r = lookup("?number=%2B44%2020%207946%200958").await.expect(200);
    assert_eq!(r.body["valid"], true);
    assert_eq!(r.body["number_type"], "fixed_line");
    assert_eq!(r.body["sms_capable"], false);
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains("landline")
    );
    let r = lookup("?number=12").await.expect(200);
    assert_eq!(r.body["valid"], false);
    assert!(r.body["e164"].is_null());
    assert!(r.body["message"].is_string());
    let r = lookup("").await.expect(422);
    assert_eq!(r.field_errors("number"), vec!["is required"]);
    lookup("?number=4155552671").await.expect(200);
    let r = lookup("?number=4155552671").await.expect(429);
    assert!(r.header("retry-after").is_some());
    // The window is the injected clock's, like every other limit's.
    app.state.clock.advance(60);
    lookup("?number=4155552671").await.expect(200);
}
