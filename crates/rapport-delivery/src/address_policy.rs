//! Which addresses a delivery may connect to: the guard against server-side request
//! forgery, where a user-supplied webhook URL points at the server's own network.
//!
//! Every address a delivery connects to is checked: host names are resolved here, every
//! resolved address must pass, and the connection goes to one of those same addresses, so
//! a second DNS answer cannot slip a different address in (DNS rebinding).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use serde::Deserialize;
use url::Host;

use crate::target::Target;
use crate::DeliveryError;

/// An IP network in CIDR notation (`10.0.0.0/8`, `fc00::/7`); a plain address is a
/// network of one (`127.0.0.1` is `127.0.0.1/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not an [`IpNet`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not an IP address or CIDR network: {reason}")]
pub struct IpNetParseError {
    input: String,
    reason: String,
}

impl IpNet {
    const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> IpNet {
        IpNet {
            addr: IpAddr::V4(Ipv4Addr::new(a, b, c, d)),
            prefix,
        }
    }

    const fn v6(segments: [u16; 8], prefix: u8) -> IpNet {
        let [a, b, c, d, e, f, g, h] = segments;
        IpNet {
            addr: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)),
            prefix,
        }
    }

    /// Whether `ip` lies in this network (an IPv4 network never contains an IPv6 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = v4_mask(self.prefix);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = v6_mask(self.prefix);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    /// Whether the address has no bits set past the prefix (`10.0.0.0/8`, not `10.0.0.1/8`).
    fn is_network_address(&self) -> bool {
        match self.addr {
            IpAddr::V4(addr) => u32::from(addr) & !v4_mask(self.prefix) == 0,
            IpAddr::V6(addr) => u128::from(addr) & !v6_mask(self.prefix) == 0,
        }
    }
}

fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for IpNet {
    type Err = IpNetParseError;

    fn from_str(input: &str) -> Result<IpNet, IpNetParseError> {
        let error = |reason: &str| IpNetParseError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let (addr, prefix) = match input.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (input, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| error("not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| error("bad prefix length"))?,
        };
        let net = IpNet { addr, prefix };
        // `10.0.0.1/8` is more likely a typo than a way to write `10.0.0.0/8`.
        if !net.is_network_address() {
            return Err(error("address bits are set past the prefix length"));
        }
        Ok(net)
    }
}

impl TryFrom<String> for IpNet {
    type Error = IpNetParseError;

    fn try_from(value: String) -> Result<IpNet, IpNetParseError> {
        value.parse()
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The networks no delivery may reach unless allowed, each with the name an operator
/// sees in the refusal. The first match names the refusal.
const BLOCKED: &[(IpNet, &str)] = &[
    (IpNet::v4(0, 0, 0, 0, 8), "unspecified (\"this network\", 0.0.0.0/8)"),
    (IpNet::v4(10, 0, 0, 0, 8), "private (RFC 1918)"),
    (IpNet::v4(100, 64, 0, 0, 10), "carrier-grade NAT (100.64.0.0/10)"),
    (IpNet::v4(127, 0, 0, 0, 8), "loopback"),
    (
        IpNet::v4(169, 254, 0, 0, 16),
        "link-local (169.254.0.0/16, cloud metadata)",
    ),
    (IpNet::v4(172, 16, 0, 0, 12), "private (RFC 1918)"),
    (IpNet::v4(192, 0, 0, 0, 24), "IETF protocol assignments (192.0.0.0/24)"),
    (IpNet::v4(192, 0, 2, 0, 24), "documentation (TEST-NET-1)"),
    (IpNet::v4(198, 18, 0, 0, 15), "network benchmarking (198.18.0.0/15)"),
    (IpNet::v4(198, 51, 100, 0, 24), "documentation (TEST-NET-2)"),
    (IpNet::v4(203, 0, 113, 0, 24), "documentation (TEST-NET-3)"),
    (IpNet::v4(192, 168, 0, 0, 16), "private (RFC 1918)"),
    (IpNet::v4(224, 0, 0, 0, 4), "multicast"),
    (IpNet::v4(240, 0, 0, 0, 4), "reserved and broadcast (240.0.0.0/4)"),
    (IpNet::v6([0, 0, 0, 0, 0, 0, 0, 0], 128), "unspecified (::)"),
    (IpNet::v6([0, 0, 0, 0, 0, 0, 0, 1], 128), "loopback"),
    (
        IpNet::v6([0, 0, 0, 0, 0, 0, 0, 0], 96),
        "IPv4-compatible IPv6 (::/96, deprecated)",
    ),
    (
        IpNet::v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        "unique local IPv6 (fc00::/7)",
    ),
    (
        IpNet::v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        "link-local IPv6 (fe80::/10)",
    ),
    (
        IpNet::v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        "site-local IPv6 (fec0::/10, deprecated)",
    ),
    (IpNet::v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), "multicast"),
    (
        IpNet::v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32),
        "Teredo tunnel (2001::/32), whose IPv4 end cannot be judged",
    ),
    (
        IpNet::v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64),
        "discard-only IPv6 (100::/64)",
    ),
    (
        IpNet::v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        "documentation IPv6 (2001:db8::/32)",
    ),
];

