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
use sha2::Digest as _;

use crate::{
    config::IpList,
    domain::{ClientNetworks, Locale},
    error::ApiError,
    services::{captcha::Ask, tokens::Access},
    state::AppState,
};

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
    /// Everything the bearer token says (its expiry and session too).
    pub fn access(state: &AppState, req: &HttpRequest) -> Result<Access, ApiError> {
        let token = bearer_token(req).ok_or(ApiError::Unauthorized(
            "Send an access token as 'Authorization: Bearer <token>'.",
        ))?;
        state.tokens.verify(token)
    }
}

/// An operator holding a token of `ADMIN_TOKEN` or `ADMIN_TOKENS` (SPEC §9, §11), by
/// name. Without either setting there is no admin API: 404, as for any path that does
/// not exist. Wrong tokens are limited per client and logged with the client (SPEC §11).
pub struct Admin {
    name: String,
}

impl Admin {
    /// The operator's name, for the rows they change and the log.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req))
    }
}

fn admin(req: &HttpRequest) -> Result<Admin, ApiError> {
    use subtle::ConstantTimeEq as _;
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::NotFound)?;
    // Checked at start-up; an unparsable list would have stopped it.
    let operators = state.config.admin_operators().unwrap_or_default();
    if operators.is_empty() {
        return Err(ApiError::NotFound);
    }
    // A client past its allowance is refused before the compare, the right token
    // included: guessing stays bounded however the guesses are spread over time.
    let client = client_of(req);
    let now = state.clock.now();
    state.admin_strikes.check(&client, now)?;
    let presented = bearer_token(req).unwrap_or("");
    // Compared as SHA-256 digests: equal lengths, so the compare takes the same
    // time whatever was presented and leaks nothing about the token's length.
    // Every operator's token is compared, whichever matches, so the time says nothing
    // about which one (or how many) there are.
    let digest = |s: &str| sha2::Sha256::digest(s.as_bytes());
    let presented = digest(presented);
    let mut matched = None;
    for op in &operators {
        if bool::from(presented.ct_eq(&digest(op.token))) {
            matched = Some(op.name);
        }
    }
    if let Some(name) = matched {
        return Ok(Admin {
            name: name.to_owned(),
        });
    }
    state.admin_strikes.strike(&client, now);
    // The client key (IPv4, or an IPv6 /64) as every limit keys it; never the token.
    tracing::warn!(client = %client, "wrong admin token");
    Err(ApiError::Unauthorized(
        "Send the operator token as 'Authorization: Bearer <ADMIN_TOKEN>'.",
    ))
}

fn authenticate(req: &HttpRequest) -> Result<i64, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("app state missing")))?;
    bearer(state, req)
}

fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
}

fn bearer(state: &AppState, req: &HttpRequest) -> Result<i64, ApiError> {
    let token = bearer_token(req).ok_or(ApiError::Unauthorized(
        "Send an access token as 'Authorization: Bearer <token>'.",
    ))?;
    state.tokens.verify_access(token)
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

/// The client as every per-IP limit keys it (SPEC §9): the peer, or behind a trusted
/// proxy the nearest `X-Forwarded-For` hop that is not one; IPv6 clients by their /64
/// (one subscriber gets a whole /64, so single addresses rotate for free) and IPv4-mapped
/// IPv6 as the IPv4 address it is; with the wider networks its limits also hold for
/// (SPEC §11).
pub struct ClientIp(pub ClientNetworks);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(ClientIp(client_of(req))))
    }
}

/// [`ClientIp`]'s key for `req`, for extractors that need it before the handler runs.
pub(crate) fn client_of(req: &HttpRequest) -> ClientNetworks {
    client_addr(req).map_or_else(ClientNetworks::unknown, ClientNetworks::of)
}

/// The client's address (SPEC §9), before it is cut to its network.
fn client_addr(req: &HttpRequest) -> Option<IpAddr> {
    let none = IpList::default();
    let state = req.app_data::<web::Data<AppState>>();
    let trusted = state.map_or(&none, |s| &s.config.trusted_proxies);
    let peer = req.peer_addr().map(|a| a.ip());
    peer.map(|peer| {
        client_ip(
            peer,
            req.headers().get_all(header::X_FORWARDED_FOR),
            trusted,
        )
    })
}

/// What a request that would send a code brings for the bot challenge (SPEC §11): the
/// `X-Captcha-Token` header and the client's address (siteverify's `remoteip`).
pub struct CaptchaAnswer {
    header_token: Option<String>,
    remote_ip: Option<IpAddr>,
}

impl CaptchaAnswer {
    /// The challenge's view of a request from `client` that would send a code to
    /// `e164`; the header's token wins over the body's.
    pub fn ask<'a>(
        self,
        e164: &'a str,
        country: Option<&'a str>,
        client: &'a ClientIp,
        body_token: Option<String>,
    ) -> Ask<'a> {
        Ask {
            e164,
            country,
            client: &client.0,
            remote_ip: self.remote_ip,
            token: self.header_token.or(body_token),
        }
    }
}

impl FromRequest for CaptchaAnswer {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header_token = req
            .headers()
            .get(phonereg_types::CAPTCHA_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        ready(Ok(CaptchaAnswer {
            header_token,
            remote_ip: client_addr(req).map(crate::domain::client_network::canonical),
        }))
    }
}

