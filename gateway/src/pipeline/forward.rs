//! Step 9: the forward. What the client said about who and where it is goes; the gateway's
//! own identity and forwarding headers are set; the request goes over the worker's pooled
//! client to the upstream chosen at step 7.

use std::sync::Arc;

use http::{HeaderMap, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{host_of, Admitted, Ctx, Who};
use crate::body::{Body, BoxError};
use crate::config::StripHeader;
use crate::proxy::{self, Upstreams};
use crate::reject::Rejection;
use crate::state::Gateway;

/// The headers every forwarded request gets, checked or not: hop-by-hop headers and what
/// `[proxy] strip_headers` names go, the gateway's `X-Forwarded-*` are set.
fn rewrite(h: &mut HeaderMap, strip: &[StripHeader], cx: &Ctx, host: Option<&str>) {
    proxy::strip_hop_by_hop(h);
    proxy::strip_identity(h, strip);
    proxy::set(h, "x-forwarded-for", &cx.client.to_string());
    proxy::set(
        h,
        "x-forwarded-proto",
        if cx.tls { "https" } else { "http" },
    );
    if let Some(host) = host {
        proxy::set(h, "x-forwarded-host", host);
    }
}

/// What the app is told about who asks, for a request the policy allowed.
fn identity(h: &mut HeaderMap, cx: &Ctx, who: &Who, practice: &str) {
    crate::session::strip_cookies(h);
    proxy::set(h, "x-wardgate-request-id", &cx.rid);
    match who {
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
                proxy::set(h, "x-wardgate-emergency", reason);
            }
        }
    }
    proxy::set(h, "x-wardgate-practice", practice);
    if let Some(action) = &cx.action {
        proxy::set(h, "x-wardgate-action", action);
    }
}

/// Sends an admitted request; the response then meets the decision's obligations.
pub(super) async fn forward(
    gw: &Gateway,
    a: Admitted<'_>,
    cx: &Ctx,
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
    rewrite(
        &mut parts.headers,
        &gw.config().proxy.strip_headers,
        cx,
        host.as_deref(),
    );
    identity(&mut parts.headers, cx, &who, &practice.id);
    let res = match target.send(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(rejection) => {
            let result = if rejection == Rejection::UpstreamTimeout {
                "timeout"
            } else {
                "failed"
            };
            gw.metrics()
                .upstream_errors
                .get_or_create(&crate::metrics::ResultLabel { result })
                .inc();
            return Err(rejection);
        }
    };
    super::obligations::apply(res, &decision, &who, rate, cx).await
}

/// `enforce = false`: straight to the upstream, for measuring the proxy alone. Nothing is
/// checked or audited; the forwarding headers are still the gateway's.
pub(super) async fn pass_through(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
    cx: &Ctx,
    upstreams: &Upstreams,
) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    let host = host_of(&parts.headers, &parts.uri);
    let Some(target) = upstreams.pick(host.as_deref(), parts.uri.path()) else {
        return crate::respond::api(&Rejection::NoUpstream, &cx.rid);
    };
    rewrite(
        &mut parts.headers,
        &gw.config().proxy.strip_headers,
        cx,
        host.as_deref(),
    );
    let body = body.map_err(|e| Box::new(e) as BoxError).boxed();
    match target.send(Request::from_parts(parts, body)).await {
        Ok(res) => res,
        Err(rejection) => crate::respond::api(&rejection, &cx.rid),
    }
}