/// 6to4: `2002:aabb:ccdd::/48` reaches the IPv4 address `aa.bb.cc.dd`.
const SIX_TO_FOUR: IpNet = IpNet::v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);

/// The well-known NAT64 prefix: `64:ff9b::a.b.c.d` reaches the IPv4 address `a.b.c.d`.
const NAT64: IpNet = IpNet::v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);

/// The range `ip` is refused for, if any. IPv4-mapped (`::ffff:a.b.c.d`), NAT64 and 6to4
/// addresses are judged by the IPv4 address they reach.
fn blocked_range(ip: IpAddr) -> Option<&'static str> {
    let ip = ip.to_canonical();
    if let IpAddr::V6(v6) = ip {
        if NAT64.contains(ip) {
            let [.., a, b, c, d] = v6.octets();
            return blocked_range(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        }
        if SIX_TO_FOUR.contains(ip) {
            let [_, _, a, b, c, d, ..] = v6.octets();
            return blocked_range(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        }
    }
    BLOCKED.iter().find(|(net, _)| net.contains(ip)).map(|(_, name)| *name)
}

/// Which addresses deliveries may connect to. The default refuses every loopback,
/// private, link-local, carrier-grade NAT, unspecified, multicast and reserved address
/// (IPv4 and IPv6); `allow` lists networks that are reachable anyway (a receiver on the
/// same host or LAN, or `127.0.0.1` in tests). Deserializes from `allow = ["10.1.0.0/16"]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressPolicy {
    #[serde(default)]
    pub allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// Whether a delivery may connect to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), DeliveryError> {
        self.check_for_host(&ip.to_string(), ip)
    }

    fn check_for_host(&self, host: &str, ip: IpAddr) -> Result<(), DeliveryError> {
        let canonical = ip.to_canonical();
        if self.allow.iter().any(|net| net.contains(ip) || net.contains(canonical)) {
            return Ok(());
        }
        match blocked_range(ip) {
            Some(range) => Err(DeliveryError::Refused {
                host: host.to_string(),
                addr: ip,
                range,
            }),
            None => Ok(()),
        }
    }

    /// The addresses a delivery to `url` would connect to, every one of them allowed by
    /// this policy. A host with any refused address is refused as a whole. Resolves DNS
    /// but opens no connection.
    pub async fn resolve(&self, url: &str) -> Result<Vec<SocketAddr>, DeliveryError> {
        let target = Target::parse(url)?;
        self.resolve_target(&target).await
    }

    pub(crate) async fn resolve_target(&self, target: &Target) -> Result<Vec<SocketAddr>, DeliveryError> {
        let mut addrs: Vec<SocketAddr> = match &target.host {
            Host::Ipv4(ip) => vec![SocketAddr::new(IpAddr::V4(*ip), target.port)],
            Host::Ipv6(ip) => vec![SocketAddr::new(IpAddr::V6(*ip), target.port)],
            Host::Domain(name) => tokio::net::lookup_host((name.as_str(), target.port))
                .await
                .map_err(|e| DeliveryError::Dns {
                    host: name.clone(),
                    error: e.to_string(),
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(DeliveryError::Dns {
                host: target.host.to_string(),
                error: "no address found".into(),
            });
        }
        let host = target.host.to_string();
        for addr in &addrs {
            self.check_for_host(&host, addr.ip())?;
        }
        addrs.dedup();
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `expect` is `None` for an allowed address, or a word of the refused range's name.
    fn check(policy: &AddressPolicy, ip: &str, expect: Option<&str>) {
        let ip: IpAddr = ip.parse().unwrap();
        match (policy.check(ip), expect) {
            (Ok(()), None) => {}
            (Err(DeliveryError::Refused { range, addr, .. }), Some(word)) => {
                assert!(range.contains(word), "{ip}: refused as {range:?}, expected {word:?}");
                assert_eq!(addr, ip);
            }
            (got, want) => panic!("{ip}: got {got:?}, expected {want:?}"),
        }
    }

    #[test]
    fn default_policy_refuses_internal_addresses() {
        let policy = AddressPolicy::default();
        for (ip, expect) in [
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.1", Some("RFC 1918")),
            ("172.16.0.1", Some("RFC 1918")),
            ("172.31.255.255", Some("RFC 1918")),
            ("192.168.1.1", Some("RFC 1918")),
            ("169.254.169.254", Some("link-local")),
            ("100.64.0.1", Some("carrier-grade NAT")),
            ("100.127.255.255", Some("carrier-grade NAT")),
            ("0.0.0.0", Some("unspecified")),
            ("255.255.255.255", Some("broadcast")),
            ("224.0.0.251", Some("multicast")),
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("fc00::1", Some("unique local")),
            ("fd12:3456::1", Some("unique local")),
            ("fe80::1", Some("link-local")),
            ("ff02::1", Some("multicast")),
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:10.1.2.3", Some("RFC 1918")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("::7f00:1", Some("IPv4-compatible")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("192.0.0.8", Some("IETF protocol assignments")),
            ("2002:7f00:1::", Some("loopback")),
            ("2002:a9fe:a9fe::1", Some("link-local")),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", Some("Teredo")),
            // Public addresses, including neighbours of the blocked ranges.
            ("93.184.216.34", None),
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.255.0.1", None),
            ("2606:4700::1111", None),
            ("::ffff:93.184.216.34", None),
            ("64:ff9b::808:808", None),
            ("198.20.0.1", None),
            ("192.0.1.1", None),
            ("2002:808:808::1", None),
            ("2001:4860::8888", None),
        ] {
            check(&policy, ip, expect);
        }
    }

    #[test]
    fn allow_list_opens_only_what_it_lists() {
        let policy = AddressPolicy {
            allow: vec!["127.0.0.1".parse().unwrap(), "10.1.0.0/16".parse().unwrap()],
        };
        for (ip, expect) in [
            ("127.0.0.1", None),
            ("::ffff:127.0.0.1", None),
            ("127.0.0.2", Some("loopback")),
            ("::1", Some("loopback")),
            ("10.1.200.3", None),
            ("10.2.0.1", Some("RFC 1918")),
            ("169.254.169.254", Some("link-local")),
        ] {
            check(&policy, ip, expect);
        }
    }

    #[test]
    fn ip_nets_parse() {
        for (input, expect) in [
            ("127.0.0.1", Ok("127.0.0.1/32")),
            ("10.0.0.0/8", Ok("10.0.0.0/8")),
            ("0.0.0.0/0", Ok("0.0.0.0/0")),
            ("::1", Ok("::1/128")),
            ("fc00::/7", Ok("fc00::/7")),
            ("10.0.0.1/8", Err("address bits are set past the prefix length")),
            ("10.0.0.0/33", Err("bad prefix length")),
            ("fc00::/129", Err("bad prefix length")),
            ("localhost", Err("not an IP address")),
            ("10.0.0.0/", Err("bad prefix length")),
        ] {
            let got = input.parse::<IpNet>().map(|n| n.to_string()).map_err(|e| e.reason);
            assert_eq!(got, expect.map(str::to_string).map_err(str::to_string), "{input}");
        }
    }

    #[test]
    fn policy_deserializes_from_config() {
        let policy: AddressPolicy = serde_json::from_str(r#"{"allow": ["127.0.0.1", "fd00::/8"]}"#).unwrap();
        assert_eq!(
            policy.allow,
            vec!["127.0.0.1".parse().unwrap(), "fd00::/8".parse().unwrap()]
        );
        let error = serde_json::from_str::<AddressPolicy>(r#"{"allow": ["nope"]}"#).unwrap_err();
        assert!(error.to_string().contains("\"nope\" is not an IP address"), "{error}");
        assert_eq!(
            serde_json::from_str::<AddressPolicy>("{}").unwrap(),
            AddressPolicy::default()
        );
    }
}
