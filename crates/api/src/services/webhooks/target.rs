//! Where a webhook may be posted (SPEC §12 SSRF rule): in production only `https://`,
//! and never to loopback, private, link-local or other non-public addresses unless
//! `WEBHOOK_ALLOW_PRIVATE=true`.
//!
//! The URL is checked when it is set, and every address is checked again when the
//! worker connects: the HTTP client resolves names through [`GuardedResolver`], which
//! drops forbidden addresses, so a name that resolved to a public address at creation
//! and to 127.0.0.1 later (DNS rebinding) is refused at connect time. Redirects are not
//! followed and no proxy is used, so neither can lead the request elsewhere.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use reqwest::{
    Url,
    dns::{Addrs, Name, Resolve, Resolving},
};

/// SPEC §12: a 2xx within 15 s is a success.
pub const POST_TIMEOUT: Duration = Duration::from_secs(15);

/// The rule a target must pass.
#[derive(Clone, Copy, Debug)]
pub struct TargetRule {
    /// Production: `https://` only.
    pub https_only: bool,
    /// `WEBHOOK_ALLOW_PRIVATE`: non-public addresses are allowed.
    pub allow_private: bool,
}

/// Why a URL is refused, in words an operator can act on.
pub fn check_url(rule: TargetRule, raw: &str) -> Result<Url, String> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let url = Url::parse(raw).map_err(|e| format!("is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" if !rule.https_only => {}
        "http" => return Err("must be https:// in production".into()),
        _ => return Err("must be an http:// or https:// URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("must name a host".into());
    };
    // An address written in the URL is never resolved, so it is checked here (and again
    // before each post); names are checked as they resolve.
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>()
        && !rule.allow_private
        && !is_public(ip)
    {
        return Err("points at a loopback, private or link-local address \
             (set WEBHOOK_ALLOW_PRIVATE=true to allow)"
            .into());
    }
    Ok(url)
}

/// Whether `ip` is an ordinary public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // 0.0.0.0/8, carrier-grade NAT 100.64.0.0/10, benchmarking 198.18.0.0/15,
        // reserved 240.0.0.0/4.
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// Resolves names and keeps only the addresses the rule allows; none left is an error,
/// so the connection is never made.
#[derive(Clone, Copy, Debug)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{} resolves only to addresses webhooks may not reach",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// The worker's HTTP client: guarded resolution, no redirects, no proxy, bounded time.
pub fn client(rule: TargetRule) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: rule.allow_private,
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .timeout(POST_TIMEOUT)
        .user_agent("PhoneReg-Webhooks/1")
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROD: TargetRule = TargetRule {
        https_only: true,
        allow_private: false,
    };

    #[test]
    fn production_takes_only_https_to_public_hosts() {
        assert!(check_url(PROD, "https://hooks.example.com/in").is_ok());
        for (url, why) in [
            ("http://hooks.example.com/in", "plain http"),
            ("https://127.0.0.1/in", "loopback"),
            ("https://10.1.2.3/in", "private"),
            (
                "https://169.254.169.254/latest",
                "link-local (cloud metadata)",
            ),
            ("https://[::1]/in", "IPv6 loopback"),
            ("https://[fd00::1]/in", "IPv6 unique local"),
            ("https://[::ffff:127.0.0.1]/in", "IPv4-mapped loopback"),
            ("https://100.64.0.1/in", "carrier-grade NAT"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("ftp://hooks.example.com/", "scheme"),
        ] {
            assert!(check_url(PROD, url).is_err(), "{why}: {url}");
        }
    }

    #[test]
    fn allowing_private_lets_loopback_through() {
        let rule = TargetRule {
            https_only: false,
            allow_private: true,
        };
        assert!(check_url(rule, "http://127.0.0.1:9/in").is_ok());
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }
}
