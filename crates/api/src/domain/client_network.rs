//! The networks a client belongs to, as the per-client limits key them (SPEC §9, §11).
//!
//! One subscriber gets an IPv6 /64 (so single addresses rotate for free), a site a /56 or
//! a /48, and one IPv4 /24 is usually one operator's block: a limit that only knew the
//! client's own key would let one network rotate its way past it. Every per-client limit
//! therefore also holds for the client's wider networks, at a multiple of its value.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

/// A network wider than the client's own key, and how much more it may spend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// The IPv6 /56 around the client's /64: 4× every per-client limit.
    V6Slash56,
    /// The IPv6 /48: 16× every per-client limit.
    V6Slash48,
    /// The IPv4 /24: 8×, for the SMS and registration limits only.
    V4Slash24,
}

impl Width {
    /// How many times the client's own allowance its wider network may spend.
    pub fn multiple(self) -> u32 {
        match self {
            Width::V6Slash56 => 4,
            Width::V6Slash48 => 16,
            Width::V4Slash24 => 8,
        }
    }
}

/// A client: its own key (an IPv4 address, or an IPv6 /64; IPv4-mapped IPv6 is the IPv4
/// address it wraps) and the wider networks it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientNetworks {
    own: String,
    wider: Vec<(Width, String)>,
}

impl ClientNetworks {
    pub fn of(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self {
                    own: v4.to_string(),
                    wider: vec![(
                        Width::V4Slash24,
                        format!("{}/24", Ipv4Addr::new(a, b, c, 0)),
                    )],
                }
            }
            IpAddr::V6(v6) => {
                let prefix = |bits: u32| {
                    let masked = u128::from(v6) & (u128::MAX << (128 - bits));
                    format!("{}/{bits}", Ipv6Addr::from(masked))
                };
                Self {
                    own: prefix(64),
                    wider: vec![
                        (Width::V6Slash56, prefix(56)),
                        (Width::V6Slash48, prefix(48)),
                    ],
                }
            }
        }
    }

    /// A request without a peer address (never over TCP): one shared key, nothing wider.
    pub fn unknown() -> Self {
        Self {
            own: "unknown".into(),
            wider: Vec::new(),
        }
    }

    /// The client's own key: what logs show and the in-memory limits key.
    pub fn key(&self) -> &str {
        &self.own
    }

    /// The wider networks, each with its key (`2001:db8::/56`, `192.0.2.0/24`).
    pub fn wider(&self) -> impl Iterator<Item = (Width, &str)> {
        self.wider.iter().map(|(w, k)| (*w, k.as_str()))
    }
}

impl fmt::Display for ClientNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.own)
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 client it wraps.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(ip: &str) -> ClientNetworks {
        ClientNetworks::of(ip.parse().expect("ip"))
    }

    #[test]
    fn ipv6_clients_are_their_64_inside_their_56_and_48() {
        let c = of("2001:db8:1:2a3:aaaa::1");
        assert_eq!(c.key(), "2001:db8:1:2a3::/64");
        let wider: Vec<_> = c.wider().collect();
        assert_eq!(
            wider,
            [
                (Width::V6Slash56, "2001:db8:1:200::/56"),
                (Width::V6Slash48, "2001:db8:1::/48"),
            ]
        );
        assert_eq!(of("2001:db8:1:2ff::9").wider, c.wider, "same /56 and /48");
        assert_ne!(of("2001:db8:1:300::9").wider[0], c.wider[0], "another /56");
    }

    #[test]
    fn ipv4_clients_are_their_address_inside_their_24() {
        let c = of("192.0.2.77");
        assert_eq!(c.key(), "192.0.2.77");
        let wider: Vec<_> = c.wider().collect();
        assert_eq!(wider, [(Width::V4Slash24, "192.0.2.0/24")]);
        let mapped = of("::ffff:192.0.2.77");
        assert_eq!(mapped, c, "IPv4-mapped IPv6 is the IPv4 client");
    }

    #[test]
    fn wider_keys_never_equal_an_own_key() {
        // The 24's key is not the address ending in 0, the 56's not a 64.
        assert_ne!(of("192.0.2.0").key(), of("192.0.2.1").wider[0].1);
        assert_ne!(of("2001:db8::").key(), of("2001:db8::").wider[0].1);
    }
}
