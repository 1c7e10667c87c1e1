//! Steps 7 and 8 for the administration API, and the console's way to it. An API request
//! that passed the credential checks is either what a person does for themselves (`/me`) or
//! routed and decided by the policy like any request to the app. The console, a page of the
//! gateway's own, makes its API requests through the same two steps and the same exit (so
//! each is decided and audited exactly as if the browser had sent it to `/.wardgate/v1/`),
//! as the signed-in person whose page it is.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Request, Response};
use wardgate_identity::Practice;

use super::{decide, exit, principal, route, AdminCall, Ctx, Next, SessionPrincipal, Who};
use crate::body::{full, Body};
use crate::reject::Rejection;
use crate::state::Gateway;

/// Routes and decides an administrative request of `who`.
pub(super) async fn admit(
    gw: &Gateway,
    cx: &mut Ctx,
    parts: http::request::Parts,
    body: Body,
    who: Who,
    practice: &Practice,
) -> Result<Next<'static>, Rejection> {
    let body = decide_admin(gw, cx, &parts, body, &who, practice).await?;
    Ok(Next::Admin(Box::new(AdminCall { parts, body, who })))
}

/// Steps 7 and 8 for an administrative request: the body to hand the API once allowed.
async fn decide_admin(
    gw: &Gateway,
    cx: &mut Ctx,
    parts: &http::request::Parts,
    body: Body,
    who: &Who,
    practice: &Practice,
) -> Result<Body, Rejection> {
    // What a person does for themselves (who am I, my own password) is theirs, whatever
    // the policy says about administration.
    if crate::api::is_self_service(parts.uri.path()) {
        cx.action = Some("self:account".into());
        return Ok(body);
    }
    let module = gw.policy().current();
    cx.module_hash = Some(module.module_hash.clone());
    let max_json = gw.config().server.max_json_body_bytes;
    let routed = route::route(&module, parts, body, max_json).await?;
    cx.action = Some(routed.action.clone());
    cx.location = routed.resource.location.clone();
    cx.patient = routed.resource.patient.clone();
    let principal = principal::build(gw.store(), who, practice, &routed.resource)?;
    decide::decide(
        gw,
        &module,
        principal,
        practice,
        routed.action,
        routed.resource,
        cx,
    )?;
    Ok(routed.body)
}

/// A console page's request after the credential checks: for a person (not a key), not
/// under break-glass, within the session's rate.
pub(super) fn console(
    gw: &Gateway,
    cx: &mut Ctx,
    parts: http::request::Parts,
    body: Body,
    who: Who,
    practice: Practice,
) -> Result<Next<'static>, Rejection> {
    let Who::Session(s) = who else {
        return Err(Rejection::PeopleOnly);
    };
    if s.emergency.is_some() {
        return Err(Rejection::EmergencyRefused);
    }
    let rate = gw.config().sessions.per_minute.0.get();
    super::rate_limit::check(gw.limits(), &Who::Session(s.clone()), rate)?;
    cx.action = Some("gateway:console".into());
    Ok(Next::Console(Box::new(ConsoleCall {
        parts,
        body,
        session: *s,
        practice,
    })))
}

/// A console page's request, once its checks passed: the signed-in person and their practice.
pub(crate) struct ConsoleCall {
    pub parts: http::request::Parts,
    pub body: Body,
    pub session: SessionPrincipal,
    pub practice: Practice,
}

/// What the policy says of an operation the console could offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum May {
    Yes,
    /// Yes, after signing in again (or with a second factor).
    AfterStepUp,
    No,
}

impl May {
    pub(crate) fn offered(self) -> bool {
        self != May::No
    }
}

/// The API, as the person of a console page: every call is routed, decided and audited as a
/// request of theirs to `/.wardgate/v1/`.
pub(crate) struct AsUser<'a> {
    gw: &'a Arc<Gateway>,
    page: &'a Ctx,
    session: &'a SessionPrincipal,
    /// The same person as the pipeline's steps take them, made once for the page's decisions.
    who: Who,
    practice: &'a Practice,
}

impl<'a> AsUser<'a> {
    pub(crate) fn new(
        gw: &'a Arc<Gateway>,
        page: &'a Ctx,
        session: &'a SessionPrincipal,
        practice: &'a Practice,
    ) -> Self {
        AsUser {
            gw,
            page,
            session,
            who: Who::Session(Box::new(session.clone())),
            practice,
        }
    }

    pub(crate) fn session(&self) -> &SessionPrincipal {
        self.session
    }

    pub(crate) fn practice(&self) -> &Practice {
        self.practice
    }

    /// A context for one API call of the page: the page's client, country and session, this
    /// call's method and path, nothing decided yet.
    fn child(&self, method: &Method, path: &str) -> Ctx {
        Ctx {
            rid: self.page.rid.clone(),
            started: std::time::Instant::now(),
            method: method.as_str().to_string(),
            path: path.to_string(),
            peer: self.page.peer,
            client: self.page.client,
            tls: self.page.tls,
            country: self.page.country,
            practice: Some(self.practice.id.clone()),
            actor: self.page.actor.clone(),
            key_id: None,
            session_id: self.page.session_id.clone(),
            location: None,
            patient: None,
            action: None,
            decision: None,
            module_hash: None,
            browser: None,
        }
    }

    fn request(
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Option<(http::request::Parts, Body)> {
        let uri = format!(
            "{}{}",
            crate::api::PREFIX.trim_end_matches('/'),
            path_and_query
        );
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(full(body.unwrap_or_default())).ok()?;
        Some(req.into_parts())
    }

    /// Calls the API: `path_and_query` is below its root (`/users?prefix=ali`), `body` JSON.
    pub(crate) async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Response<Body> {
        let Some((parts, body)) = Self::request(method, path_and_query, body) else {
            let mut res = Response::new(full(""));
            *res.status_mut() = http::StatusCode::BAD_REQUEST;
            return res;
        };
        let mut cx = self.child(&parts.method, parts.uri.path());
        let who = Who::Session(Box::new(self.session.clone()));
        let next = admit(self.gw, &mut cx, parts, body, who, self.practice).await;
        let mut res = exit::api_call(self.gw, cx, next).await;
        res.headers_mut().remove(header::SET_COOKIE);
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }

    /// What the policy would say to `method path` (below the API root) from this person now,
    /// for any resource of their practice: nothing is done and nothing is recorded.
    pub(crate) async fn may(&self, method: Method, path: &str) -> May {
        let Some((parts, body)) = Self::request(method, path, None) else {
            return May::No;
        };
        let mut cx = self.child(&parts.method, parts.uri.path());
        match decide_admin(self.gw, &mut cx, &parts, body, &self.who, self.practice).await {
            Ok(_) => May::Yes,
            Err(Rejection::StepUp { .. }) => May::AfterStepUp,
            Err(_) => May::No,
        }
    }
}
