//! The administrator's console, `/.wardgate/console/`: the seeds' Settings pages (users,
//! roles, practice and locations, security, API keys, activity log, my account) in the
//! browser, served by the gateway itself.
//!
//! The console is a client of the administration API and nothing else: every page reads and
//! every form changes through [`AsUser`], which routes, decides and audits each call exactly as
//! a request of the signed-in person to `/.wardgate/v1/` would be. What a page offers follows
//! the policy ([`Perms`], a decision without effect per operation); the API refuses anyway.
//!
//! Pages are maud templates (everything dynamic escaped), one stylesheet and one small script
//! served from the binary under a strict CSP, a CSRF token on every form (checked with the
//! origin before anything is read), and `Cache-Control: no-store` on everything.

mod account;
mod activity;
mod call;
mod emergency;
mod keys;
mod layout;
mod perms;
mod roles;
mod settings;
mod users;

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use maud::Markup;

use crate::body::{full, Body};
use crate::pipeline::admin::{AsUser, ConsoleCall};
use crate::pipeline::Ctx;
use crate::state::Gateway;
pub(crate) use call::Failure;
pub(crate) use perms::Perms;

/// Where the console lives.
pub const PREFIX: &str = "/.wardgate/console/";

/// The largest form the console reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// Whether a path is the console's.
pub fn is_console(path: &str) -> bool {
    path == PREFIX.trim_end_matches('/') || path.starts_with(PREFIX)
}

/// One request to a console page.
pub(crate) struct Req {
    pub method: Method,
    /// Below [`PREFIX`], e.g. `users/u_12ab`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    /// The browser's form token, for the forms of the answer.
    pub csrf: String,
}

impl Req {
    /// A query parameter, when given and not empty.
    pub fn q(&self, k: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A form field (empty when absent), trimmed.
    pub fn f(&self, k: &str) -> &str {
        self.form
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// A form field, or `None` when empty.
    pub fn opt(&self, k: &str) -> Option<String> {
        Some(self.f(k))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// Every value of a repeated form field (checkboxes, multi-selects), without empties.
    pub fn all(&self, k: &str) -> Vec<String> {
        self.form
            .iter()
            .filter(|(n, v)| n == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }

    pub fn post(&self) -> bool {
        self.method == Method::POST
    }
}

/// What a console handler answers.
pub(crate) enum Out {
    /// A page of the console, in its layout.
    Page {
        status: StatusCode,
        title: String,
        body: Markup,
    },
    /// After a change: back to a page (with a notice of what was done).
    Redirect(String),
    /// Anything else (a download, the API's refusal as a browser should see it).
    Raw(Response<Body>),
}

impl Out {
    pub fn page(title: impl Into<String>, body: Markup) -> Out {
        Out::Page {
            status: StatusCode::OK,
            title: title.into(),
            body,
        }
    }

    pub fn status(status: StatusCode, title: impl Into<String>, body: Markup) -> Out {
        Out::Page {
            status,
            title: title.into(),
            body,
        }
    }
}

/// The console's context for one page: the API as its person, what the policy lets them do,
/// and the request.
pub(crate) struct Console<'a> {
    pub api: AsUser<'a>,
    pub perms: Perms,
    pub req: Req,
}

/// Answers one console request; the pipeline checked network, country, session and rate.
pub(crate) async fn handle(gw: &Arc<Gateway>, cx: &Ctx, call: ConsoleCall) -> Response<Body> {
    let ConsoleCall {
        parts,
        body,
        session,
        practice,
    } = call;
    let path = parts
        .uri
        .path()
        .strip_prefix(PREFIX)
        .unwrap_or("")
        .to_string();
    if let Some(asset) = layout::asset(&path) {
        return asset;
    }
    if !matches!(parts.method, Method::GET | Method::HEAD | Method::POST) {
        return layout::plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let post = parts.method == Method::POST;
    let cookie_token = crate::session::cookie(&parts.headers, crate::session::CSRF_COOKIE)
        .unwrap_or("")
        .to_string();
    // A change comes from the console's own forms: this origin, and the browser's token.
    if post && !crate::pipeline::login::same_origin(&parts.headers, &parts.uri, false) {
        return layout::plain(
            StatusCode::FORBIDDEN,
            "this form did not come from this site",
        );
    }
    let form: Vec<(String, String)> = if post {
        match crate::body::read_all(body, MAX_FORM_BYTES).await {
            Ok(bytes) => form_urlencoded::parse(&bytes).into_owned().collect(),
            Err(_) => return layout::plain(StatusCode::BAD_REQUEST, "the form could not be read"),
        }
    } else {
        Vec::new()
    };
    if post {
        let sent = form
            .iter()
            .find(|(k, _)| k == "csrf")
            .map(|(_, v)| v.as_bytes())
            .unwrap_or_default();
        if !crate::session::same_token(&cookie_token, sent) {
            return layout::plain(
                StatusCode::FORBIDDEN,
                "this form did not come from this site",
            );
        }
    }
    // A browser that signed in has its form token; one that lost it gets a new one.
    let (csrf, new_cookie) = if cookie_token.is_empty() {
        match crate::signins::random_hex(16) {
            Some(t) => {
                let c = crate::session::set_cookie(crate::session::CSRF_COOKIE, Some(&t), None);
                (t, Some(c))
            }
            None => return layout::plain(StatusCode::SERVICE_UNAVAILABLE, "try again"),
        }
    } else {
        (cookie_token, None)
    };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let api = AsUser::new(gw, cx, &session, &practice);
    let perms = Perms::of(&api).await;
    let console = Console {
        api,
        perms,
        req: Req {
            method: parts.method.clone(),
            path,
            query,
            form,
            csrf,
        },
    };
    let out = route(&console).await;
    let mut res = layout::respond(&console, out);
    if let Some(c) = new_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// The console's pages: path -> handler.
async fn route(c: &Console<'_>) -> Out {
    let segments: Vec<String> = c
        .req
        .path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        [] => Out::Redirect(c.perms.home()),
        ["users"] => users::list(c).await,
        ["users", "new"] => users::add(c).await,
        ["users", id] => users::show(c, id).await,
        ["roles"] => roles::matrix(c).await,
        ["practice"] => settings::practice(c).await,
        ["security"] => settings::security(c).await,
        ["keys"] => keys::list(c).await,
        ["activity"] => activity::search(c).await,
        ["activity", "export"] => activity::export(c).await,
        ["emergency"] => emergency::page(c).await,
        ["account"] => account::show(c).await,
        _ => layout::not_found(),
    }
}

/// A plain response of the console (assets, refusals before a page can be drawn).
fn text(status: StatusCode, ctype: &'static str, body: impl Into<bytes::Bytes>) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    res
}
