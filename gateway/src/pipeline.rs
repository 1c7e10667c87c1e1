//! The request pipeline. The order of the checks is written once, in [`Gateway::check`], and
//! follows DESIGN.md ("The house"); each check is a small method below it. Anything that
//! goes wrong before the decision is a [`Rejection`]; nothing is forwarded undecided, and
//! every decision, allow or deny, is written to the audit log.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use http::header::{self, HeaderMap};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::json;
use wardgate_audit::{Durability, Event, EventKind};
use wardgate_host::LoadedModule;
use wardgate_identity::{IdentityError, KeyInfo, Practice};
use wardgate_policy::ir::BindSource;
use wardgate_policy::request as policy;
use wardgate_policy::route::{percent_decode, RequestParts};
use wardgate_policy::{Decision, Engine};

use crate::body::ReadError;
use crate::config::{AuditDurability, CountryCode, PracticeFrom};
use crate::geo;
use crate::metrics::{DecisionLabel, StatusLabel};
use crate::net::client_addr;
use crate::proxy::{self, Target};
use crate::ratelimit::Admit;
use crate::redact;
use crate::reject::{full, Body, BoxError, ForBrowser, Rejection};
use crate::session::SessionPrincipal;
use crate::state::Gateway;

/// What the audit event of a request needs, filled in as the checks pass.
#[derive(Debug)]
pub(crate) struct Seen {
    pub(crate) rid: String,
    method: String,
    path: String,
    pub(crate) client: IpAddr,
    country: Option<CountryCode>,
    pub(crate) principal: Option<(&'static str, String)>,
    key_id: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) practice: Option<String>,
    location: Option<String>,
    patient: Option<String>,
    pub(crate) action: Option<String>,
    decision: Option<Decision>,
    module_hash: Option<String>,
}

/// Who is asking: an integration with an API key, or a person signed in in a browser.
#[derive(Debug)]
enum Who {
    Key(Box<KeyInfo>),
    Session(Box<SessionPrincipal>),
}

/// A request that passed every check, ready to forward.
struct Admitted<'g> {
    parts: http::request::Parts,
    body: Body,
    target: &'g Target,
    who: Who,
    practice: Practice,
    rate: Admit,
    decision: Decision,
}

/// Where a route may read attributes from.
struct Parts<'a> {
    query: Option<&'a str>,
    headers: &'a HeaderMap,
    json: Option<&'a serde_json::Value>,
}

