//! The steps of a sign-in between the password and the session: what is still needed (a
//! temporary password's change, a second factor), the sign-in in progress kept meanwhile, the
//! session at the end (within the practice's session count), and the sign-in events audited.

use std::net::IpAddr;

use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};
use wardgate_audit::{Event, EventKind};

use super::answer::Answer;
use super::{digest, pages, random_hex, unavailable};
use crate::config::WhenFull;
use crate::session::{self, cookie, set_cookie, COOKIE, DEVICE_COOKIE, PENDING_COOKIE};
use crate::signins::Pending;
use crate::state::Gateway;

pub(super) fn audit_login(gw: &Gateway, action: &str, user: &str, client: IpAddr, detail: Value) {
    let mut e = Event::new(
        EventKind::Login,
        if user.is_empty() {
            wardgate_audit::Actor::anonymous()
        } else {
            wardgate_audit::Actor::user(user)
        },
        action,
    );
    e.client = Some(client.to_string());
    // The practice it happened at, so its administrators hear of it.
    e.resource.practice = detail
        .get("practice")
        .and_then(Value::as_str)
        .map(str::to_string);
    e.detail = Some(detail);
    if let Err(err) = gw.audit().try_append(e) {
        tracing::error!(error = %err, "a sign-in event could not be audited");
    }
}

/// The sign-in in progress this browser's cookie names.
pub(super) fn pending(gw: &Gateway, headers: &HeaderMap) -> Option<(String, Pending)> {
    let id = digest(cookie(headers, PENDING_COOKIE)?);
    gw.logins().get(&id, gw.clock().utc()).map(|p| (id, p))
}

pub(super) fn save_pending(gw: &Gateway, id: &str, p: Pending) {
    gw.logins().save(id, p);
}

pub(super) fn drop_pending(gw: &Gateway, id: &str) {
    gw.logins().drop(id);
}

/// The next step of a sign-in, or the session when none is left.
pub(super) fn advance(
    gw: &std::sync::Arc<Gateway>,
    id: &str,
    p: Pending,
    client: IpAddr,
    headers: &HeaderMap,
    a: Answer,
) -> Answer {
    if p.change_password {
        save_pending(gw, id, p);
        return a.go("/.wardgate/password", json!({"step": "change_password"}));
    }
    if p.second_factor.is_some() {
        save_pending(gw, id, p);
        return a.go("/.wardgate/second-factor", json!({"step": "second_factor"}));
    }
    drop_pending(gw, id);
    let a = a.cookie(set_cookie(PENDING_COOKIE, None, None));
    start_session(gw, &p, client, headers, a)
}

pub(super) fn start_session(
    gw: &std::sync::Arc<Gateway>,
    p: &Pending,
    client: IpAddr,
    headers: &HeaderMap,
    a: Answer,
) -> Answer {
    // The tighter of the configuration and the practice's settings (0: no limit).
    let max = [
        gw.config().sessions.max_per_user,
        gw.security(&p.practice)
            .map(|s| s.max_sessions)
            .unwrap_or(0),
    ]
    .into_iter()
    .filter(|m| *m > 0)
    .min()
    .unwrap_or(0);
    if max > 0 {
        let live = match gw.store().sessions(&p.user) {
            Ok(l) => l,
            Err(_) => return unavailable(a),
        };
        if live.len() >= max as usize {
            match gw.config().sessions.when_full {
                WhenFull::Refuse => {
                    audit_login(
                        gw,
                        "login:refused-session-limit",
                        &p.user,
                        client,
                        json!({"sessions": live.len()}),
                    );
                    return a.page(
                        StatusCode::CONFLICT,
                        pages::message(
                            "Too many sessions",
                            &format!("You are signed in on {} devices already, the most allowed. Sign out on one of them first.", live.len()),
                        ),
                        json!({"error": "session_limit", "sessions": live.len()}),
                    );
                }
                WhenFull::EndOldest => {
                    for old in live.iter().take(live.len() + 1 - max as usize) {
                        let _ = gw.store().end_session_id(&p.user, &old.id, "session-limit");
                    }
                }
            }
        }
    }
    let (device, a) = match cookie(headers, DEVICE_COOKIE) {
        Some(d) => (d.to_string(), a),
        None => {
            let Some(d) = random_hex(16) else {
                return unavailable(a);
            };
            let c = set_cookie(DEVICE_COOKIE, Some(&d), Some(400 * 86_400));
            (d, a.cookie(c))
        }
    };
    let fp = session::fingerprint(&device, headers);
    match gw.store().start_session(
        &p.user,
        &p.practice,
        Some(&client.to_string()),
        Some(&fp),
        p.mfa,
    ) {
        Ok(token) => {
            audit_login(
                gw,
                "login:success",
                &p.user,
                client,
                json!({"practice": p.practice, "mfa": p.mfa}),
            );
            crate::alerts::signed_in_from(gw, &p.user, &p.practice, client);
            a.cookie(set_cookie(COOKIE, Some(&token), None))
                .go(&p.next, json!({"signed_in": true}))
        }
        Err(_) => unavailable(a),
    }
}
