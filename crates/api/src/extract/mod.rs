//! Request extractors: JSON bodies with field-level errors (here), the caller (`caller`:
//! the bearer token, the operator) and the client (`client`: its address and networks,
//! its bot-challenge answer).

mod caller;
mod client;

use std::{future::Future, pin::Pin};

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

pub(crate) use self::client::client_of;
pub use self::{
    caller::{Admin, AuthUser},
    client::{CaptchaAnswer, ClientIp},
};
use crate::{domain::Locale, error::ApiError};

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

/// The path of the first string in `value` holding a control character that trimming
/// leaves, if any.
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
    // no field has a use for the other controls. Whitespace at either end (a tab pasted
    // after a name) is let through for the field's parser to trim; NUL is not whitespace,
    // so it never is. The field parsers say it again with their own rules (passwords
    // refuse every control); this is the net for fields that have none (a login's email).
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

/// The language the request's SMS are written in, from `Accept-Language` (SPEC §8).
pub struct Lang(pub Locale);

impl FromRequest for Lang {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        ready(Ok(Lang(Locale::from_accept_language(header))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
