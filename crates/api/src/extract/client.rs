//! Where a request comes from: the client's address and networks as every per-IP limit
//! keys them (SPEC §9, §11), and what it brings for the bot challenge.

use std::net::IpAddr;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::{Ready, ready};

use crate::{
    config::IpList, domain::ClientNetworks, error::ApiError, services::captcha::Ask,
    state::AppState,
};

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
}
