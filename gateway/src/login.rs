//! The gateway's own endpoints under `/.wardgate/`: sign-in (email and password, then a
//! temporary password's change, then a second factor when enrolled or required), sign-out
//! (this session or all), my sessions, step-up re-authentication, emergency access, and who am
//! I. Browsers get pages, API clients (`Accept: application/json`) get JSON. Messages never
//! say whether an account exists.

mod pages;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wardgate_audit::{Event, EventKind};
use wardgate_identity::{Actor, IdentityError, Practice};
use wardgate_policy::Engine;

use crate::clock::Clock;
use crate::config::WhenFull;
use crate::reject::{full, Body, Rejection};
use crate::session::{
    self, cookie, set_cookie, SessionPrincipal, COOKIE, DEVICE_COOKIE, PENDING_COOKIE,
};
use crate::state::Gateway;

pub use pages::esc;

/// The reserved path prefix.
pub const PREFIX: &str = "/.wardgate/";

/// What a sign-in still needs.
#[derive(Debug, Clone)]
struct Pending {
    user: String,
    practice: String,
    next: String,
    change_password: bool,
    /// `Some(false)`: verify the enrolled factor; `Some(true)`: enroll one (the practice
    /// requires it).
    second_factor: Option<bool>,
    mfa: bool,
    expires: DateTime<Utc>,
}

type AddressLimiter = RateLimiter<
    IpAddr,
    DefaultKeyedStateStore<IpAddr>,
    Clock,
    governor::middleware::NoOpMiddleware<std::time::Instant>,
>;

/// Sign-ins in progress, and the per-address limit on attempts.
pub struct Logins {
    pending: Mutex<HashMap<String, Pending>>,
    per_address: AddressLimiter,
}

impl std::fmt::Debug for Logins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logins").finish_non_exhaustive()
    }
}

impl Logins {
    /// Drops expired sign-ins in progress and idle address buckets.
    pub fn tidy(&self, now: DateTime<Utc>) {
        if let Ok(mut map) = self.pending.lock() {
            map.retain(|_, p| p.expires > now);
        }
        self.per_address.retain_recent();
        self.per_address.shrink_to_fit();
    }

    pub fn new(clock: Clock, per_minute: std::num::NonZeroU32) -> Logins {
        Logins {
            pending: Mutex::new(HashMap::new()),
            per_address: RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute), clock),
        }
    }
}

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Random bytes in hex; `None` when the system has no randomness to give (never guessed).
pub(crate) fn random_hex(n: usize) -> Option<String> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).ok()?;
    Some(hex::encode(b))
}

fn unavailable(a: Answer) -> Answer {
    a.page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message("Try again", "Signing in is not possible right now."),
        json!({"error": "identity_unavailable"}),
    )
}

/// A safe place to go after signing in: a path on this site.
fn safe_next(next: Option<&str>) -> String {
    safe_next_or(next, "/")
}

fn safe_next_or(next: Option<&str>, home: &str) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.starts_with(PREFIX) =>
        {
            n.to_string()
        }
        _ => home.to_string(),
    }
}

/// How the client wants answers.
fn wants_json(headers: &HeaderMap) -> bool {
    let has = |h: header::HeaderName| {
        headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json"))
    };
    has(header::ACCEPT) || has(header::CONTENT_TYPE)
}

/// Whether a rejected request came from a browser that should see a page.
pub fn is_browser(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// A form or JSON body as fields.
async fn fields(body: Incoming, json: bool) -> HashMap<String, String> {
    let Ok(bytes) = Limited::new(body, 16 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
    else {
        return HashMap::new();
    };
    if json {
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        return v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default();
    }
    String::from_utf8_lossy(&bytes)
        .split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let dec = |s: &str| wardgate_policy::route::percent_decode(&s.replace('+', " "));
            Some((dec(k)?, dec(v)?))
        })
        .collect()
}

