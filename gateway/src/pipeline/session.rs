//! Steps 4 and 6 for a browser: the session the cookie names, and its rules - the practice it
//! was opened for, its absolute lifetime, its idle timeout (per role and per practice), its
//! binding to the client's network and device. A session that broke a rule is ended (a
//! binding mismatch is an alert).

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde_json::json;
use wardgate_audit::{Event, EventKind};
use wardgate_identity::{Practice, SessionInfo, User};

use super::Ctx;
use crate::reject::Rejection;
use crate::session::{cookie, fingerprint, same_network, DEVICE_COOKIE};
use crate::state::Gateway;

/// A signed-in user, as the policy and the app see them.
#[derive(Debug, Clone)]
pub struct SessionPrincipal {
    pub token: String,
    pub info: SessionInfo,
    pub user: User,
    /// Roles in effect at the practice.
    pub roles: Vec<String>,
    pub auth_age_seconds: u64,
    pub mfa: bool,
    /// An open emergency grant: (reason, opened at).
    pub emergency: Option<(String, String)>,
}

/// Why a session is no longer good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Idle,
    Lifetime,
    Network,
    Device,
}

impl Ended {
    fn as_str(self) -> &'static str {
        match self {
            Ended::Idle => "idle-timeout",
            Ended::Lifetime => "absolute-timeout",
            Ended::Network => "network-mismatch",
            Ended::Device => "device-mismatch",
        }
    }
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn store_fault(e: wardgate_identity::IdentityError) -> Rejection {
    tracing::error!(error = %e, "the identity store failed");
    Rejection::StoreFault
}

/// The limits that apply to a user at a practice: the configuration, tightened by the roles in
/// effect and the practice's security settings.
pub(crate) fn limits(
    gw: &Gateway,
    practice: &str,
    roles: &[String],
) -> (chrono::Duration, chrono::Duration) {
    let c = &gw.config().sessions;
    let mut idle = c.idle.0;
    for r in roles {
        if let Some(d) = c.idle_by_role.get(r) {
            idle = idle.min(d.0);
        }
    }
    let mut absolute = c.absolute.0;
    if let Some(s) = gw.security(practice) {
        let by_role = roles.iter().filter_map(|r| s.idle_minutes_by_role.get(r));
        for minutes in std::iter::once(&s.session_idle_minutes).chain(by_role) {
            if *minutes > 0 {
                idle = idle.min(std::time::Duration::from_secs(u64::from(*minutes) * 60));
            }
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

/// The session named by `token`, checked against its rules. Whose session it is goes into the
/// context as soon as it is known, so a refusal is audited with its user.
pub(crate) fn check(
    gw: &Gateway,
    token: &str,
    headers: &HeaderMap,
    practice: &Practice,
    cx: &mut Ctx,
) -> Result<SessionPrincipal, Rejection> {
    let client = cx.client;
    let info = match gw.store().session_cached(token) {
        Ok(Some(info)) => info,
        Ok(None) => return Err(Rejection::SessionEnded),
        Err(e) => return Err(store_fault(e)),
    };
    cx.user(&info.user_id, &info.id);
    // A session holds at the practice it was opened for, whose sign-in rules it met.
    if info.practice_id != practice.id {
        return Err(Rejection::SessionElsewhere);
    }
    let facts = gw
        .store()
        .session_facts(&info.user_id, &practice.id)
        .map_err(store_fault)?;
    let now = gw.clock().utc();
    let (idle, absolute) = limits(gw, &practice.id, &facts.roles);
    let created = parse_ts(&info.created_at).unwrap_or(now);
    // When it was used before this request (the store keeps it exactly).
    let last = parse_ts(&info.last_seen_at).unwrap_or(created);
    let s = &gw.config().sessions;
    let bound = info
        .client
        .as_deref()
        .and_then(|c| c.parse::<IpAddr>().ok());
    let ended = if now - created > absolute {
        Some(Ended::Lifetime)
    } else if now - last > idle {
        Some(Ended::Idle)
    } else if !bound
        .is_some_and(|b| same_network(b, client, s.bind_ipv4_prefix.0, s.bind_ipv6_prefix.0))
    {
        Some(Ended::Network)
    } else if s.bind_device
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
        end(gw, token, &info, why, client);
        return Err(Rejection::SessionEnded);
    }
    let authenticated = parse_ts(&info.authenticated_at).unwrap_or(created);
    Ok(SessionPrincipal {
        token: token.to_string(),
        auth_age_seconds: u64::try_from((now - authenticated).num_seconds()).unwrap_or(0),
        mfa: info.mfa,
        info,
        user: facts.user,
        roles: facts.roles,
        emergency: facts.emergency,
    })
}

/// Ends a session the gateway found no longer good; binding mismatches are alerts.
fn end(gw: &Gateway, token: &str, info: &SessionInfo, why: Ended, client: IpAddr) {
    if let Err(e) = gw.store().end_session(token, why.as_str()) {
        tracing::error!(error = %e, "cannot end a session");
    }
    let alert = matches!(why, Ended::Network | Ended::Device);
    let mut e = Event::new(
        EventKind::Login,
        wardgate_audit::Actor::user(&info.user_id),
        format!("session:{}", why.as_str()),
    );
    e.client = Some(client.to_string());
    e.session_id = Some(info.id.clone());
    e.resource.practice = Some(info.practice_id.clone());
    e.detail = Some(json!({"bound_client": info.client, "alert": alert}));
    if let Err(err) = gw.audit().try_append(e) {
        tracing::error!(error = %err, "a session end could not be audited");
    }
    if alert {
        gw.alert(crate::alerts::alert(
            "binding_mismatch",
            format!(
                "session {} of {} ended: {} (bound to {:?}, now {client})",
                info.id,
                info.user_id,
                why.as_str(),
                info.client
            ),
            &info.user_id,
            Some(client),
            Some(&info.practice_id),
        ));
    }
}
