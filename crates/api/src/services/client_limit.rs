//! Per-client limits over every network a client belongs to (SPEC §9, §11).

use crate::{
    domain::{ClientNetworks, client_network::Width},
    error::ApiError,
    persistence::Conn,
    services::rate_limit::Limit,
};

/// A limit per client (SPEC §9, §11): it holds for the client's own key (an IPv4
/// address, an IPv6 /64) and, at a multiple of its value, for each wider network the
/// client belongs to: 4× for the IPv6 /56, 16× for the /48 and, for the SMS and
/// registration limits only, 8× for the IPv4 /24. All of them are charged in the one
/// statement of [`Limit::hit_all`] and refunded alike.
#[derive(Clone, Copy, Debug)]
pub struct ClientLimit {
    limit: Limit,
    ipv4_24: bool,
}

impl ClientLimit {
    pub fn new(limit: Limit) -> Self {
        Self {
            limit,
            ipv4_24: false,
        }
    }

    /// For the SMS and registration limits: IPv4 clients are also limited per /24.
    pub fn with_ipv4_24(self) -> Self {
        Self {
            ipv4_24: true,
            ..self
        }
    }

    /// The counters of one event from `client`: its own key first, then each wider
    /// network at its multiple; `subject` turns a network key into the counter's subject.
    pub fn subjects(
        &self,
        client: &ClientNetworks,
        subject: impl Fn(&str) -> String,
    ) -> Vec<(Limit, String)> {
        let wider = client
            .wider()
            .filter(|(width, _)| *width != Width::V4Slash24 || self.ipv4_24)
            .map(|(width, net)| (self.limit.times(width.multiple()), subject(net)));
        std::iter::once((self.limit, subject(client.key())))
            .chain(wider)
            .collect()
    }

    /// The counters of one event from `client`, subject the network key itself.
    pub fn counters(&self, client: &ClientNetworks) -> Vec<(Limit, String)> {
        self.subjects(client, str::to_owned)
    }

    /// Counts one event from `client` against its own key and its wider networks.
    pub fn hit(
        &self,
        conn: &mut Conn<'_>,
        client: &ClientNetworks,
        now: i64,
    ) -> Result<(), ApiError> {
        Limit::hit_all(conn, &as_hits(&self.counters(client)), now)
    }
}

impl ClientLimit {
    /// Events counted this window for a client's own key (`ClientNetworks::key`).
    pub fn count(&self, conn: &mut Conn<'_>, key: &str, now: i64) -> Result<i64, ApiError> {
        self.limit.count(conn, key, now)
    }
}

/// Borrows owned counters for [`Limit::hit_all`].
pub fn as_hits(counters: &[(Limit, String)]) -> Vec<(Limit, &str)> {
    counters.iter().map(|(l, s)| (*l, s.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maxima(limit: ClientLimit, ip: &str) -> Vec<(u32, String)> {
        let client = ClientNetworks::of(ip.parse().expect("ip"));
        limit
            .counters(&client)
            .into_iter()
            .map(|(l, s)| (l.max, s))
            .collect()
    }

    #[test]
    fn ipv6_clients_are_charged_at_4_and_16_times_for_their_56_and_48() {
        let limit = ClientLimit::new(Limit::new("t", 5, 60));
        assert_eq!(
            maxima(limit, "2001:db8:1:2a3::9"),
            [
                (5, "2001:db8:1:2a3::/64".to_owned()),
                (20, "2001:db8:1:200::/56".to_owned()),
                (80, "2001:db8:1::/48".to_owned()),
            ]
        );
    }

    #[test]
    fn only_sms_and_registration_limits_widen_to_an_ipv4_24() {
        let plain = ClientLimit::new(Limit::new("t", 5, 60));
        assert_eq!(maxima(plain, "192.0.2.7"), [(5, "192.0.2.7".to_owned())]);
        assert_eq!(
            maxima(plain.with_ipv4_24(), "192.0.2.7"),
            [(5, "192.0.2.7".to_owned()), (40, "192.0.2.0/24".to_owned())]
        );
    }
}