impl RequestParts for Parts<'_> {
    fn query(&self, name: &str) -> Option<String> {
        self.query?.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = percent_decode(&k.replace('+', " "))?;
            (k == name).then(|| percent_decode(&v.replace('+', " ")))?
        })
    }

    fn header(&self, lower_name: &str) -> Option<String> {
        self.headers
            .get(lower_name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    fn json(&self) -> Option<&serde_json::Value> {
        self.json
    }
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
    /// Answers one request: checks, decides, audits, forwards.
    pub async fn handle(
        self: &Arc<Self>,
        mut req: Request<Incoming>,
        peer: SocketAddr,
        tls: bool,
    ) -> Response<Body> {
        let started = Instant::now();
        let mut seen = Seen {
            rid: self.request_id(),
            method: req.method().as_str().to_string(),
            path: req.uri().path().to_string(),
            client: crate::net::canonical(peer.ip()),
            country: None,
            principal: None,
            key_id: None,
            session_id: None,
            practice: None,
            location: None,
            patient: None,
            action: None,
            decision: None,
            module_hash: None,
        };
        // Where a browser sent to sign in comes back to (GET requests only).
        let browser = crate::login::is_browser(req.headers());
        let next = req
            .uri()
            .path_and_query()
            .filter(|_| browser && req.method() == http::Method::GET)
            .map(|p| p.as_str().to_string());
        let csrf = browser
            .then(|| crate::session::cookie(req.headers(), crate::session::CSRF_COOKIE))
            .flatten()
            .map(str::to_string);
        if !self.config.server.enforce {
            let response = self
                .pass_through(req, &seen, tls)
                .await
                .unwrap_or_else(|rejection| rejection.response(&seen.rid));
            self.count_status(&response, started);
            return response;
        }
        // The path as it will be decided and forwarded: dot segments removed, ambiguous
        // encodings refused, before anything looks at it.
        if let Err(refused) = crate::path::apply(req.uri_mut(), self.config.proxy.encoded_slashes) {
            seen.client = client_addr(
                peer.ip(),
                req.headers(),
                &self.config.network.trusted_proxies,
            );
            let rejection = Rejection::BadRequest(refused.message());
            self.audit_rejection(&seen, &rejection);
            let response = rejection.response_for(
                &seen.rid,
                browser.then_some(ForBrowser {
                    next: "/",
                    csrf: csrf.as_deref().unwrap_or(""),
                }),
            );
            self.count_status(&response, started);
            return response;
        }
        seen.path = req.uri().path().to_string();
        let pages = req.uri().path().starts_with(crate::login::PREFIX);
        let s = &self.config.server;
        let total = if pages {
            s.page_body_timeout.0
        } else {
            s.body_timeout.0
        };
        let limits = crate::body::Limits {
            max_bytes: s.max_body_bytes,
            total,
            gap: s.body_gap_timeout.0,
        };
        let req = req.map(|b| crate::body::guarded(b, limits));
        let result = if pages {
            // The gateway's own pages: behind the network rules, before any credential.
            match self.gate_pages(&req, peer, &mut seen) {
                Ok(practice) => {
                    let mut res = crate::login::handle(self, req, &mut seen, practice).await;
                    if seen.principal.is_some() {
                        res.extensions_mut().insert(crate::server::Credentialed);
                    }
                    self.count_status(&res, started);
                    return res;
                }
                Err(rejection) => {
                    self.audit_rejection(&seen, &rejection);
                    Err(rejection)
                }
            }
        } else {
            match self.check(req, peer, &mut seen).await {
                Err(rejection) => {
                    self.audit_rejection(&seen, &rejection);
                    Err(rejection)
                }
                Ok(admitted) => {
                    self.metrics
                        .pipeline_seconds
                        .observe(started.elapsed().as_secs_f64());
                    match self.audit_allow(&seen).await {
                        Ok(()) => self.forward(admitted, &seen, tls).await,
                        Err(rejection) => Err(rejection),
                    }
                }
            }
        };
        let mut response = result.unwrap_or_else(|rejection| {
            if let Rejection::RateLimited { .. } = rejection {
                self.metrics.rate_limited.inc();
            }
            rejection.response_for(
                &seen.rid,
                browser.then(|| ForBrowser {
                    next: next.as_deref().unwrap_or("/"),
                    csrf: csrf.as_deref().unwrap_or(""),
                }),
            )
        });
        if seen.principal.is_some() {
            response
                .extensions_mut()
                .insert(crate::server::Credentialed);
        }
        self.count_status(&response, started);
        response
    }

    fn count_status(&self, response: &Response<Body>, started: Instant) {
        self.metrics
            .requests
            .get_or_create(&StatusLabel {
                status: response.status().as_u16(),
            })
            .inc();
        self.metrics
            .request_seconds
            .observe(started.elapsed().as_secs_f64());
    }

    /// Steps 1-3 for the gateway's own pages, and the practice they are for.
    fn gate_pages(
        &self,
        req: &Request<Body>,
        peer: SocketAddr,
        seen: &mut Seen,
    ) -> Result<Option<Practice>, Rejection> {
        self.body_limit(req.headers())?;
        seen.client = client_addr(
            peer.ip(),
            req.headers(),
            &self.config.network.trusted_proxies,
        );
        self.network_rules(seen.client)?;
        seen.country = self.geo_rules(seen.client)?;
        let practice = self.target_practice(req.headers(), req.uri()).ok();
        if let Some(p) = &practice {
            seen.practice = Some(p.id.clone());
            self.practice_rules(&p.id, seen.client)?;
        }
        Ok(practice)
    }

    /// The checks, in order. Each returns the rejection that ends the request.
    async fn check(
        &self,
        req: Request<Body>,
        peer: SocketAddr,
        seen: &mut Seen,
    ) -> Result<Admitted<'_>, Rejection> {
        let (parts, body) = req.into_parts();
        // 1. Accept: TLS, header size and header timeouts are the listener's; a declared body
        //    over the limit is refused before anything reads it.
        self.body_limit(&parts.headers)?;
        // 2. The client's address: the socket's, or X-Forwarded-For from a trusted proxy.
        seen.client = client_addr(
            peer.ip(),
            &parts.headers,
            &self.config.network.trusted_proxies,
        );
        // 3. Network rules: the global lists, then the country.
        self.network_rules(seen.client)?;
        seen.country = self.geo_rules(seen.client)?;
        // 4. Authenticate: which practice; an API key, or else a session cookie (whose rules,
        //    step 6 - binding to network and device, idle and absolute timeouts - are checked
        //    as it is looked up); then the practice's and the key's networks.
        let practice = self.target_practice(&parts.headers, &parts.uri)?;
        seen.practice = Some(practice.id.clone());
        let who = self.authenticate(&parts.headers, &practice, seen)?;
        match &who {
            Who::Key(key) => {
                seen.principal = Some(("service", key.account.clone()));
                seen.key_id = Some(key.id.clone());
                key_networks(key, seen.client)?;
            }
            Who::Session(s) => {
                seen.principal = Some(("user", s.info.user_id.clone()));
                seen.session_id = Some(s.info.id.clone());
            }
        }
        self.practice_rules(&practice.id, seen.client)?;
        // 5. Rate limit, per key or per session.
        let rate = self.rate_limit(&who)?;
        // 7. Route: the upstream, then method + path -> action and resource attributes.
        let target = self
            .upstreams()
            .pick(
                host_of(&parts.headers, &parts.uri).as_deref(),
                parts.uri.path(),
            )
            .ok_or(Rejection::NoUpstream)?;
        let module = self.policy.current();
        seen.module_hash = Some(module.module_hash.clone());
        let (action, resource, body) = self.route(&module, &parts, body).await?;
        seen.action = Some(action.clone());
        seen.location = resource.location.clone();
        seen.patient = resource.patient.clone();
        // 8. Decide.
        let decision = self.decide(&module, &who, &practice, action, resource, seen)?;
        Ok(Admitted {
            parts,
            body,
            target,
            who,
            practice,
            rate,
            decision,
        })
    }

    fn body_limit(&self, headers: &HeaderMap) -> Result<(), Rejection> {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        match declared {
            Some(n) if n > self.config.server.max_body_bytes => Err(Rejection::BodyTooLarge),
            _ => Ok(()),
        }
    }

    fn network_rules(&self, client: IpAddr) -> Result<(), Rejection> {
        match self.config.network.rules.refuses(client) {
            Some(_) => Err(Rejection::Network),
            None => Ok(()),
        }
    }

    fn geo_rules(&self, client: IpAddr) -> Result<Option<CountryCode>, Rejection> {
        match self.geo.as_ref().map(|g| g.check(client)) {
            None => Ok(None),
            Some(geo::Verdict::Pass(country)) => Ok(country),
            Some(geo::Verdict::Blocked(_)) => Err(Rejection::Country),
        }
    }

    pub(crate) fn target_practice(
        &self,
        headers: &HeaderMap,
        uri: &http::Uri,
    ) -> Result<Practice, Rejection> {
        let source = &self.config.practice;
        let id: Option<String> = match source.from {
            PracticeFrom::Fixed => source.id.clone(),
            PracticeFrom::Header => source
                .header
                .as_ref()
                .and_then(|h| headers.get(&h.0))
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string()),
            PracticeFrom::Path => source
                .segment
                .and_then(|n| uri.path().split('/').nth(n).and_then(percent_decode)),
            PracticeFrom::Host => host_of(headers, uri).and_then(|h| {
                let h = h.split(':').next().unwrap_or(&h).to_ascii_lowercase();
                let domain = source
                    .domain
                    .as_deref()?
                    .trim_start_matches('.')
                    .to_ascii_lowercase();
                h.strip_suffix(&domain)?
                    .strip_suffix('.')
                    .map(str::to_string)
            }),
        };
        id.filter(|id| !id.is_empty())
            .and_then(|id| self.practice(&id))
            .ok_or(Rejection::UnknownPractice)
    }

    fn authenticate(
        &self,
        headers: &HeaderMap,
        practice: &Practice,
        seen: &mut Seen,
    ) -> Result<Who, Rejection> {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim);
        let Some(presented) = presented else {
            return match crate::session::cookie(headers, crate::session::COOKIE) {
                Some(token) => self
                    .session_principal(token, headers, practice, seen)
                    .map(|s| Who::Session(Box::new(s))),
                None => Err(Rejection::NoCredentials),
            };
        };
        match self.store.verify_key_cached(presented) {
            Ok(key) => Ok(Who::Key(Box::new(key))),
            Err(IdentityError::BadKey) => Err(Rejection::BadCredentials),
            Err(e) => {
                tracing::error!(error = %e, "the identity store failed a key lookup");
                Err(Rejection::StoreFault)
            }
        }
    }

    fn practice_rules(&self, practice: &str, client: IpAddr) -> Result<(), Rejection> {
        match self
            .config
            .practices
            .get(practice)
            .and_then(|r| r.refuses(client))
        {
            Some(_) => Err(Rejection::Network),
            None => Ok(()),
        }
    }

    fn rate_limit(&self, who: &Who) -> Result<Admit, Rejection> {
        let admit = match who {
            Who::Key(key) => self.limits.check(&key.id, key.rate_per_minute),
            Who::Session(s) => self.limits.check(
                &format!("session:{}", s.info.id),
                Some(self.config.sessions.per_minute.0.get()),
            ),
        };
        match admit {
            pass @ Admit::Pass { .. } => Ok(pass),
            Admit::Limited { limit, retry_after } => {
                Err(Rejection::RateLimited { limit, retry_after })
            }
        }
    }

    async fn route(
        &self,
        module: &LoadedModule,
        parts: &http::request::Parts,
        body: Body,
    ) -> Result<(String, policy::Resource, Body), Rejection> {
        let manifest = module.manifest();
        let found = manifest
            .match_route(parts.method.as_str(), parts.uri.path())
            .ok_or(Rejection::NoRoute)?;
        let needs_json = found
            .route
            .binds
            .iter()
            .any(|b| matches!(b.source, BindSource::Json(_)));
        let (json, body) = if needs_json {
            let bytes = crate::body::read_all(body, self.config.server.max_json_body_bytes)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge => Rejection::BodyTooLarge,
                    ReadError::Timeout => Rejection::BodyTimeout,
                    ReadError::Broken => {
                        Rejection::BadRequest("the request body could not be read")
                    }
                })?;
            (serde_json::from_slice(&bytes).ok(), full(bytes))
        } else {
            // The size limit is the guarded body's, checked as it streams to the app.
            (None, body)
        };
        let view = Parts {
            query: parts.uri.query(),
            headers: &parts.headers,
            json: json.as_ref(),
        };
        let resource = found.resource(manifest, &view);
        let action = manifest.action_name(found.route.action).to_string();
        Ok((action, resource, body))
    }

    fn decide(
        &self,
        module: &LoadedModule,
        who: &Who,
        practice: &Practice,
        action: String,
        mut resource: policy::Resource,
        seen: &mut Seen,
    ) -> Result<Decision, Rejection> {
        match &resource.practice {
            Some(p) if *p != practice.id => return Err(Rejection::UnknownPractice),
            _ => resource.practice = Some(practice.id.clone()),
        }
        let (principal, relations, emergency) = match who {
            Who::Key(key) => {
                let roles = if key.practice == practice.id {
                    key.roles.clone()
                } else {
                    Vec::new()
                };
                let principal = policy::Principal {
                    id: key.account.clone(),
                    kind: Some("service".into()),
                    roles,
                    flags: Vec::new(),
                    auth_age_seconds: None,
                    mfa: None,
                    scopes: Some(key.scopes.clone()),
                };
                (principal, Vec::new(), None)
            }
            Who::Session(s) => {
                // Roles held at one location count only for requests about that location.
                let roles = match &resource.location {
                    Some(location) => self
                        .store
                        .roles_in_effect(&s.info.user_id, &practice.id, Some(location))
                        .map_err(|_| Rejection::StoreFault)?,
                    None => s.roles.clone(),
                };
                let principal = policy::Principal {
                    id: s.info.user_id.clone(),
                    kind: Some("user".into()),
                    roles,
                    // Break-glass is allowed per practice ("Allow emergency access for
                    // (Practice)"), and the session is this practice's.
                    flags: if s.user.emergency_access.contains(&practice.id) {
                        vec!["emergency_access".into()]
                    } else {
                        Vec::new()
                    },
                    auth_age_seconds: Some(s.auth_age_seconds),
                    mfa: Some(s.mfa),
                    scopes: None,
                };
                let relations = match &resource.patient {
                    Some(patient) => self
                        .store
                        .relations(&s.info.user_id, patient)
                        .map_err(|_| Rejection::StoreFault)?,
                    None => Vec::new(),
                };
                let emergency = s
                    .emergency
                    .as_ref()
                    .map(|(reason, started)| policy::Emergency {
                        reason: Some(reason.clone()),
                        started_at: Some(started.clone()),
                    });
                (principal, relations, emergency)
            }
        };
        let request = policy::Request {
            principal,
            action,
            resource,
            context: policy::Context {
                ip: Some(seen.client.to_string()),
                country: seen.country.map(|c| c.to_string()),
                time: self.clock.utc().to_rfc3339(),
                timezone: Some(practice.timezone.clone()),
                modules: practice.modules.clone(),
                relations,
                emergency,
            },
        };
        let started = Instant::now();
        let decision = module.decide(&request);
        self.metrics
            .decision_seconds
            .observe(started.elapsed().as_secs_f64());
        let first = decision.reasons.first();
        let step_up = decision
            .reasons
            .iter()
            .find(|r| r.code == "step_up_required");
        let rejection = match first.map(|r| r.code.as_str()) {
            _ if decision.is_allow() => None,
            _ if step_up.is_some() => Some(Rejection::StepUp {
                max_age_seconds: step_up.and_then(|r| r.max_auth_age_seconds),
                mfa: step_up.and_then(|r| r.mfa).unwrap_or(false),
            }),
            Some("engine_fault") | Some("invalid_request") => {
                tracing::error!(reason = ?first, "the policy module could not decide");
                Some(Rejection::PolicyFault)
            }
            Some("step_up_required") => Some(Rejection::StepUp {
                max_age_seconds: first.and_then(|r| r.max_auth_age_seconds),
                mfa: first.and_then(|r| r.mfa).unwrap_or(false),
            }),
            code => Some(Rejection::Denied {
                reason: code.unwrap_or("no_grant").to_string(),
            }),
        };
        seen.decision = Some(decision.clone());
        match rejection {
            Some(r) => Err(r),
            None => Ok(decision),
        }
    }

    fn event(&self, seen: &Seen, verdict: &str, reasons: Vec<String>) -> Event {
        let (kind, id) = seen
            .principal
            .clone()
            .unwrap_or(("anonymous", String::new()));
        let mut e = Event::new(
            EventKind::Decision,
            wardgate_audit::Actor {
                kind: kind.into(),
                id,
            },
            seen.action.clone().unwrap_or_else(|| "unrouted".into()),
        );
        e.resource = wardgate_audit::ResourceRef {
            practice: seen.practice.clone(),
            location: seen.location.clone(),
            patient: seen.patient.clone(),
            path: Some(seen.path.clone()),
        };
        e.decision = Some(wardgate_audit::DecisionSummary {
            verdict: verdict.into(),
            reasons,
        });
        if let Some(d) = &seen.decision {
            e.obligations = d
                .obligations
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok())
                .collect();
        }
        e.module_hash = seen.module_hash.clone();
        e.client = Some(seen.client.to_string());
        e.country = seen.country.map(|c| c.to_string());
        e.request_id = Some(seen.rid.clone());
        e.session_id = seen.session_id.clone();
        e.detail = Some(json!({"method": seen.method, "key": seen.key_id}));
        e
    }

    fn count_decision(&self, decision: &'static str, reason: &str) {
        self.metrics
            .decisions
            .get_or_create(&DecisionLabel {
                decision,
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Records a refused request. A full queue cannot make a refusal worse, so it is only
    /// logged; the request stays refused.
    pub(crate) fn audit_rejection(&self, seen: &Seen, rejection: &Rejection) {
        let mut reasons = vec![rejection.code().to_string()];
        match (&seen.decision, rejection) {
            (Some(d), _) => reasons.extend(d.reasons.iter().map(|r| r.code.clone())),
            // A refusal of the gateway's own (no policy decision behind it) says why.
            (None, Rejection::Denied { reason }) => reasons.push(reason.clone()),
            (None, _) => {}
        }
        let reason = reasons.last().cloned().unwrap_or_default();
        self.count_decision("deny", &reason);
        if let Err(e) = self.audit.try_append(self.event(seen, "deny", reasons)) {
            tracing::error!(error = %e, request = %seen.rid, "a refusal could not be audited");
        }
    }

    /// Records an allowed request before it is forwarded; when that cannot be done the
    /// request is refused.
    async fn audit_allow(&self, seen: &Seen) -> Result<(), Rejection> {
        let reasons = seen
            .decision
            .as_ref()
            .map(|d| d.reasons.iter().map(|r| r.code.clone()).collect())
            .unwrap_or_default();
        self.count_decision("allow", "granted");
        let event = self.event(seen, "allow", reasons);
        let written = match self.config.audit.durability {
            AuditDurability::Batched => self.audit.try_append(event),
            AuditDurability::Group => {
                let audit = self.audit.clone();
                tokio::task::spawn_blocking(move || audit.append(event, Durability::Group))
                    .await
                    .map_err(|_| wardgate_audit::AuditError::WriterGone)
                    .and_then(|r| r)
                    .map(|_| ())
            }
        };
        written.map_err(|e| {
            tracing::error!(error = %e, request = %seen.rid, "an allowed request could not be audited; refused");
            Rejection::AuditUnavailable
        })
    }

    async fn forward(
        &self,
        a: Admitted<'_>,
        seen: &Seen,
        tls: bool,
    ) -> Result<Response<Body>, Rejection> {
        let Admitted {
            mut parts,
            body,
            target,
            who,
            practice,
            rate,
            decision,
        } = a;
        let host = host_of(&parts.headers, &parts.uri);
        let h = &mut parts.headers;
        proxy::strip_hop_by_hop(h);
        proxy::strip_identity(h, &self.config.proxy.strip_headers);
        proxy::set(h, "x-forwarded-for", &seen.client.to_string());
        proxy::set(h, "x-forwarded-proto", if tls { "https" } else { "http" });
        if let Some(host) = &host {
            proxy::set(h, "x-forwarded-host", host);
        }
        crate::session::strip_cookies(h);
        proxy::set(h, "x-wardgate-request-id", &seen.rid);
        let mut emergency = false;
        match &who {
            Who::Key(key) => {
                proxy::set(h, "x-wardgate-principal", &key.account);
                proxy::set(h, "x-wardgate-principal-type", "service");
                proxy::set(h, "x-wardgate-key-id", &key.id);
                proxy::set(h, "x-wardgate-roles", &key.roles.join(", "));
            }
            Who::Session(s) => {
                proxy::set(h, "x-wardgate-principal", &s.info.user_id);
                proxy::set(h, "x-wardgate-principal-type", "user");
                proxy::set(h, "x-wardgate-email", &s.user.email);
                proxy::set(h, "x-wardgate-session", &s.info.id);
                proxy::set(h, "x-wardgate-roles", &s.roles.join(", "));
                if let Some((reason, _)) = &s.emergency {
                    emergency = true;
                    proxy::set(h, "x-wardgate-emergency", reason);
                }
            }
        }
        proxy::set(h, "x-wardgate-practice", &practice.id);
        if let Some(action) = &seen.action {
            proxy::set(h, "x-wardgate-action", action);
        }
        let fields = redact::fields(&decision.obligations);
        let res = target.send(Request::from_parts(parts, body)).await;
        let mut res = match res {
            Ok(r) => r,
            Err(rejection) => {
                self.metrics
                    .upstream_errors
                    .get_or_create(&crate::metrics::ResultLabel {
                        result: if rejection == Rejection::UpstreamTimeout {
                            "timeout"
                        } else {
                            "failed"
                        },
                    })
                    .inc();
                return Err(rejection);
            }
        };
        if !fields.is_empty() {
            res = redact_response(res, &fields).await?;
        }
        let h = res.headers_mut();
        proxy::set(h, "x-request-id", &seen.rid);
        if emergency {
            // Marks every page served under emergency access.
            proxy::set(h, "wardgate-emergency", "active");
        }
        if let Admit::Pass {
            limit,
            remaining,
            reset,
        } = rate
        {
            h.insert("ratelimit-limit", limit.into());
            h.insert("ratelimit-remaining", remaining.into());
            h.insert("ratelimit-reset", reset.as_secs().into());
        }
        Ok(res)
    }

    /// `enforce = false`: straight to the upstream, for measuring the proxy alone.
    async fn pass_through(
        &self,
        req: Request<Incoming>,
        seen: &Seen,
        tls: bool,
    ) -> Result<Response<Body>, Rejection> {
        let (mut parts, body) = req.into_parts();
        let target = self
            .upstreams()
            .pick(
                host_of(&parts.headers, &parts.uri).as_deref(),
                parts.uri.path(),
            )
            .ok_or(Rejection::NoUpstream)?;
        proxy::strip_hop_by_hop(&mut parts.headers);
        proxy::strip_identity(&mut parts.headers, &self.config.proxy.strip_headers);
        proxy::set(
            &mut parts.headers,
            "x-forwarded-for",
            &seen.client.to_string(),
        );
        proxy::set(
            &mut parts.headers,
            "x-forwarded-proto",
            if tls { "https" } else { "http" },
        );
        let body = body.map_err(|e| Box::new(e) as BoxError).boxed();
        target.send(Request::from_parts(parts, body)).await
    }
}

/// The largest response body read to redact it.
const MAX_REDACT_BYTES: usize = 16 << 20;

async fn redact_response(
    res: Response<Body>,
    fields: &[String],
) -> Result<Response<Body>, Rejection> {
    let (mut parts, body) = res.into_parts();
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            let ct = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            ct == "application/json" || ct.ends_with("+json")
        });
    let encoded = parts
        .headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes() != b"identity");
    if !json || encoded {
        return Err(Rejection::CannotRedact);
    }
    let bytes = crate::body::read_all(body, MAX_REDACT_BYTES)
        .await
        .map_err(|_| Rejection::CannotRedact)?;
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| Rejection::CannotRedact)?;
    redact::redact(&mut value, fields);
    let out = serde_json::to_vec(&value).map_err(|_| Rejection::CannotRedact)?;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::ETAG);
    Ok(Response::from_parts(parts, full(out)))
}

fn key_networks(key: &KeyInfo, client: IpAddr) -> Result<(), Rejection> {
    if key.networks.is_empty() {
        return Ok(());
    }
    let inside = key.networks.iter().any(|n| {
        n.parse::<crate::config::Net>()
            .is_ok_and(|net| net.contains(client))
    });
    if inside {
        Ok(())
    } else {
        Err(Rejection::BadCredentials)
    }
}
