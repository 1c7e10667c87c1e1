//! The request pipeline: the gateway's checks as small units over one request context
//! ([`Ctx`]), in an order written once ([`Gateway::check`], following DESIGN.md "The house"),
//! and one exit ([`exit`]) where every request - forwarded, refused by any step, or a
//! gateway page - is audited and counted. Anything that goes wrong before the decision is a
//! [`Rejection`]; nothing is forwarded undecided.

pub(crate) mod admin;
mod authenticate;
mod client;
mod decide;
mod exit;
mod forward;
mod geo;
pub(crate) mod login;
mod network;
mod obligations;
mod practice;
mod principal;
mod rate_limit;
mod route;
pub(crate) mod session;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderMap};
use http::{Request, Response};
use hyper::body::Incoming;
use wardgate_identity::{KeyInfo, Practice};
use wardgate_policy::Decision;

use crate::body::Body;
use crate::config::CountryCode;
use crate::proxy::{Target, Upstreams};
use crate::ratelimit::Admit;
use crate::reject::Rejection;
use crate::state::Gateway;

pub(crate) use session::SessionPrincipal;

/// Who a request's audit record names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActorKind {
    User,
    Service,
}

/// What the checks learn about one request, filled in as they pass; the exit writes the audit
/// record from it.
#[derive(Debug)]
pub(crate) struct Ctx {
    pub(crate) rid: String,
    started: Instant,
    method: String,
    pub(crate) path: String,
    peer: IpAddr,
    pub(crate) client: IpAddr,
    tls: bool,
    country: Option<CountryCode>,
    pub(crate) practice: Option<String>,
    pub(crate) actor: Option<(ActorKind, String)>,
    key_id: Option<String>,
    pub(crate) session_id: Option<String>,
    location: Option<String>,
    patient: Option<String>,
    pub(crate) action: Option<String>,
    decision: Option<Decision>,
    module_hash: Option<String>,
    /// A browser (it asks for HTML) gets pages; this is where it comes back to after signing
    /// in (GET requests only) and the form token its pages carry.
    browser: Option<Browser>,
}

#[derive(Debug, Clone, Default)]
struct Browser {
    next: Option<String>,
    csrf: Option<String>,
}

impl Ctx {
    fn new(rid: String, req: &Request<Incoming>, peer: SocketAddr, tls: bool) -> Ctx {
        let browser = crate::pipeline::login::is_browser(req.headers()).then(|| Browser {
            next: req
                .uri()
                .path_and_query()
                .filter(|_| req.method() == http::Method::GET)
                .map(|p| p.as_str().to_string()),
            csrf: crate::session::cookie(req.headers(), crate::session::CSRF_COOKIE)
                .map(str::to_string),
        });
        let peer = crate::net::canonical(peer.ip());
        Ctx {
            rid,
            started: Instant::now(),
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            peer,
            client: peer,
            tls,
            country: None,
            practice: None,
            actor: None,
            key_id: None,
            session_id: None,
            location: None,
            patient: None,
            action: None,
            decision: None,
            module_hash: None,
            browser,
        }
    }

    /// The user of a session, for the audit record, as soon as the session is known.
    pub(crate) fn user(&mut self, user: &str, session: &str) {
        self.actor = Some((ActorKind::User, user.to_string()));
        self.session_id = Some(session.to_string());
    }
}

/// Who is asking: an integration with an API key, or a person signed in in a browser.
#[derive(Debug)]
enum Who {
    Key(Box<KeyInfo>),
    Session(Box<SessionPrincipal>),
}

/// A request that passed every check, ready to audit and forward.
struct Admitted<'g> {
    parts: http::request::Parts,
    body: Body,
    target: &'g Target,
    who: Who,
    practice: Practice,
    rate: Admit,
    decision: Decision,
}

/// An administrative request that passed every check: the API answers it.
struct AdminCall {
    parts: http::request::Parts,
    body: Body,
    who: Who,
}

/// Where a request goes once the checks are done.
enum Next<'g> {
    /// To the app, after its allow is audited.
    Forward(Box<Admitted<'g>>),
    /// To the administration API, after its allow is audited.
    Admin(Box<AdminCall>),
    /// A gateway page answered it (and says what it refused, if anything).
    Page(crate::pipeline::login::Page),
    /// A page of the console, for a signed-in person; its API calls are decided and audited
    /// one by one.
    Console(Box<admin::ConsoleCall>),
}

/// The authority a request is for: the URI's (h2 `:authority`, or an absolute-form target,
/// which RFC 9112 says wins over `Host`), else the `Host` header.
pub(crate) fn host_of(headers: &HeaderMap, uri: &http::Uri) -> Option<String> {
    uri.authority().map(|a| a.to_string()).or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    })
}

impl Gateway {
    /// Answers one request: checks, decides, audits, forwards (over the calling worker's
    /// upstream pools, so a request and its upstream connection stay on one event loop).
    pub async fn handle(
        self: &Arc<Self>,
        req: Request<Incoming>,
        peer: SocketAddr,
        tls: bool,
        upstreams: &Upstreams,
    ) -> Response<Body> {
        let mut cx = Ctx::new(self.request_id(), &req, peer, tls);
        if !self.config().server.enforce {
            return forward::pass_through(self, req, &cx, upstreams).await;
        }
        let next = self.check(&mut cx, req, upstreams).await;
        exit::exit(self, cx, next).await
    }

