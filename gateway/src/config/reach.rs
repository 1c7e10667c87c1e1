//! `[mail]` (a relay, or a folder for newcomers), `[alerts]` (thresholds, who hears, webhooks)
//! and the audit log's retention.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

use super::values::Span;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Plain SMTP, then STARTTLS (required, never skipped). The default, on port 587.
    #[default]
    Starttls,
    /// TLS from the first byte ("SMTPS"), on port 465.
    Tls,
    /// No TLS at all: only to a relay on this machine (127.0.0.1, ::1, localhost).
    None,
}

/// `[mail]`: where messages to people go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
    /// The SMTP relay's host name.
    pub relay: Option<String>,
    /// The relay's port (default 587 with STARTTLS, 465 with TLS, 25 without).
    pub port: Option<u16>,
    #[serde(default)]
    pub security: MailSecurity,
    /// A certificate authority (PEM) the relay's certificate is checked against, instead of
    /// the system's roots.
    pub ca: Option<PathBuf>,
    /// The relay's user name; its password comes from `password_file` or the environment
    /// variable `WARDGATE_MAIL_PASSWORD`.
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Instead of a relay: a folder where each message is written as one `.eml` file.
    pub dir: Option<PathBuf>,
    /// The sender, like `Wardgate <noreply@clinic.example>`.
    pub from: String,
    /// The gateway's address as people reach it, for the links in messages
    /// (`https://portal.clinic.example`).
    pub public_url: PublicUrl,
    /// Attempts before a message is given up (default 12: about ten hours with the default
    /// `retry`).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The wait after the first failed attempt, doubling after each further one up to four
    /// hours (default 10s).
    #[serde(default = "default_retry")]
    pub retry: Span,
}

fn default_retry() -> Span {
    Span(Duration::from_secs(10))
}

fn default_attempts() -> u32 {
    12
}

impl MailSection {
    /// The relay's port, from the setting or the security.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Starttls => 587,
            MailSecurity::Tls => 465,
            MailSecurity::None => 25,
        })
    }

    /// Everything wrong with the section.
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (&self.relay, &self.dir) {
            (Some(_), Some(_)) => out.push("[mail] has both relay and dir; use one".into()),
            (None, None) => out.push("[mail] needs a relay (SMTP host) or a dir".into()),
            _ => {}
        }
        if let (Some(relay), MailSecurity::None) = (&self.relay, self.security) {
            let local = relay == "localhost"
                || relay
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if !local {
                out.push(format!(
                    "[mail] security = \"none\" sends mail to {relay} unencrypted; it is allowed only to a relay on this machine"
                ));
            }
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            out.push(format!(
                "[mail] from = {:?} is not an address like `Wardgate <noreply@clinic.example>`",
                self.from
            ));
        }
        if self.password_file.is_some() && self.username.is_none() {
            out.push("[mail] password_file needs a username".into());
        }
        if !(1..=100).contains(&self.max_attempts) {
            out.push("[mail] max_attempts must be between 1 and 100".into());
        }
        out
    }
}

/// The gateway's public origin: `https://host[:port]`, no path (`http://` only for a loopback
/// address, for trying it out).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PublicUrl(pub String);

impl FromStr for PublicUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().trim_end_matches('/');
        let uri: http::Uri = s
            .parse()
            .map_err(|_| format!("`{s}` is not a URL like https://portal.clinic.example"))?;
        let host = uri.host().unwrap_or("");
        let loopback = host == "localhost"
            || host
                .trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if loopback => {}
            _ => return Err(format!("`{s}` must start with https://")),
        }
        if host.is_empty() || uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
            return Err(format!(
                "`{s}` must be an origin only (https://host or https://host:port)"
            ));
        }
        Ok(PublicUrl(s.to_string()))
    }
}

impl TryFrom<String> for PublicUrl {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// `count` events within `within`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSetting {
    pub count: u32,
    pub within: Span,
}

/// `[[alerts.webhook]]`: a receiver of every alert, by HTTPS POST, signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSetting {
    /// A name for the audit log and the metrics.
    pub name: String,
    /// `https://...` (`http://` only to this machine).
    pub url: String,
    /// The key of the `Wardgate-Signature` HMAC, from a file (or the environment variable
    /// named by `secret_env`).
    pub secret_file: Option<PathBuf>,
    pub secret_env: Option<String>,
    /// A certificate authority (PEM) for the receiver's certificate, instead of the system's.
    pub ca: Option<PathBuf>,
}

