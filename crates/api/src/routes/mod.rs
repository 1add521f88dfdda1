//! HTTP routes. [`table`] is the single list of endpoints: the server registers exactly
//! these, and the OpenAPI test compares them with `openapi.yaml`.

pub mod auth;
pub mod dto;
pub mod health;
pub mod phone_numbers;
pub mod users;

use actix_web::{HttpResponse, Route, http::Method, web};

use crate::error::ApiError;

/// One path and the methods it answers.
pub struct Endpoint {
    pub path: &'static str,
    pub routes: Vec<(Method, fn() -> Route)>,
}

macro_rules! endpoint {
    ($path:literal, $($method:ident => $handler:path),+ $(,)?) => {
        Endpoint {
            path: $path,
            routes: vec![$((
                Method::$method,
                (|| web::method(Method::$method).to($handler)) as fn() -> Route,
            )),+],
        }
    };
}

pub fn table() -> Vec<Endpoint> {
    vec![
        endpoint!("/api/v1/auth/register", POST => auth::register),
        endpoint!("/api/v1/auth/login", POST => auth::login),
        endpoint!("/api/v1/auth/refresh", POST => auth::refresh),
        endpoint!("/api/v1/auth/logout", POST => auth::logout),
        endpoint!("/api/v1/users/me", GET => users::get_me),
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
        endpoint!("/api/openapi.yaml", GET => health::openapi),
        endpoint!("/healthz", GET => health::healthz),
        endpoint!("/readyz", GET => health::readyz),
        endpoint!("/metrics", GET => health::metrics),
    ]
}

/// Registers every endpoint; other methods on a known path get 405 with `Allow`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    for endpoint in table() {
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

/// Anything unrouted.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound)
}
