//! The gateway's own endpoints under `/.wardgate/`: sign-in (email and password, then a
//! temporary password's change, then a second factor when enrolled or required), sign-out
//! (this session or all), my sessions, step-up re-authentication, emergency access, and who am
//! I. Browsers get pages, API clients (`Accept: application/json`) get JSON. Messages never
//! say whether an account exists.

mod answer;
mod emergency;
mod links;
mod password;
mod second_factor;
mod sessions;
mod sign_in;
mod steps;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wardgate_identity::Practice;

use crate::body::Body;
use crate::pipeline::{Ctx as RequestCx, SessionPrincipal};
use crate::reject::Rejection;
use crate::respond::ForBrowser;
use crate::session::{cookie, set_cookie, COOKIE, CSRF_COOKIE};
use crate::signins::random_hex;
use crate::state::Gateway;
use answer::Answer;

use crate::pages;

/// The reserved path prefix.
pub const PREFIX: &str = "/.wardgate/";

fn digest(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn unavailable(a: Answer) -> Answer {
    a.page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message("Try again", "Signing in is not possible right now."),
        json!({"error": "identity_unavailable"}),
    )
}

use crate::next::{safe_next, safe_next_or};

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

const REFUSED: &str = "The email or password is not correct, or this account cannot sign in now.";

/// A gateway page's answer, and what it refused (the pipeline's exit audits that).
#[derive(Debug)]
pub(crate) struct Page {
    pub response: Response<Body>,
    pub refused: Option<Rejection>,
}

/// One request to a page, as its handler sees it.
struct Ctx<'a> {
    gw: &'a Arc<Gateway>,
    method: Method,
    headers: &'a HeaderMap,
    /// `next` from the query, decoded.
    query_next: Option<String>,
    /// The query, decoded.
    query: Vec<(String, String)>,
    form: HashMap<String, String>,
    practice: Practice,
    /// The request's context (its client, and whose session it carries once known).
    request: &'a mut RequestCx,
    /// The form token of this browser (set on the answer when new).
    csrf: String,
    /// A refusal the answer stands for, to be audited.
    refused: Option<Rejection>,
}

impl Ctx<'_> {
    /// A field of the form (empty when absent).
    fn f(&self, k: &str) -> &str {
        self.form.get(k).map(String::as_str).unwrap_or("")
    }

    /// The email typed into the form, as the store compares it, and at most an address's
    /// length of it (it goes into the audit log, whatever was typed).
    fn typed_email(&self) -> String {
        self.f("email")
            .trim()
            .to_ascii_lowercase()
            .chars()
            .take(254)
            .collect()
    }

    /// A value of the query (the first, when repeated).
    fn query(&self, k: &str) -> Option<String> {
        self.query
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    }

    fn client(&self) -> IpAddr {
        self.request.client
    }

    /// The session of this request, checked.
    fn current(&mut self) -> Result<SessionPrincipal, Rejection> {
        let token = cookie(self.headers, COOKIE).ok_or(Rejection::NoCredentials)?;
        crate::pipeline::session::check(self.gw, token, self.headers, &self.practice, self.request)
    }

    /// Notes that the answer stands for a refusal (audited at the pipeline's exit).
    fn refused(&mut self, rejection: Rejection) {
        self.refused = Some(rejection);
    }
}

/// A refusal that ends a page request, answered as any refusal is.
fn refusal(r: Rejection, rid: &str, browser: Option<ForBrowser<'_>>) -> Page {
    Page {
        response: crate::respond::rejection(&r, rid, browser),
        refused: Some(r),
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
        "activate" => links::activate,
        "reset" => links::reset,
        "forgot" => links::forgot,
        _ => return None,
    })
}

/// Whether a state-changing request comes from this gateway's own pages. Its `Origin` (or
/// failing that its `Referer`) must be this gateway's https origin; a form post without
/// either is refused, a JSON post without either is a non-browser client (a browser cannot
/// send one across sites without a CORS preflight the gateway never grants). A form post
/// must also carry the CSRF token of its browser's double-submit cookie.
pub(crate) fn same_origin(headers: &HeaderMap, uri: &http::Uri, json_body: bool) -> bool {
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

/// The query of `uri`, decoded.
fn decoded_query(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// Answers a request under [`PREFIX`]. The caller has checked the client's network and country.
pub(crate) async fn handle(
    gw: &Arc<Gateway>,
    req: Request<Body>,
    request: &mut RequestCx,
    practice: Option<Practice>,
) -> Page {
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
        let response = Answer::new(json)
            .page(
                StatusCode::NOT_FOUND,
                pages::message("Not found", "There is nothing here."),
                json!({"error": "not_found"}),
            )
            .response();
        return Page {
            response,
            refused: Some(Rejection::NoRoute),
        };
    };
    request.action = Some(format!("gateway:{path}"));
    let json_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    let post = parts.method == Method::POST;
    let page_token = cookie(headers, CSRF_COOKIE).unwrap_or("").to_string();
    let to = ForBrowser {
        next: &here,
        csrf: &page_token,
    };
    let refuse = |rid: &str, r: Rejection| refusal(r, rid, browser.then_some(to));
    if post && !same_origin(headers, &parts.uri, json_body) {
        return refuse(&request.rid, Rejection::CrossSite);
    }
    if post && !gw.logins().attempt(request.client) {
        return refuse(
            &request.rid,
            Rejection::RateLimited {
                limit: gw.config().sessions.login_per_minute.0.get(),
                retry_after: std::time::Duration::from_secs(60),
            },
        );
    }
    let Some(practice) = practice else {
        return refuse(&request.rid, Rejection::UnknownPractice);
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
        let good = cookie_token
            .as_deref()
            .is_some_and(|t| crate::session::same_token(t, sent));
        if !good {
            return refuse(&request.rid, Rejection::CrossSite);
        }
    }
    let (csrf, a) = match cookie_token {
        Some(t) => (t, Answer::new(json)),
        None => match random_hex(16) {
            Some(t) => {
                let c = set_cookie(CSRF_COOKIE, Some(&t), None);
                (t, Answer::new(json).cookie(c))
            }
            None => {
                return Page {
                    response: unavailable(Answer::new(json)).response(),
                    refused: None,
                }
            }
        },
    };
    let query = decoded_query(&parts.uri);
    let query_next = query
        .iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.clone());
    let mut cx = Ctx {
        gw,
        method: parts.method.clone(),
        headers,
        query_next,
        query,
        form,
        practice,
        request,
        csrf,
        refused: None,
    };
    match handler(&mut cx, a) {
        Ok(answer) => Page {
            response: answer.response(),
            refused: cx.refused,
        },
        Err(rejection) => {
            let csrf = cx.csrf.clone();
            let to = ForBrowser {
                next: &here,
                csrf: &csrf,
            };
            refusal(rejection, &cx.request.rid, browser.then_some(to))
        }
    }
}
