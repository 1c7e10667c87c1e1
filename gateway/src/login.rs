//! The gateway's own endpoints under `/.wardgate/`: sign-in (email and password, then a
//! temporary password's change, then a second factor when enrolled or required), sign-out
//! (this session or all), my sessions, step-up re-authentication, emergency access, and who am
//! I. Browsers get pages, API clients (`Accept: application/json`) get JSON. Messages never
//! say whether an account exists.

mod emergency;
mod pages;
mod password;
mod second_factor;
mod sessions;
mod sign_in;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wardgate_audit::{Event, EventKind};
use wardgate_identity::Practice;

use crate::clock::Clock;
use crate::config::WhenFull;
use crate::pipeline::Seen;
use crate::reject::{full, Body, ForBrowser, Rejection};
use crate::session::{
    self, cookie, set_cookie, SessionPrincipal, COOKIE, CSRF_COOKIE, DEVICE_COOKIE, PENDING_COOKIE,
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
        Some(n) if is_local_path(n) => n.to_string(),
        _ => home.to_string(),
    }
}

/// Whether `next` is a path on this site and nothing else: visible ASCII only (no tab, CR or
/// LF, which browsers drop, turning `/\t/evil` into `//evil`), and - as sent and after each
/// decoding - starting with one `/`, without a backslash, and not one of the gateway's pages.
fn is_local_path(next: &str) -> bool {
    if !next.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return false;
    }
    let mut value = std::borrow::Cow::Borrowed(next);
    for _ in 0..4 {
        let v: &str = &value;
        let bad = !v.starts_with('/')
            || v.starts_with("//")
            || v.contains('\\')
            || v.chars().any(char::is_control)
            || v.starts_with(PREFIX);
        if bad {
            return false;
        }
        let decoded = match percent_encoding::percent_decode_str(v).decode_utf8() {
            Ok(d) => d.into_owned(),
            Err(_) => return false,
        };
        if decoded == v {
            return true;
        }
        value = std::borrow::Cow::Owned(decoded);
    }
    // Encoded four times over: no page needs that.
    false
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

/// A form or JSON body as fields; a body that breaks, is too large or comes too slowly is
/// no fields.
async fn fields(body: Body, json: bool) -> HashMap<String, String> {
    let Ok(bytes) = crate::body::read_all(body, 16 * 1024).await else {
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
    form_urlencoded::parse(&bytes).into_owned().collect()
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
        // `same-origin`, not `no-referrer`: with `no-referrer` a browser sends `Origin: null`
        // on its form posts, which the cross-site check must refuse.
        h.insert(
            "referrer-policy",
            header::HeaderValue::from_static("same-origin"),
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
        practice: &Practice,
        seen: &mut Seen,
    ) -> Result<SessionPrincipal, Rejection> {
        let token = cookie(headers, COOKIE).ok_or(Rejection::NoCredentials)?;
        self.session_principal(token, headers, practice, seen)
    }
}

/// One request to a page, as its handler sees it.
struct Ctx<'a> {
    gw: &'a Arc<Gateway>,
    method: Method,
    headers: &'a HeaderMap,
    /// `next` from the query, decoded.
    query_next: Option<String>,
    form: HashMap<String, String>,
    practice: Practice,
    seen: &'a mut Seen,
    /// The form token of this browser (set on the answer when new).
    csrf: String,
}

impl Ctx<'_> {
    /// A field of the form (empty when absent).
    fn f(&self, k: &str) -> &str {
        self.form.get(k).map(String::as_str).unwrap_or("")
    }

    fn client(&self) -> IpAddr {
        self.seen.client
    }

    /// The session of this request, checked.
    fn current(&mut self) -> Result<SessionPrincipal, Rejection> {
        self.gw.current(self.headers, &self.practice, self.seen)
    }

    /// Records a refusal in the audit log (as the pipeline does for the app's paths) and
    /// hands it back.
    fn refused(&mut self, rejection: Rejection) -> Rejection {
        self.gw.audit_rejection(self.seen, &rejection);
        rejection
    }

    /// A refusal that ends the request: audited, then answered as any refusal is.
    fn refuse(&mut self, rejection: Rejection, next: &str) -> Response<Body> {
        let r = self.refused(rejection);
        let csrf = self.csrf.clone();
        let browser = is_browser(self.headers).then_some(ForBrowser { next, csrf: &csrf });
        r.response_for(&self.seen.rid, browser)
    }
}

