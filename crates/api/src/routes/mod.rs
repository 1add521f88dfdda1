//! HTTP routes. [`table`] is the single list of endpoints: the server registers exactly
//! these, and the OpenAPI test compares them with `openapi.yaml`.

pub mod admin;
pub mod admin_providers;
pub mod admin_webhooks;
pub mod api_docs;
pub mod audit_events;
pub mod auth;
pub mod client_config;
pub mod dev;
pub mod dto;
pub mod event_stream;
pub mod events;
pub mod health;
pub mod origin;
pub mod phone_numbers;
pub mod spa;
pub mod support;
pub mod users;
pub mod webhooks;

use actix_web::{HttpResponse, Route, http::Method, web};

use crate::error::ApiError;

/// One path and the methods it answers.
pub struct Endpoint {
    pub path: &'static str,
    pub routes: Vec<(Method, fn() -> Route)>,
    /// Served only with the console SMS provider (the development inbox).
    pub dev_only: bool,
}

macro_rules! endpoint {
    ($path:literal, $($method:ident => $handler:path),+ $(,)?) => {
        Endpoint {
            path: $path,
            routes: vec![$((
                Method::$method,
                (|| web::method(Method::$method).to($handler)) as fn() -> Route,
            )),+],
            dev_only: false,
        }
    };
}

/// Long: one line per endpoint, so the whole API reads as one list.
pub fn table() -> Vec<Endpoint> {
    vec![
        endpoint!("/api/v1/config", GET => client_config::get_config),
        endpoint!("/api/v1/auth/register", POST => auth::register),
        endpoint!("/api/v1/auth/login", POST => auth::login),
        endpoint!("/api/v1/auth/refresh", POST => auth::refresh),
        endpoint!("/api/v1/auth/logout", POST => auth::logout),
        endpoint!("/api/v1/auth/login/verify", POST => auth::login_verify),
        endpoint!("/api/v1/auth/sms/start", POST => auth::sms_start),
        endpoint!("/api/v1/auth/sms/sign-in", POST => auth::sms_sign_in),
        endpoint!("/api/v1/auth/password-reset", POST => auth::password_reset),
        endpoint!("/api/v1/users/me", GET => users::get_me, DELETE => users::delete_me),
        endpoint!("/api/v1/users/me/two-factor", PUT => users::set_two_factor),
        endpoint!("/api/v1/users/me/two-factor/code", POST => users::send_two_factor_code),
        endpoint!("/api/v1/users/me/recovery-codes", POST => users::new_recovery_codes),
        endpoint!("/api/v1/users/me/security-events",
            GET => audit_events::list_my_security_events),
        endpoint!("/api/v1/users/me/events", GET => events::stream_events),
        endpoint!("/api/v1/users/me/events/ticket", POST => events::create_event_ticket),
        endpoint!("/api/v1/phone-numbers/parse", GET => phone_numbers::parse_phone_number),
        endpoint!("/api/v1/users/me/phone-numbers",
            GET => phone_numbers::list_phone_numbers,
            POST => phone_numbers::create_phone_number),
        endpoint!("/api/v1/users/me/phone-numbers/{id}",
            GET => phone_numbers::get_phone_number,
            PATCH => phone_numbers::update_phone_number,
            DELETE => phone_numbers::delete_phone_number),
        endpoint!("/api/v1/users/me/phone-numbers/{id}/history",
            GET => phone_numbers::get_phone_history),
        endpoint!("/api/v1/users/me/phone-numbers/{id}/verification",
            POST => phone_numbers::send_verification_code),
        endpoint!("/api/v1/users/me/phone-numbers/{id}/verify",
            POST => phone_numbers::verify_phone_number),
        endpoint!("/api/v1/users/me/phone-numbers/{id}/test-message",
            POST => phone_numbers::send_test_message),
        endpoint!("/api/v1/webhooks/twilio/status", POST => webhooks::twilio_status),
        endpoint!("/api/v1/webhooks/twilio/voice-status", POST => webhooks::twilio_voice_status),
        endpoint!("/api/v1/webhooks/sms/http/status", POST => webhooks::http_status),
        endpoint!("/api/v1/admin/sms/pauses", GET => admin::list_sms_pauses),
        endpoint!("/api/v1/admin/sms/pauses/{id}", DELETE => admin::lift_sms_pause),
        endpoint!("/api/v1/admin/sms/decisions", GET => admin::list_sms_decisions),
        endpoint!("/api/v1/admin/sms/providers", GET => admin_providers::list_providers),
        endpoint!("/api/v1/admin/sms/providers/{name}/disable",
            POST => admin_providers::disable_provider),
        endpoint!("/api/v1/admin/sms/providers/{name}/enable",
            POST => admin_providers::enable_provider),
        endpoint!("/api/v1/admin/audit-events", GET => audit_events::list_audit_events),
        endpoint!("/api/v1/admin/users", GET => support::find_users),
        endpoint!("/api/v1/admin/users/{id}",
            GET => support::get_user,
            DELETE => support::delete_user),
        endpoint!("/api/v1/admin/users/{id}/phone/release", POST => support::release_phone),
        endpoint!("/api/v1/admin/users/{id}/two-factor", PUT => support::set_two_factor),
        endpoint!("/api/v1/admin/users/{id}/sessions/revoke", POST => support::revoke_sessions),
        endpoint!("/api/v1/admin/users/{id}/unlock", POST => support::unlock),
        endpoint!("/api/v1/admin/webhooks",
            GET => admin_webhooks::list_webhooks,
            POST => admin_webhooks::create_webhook),
        endpoint!("/api/v1/admin/webhooks/{id}",
            GET => admin_webhooks::get_webhook,
            PATCH => admin_webhooks::update_webhook,
            DELETE => admin_webhooks::delete_webhook),
        endpoint!("/api/v1/admin/webhooks/{id}/rotate-secret",
            POST => admin_webhooks::rotate_webhook_secret),
        endpoint!("/api/v1/admin/webhooks/{id}/test", POST => admin_webhooks::test_webhook),
        endpoint!("/api/v1/admin/webhooks/{id}/deliveries",
            GET => admin_webhooks::list_webhook_deliveries),
        endpoint!("/api/v1/admin/webhooks/{id}/deliveries/{event_id}/redeliver",
            POST => admin_webhooks::redeliver_webhook),
        Endpoint {
            dev_only: true,
            ..endpoint!("/api/v1/dev/sms", GET => dev::list_dev_sms)
        },
        endpoint!("/api/openapi.yaml", GET => health::openapi),
        endpoint!("/api/docs", GET => api_docs::api_docs_page),
        endpoint!("/api/docs/{file}", GET => api_docs::api_docs_asset),
        endpoint!("/healthz", GET => health::healthz),
        endpoint!("/readyz", GET => health::readyz),
        endpoint!("/metrics", GET => health::metrics),
    ]
}