    /// The checks, in order. Each returns the rejection that ends the request.
    async fn check<'u>(
        self: &Arc<Self>,
        cx: &mut Ctx,
        mut req: Request<Incoming>,
        upstreams: &'u Upstreams,
    ) -> Result<Next<'u>, Rejection> {
        let c = self.config();
        // 1. Accept: TLS, header size and header timeouts are the listener's.
        // 2. The client's address: the socket's, or X-Forwarded-For from a trusted proxy.
        cx.client = crate::net::client_addr(cx.peer, req.headers(), &c.network.trusted_proxies);
        // 1. The path as it will be decided and forwarded: dot segments removed, ambiguous
        //    encodings refused, before anything looks at it.
        client::normalize_path(cx, req.uri_mut(), c.proxy.encoded_slashes)?;
        // 1. A declared body over the limit is refused before anything reads it; every body is
        //    read under size, total-time and gap deadlines (the sign-in pages' tightest).
        let req = client::limit_body(&c.server, req)?;
        // 3. Network rules: the global lists, then the country.
        network::check(&c.network.rules, cx.client)?;
        cx.country = geo::check(self.geo(), cx.client)?;
        // The administration API is decided like the app; the gateway's own pages are behind
        // the network rules, before any credential.
        let api = req.uri().path().starts_with(crate::api::PREFIX);
        let console = crate::console::is_console(req.uri().path());
        if api {
            cx.browser = None;
            // What the API is: public, like any OpenAPI document.
            if req.method() == http::Method::GET && req.uri().path() == "/.wardgate/v1/openapi.json"
            {
                let response = crate::api::openapi("/.wardgate/v1");
                return Ok(Next::Page(crate::pipeline::login::Page {
                    response,
                    refused: None,
                }));
            }
        } else if !console && req.uri().path().starts_with(crate::pipeline::login::PREFIX) {
            let practice = practice::for_pages(self, cx, &req)?;
            return Ok(Next::Page(
                crate::pipeline::login::handle(self, req, cx, practice).await,
            ));
        }
        let (parts, body) = req.into_parts();
        // 4. Which practice, then the credential: an API key, or else a session cookie.
        let practice = practice::target(self, &parts.headers, &parts.uri)?;
        cx.practice = Some(practice.id.clone());
        let presented = authenticate::credential(&parts.headers)?;
        // 6. Session rules come with the session: its practice, binding to network and device,
        //    idle and absolute timeouts (a key has its networks instead).
        let who = match presented {
            authenticate::Credential::Key(secret) => {
                let key = authenticate::key(self.store(), secret)?;
                cx.actor = Some((ActorKind::Service, key.account.clone()));
                cx.key_id = Some(key.id.clone());
                authenticate::key_networks(&key, cx.client)?;
                Who::Key(Box::new(key))
            }
            authenticate::Credential::Session(token) => {
                let s = session::check(self, token, &parts.headers, &practice, cx)?;
                Who::Session(Box::new(s))
            }
        };
        // 4. The practice's own networks, once it is known who asks.
        practice::rules(&c.practices, &practice.id, cx.client)?;
        // A change asked with a session cookie must come from the gateway's own pages.
        if let (true, Who::Session(s)) = (api, &who) {
            authenticate::api_csrf(&parts)?;
            // Break-glass is for patient care: while it is open, no administration.
            if s.emergency.is_some() {
                return Err(Rejection::EmergencyRefused);
            }
        }
        // The console is for people: an integration's key uses the API. Under break-glass,
        // no administration.
        if console {
            return admin::console(self, cx, parts, body, who, practice);
        }
        // 5. Rate limit, per key or per session.
        let rate = rate_limit::check(self.limits(), &who, c.sessions.per_minute.0.get())?;
        // 7, 8. The API: self-service, or routed and decided by the policy.
        if api {
            return admin::admit(self, cx, parts, body, who, &practice).await;
        }
        // 7. Route: the upstream, then method + path -> action and resource attributes.
        let host = host_of(&parts.headers, &parts.uri);
        let target = upstreams
            .pick(host.as_deref(), parts.uri.path())
            .ok_or(Rejection::NoUpstream)?;
        let module = self.policy().current();
        cx.module_hash = Some(module.module_hash.clone());
        let routed = route::route(&module, &parts, body, c.server.max_json_body_bytes).await?;
        cx.action = Some(routed.action.clone());
        cx.location = routed.resource.location.clone();
        cx.patient = routed.resource.patient.clone();
        // Principal: what the policy knows of who asks, built in one place.
        let principal = principal::build(self.store(), &who, &practice, &routed.resource)?;
        // 8. Decide.
        let decision = decide::decide(
            self,
            &module,
            principal,
            &practice,
            routed.action,
            routed.resource,
            cx,
        )?;
        Ok(Next::Forward(Box::new(Admitted {
            parts,
            body: routed.body,
            target,
            who,
            practice,
            rate,
            decision,
        })))
    }
}
