//! Browser sessions at request time: the cookie, the session it names, its timeouts (idle, per
//! role and per practice, and absolute), its binding to the client's network and device, and
//! the principal the policy sees (roles in effect at the practice, auth age, second factor,
//! emergency access, relations to the patient).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use http::header::{self, HeaderMap};
use ipnet::IpNet;
use serde_json::json;
use sha2::{Digest, Sha256};
use wardgate_audit::{Event, EventKind};
use wardgate_identity::{Practice, SessionInfo, User};

use crate::pipeline::Seen;
use crate::reject::Rejection;
use crate::state::Gateway;

/// The session cookie: `__Host-` so it is only ever set over TLS, for this host, for `/`.
pub const COOKIE: &str = "__Host-wardgate";
/// A random id per browser, the stable half of the device fingerprint.
pub const DEVICE_COOKIE: &str = "__Host-wardgate-device";
/// A sign-in between its steps (password change, second factor).
pub const PENDING_COOKIE: &str = "__Host-wardgate-login";
/// The double-submit token every form of the gateway's pages carries.
pub const CSRF_COOKIE: &str = "__Host-wardgate-csrf";

/// A cookie's value from the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Removes the gateway's own cookies before a request goes to the app.
pub fn strip_cookies(headers: &mut HeaderMap) {
    let kept: Vec<String> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !c.starts_with("__Host-wardgate"))
        .map(str::to_string)
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

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A signed-in user, as the policy and the app see them.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub token: String,
    pub info: SessionInfo,
    pub user: User,
    pub roles: Vec<String>,
    pub auth_age_seconds: u64,
    pub mfa: bool,
    /// An open emergency grant: (reason, opened at).
    pub emergency: Option<(String, String)>,
}

/// Why a session is no longer good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Unknown,
    Idle,
    Lifetime,
    Network,
    Device,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Unknown => "ended",
            Ended::Idle => "idle-timeout",
            Ended::Lifetime => "absolute-timeout",
            Ended::Network => "network-mismatch",
            Ended::Device => "device-mismatch",
        }
    }
}

impl Gateway {
    /// The limits that apply to a user at a practice: the configuration, tightened by the
    /// roles in effect and the practice's security settings.
    pub fn session_limits(
        &self,
        practice: &str,
        roles: &[String],
    ) -> (chrono::Duration, chrono::Duration) {
        let c = &self.config.sessions;
        let mut idle = c.idle.0;
        for r in roles {
            if let Some(d) = c.idle_by_role.get(r) {
                idle = idle.min(d.0);
            }
        }
        let mut absolute = c.absolute.0;
        if let Some(s) = self.security(practice) {
            if s.session_idle_minutes > 0 {
                idle = idle.min(std::time::Duration::from_secs(
                    u64::from(s.session_idle_minutes) * 60,
                ));
            }
            if s.session_max_hours > 0 {
                absolute = absolute.min(std::time::Duration::from_secs(
                    u64::from(s.session_max_hours) * 3600,
                ));
            }
        }
        let conv =
            |d: std::time::Duration| chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
        (conv(idle), conv(absolute))
    }

    /// Steps 4 and 6 for a browser: the session named by the cookie, checked. Whose session
    /// it is goes into `seen` as soon as it is known, so a refusal is audited with its user.
    pub(crate) fn session_principal(
        &self,
        token: &str,
        headers: &HeaderMap,
        practice: &Practice,
        seen: &mut Seen,
    ) -> Result<SessionPrincipal, Rejection> {
        let client = seen.client;
        let info = match self.store.session_cached(token) {
            Ok(Some(info)) => info,
            Ok(None) => return Err(Rejection::SessionEnded),
            Err(e) => {
                tracing::error!(error = %e, "the identity store failed a session lookup");
                return Err(Rejection::StoreFault);
            }
        };
        seen.principal = Some(("user", info.user_id.clone()));
        seen.session_id = Some(info.id.clone());
        // A session holds at the practice it was opened for, whose sign-in rules it met.
        if info.practice_id != practice.id {
            return Err(Rejection::SessionElsewhere);
        }
        let now = self.clock.utc();
        let store_err = |e: wardgate_identity::IdentityError| {
            tracing::error!(error = %e, "the identity store failed");
            Rejection::StoreFault
        };
        let user = self.store.user(&info.user_id).map_err(store_err)?;
        let roles = self
            .store
            .roles_in_effect(&info.user_id, &practice.id, None)
            .map_err(store_err)?;
        let (idle, absolute) = self.session_limits(&practice.id, &roles);
        let created = parse_ts(&info.created_at).unwrap_or(now);
        // When it was used before this request (the store keeps it exactly).
        let last = parse_ts(&info.last_seen_at).unwrap_or(created);
        let ended = if now - created > absolute {
            Some(Ended::Lifetime)
        } else if now - last > idle {
            Some(Ended::Idle)
        } else if !info
            .client
            .as_deref()
            .and_then(|c| c.parse::<IpAddr>().ok())
            .is_some_and(|bound| {
                same_network(
                    bound,
                    client,
                    self.config.sessions.bind_ipv4_prefix,
                    self.config.sessions.bind_ipv6_prefix,
                )
            })
        {
            Some(Ended::Network)
        } else if self.config.sessions.bind_device
            && cookie(headers, DEVICE_COOKIE)
                .map(|d| fingerprint(d, headers))
                .as_deref()
                != info.device.as_deref()
        {
            Some(Ended::Device)
        } else {
            None
        };
        if let Some(why) = ended {
            self.end_session(token, &info, why, client);
            return Err(Rejection::SessionEnded);
        }
        let emergency = self
            .store
            .emergency(&info.user_id, &practice.id)
            .map_err(store_err)?;
        let authenticated = parse_ts(&info.authenticated_at).unwrap_or(created);
        Ok(SessionPrincipal {
            token: token.to_string(),
            auth_age_seconds: u64::try_from((now - authenticated).num_seconds()).unwrap_or(0),
            mfa: info.mfa,
            info,
            user,
            roles,
            emergency,
        })
    }

    /// Ends a session the gateway found no longer good; binding mismatches are alerts.
    fn end_session(&self, token: &str, info: &SessionInfo, why: Ended, client: IpAddr) {
        if let Err(e) = self.store.end_session(token, why.as_str()) {
            tracing::error!(error = %e, "cannot end a session");
        }
        let alert = matches!(why, Ended::Network | Ended::Device);
        let mut e = Event::new(
            EventKind::Login,
            wardgate_audit::Actor {
                kind: "user".into(),
                id: info.user_id.clone(),
            },
            format!("session:{}", why.as_str()),
        );
        e.client = Some(client.to_string());
        e.session_id = Some(info.id.clone());
        e.resource.practice = Some(info.practice_id.clone());
        e.detail = Some(json!({"bound_client": info.client, "alert": alert}));
        if let Err(err) = self.audit.try_append(e) {
            tracing::error!(error = %err, "a session end could not be audited");
        }
        if alert {
            self.alert(
                why.as_str(),
                &format!(
                    "session {} of {} ended: {} (bound to {:?}, now {client})",
                    info.id,
                    info.user_id,
                    why.as_str(),
                    info.client
                ),
            );
        }
    }

    /// Raises an alert: a warning in the log marked `alert`, and a counter.
    pub fn alert(&self, kind: &'static str, message: &str) {
        tracing::warn!(alert = true, kind, "{message}");
        self.metrics
            .alerts
            .get_or_create(&crate::metrics::ResultLabel { result: kind })
            .inc();
    }
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
