//! The gateway's cookies (the session, the device, a sign-in in progress, the form token) and
//! what a session is bound to (a network prefix, a device fingerprint). The session's rules at
//! request time are the pipeline's (`pipeline/session.rs`).

use std::net::IpAddr;

use cookie::Cookie;
use http::header::{self, HeaderMap};
use ipnet::IpNet;
use sha2::{Digest, Sha256};

/// The session cookie: `__Host-` so it is only ever set over TLS, for this host, for `/`.
pub const COOKIE: &str = "__Host-wardgate";
/// A random id per browser, the stable half of the device fingerprint.
pub const DEVICE_COOKIE: &str = "__Host-wardgate-device";
/// A sign-in between its steps (password change, second factor).
pub const PENDING_COOKIE: &str = "__Host-wardgate-login";
/// The double-submit token every form of the gateway's pages carries.
pub const CSRF_COOKIE: &str = "__Host-wardgate-csrf";

/// Every cookie of the request, as the `cookie` crate reads `Cookie` headers (pairs that do
/// not parse are passed over).
fn cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
}

/// A cookie's value from the request (the first of that name).
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    cookies(headers)
        .find(|c| c.name_raw() == Some(name))
        .and_then(|c| c.value_raw())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Removes the gateway's own cookies before a request goes to the app.
pub fn strip_cookies(headers: &mut HeaderMap) {
    let kept: Vec<String> = cookies(headers)
        .filter(|c| !c.name().starts_with("__Host-wardgate"))
        .map(|c| c.stripped().to_string())
        .collect();
    headers.remove(header::COOKIE);
    if !kept.is_empty() {
        if let Ok(v) = http::HeaderValue::from_str(&kept.join("; ")) {
            headers.insert(header::COOKIE, v);
        }
    }
}

/// `Set-Cookie` for a gateway cookie; `None` as the value clears it.
pub fn set_cookie(name: &str, value: Option<&str>, max_age: Option<u64>) -> String {
    match value {
        Some(v) => {
            let age = max_age
                .map(|a| format!("; Max-Age={a}"))
                .unwrap_or_default();
            format!("{name}={v}; Path=/; Secure; HttpOnly; SameSite=Strict{age}")
        }
        None => format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// The device fingerprint a session is bound to: the device cookie and the user agent.
pub fn fingerprint(device: &str, headers: &HeaderMap) -> String {
    let ua = headers
        .get(header::USER_AGENT)
        .map(|v| v.as_bytes())
        .unwrap_or(b"");
    let digest = Sha256::digest(ua);
    let ua = hex::encode(digest.get(..8).unwrap_or_default());
    format!("{device}:{ua}")
}

/// Whether two addresses are in the same network of the configured size.
pub fn same_network(a: IpAddr, b: IpAddr, v4: u8, v6: u8) -> bool {
    let (a, b) = (crate::net::canonical(a), crate::net::canonical(b));
    let prefix = match (a, b) {
        (IpAddr::V4(_), IpAddr::V4(_)) => v4,
        (IpAddr::V6(_), IpAddr::V6(_)) => v6,
        _ => return false,
    };
    IpNet::new(a, prefix)
        .map(|n| n.trunc().contains(&b))
        .unwrap_or(false)
}

/// Whether a form's (or header's) CSRF token is this browser's double-submit cookie, compared
/// in constant time; an empty cookie matches nothing.
pub fn same_token(cookie: &str, sent: &[u8]) -> bool {
    !cookie.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(cookie.as_bytes(), sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_bind_by_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(same_network(ip("10.1.2.3"), ip("10.1.2.200"), 24, 64));
        assert!(!same_network(ip("10.1.2.3"), ip("10.1.3.3"), 24, 64));
        assert!(same_network(ip("10.1.2.3"), ip("10.1.3.3"), 16, 64));
        assert!(!same_network(ip("127.0.0.1"), ip("127.0.0.2"), 32, 64));
        assert!(same_network(
            ip("2001:db8:1:2::1"),
            ip("2001:db8:1:2::9"),
            24,
            64
        ));
        assert!(!same_network(
            ip("2001:db8:1:2::1"),
            ip("2001:db8:1:3::1"),
            24,
            64
        ));
        assert!(same_network(
            ip("2001:db8:1:2::1"),
            ip("2001:db8:1:3::1"),
            24,
            48
        ));
        assert!(!same_network(ip("10.0.0.1"), ip("::1"), 16, 48));
    }

    #[test]
    fn cookies_are_read_and_the_gateways_are_not_forwarded() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            "a=1; __Host-wardgate=tok; b=2".parse().unwrap(),
        );
        h.append(
            header::COOKIE,
            "__Host-wardgate-device=dev".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE), Some("tok"));
        assert_eq!(cookie(&h, DEVICE_COOKIE), Some("dev"));
        assert_eq!(cookie(&h, "c"), None);
        strip_cookies(&mut h);
        assert_eq!(h.get(header::COOKIE).unwrap(), "a=1; b=2");
        assert!(set_cookie(COOKIE, Some("x"), None).contains("Secure; HttpOnly; SameSite=Strict"));
    }
}
