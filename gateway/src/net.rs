//! Client addresses and network rules: the socket's peer, `X-Forwarded-For` only when the peer
//! is a trusted proxy, and allow/deny lists.

use std::net::IpAddr;

use http::HeaderMap;

use crate::config::{Net, NetworkRules};

pub use crate::config::values::canonical;

fn trusted(ip: IpAddr, proxies: &[Net]) -> bool {
    proxies.iter().any(|n| n.contains(ip))
}

/// The client's address. Walks `X-Forwarded-For` from the right while the hop that appended
/// an entry is a trusted proxy; the first address not vouched for by a trusted proxy is the
/// client. A peer that is not a trusted proxy is the client, whatever it sends.
pub fn client_addr(peer: IpAddr, headers: &HeaderMap, proxies: &[Net]) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted(client, proxies) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all(http::header::HeaderName::from_static("x-forwarded-for"))
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // A hop that is not an address cannot be vouched for: stop at the last good one.
            break;
        };
        client = canonical(ip);
        if !trusted(client, proxies) {
            break;
        }
    }
    client
}

impl NetworkRules {
    /// `None` when the client may pass; otherwise which list refused it.
    pub fn refuses(&self, ip: IpAddr) -> Option<&'static str> {
        if self.deny.iter().any(|n| n.contains(ip)) {
            return Some("deny list");
        }
        if !self.allow.is_empty() && !self.allow.iter().any(|n| n.contains(ip)) {
            return Some("not on the allow list");
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Net> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().unwrap());
        h
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.1.1.1".parse().unwrap();
        let stranger: IpAddr = "203.0.113.9".parse().unwrap();
        let h = xff("81.2.69.142");
        assert_eq!(client_addr(peer, &h, &proxies).to_string(), "81.2.69.142");
        assert_eq!(client_addr(stranger, &h, &proxies), stranger);
        // A client cannot smuggle an address past the proxy by prepending one.
        let h = xff("1.1.1.1, 81.2.69.142, 10.2.2.2");
        assert_eq!(client_addr(peer, &h, &proxies).to_string(), "81.2.69.142");
        // Garbage stops the walk at the last trusted hop.
        let h = xff("nonsense");
        assert_eq!(client_addr(peer, &h, &proxies), peer);
        let mapped: IpAddr = "::ffff:10.1.1.1".parse().unwrap();
        assert_eq!(
            client_addr(mapped, &xff("8.8.8.8"), &proxies).to_string(),
            "8.8.8.8"
        );
    }

    #[test]
    fn deny_beats_allow_and_an_allow_list_closes_the_rest() {
        let rules = NetworkRules {
            allow: nets(&["10.0.0.0/8", "2001:db8::/32"]),
            deny: nets(&["10.9.0.0/16"]),
        };
        assert_eq!(rules.refuses("10.1.2.3".parse().unwrap()), None);
        assert_eq!(rules.refuses("2001:db8::1".parse().unwrap()), None);
        assert_eq!(
            rules.refuses("10.9.1.1".parse().unwrap()),
            Some("deny list")
        );
        assert!(rules.refuses("192.0.2.1".parse().unwrap()).is_some());
        assert_eq!(
            NetworkRules::default().refuses("192.0.2.1".parse().unwrap()),
            None
        );
    }
}