/// The route table: path under [`PREFIX`] -> handler.
type Handler = fn(&mut Ctx<'_>, Answer) -> Result<Answer, Rejection>;

fn route(path: &str) -> Option<Handler> {
    Some(match path {
        "login" => sign_in::login,
        "password" => password::change,
        "second-factor" => second_factor::verify,
        "logout" => sessions::logout,
        "sessions" => sessions::list,
        "reauth" => sessions::reauth,
        "whoami" => sessions::whoami,
        "emergency" => emergency::open,
        _ => return None,
    })
}

/// Whether a state-changing request comes from this gateway's own pages. Its `Origin` (or
/// failing that its `Referer`) must be this gateway's https origin; a form post without
/// either is refused, a JSON post without either is a non-browser client (a browser cannot
/// send one across sites without a CORS preflight the gateway never grants). A form post
/// must also carry the CSRF token of its browser's double-submit cookie.
fn same_origin(headers: &HeaderMap, uri: &http::Uri, json_body: bool) -> bool {
    let Some(authority) = crate::pipeline::host_of(headers, uri) else {
        return false;
    };
    let own = format!("https://{}", authority.to_ascii_lowercase());
    let header = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = header(header::ORIGIN) {
        return origin.to_ascii_lowercase() == own;
    }
    if let Some(referer) = header(header::REFERER) {
        let referer = referer.to_ascii_lowercase();
        return referer == own
            || referer
                .strip_prefix(&own)
                .is_some_and(|rest| rest.starts_with(['/', '?', '#']));
    }
    json_body
}

/// Answers a request under [`PREFIX`]. The caller has checked the client's network and country.
pub(crate) async fn handle(
    gw: &Arc<Gateway>,
    req: Request<Body>,
    seen: &mut Seen,
    practice: Option<Practice>,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let json = wants_json(headers);
    let path = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .to_string();
    let browser = is_browser(headers);
    let here = format!("{PREFIX}{path}");
    let Some(handler) = route(&path) else {
        return Answer::new(json)
            .page(
                StatusCode::NOT_FOUND,
                pages::message("Not found", "There is nothing here."),
                json!({"error": "not_found"}),
            )
            .response();
    };
    seen.action = Some(format!("gateway:{path}"));
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let post = parts.method == Method::POST;
    let page_token = cookie(headers, CSRF_COOKIE).unwrap_or("").to_string();
    let refuse = |gw: &Arc<Gateway>, seen: &mut Seen, r: Rejection| {
        gw.audit_rejection(seen, &r);
        let to = ForBrowser {
            next: &here,
            csrf: &page_token,
        };
        r.response_for(&seen.rid, browser.then_some(to))
    };
    if post && !same_origin(headers, &parts.uri, json_body) {
        return refuse(gw, seen, Rejection::CrossSite);
    }
    if post && gw.logins.per_address.check_key(&seen.client).is_err() {
        gw.metrics.rate_limited.inc();
        return refuse(
            gw,
            seen,
            Rejection::RateLimited {
                limit: gw.config.sessions.login_per_minute.0.get(),
                retry_after: std::time::Duration::from_secs(60),
            },
        );
    }
    let Some(practice) = practice else {
        return refuse(gw, seen, Rejection::UnknownPractice);
    };
    let form = if post {
        fields(body, json_body).await
    } else {
        HashMap::new()
    };
    // The double-submit token: a form post must carry its browser's (sign-out excepted: the
    // app's own pages may post it, and the origin check holds for it).
    let cookie_token = cookie(headers, CSRF_COOKIE).map(str::to_string);
    if post && !json_body && path != "logout" {
        let sent = form.get("csrf").map(String::as_bytes).unwrap_or_default();
        let good = cookie_token.as_deref().is_some_and(|t| {
            !t.is_empty() && bool::from(subtle::ConstantTimeEq::ct_eq(t.as_bytes(), sent))
        });
        if !good {
            return refuse(gw, seen, Rejection::CrossSite);
        }
    }
    let (csrf, a) = match cookie_token {
        Some(t) => (t, Answer::new(json)),
        None => match random_hex(16) {
            Some(t) => {
                let c = set_cookie(CSRF_COOKIE, Some(&t), None);
                (t, Answer::new(json).cookie(c))
            }
            None => return unavailable(Answer::new(json)).response(),
        },
    };
    let query_next = parts.uri.query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "next")
            .map(|(_, v)| v.into_owned())
    });
    let mut cx = Ctx {
        gw,
        method: parts.method.clone(),
        headers,
        query_next,
        form,
        practice,
        seen,
        csrf,
    };
    match handler(&mut cx, a) {
        Ok(answer) => answer.response(),
        Err(rejection) => cx.refuse(rejection, &here),
    }
}

/// The page a browser sees when an action needs a fresh sign-in.
pub fn reauth_page(next: &str, csrf: &str) -> String {
    pages::reauth(
        &safe_next(Some(next)),
        None,
        false,
        "This needs you to confirm your password first.",
        csrf,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/api/patients?x=1")), "/api/patients?x=1");
        assert_eq!(safe_next(Some("/api/a%20b")), "/api/a%20b");
        for bad in [
            "//evil.test/",
            "https://evil.test/",
            "https:evil",
            "/\\evil",
            "/%5Cevil",
            "/.wardgate/logout",
            "/%2Ewardgate/logout",
            "x",
            "/%09/evil.example/",
            "/\t/evil.example/",
            "/\r\n/evil",
            "%2F%2Fevil",
            "/%2F/evil",
            "/%252F%252Fevil",
            "/ space",
            "/caf\u{e9}",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