/// `[alerts]`: which alerts, how sensitive, who hears.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// Failed sign-ins for one account or from one address.
    #[serde(default = "default_failed")]
    pub failed_logins: ThresholdSetting,
    /// Distinct patients opened by one person.
    #[serde(default = "default_bulk")]
    pub bulk_access: ThresholdSetting,
    /// A sign-in from a country or network never seen for that person.
    #[serde(default = "yes")]
    pub new_place: bool,
    /// Mail each alert to the administrators of its practice.
    #[serde(default = "yes")]
    pub notify_admins: bool,
    /// Addresses that get every alert.
    #[serde(default)]
    pub email: Vec<String>,
    #[serde(default)]
    pub webhook: Vec<WebhookSetting>,
}

fn yes() -> bool {
    true
}

fn default_failed() -> ThresholdSetting {
    ThresholdSetting {
        count: 5,
        within: Span(Duration::from_secs(15 * 60)),
    }
}

fn default_bulk() -> ThresholdSetting {
    ThresholdSetting {
        count: 50,
        within: Span(Duration::from_secs(10 * 60)),
    }
}

impl Default for AlertsSection {
    fn default() -> Self {
        AlertsSection {
            failed_logins: default_failed(),
            bulk_access: default_bulk(),
            new_place: true,
            notify_admins: true,
            email: Vec::new(),
            webhook: Vec::new(),
        }
    }
}

impl AlertsSection {
    pub(super) fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (name, t) in [
            ("failed_logins", self.failed_logins),
            ("bulk_access", self.bulk_access),
        ] {
            if !(1..=100_000).contains(&t.count) {
                out.push(format!(
                    "[alerts] {name}.count must be between 1 and 100000"
                ));
            }
        }
        for e in &self.email {
            if !wardgate_identity::valid_email(e) {
                out.push(format!("[alerts] email {e:?} is not an email address"));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for w in &self.webhook {
            if !names.insert(&w.name) {
                out.push(format!("[alerts] two webhooks are named {:?}", w.name));
            }
            match w.url.parse::<http::Uri>() {
                Ok(u) if u.scheme_str() == Some("https") && u.host().is_some() => {}
                Ok(u) if u.scheme_str() == Some("http")
                    && u.host().is_some_and(|h| {
                        h == "localhost" || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
                    }) => {}
                _ => out.push(format!(
                    "[alerts] webhook {:?}: url {:?} must be https:// (http:// only to this machine)",
                    w.name, w.url
                )),
            }
            if w.secret_file.is_none() && w.secret_env.is_none() {
                out.push(format!(
                    "[alerts] webhook {:?} needs secret_file or secret_env (its signing key)",
                    w.name
                ));
            }
        }
        out
    }
}

/// How long audit records are kept: days (`90d`) or years (`6y`, of 365.25 days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Retain(pub Duration);

impl FromStr for Retain {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let bad = || format!("`{s}` is not a retention like 6y or 400d");
        let (n, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let days = match unit {
            "d" => Some(n),
            "y" => n.checked_mul(36525).map(|d| d.div_ceil(100)),
            _ => return Err(bad()),
        }
        .ok_or_else(bad)?;
        if !(1..=36_525).contains(&days) {
            return Err(format!(
                "`{s}`: keep audit records between 1 day and 100 years"
            ));
        }
        Ok(Retain(Duration::from_secs(days * 86_400)))
    }
}

impl TryFrom<String> for Retain {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn retention_reads_days_and_years() {
        assert_eq!("90d".parse::<Retain>().unwrap().0.as_secs(), 90 * 86_400);
        assert_eq!("6y".parse::<Retain>().unwrap().0.as_secs(), 2192 * 86_400);
        for bad in [
            "",
            "6",
            "y",
            "0d",
            "6w",
            "-1d",
            "1000y",
            "99999999999999999y",
        ] {
            assert!(bad.parse::<Retain>().is_err(), "{bad}");
        }
    }

    #[test]
    fn public_urls_are_origins_over_https() {
        assert!("https://portal.clinic.example".parse::<PublicUrl>().is_ok());
        assert_eq!(
            "https://portal.clinic.example:8443/"
                .parse::<PublicUrl>()
                .unwrap()
                .0,
            "https://portal.clinic.example:8443"
        );
        assert!("http://127.0.0.1:8443".parse::<PublicUrl>().is_ok());
        for bad in [
            "http://portal.clinic.example",
            "https://portal.clinic.example/path",
            "ftp://x",
            "portal",
        ] {
            assert!(bad.parse::<PublicUrl>().is_err(), "{bad}");
        }
    }
}
