//! Request extractors: JSON bodies with field-level errors, the bearer token, the client IP.

use std::{future::Future, net::IpAddr, pin::Pin};

use actix_web::{
    FromRequest, HttpRequest,
    dev::Payload,
    error::{JsonPayloadError, PathError, QueryPayloadError},
    http::header,
    web,
};
use futures_util::future::{Ready, ready};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{error::ApiError, state::AppState};

/// Largest accepted body (JSON and form), SPEC §7.
pub const BODY_LIMIT: usize = 16 * 1024;

/// A JSON body deserialised into `T`. Syntax errors are 400; a missing or wrongly typed
/// field is a 422 naming the field.
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let value = body.await?.into_inner();
            Ok(ValidJson(from_value(value)?))
        })
    }
}

/// A JSON body that may be absent altogether (no content type, no bytes): for
/// `/auth/refresh` and `/auth/logout`, where the cookie can stand in for it.
pub struct OptionalJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let empty = !req.headers().contains_key(header::CONTENT_TYPE)
            && req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        if empty {
            return Box::pin(async { Ok(OptionalJson(None)) });
        }
        let body = ValidJson::<T>::from_request(req, payload);
        Box::pin(async move { Ok(OptionalJson(Some(body.await?.0))) })
    }
}

/// The path of the first string in `value` holding a control character, if any.
fn control_text_path(value: &Value, path: &str) -> Option<String> {
    let child = |key: &str| match path {
        "" => key.to_owned(),
        _ => format!("{path}.{key}"),
    };
    match value {
        Value::String(s) => phonereg_types::validation::check_text(s)
            .is_err()
            .then(|| path.to_owned()),
        Value::Object(map) => map
            .iter()
            .find_map(|(key, v)| control_text_path(v, &child(key))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| control_text_path(v, &child(&i.to_string()))),
        _ => None,
    }
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    // Every text field, before any query: PostgreSQL refuses NUL in text (a 500), and
    // no field has a use for the other controls. The field parsers say it again with
    // their own rules; this is the net for fields that have none (a login's email).
    if let Some(path) = control_text_path(&value, "") {
        return Err(ApiError::field(
            &path,
            phonereg_types::validation::CONTROL_CHARACTERS,
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        let prefix = if path == "." {
            String::new()
        } else {
            format!("{path}.")
        };
        if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or(rest);
            ApiError::field(
                &format!("{prefix}{name}"),
                phonereg_types::validation::REQUIRED,
            )
        } else {
            let message = match inner.split_once("expected ") {
                Some((_, expected)) => format!("must be {expected}"),
                None => "has the wrong type".to_owned(),
            };
            ApiError::field(&path, message)
        }
    })
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(BODY_LIMIT)
        .error_handler(|err, _req| {
            match err {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
                JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
                JsonPayloadError::Deserialize(e) => {
                    ApiError::BadRequest(format!("The body is not valid JSON: {e}."))
                }
                other => ApiError::BadRequest(format!("The body could not be read: {other}.")),
            }
            .into()
        })
}

/// A malformed id in the path names nothing: 404, like any id that isn't yours.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_: PathError, _| ApiError::NotFound.into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e: QueryPayloadError, _| {
        ApiError::field("query", format!("could not be read: {e}")).into()
    })
}

/// The authenticated caller's user id, from `Authorization: Bearer <jwt>`.
pub struct AuthUser(pub i64);

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(AuthUser))
    }
}

impl AuthUser {
    pub fn from_headers(state: &AppState, req: &HttpRequest) -> Result<Self, ApiError> {
        bearer(state, req).map(AuthUser)
    }
}

fn authenticate(req: &HttpRequest) -> Result<i64, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    bearer(state, req)
}

fn bearer(state: &AppState, req: &HttpRequest) -> Result<i64, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(ApiError::Unauthorized(
            "Send an access token as 'Authorization: Bearer <token>'.",
        ))?;
    state.tokens.verify_access(token)
}

/// The client's IP: the peer, or the nearest untrusted hop of `X-Forwarded-For` when
/// the peer is a trusted proxy (otherwise anyone could pick their own rate-limit key).
pub struct ClientIp(pub String);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.config.trusted_proxies.0.clone())
            .unwrap_or_default();
        let peer = req.peer_addr().map(|a| a.ip());
        ready(Ok(ClientIp(client_ip(
            peer,
            req.headers().get("x-forwarded-for"),
            &trusted,
        ))))
    }
}

fn client_ip(
    peer: Option<IpAddr>,
    xff: Option<&header::HeaderValue>,
    trusted: &[IpAddr],
) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let hops = xff.and_then(|v| v.to_str().ok()).unwrap_or("");
    hops.rsplit(',')
        .filter_map(|h| h.trim().parse::<IpAddr>().ok())
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let xff = header::HeaderValue::from_static("1.2.3.4, 5.6.7.8");
        assert_eq!(client_ip(Some(proxy), Some(&xff), &[]), "10.0.0.1");
        assert_eq!(client_ip(Some(proxy), Some(&xff), &[proxy]), "5.6.7.8");
        assert_eq!(client_ip(Some(proxy), None, &[proxy]), "10.0.0.1");
    }

    #[test]
    fn missing_and_mistyped_fields_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[expect(dead_code, reason = "only deserialised")]
        struct Req {
            email: String,
            age: Option<u8>,
        }
        let err = |v: Value| match from_value::<Req>(v) {
            Err(ApiError::Validation(e)) => e,
            other => panic!("unexpected {other:?}"),
        };
        let e = err(serde_json::json!({}));
        assert_eq!(e["email"], vec!["is required"]);
        let e = err(serde_json::json!({"email": 5}));
        assert_eq!(e["email"], vec!["must be a string"]);
        let e = err(serde_json::json!([1]));
        assert!(e.contains_key("body"));
        let e = err(serde_json::json!({"email": "a\u{0}b", "age": 3}));
        assert_eq!(e["email"], vec!["must not contain control characters"]);
    }
}
