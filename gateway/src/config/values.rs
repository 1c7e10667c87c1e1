//! Setting values parsed into their types when the file is read (parse, don't validate).

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// A duration of more than zero, in the one grammar (`250ms`, `10s`, `5m`, `2h`, `90d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Span(pub Duration);

impl FromStr for Span {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let d = wardgate_policy::duration::parse(s).map_err(|e| e.to_string())?;
        if d.is_zero() {
            return Err("a duration must be more than zero".into());
        }
        Ok(Span(d))
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// A network in CIDR notation; a bare address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Net(pub IpNet);

impl FromStr for Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(n) = s.parse::<IpNet>() {
            return Ok(Net(n.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|a| Net(IpNet::from(a)))
            .map_err(|_| format!("`{s}` is not an IP network (like 10.20.0.0/16) or address"))
    }
}

impl TryFrom<String> for Net {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl Net {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

/// An ISO 3166-1 alpha-2 country code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl FromStr for CountryCode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Ok(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => Err(format!(
                "`{s}` is not a two-letter ISO 3166 country code (like US)"
            )),
        }
    }
}

impl TryFrom<String> for CountryCode {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Requests per minute, more than zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct PerMinute(pub NonZeroU32);

impl TryFrom<u64> for PerMinute {
    type Error = String;
    fn try_from(n: u64) -> Result<Self, Self::Error> {
        u32::try_from(n)
            .ok()
            .and_then(NonZeroU32::new)
            .map(PerMinute)
            .ok_or_else(|| format!("{n} is not a rate between 1 and {} per minute", u32::MAX))
    }
}

/// An upstream address: `http://` or `https://`, a host and a port, no path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct UpstreamUrl {
    pub tls: bool,
    /// `host:port`.
    pub authority: http::uri::Authority,
}

impl FromStr for UpstreamUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri: http::Uri = s
            .parse()
            .map_err(|_| format!("`{s}` is not a URL like http://127.0.0.1:8080"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("`{s}` must start with http:// or https://")),
        };
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(format!(
                "`{s}` has a path; an upstream is a scheme, a host and a port"
            ));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("`{s}` has no host"))?;
        Ok(UpstreamUrl { tls, authority })
    }
}

impl TryFrom<String> for UpstreamUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}", self.authority)
    }
}

/// A path prefix: starts with `/`, matched on whole segments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathPrefix(pub String);

impl PathPrefix {
    /// Whether `path` is under this prefix (`/api` holds `/api` and `/api/x`, not `/apix`).
    pub fn holds(&self, path: &str) -> bool {
        let p = self.0.trim_end_matches('/');
        p.is_empty()
            || path == p
            || path
                .strip_prefix(p)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

impl TryFrom<String> for PathPrefix {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        if !s.starts_with('/') || s.contains(['?', '#', ' ']) {
            return Err(format!("`{s}` is not a path prefix like /api"));
        }
        Ok(PathPrefix(s))
    }
}

/// An HTTP header name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct HeaderName(pub http::HeaderName);

impl TryFrom<String> for HeaderName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        http::HeaderName::from_bytes(s.trim().as_bytes())
            .map(HeaderName)
            .map_err(|_| format!("`{s}` is not an HTTP header name"))
    }
}

/// The SHA-256 of a secret, as 64 hex digits.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SecretHash(pub [u8; 32]);

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

impl SecretHash {
    pub fn of(secret: &str) -> SecretHash {
        use sha2::Digest;
        SecretHash(sha2::Sha256::digest(secret.as_bytes()).into())
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Constant-time comparison with a presented secret.
    pub fn matches(&self, secret: &str) -> bool {
        let other = SecretHash::of(secret);
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl TryFrom<String> for SecretHash {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        let s = s.trim();
        let bad = || format!("`{s}` is not a SHA-256 in hex (64 hex digits)");
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            let pair = s.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
            *byte = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
        }
        Ok(SecretHash(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_parse_or_say_why_not() {
        assert_eq!(
            "250ms".parse::<Span>().unwrap().0,
            Duration::from_millis(250)
        );
        assert_eq!("5m".parse::<Span>().unwrap().0, Duration::from_secs(300));
        assert!("5".parse::<Span>().unwrap_err().contains("no unit"));
        assert!("0s".parse::<Span>().is_err());
        assert_eq!(
            "10.1.2.3/16".parse::<Net>().unwrap().0.to_string(),
            "10.1.0.0/16"
        );
        assert_eq!("::1".parse::<Net>().unwrap().0.to_string(), "::1/128");
        assert!("10.0.0.0/33".parse::<Net>().is_err());
        assert_eq!("us".parse::<CountryCode>().unwrap().as_str(), "US");
        assert!("USA".parse::<CountryCode>().is_err());
        assert!("https://a.example:8443".parse::<UpstreamUrl>().unwrap().tls);
        assert!("ftp://a".parse::<UpstreamUrl>().is_err());
        assert!("http://a/x".parse::<UpstreamUrl>().is_err());
        let p = PathPrefix::try_from("/api".to_string()).unwrap();
        assert!(p.holds("/api") && p.holds("/api/x") && !p.holds("/apix"));
        assert!(PathPrefix::try_from("/".to_string())
            .unwrap()
            .holds("/anything"));
        let h = SecretHash::of("s3cret");
        assert!(h.matches("s3cret") && !h.matches("s3cret "));
        assert_eq!(SecretHash::try_from(h.hex()).unwrap(), h);
    }
}

/// A request header a client may not send on to the app: a name, or a prefix ending in `*`;
/// `_` and `-` are one, case does not matter (some app servers read `X_Wardgate_Roles` as
/// `X-Wardgate-Roles`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct StripHeader {
    name: String,
    prefix: bool,
}

/// A header name folded for comparison: lower case, `_` as `-`.
pub fn fold_header(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'_' => '-',
            b => char::from(b.to_ascii_lowercase()),
        })
        .collect()
}

impl StripHeader {
    /// Whether a header name is this one (or starts with this prefix), folding as it compares
    /// (no copy of the name: this runs for every header of every request).
    pub fn matches(&self, name: &str) -> bool {
        let (want, have) = (self.name.as_bytes(), name.as_bytes());
        let fold = |b: u8| {
            if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            }
        };
        let same = |n: usize| {
            have.get(..n)
                .is_some_and(|h| h.iter().zip(want).all(|(h, w)| fold(*h) == *w))
        };
        if self.prefix {
            have.len() >= want.len() && same(want.len())
        } else {
            have.len() == want.len() && same(want.len())
        }
    }
}

impl FromStr for StripHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, prefix) = match s.trim().strip_suffix('*') {
            Some(p) => (p, true),
            None => (s.trim(), false),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "`{s}` is not a header name (letters, digits, `-`, `_`), optionally ending in `*`"
            ));
        }
        Ok(StripHeader {
            name: fold_header(name),
            prefix,
        })
    }
}

impl TryFrom<String> for StripHeader {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// A network prefix length a session is bound to, within `MIN..=MAX` (IPv4 16 to 32, IPv6 48
/// to 64: narrower binds break on ordinary address changes, wider ones bind nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u8")]
pub struct BindPrefix<const MIN: u8, const MAX: u8>(pub u8);

impl<const MIN: u8, const MAX: u8> TryFrom<u8> for BindPrefix<MIN, MAX> {
    type Error = String;
    fn try_from(n: u8) -> Result<Self, Self::Error> {
        if (MIN..=MAX).contains(&n) {
            Ok(BindPrefix(n))
        } else {
            Err(format!("a prefix of {n} is not {MIN} to {MAX}"))
        }
    }
}