/// The client's address. Behind a trusted proxy, `X-Forwarded-For` is read over all its
/// header lines (a proxy may append a line rather than a hop) from the right: trusted
/// hops (listed, or inside a listed range) are skipped, the first untrusted one is the
/// client. Anything left of an
/// unparsable hop was written by someone we cannot vouch for, so the walk stops there and
/// the nearest parsed hop counts.
fn client_ip<'a>(
    peer: IpAddr,
    xff: impl DoubleEndedIterator<Item = &'a header::HeaderValue>,
    trusted: &IpList,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.contains(*ip);
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = xff
        .rev()
        .flat_map(|line| line.to_str().unwrap_or("\u{0}").rsplit(','));
    for hop in hops {
        let Some(ip) = parse_hop(hop) else {
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, optionally `[v6]:port` or `v4:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    hop.parse::<std::net::SocketAddr>().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(peer: &str, lines: &[&'static str], trusted: &[&str]) -> String {
        let trusted: IpList = trusted.join(",").parse().expect("proxies");
        let values: Vec<header::HeaderValue> = lines
            .iter()
            .map(|l| header::HeaderValue::from_static(l))
            .collect();
        let peer = peer.parse().expect("peer ip");
        ClientNetworks::of(client_ip(peer, values.iter(), &trusted))
            .key()
            .to_owned()
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let xff = ["1.2.3.4, 5.6.7.8"];
        assert_eq!(key_of("10.0.0.1", &xff, &[]), "10.0.0.1");
        assert_eq!(key_of("10.0.0.1", &xff, &["10.0.0.1"]), "5.6.7.8");
        assert_eq!(key_of("10.0.0.1", &[], &["10.0.0.1"]), "10.0.0.1");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            key_of("2001:db8:1:2:aaaa::1", &[], &[]),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            key_of("2001:db8:1:2:ffff:ffff:ffff:fffe", &[], &[]),
            "2001:db8:1:2::/64"
        );
        assert_ne!(key_of("2001:db8:1:3::1", &[], &[]), "2001:db8:1:2::/64");
        assert_eq!(key_of("::ffff:192.0.2.7", &[], &[]), "192.0.2.7");
        // Behind a proxy too, and a proxy listed as IPv4 is trusted when mapped.
        let xff = ["2001:db8:9:9:1:2:3:4"];
        assert_eq!(
            key_of("::ffff:10.0.0.1", &xff, &["10.0.0.1"]),
            "2001:db8:9:9::/64"
        );
        assert_eq!(
            key_of("10.0.0.1", &["::ffff:198.51.100.1"], &["10.0.0.1"]),
            "198.51.100.1"
        );
    }

    #[test]
    fn forwarded_for_is_read_over_every_line_from_the_right() {
        let proxies = ["10.0.0.1", "10.0.0.2"];
        // The proxy appended its own line: the last line's rightmost hop is nearest.
        assert_eq!(
            key_of(
                "10.0.0.1",
                &["6.6.6.6, 1.1.1.1", "10.0.0.2, 2.2.2.2"],
                &proxies
            ),
            "2.2.2.2"
        );
        // Trusted hops are skipped wherever they stand, across lines.
        assert_eq!(
            key_of("10.0.0.1", &["6.6.6.6, 3.3.3.3", "10.0.0.2"], &proxies),
            "3.3.3.3"
        );
        // A client cannot pick its key by writing hops left of the real one.
        assert_eq!(
            key_of("10.0.0.1", &["1.2.3.4, 4.4.4.4"], &proxies),
            "4.4.4.4"
        );
        // Ports and brackets are tolerated.
        assert_eq!(
            key_of("10.0.0.1", &["[2001:db8::1]:443"], &proxies),
            "2001:db8::/64"
        );
        assert_eq!(key_of("10.0.0.1", &["5.5.5.5:8080"], &proxies), "5.5.5.5");
    }

    #[test]
    fn proxies_may_be_given_as_ranges() {
        let ranges = ["10.0.0.0/8", "2001:db8::/32"];
        // Every hop inside a range is a proxy; the rightmost hop outside is the client.
        assert_eq!(
            key_of(
                "10.9.9.9",
                &["1.1.1.1, 2.2.2.2, 2001:db8:5::1, 10.0.0.7"],
                &ranges
            ),
            "2.2.2.2"
        );
        assert_eq!(key_of("2001:db8:1::1", &["3.3.3.3"], &ranges), "3.3.3.3");
        // Just outside a range is a client, and so is a peer outside every range.
        assert_eq!(
            key_of("10.0.0.1", &["1.1.1.1, 11.0.0.1"], &ranges),
            "11.0.0.1"
        );
        assert_eq!(key_of("11.0.0.1", &["1.1.1.1"], &ranges), "11.0.0.1");
        // An IPv4-mapped peer falls in its IPv4 range.
        assert_eq!(key_of("::ffff:10.1.1.1", &["4.4.4.4"], &ranges), "4.4.4.4");
        assert!("10.0.0.0/33".parse::<IpList>().is_err());
        assert!("proxy.internal".parse::<IpList>().is_err());
    }

    #[test]
    fn an_unparsable_hop_ends_the_walk_at_the_nearest_parsed_hop() {
        let proxies = ["10.0.0.1", "10.0.0.2"];
        // Garbage right of the client: nothing beyond it is believed; the nearest parsed
        // hop (a trusted proxy here) counts, so a forger shares the proxy's key.
        assert_eq!(
            key_of("10.0.0.1", &["7.7.7.7, unknown, 10.0.0.2"], &proxies),
            "10.0.0.2"
        );
        assert_eq!(
            key_of("10.0.0.1", &["7.7.7.7, garbage"], &proxies),
            "10.0.0.1"
        );
        assert_eq!(
            key_of("10.0.0.1", &["7.7.7.7,,8.8.8.8"], &proxies),
            "8.8.8.8"
        );
        assert_eq!(key_of("10.0.0.1", &[""], &proxies), "10.0.0.1");
        // Only trusted hops: the leftmost (farthest) proxy is the best we know.
        assert_eq!(key_of("10.0.0.1", &["10.0.0.2"], &proxies), "10.0.0.2");
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