/// An answer: a page or JSON, with cookies to set.
struct Answer {
    status: StatusCode,
    json: bool,
    html: String,
    body: Value,
    location: Option<String>,
    cookies: Vec<String>,
}

impl Answer {
    fn new(json: bool) -> Answer {
        Answer {
            status: StatusCode::OK,
            json,
            html: String::new(),
            body: json!({}),
            location: None,
            cookies: Vec::new(),
        }
    }

    fn page(mut self, status: StatusCode, html: String, body: Value) -> Answer {
        self.status = status;
        self.html = html;
        self.body = body;
        self
    }

    /// Where a browser goes next (303); JSON clients get `{"next": ...}`.
    fn go(mut self, to: &str, body: Value) -> Answer {
        self.status = StatusCode::SEE_OTHER;
        self.location = Some(to.to_string());
        let mut body = body;
        if let Some(o) = body.as_object_mut() {
            o.insert("next".into(), to.into());
        }
        self.body = body;
        self
    }

    fn cookie(mut self, c: String) -> Answer {
        self.cookies.push(c);
        self
    }

    fn response(self) -> Response<Body> {
        let (status, ctype, body) = if self.json {
            let status = if self.status == StatusCode::SEE_OTHER {
                StatusCode::OK
            } else {
                self.status
            };
            (status, "application/json", self.body.to_string())
        } else {
            (self.status, "text/html; charset=utf-8", self.html)
        };
        let mut res = Response::new(full(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(ctype),
        );
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            header::HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
        );
        h.insert("x-frame-options", header::HeaderValue::from_static("DENY"));
        h.insert(
            "referrer-policy",
            header::HeaderValue::from_static("no-referrer"),
        );
        if let (Some(to), false) = (&self.location, self.json) {
            if let Ok(v) = header::HeaderValue::from_str(to) {
                h.insert(header::LOCATION, v);
            }
        }
        for c in self.cookies {
            if let Ok(v) = header::HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        res
    }
}

const REFUSED: &str = "The email or password is not correct, or this account cannot sign in now.";

impl Gateway {
    fn audit_login(&self, action: &str, user: &str, client: IpAddr, detail: Value) {
        let mut e = Event::new(
            EventKind::Login,
            wardgate_audit::Actor {
                kind: if user.is_empty() { "anonymous" } else { "user" }.into(),
                id: user.into(),
            },
            action,
        );
        e.client = Some(client.to_string());
        e.detail = Some(detail);
        if let Err(err) = self.audit.try_append(e) {
            tracing::error!(error = %err, "a sign-in event could not be audited");
        }
    }

    fn pending(&self, headers: &HeaderMap) -> Option<(String, Pending)> {
        let id = digest(cookie(headers, PENDING_COOKIE)?);
        let now = self.clock.utc();
        let mut map = self.logins.pending.lock().ok()?;
        map.retain(|_, p| p.expires > now);
        map.get(&id).cloned().map(|p| (id, p))
    }

    fn save_pending(&self, id: &str, p: Pending) {
        if let Ok(mut map) = self.logins.pending.lock() {
            map.insert(id.to_string(), p);
        }
    }

    fn drop_pending(&self, id: &str) {
        if let Ok(mut map) = self.logins.pending.lock() {
            map.remove(id);
        }
    }

    /// The next step of a sign-in, or the session when none is left.
    fn advance(
        &self,
        id: &str,
        p: Pending,
        client: IpAddr,
        headers: &HeaderMap,
        a: Answer,
    ) -> Answer {
        if p.change_password {
            self.save_pending(id, p);
            return a.go("/.wardgate/password", json!({"step": "change_password"}));
        }
        if p.second_factor.is_some() {
            self.save_pending(id, p);
            return a.go("/.wardgate/second-factor", json!({"step": "second_factor"}));
        }
        self.drop_pending(id);
        let a = a.cookie(set_cookie(PENDING_COOKIE, None, None));
        self.start_session(&p, client, headers, a)
    }