/// The admin API's paths, which `ADMIN_BIND` serves on a listener of their own.
pub const ADMIN_PREFIX: &str = "/api/v1/admin/";

/// Registers every endpoint; other methods on a known path get 405 with `Allow`.
/// Without `metrics`, `/metrics` is left out (it is served on `METRICS_BIND` instead);
/// without `admin`, the admin API (served on `ADMIN_BIND` instead).
pub fn configure(cfg: &mut web::ServiceConfig, dev_inbox: bool, metrics: bool, admin: bool) {
    register(
        cfg,
        table()
            .into_iter()
            .filter(|e| dev_inbox || !e.dev_only)
            .filter(|e| metrics || e.path != "/metrics")
            .filter(|e| admin || !e.path.starts_with(ADMIN_PREFIX)),
    );
}

/// Registers the admin API alone, for the `ADMIN_BIND` listener.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    register(
        cfg,
        table()
            .into_iter()
            .filter(|e| e.path.starts_with(ADMIN_PREFIX)),
    );
}

fn register(cfg: &mut web::ServiceConfig, endpoints: impl Iterator<Item = Endpoint>) {
    for endpoint in endpoints {
        let allow = endpoint
            .routes
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource = web::resource(endpoint.path);
        for (_, make) in &endpoint.routes {
            resource = resource.route(make());
        }
        resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed { allow }) }
        }));
        cfg.service(resource);
    }
}