    fn start_session(&self, p: &Pending, client: IpAddr, headers: &HeaderMap, a: Answer) -> Answer {
        // The tighter of the configuration and the practice's settings (0: no limit).
        let max = [
            self.config.sessions.max_per_user,
            self.security(&p.practice)
                .map(|s| s.max_sessions)
                .unwrap_or(0),
        ]
        .into_iter()
        .filter(|m| *m > 0)
        .min()
        .unwrap_or(0);
        if max > 0 {
            let live = match self.store.sessions(&p.user) {
                Ok(l) => l,
                Err(_) => return unavailable(a),
            };
            if live.len() >= max as usize {
                match self.config.sessions.when_full {
                    WhenFull::Refuse => {
                        self.audit_login(
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
                            let _ = self.store.end_session_id(&p.user, &old.id, "session-limit");
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
        match self.store.start_session(
            &p.user,
            &p.practice,
            Some(&client.to_string()),
            Some(&fp),
            p.mfa,
        ) {
            Ok(token) => {
                self.audit_login(
                    "login:success",
                    &p.user,
                    client,
                    json!({"practice": p.practice, "mfa": p.mfa}),
                );
                a.cookie(set_cookie(COOKIE, Some(&token), None))
                    .go(&p.next, json!({"signed_in": true}))
            }
            Err(_) => unavailable(a),
        }
    }

    /// The session of this request, checked, for the endpoints that need one.
    fn current(
        &self,
        headers: &HeaderMap,
        client: IpAddr,
        practice: &Practice,
    ) -> Result<SessionPrincipal, Rejection> {
        let token = cookie(headers, COOKIE).ok_or(Rejection::NoCredentials)?;
        self.session_principal(token, client, headers, practice)
    }
}

/// Answers a request under [`PREFIX`]. The caller has checked the client's network and country.
pub async fn handle(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
    client: IpAddr,
    practice: Option<Practice>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let json = wants_json(headers);
    let a = Answer::new(json);
    let path = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .to_string();
    let query_next = parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("next="))
            .and_then(wardgate_policy::route::percent_decode)
    });
    let post = parts.method == Method::POST;
    if post {
        // Forms post from our own pages only (SameSite=Strict cookies do the rest).
        let origin_ok = headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(|o| {
                let host = headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("");
                o == "null" || o.ends_with(&format!("//{host}"))
            })
            .unwrap_or(true);
        if !origin_ok {
            return a
                .page(
                    StatusCode::FORBIDDEN,
                    pages::message("Refused", "This form came from another site."),
                    json!({"error": "cross_site"}),
                )
                .response();
        }
        if gw.logins.per_address.check_key(&client).is_err() {
            gw.metrics.rate_limited.inc();
            return a
                .page(
                    StatusCode::TOO_MANY_REQUESTS,
                    pages::message(
                        "Slow down",
                        "Too many attempts from this address. Wait a minute and try again.",
                    ),
                    json!({"error": "rate_limited"}),
                )
                .response();
        }
    }
    let Some(practice) = practice else {
        return a
            .page(
                StatusCode::FORBIDDEN,
                pages::message(
                    "Unknown practice",
                    "This address does not name a practice served here.",
                ),
                json!({"error": "unknown_practice"}),
            )
            .response();
    };
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let form = if post {
        fields(body, json_body).await
    } else {
        HashMap::new()
    };
    let f = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let answer = match (parts.method.clone(), path.as_str()) {
        (Method::GET, "login") => {
            let next = safe_next_or(query_next.as_deref(), &gw.config.sessions.home.0);
            let a = a.page(StatusCode::OK, pages::login(&next, None), json!({"step": "login"}));
            match (cookie(headers, DEVICE_COOKIE), random_hex(16)) {
                (None, Some(device)) => {
                    a.cookie(set_cookie(DEVICE_COOKIE, Some(&device), Some(400 * 86_400)))
                }
                // Without a device cookie yet, sign-in makes one (or refuses without randomness).
                _ => a,
            }
        }
        (Method::POST, "login") => {
            let next = safe_next_or(Some(f("next")).filter(|n| !n.is_empty()), &gw.config.sessions.home.0);
            let refused = |a: Answer| a.page(StatusCode::UNAUTHORIZED, pages::login(&next, Some(REFUSED)), json!({"error": "invalid_credentials", "message": REFUSED}));
            match gw.store.login(f("email"), f("password")) {
                Ok(user) => {
                    let roles = gw.store.roles_in_effect(&user.id, &practice.id, None).unwrap_or_default();
                    // Roles held at one of the practice's locations count too.
                    let at_location = user
                        .assignments
                        .iter()
                        .any(|a| a.practice_id == practice.id && a.location_id.is_some());
                    if roles.is_empty() && !at_location {
                        gw.audit_login("login:failure", &user.id, client, json!({"why": "no roles at this practice"}));
                        refused(a)
                    } else {
                        let enrolled = gw.store.has_second_factor(&user.id).unwrap_or(false);
                        let required = gw.security(&practice.id).is_some_and(|s| s.require_mfa);
                        let p = Pending {
                            change_password: user.must_change_password || gw.store.password_expired(&user.id).unwrap_or(false),
                            second_factor: if enrolled { Some(false) } else if required { Some(true) } else { None },
                            user: user.id,
                            practice: practice.id.clone(),
                            next,
                            mfa: false,
                            expires: gw.clock.utc() + chrono::Duration::minutes(10),
                        };
                        match random_hex(32) {
                            Some(secret) => {
                                let a = a.cookie(set_cookie(PENDING_COOKIE, Some(&secret), Some(600)));
                                gw.advance(&digest(&secret), p, client, headers, a)
                            }
                            None => unavailable(a),
                        }
                    }
                }
                Err(IdentityError::BadCredentials) | Err(IdentityError::LockedOut) => {
                    gw.audit_login("login:failure", "", client, json!({"email": f("email").trim().to_ascii_lowercase()}));
                    refused(a)
                }
                Err(e) => {
                    tracing::error!(error = %e, "sign-in failed in the store");
                    unavailable(a)
                }
            }
        }
        (m, "password") => match gw.pending(headers) {
            Some((id, mut p)) if p.change_password => {
                if m == Method::GET {
                    a.page(StatusCode::OK, pages::change_password(None), json!({"step": "change_password"}))
                } else if f("new") != f("confirm") && !json {
                    a.page(StatusCode::BAD_REQUEST, pages::change_password(Some("The new passwords do not match.")), json!({}))
                } else {
                    match gw.store.change_password(&p.user, f("current"), f("new")) {
                        Ok(()) => {
                            gw.audit_login("login:password-changed", &p.user, client, json!({}));
                            p.change_password = false;
                            gw.advance(&id, p, client, headers, a)
                        }
                        Err(e) => {
                            let msg = match e {
                                IdentityError::BadCredentials => "The current password is not correct.".to_string(),
                                IdentityError::WeakPassword(_) | IdentityError::PasswordReused => e.to_string(),
                                _ => "The password could not be changed now.".to_string(),
                            };
                            a.page(StatusCode::BAD_REQUEST, pages::change_password(Some(&msg)), json!({"error": "password_refused", "message": msg}))
                        }
                    }
                }
            }
            _ => a.go("/.wardgate/login", json!({"error": "no_sign_in_in_progress"})),
        },
        (m, "second-factor") => match gw.pending(headers) {
            Some((id, mut p)) if !p.change_password && p.second_factor.is_some() => {
                let enroll = p.second_factor == Some(true);
                if m == Method::GET {
                    if enroll {
                        match gw.store.enroll_totp(&p.user, "Wardgate") {
                            Ok(e) => a.page(StatusCode::OK, pages::second_factor(None, Some((&e.secret, &e.uri))), json!({"step": "enroll_second_factor", "secret": e.secret, "uri": e.uri, "recovery_codes": e.recovery_codes})),
                            Err(_) => a.page(StatusCode::SERVICE_UNAVAILABLE, pages::message("Try again", "Enrollment is not possible right now."), json!({"error": "identity_unavailable"})),
                        }
                    } else {
                        a.page(StatusCode::OK, pages::second_factor(None, None), json!({"step": "second_factor"}))
                    }
                } else {
                    let ok = if enroll {
                        gw.store.confirm_totp(&p.user, f("code")).is_ok()
                    } else {
                        gw.store.verify_second_factor(&p.user, f("code")).is_ok()
                    };
                    if ok {
                        p.second_factor = None;
                        p.mfa = true;
                        gw.advance(&id, p, client, headers, a)
                    } else {
                        gw.audit_login("login:second-factor-failure", &p.user, client, json!({}));
                        a.page(StatusCode::UNAUTHORIZED, pages::second_factor(Some("That code is not correct."), None), json!({"error": "invalid_code"}))
                    }
                }
            }
            _ => a.go("/.wardgate/login", json!({"error": "no_sign_in_in_progress"})),
        },
        (m, "logout") => {
            let all = f("all") == "true" || f("all") == "1";
            let a = a.cookie(set_cookie(COOKIE, None, None));
            let ended = match cookie(headers, COOKIE) {
                Some(token) if m == Method::POST && all => gw
                    .store
                    .session(token)
                    .and_then(|s| match s {
                        Some(info) => gw
                            .store
                            .end_sessions(&Actor::user(&info.user_id), &info.user_id, "logout-all")
                            .map(|_| ()),
                        None => Ok(()),
                    }),
                Some(token) => gw.store.end_session(token, "logout").map(|_| ()),
                None => Ok(()),
            };
            match ended {
                Ok(()) => a.page(StatusCode::OK, pages::message("Signed out", "You are signed out."), json!({"signed_out": true})),
                // Never say "signed out" when the session may still be live.
                Err(_) => unavailable(a),
            }
        }
        (m, "sessions") => match gw.current(headers, client, &practice) {
            Ok(me) => {
                if m == Method::POST {
                    let ended = gw.store.end_session_id(&me.info.user_id, f("id"), "logout-other").unwrap_or(false);
                    a.page(StatusCode::OK, pages::message("Sessions", if ended { "The session was ended." } else { "No such session." }), json!({"ended": ended}))
                } else {
                    let list: Vec<Value> = gw
                        .store
                        .sessions(&me.info.user_id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| json!({"id": s.id, "client": s.client, "created_at": s.created_at, "last_seen_at": s.last_seen_at, "current": s.id == me.info.id}))
                        .collect();
                    let html = pages::page("Your sessions", None, &list.iter().map(|s| format!("<p>{}</p>", esc(&s.to_string()))).collect::<String>());
                    a.page(StatusCode::OK, html, json!({"sessions": list}))
                }
            }
            Err(r) => return r.response_for(&gw.request_id(), Some("/.wardgate/sessions"), is_browser(headers)),
        },
        (m, "reauth") => match gw.current(headers, client, &practice) {
            Ok(me) => {
                let next = safe_next(query_next.as_deref().or(Some(f("next"))).filter(|n| !n.is_empty()));
                let code_needed = gw.store.has_second_factor(&me.info.user_id).unwrap_or(false);
                if m == Method::GET {
                    a.page(StatusCode::OK, pages::reauth(&next, None, code_needed, "Enter your password again to continue."), json!({"step": "reauth", "code": code_needed}))
                } else {
                    let password_ok = gw.store.login(&me.user.email, f("password")).is_ok_and(|u| u.id == me.info.user_id);
                    let code_ok = !code_needed || gw.store.verify_second_factor(&me.info.user_id, f("code")).is_ok();
                    if password_ok && code_ok && gw.store.reauthenticate(&me.token, code_needed).unwrap_or(false) {
                        gw.audit_login("session:reauthenticated", &me.info.user_id, client, json!({"mfa": code_needed}));
                        a.go(&next, json!({"reauthenticated": true}))
                    } else {
                        gw.audit_login("session:reauth-failure", &me.info.user_id, client, json!({}));
                        a.page(StatusCode::UNAUTHORIZED, pages::reauth(&next, Some("That is not correct."), code_needed, "Enter your password again to continue."), json!({"error": "invalid_credentials"}))
                    }
                }
            }
            Err(r) => return r.response_for(&gw.request_id(), Some("/.wardgate/reauth"), is_browser(headers)),
        },
        (m, "emergency") => match gw.current(headers, client, &practice) {
            Ok(me) => {
                let next = safe_next(Some(f("next")).filter(|n| !n.is_empty()));
                let max_seconds = {
                    let module = gw.policy.current();
                    module.manifest().break_glass.iter().map(|b| b.max_seconds).max().unwrap_or(0)
                };
                let max_text = format!("{} minutes", max_seconds / 60);
                if !me.user.emergency_access || max_seconds == 0 {
                    a.page(StatusCode::FORBIDDEN, pages::message("Emergency access", "You may not open emergency access here."), json!({"error": "forbidden"}))
                } else if m == Method::GET {
                    a.page(StatusCode::OK, pages::emergency(&next, None, &max_text), json!({"step": "emergency", "max_seconds": max_seconds}))
                } else {
                    // Bounded so no date arithmetic can overflow, whatever the policy says.
                    let max = chrono::Duration::seconds(
                        i64::try_from(max_seconds.min(10 * 365 * 86_400)).unwrap_or(86_400),
                    );
                    match gw.store.open_emergency(&me.info.user_id, &practice.id, f("reason"), max) {
                        Ok(until) => {
                            gw.alert("emergency-access", &format!("{} opened emergency access at {}: {}", me.user.email, practice.id, f("reason").trim()));
                            a.go(&next, json!({"emergency": true, "until": until}))
                        }
                        Err(IdentityError::Invalid(msg)) => a.page(StatusCode::BAD_REQUEST, pages::emergency(&next, Some(&msg), &max_text), json!({"error": "invalid", "message": msg})),
                        Err(_) => a.page(StatusCode::FORBIDDEN, pages::message("Emergency access", "You may not open emergency access here."), json!({"error": "forbidden"})),
                    }
                }
            }
            Err(r) => return r.response_for(&gw.request_id(), Some("/.wardgate/emergency"), is_browser(headers)),
        },
        (Method::GET, "whoami") => match gw.current(headers, client, &practice) {
            Ok(me) => a.page(
                StatusCode::OK,
                pages::message("Signed in", &format!("Signed in as {}", me.user.email)),
                json!({"user": me.info.user_id, "email": me.user.email, "practice": practice.id, "roles": me.roles, "auth_age_seconds": me.auth_age_seconds, "mfa": me.mfa, "emergency": me.emergency.as_ref().map(|e| e.0.clone()), "session": me.info.id}),
            ),
            Err(r) => return r.response_for(&gw.request_id(), Some("/.wardgate/whoami"), is_browser(headers)),
        },
        _ => a.page(StatusCode::NOT_FOUND, pages::message("Not found", "There is nothing here."), json!({"error": "not_found"})),
    };
    answer.response()
}

/// The page a browser sees when an action needs a fresh sign-in.
pub fn reauth_page(next: &str) -> String {
    pages::reauth(
        &safe_next(Some(next)),
        None,
        false,
        "This needs you to confirm your password first.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/api/patients?x=1")), "/api/patients?x=1");
        for bad in [
            "//evil.test/",
            "https://evil.test/",
            "/\\evil",
            "/.wardgate/logout",
            "x",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
