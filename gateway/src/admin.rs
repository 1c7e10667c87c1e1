//! The admin listener: `/healthz`; `/metrics` (with the metrics key when one is set, else
//! on a loopback address only); the API's document; and the bootstrap key's one use, creating
//! the first administrator. Everything else is administered through the API by people and
//! keys on the gateway's listener, or by the host's operator on its socket.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;
use wardgate_audit::{Event, EventKind};

use crate::api::error::ApiError;
use crate::body::{full, Body};
use crate::state::Gateway;

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    crate::respond::json(status, &body)
}

fn bearer(req: &Request<Incoming>) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

fn bootstrap_key(gw: &Gateway, req: &Request<Incoming>) -> bool {
    let Some(admin) = &gw.config().admin else {
        return false;
    };
    bearer(req).is_some_and(|k| admin.api_key_sha256.matches(k))
}

fn may_scrape(gw: &Gateway, req: &Request<Incoming>, local: bool) -> bool {
    match gw
        .config()
        .admin
        .as_ref()
        .and_then(|a| a.metrics_key_sha256.as_ref())
    {
        Some(key) => bearer(req).is_some_and(|k| key.matches(k)),
        None => local,
    }
}

/// A request without its credential: audited, and told how to authenticate.
fn refused(gw: &Gateway, peer: SocketAddr, path: String, realm: &'static str) -> Response<Body> {
    let mut e = Event::new(
        EventKind::Login,
        wardgate_audit::Actor::new(wardgate_audit::ActorKind::Key, realm),
        "admin:refused",
    );
    e.client = Some(peer.ip().to_string());
    e.resource.path = Some(path);
    let _ = gw.audit().try_append(e);
    let mut res = crate::api::error(&ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        format!("send the {realm} key"),
    ));
    if let Ok(v) = header::HeaderValue::from_str(&format!("Bearer realm=\"wardgate-{realm}\"")) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    res
}

pub async fn handle(gw: &Arc<Gateway>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let path = req.uri().path().to_string();
    let local = gw
        .config()
        .admin
        .as_ref()
        .is_some_and(|a| a.listen.ip().is_loopback());
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/healthz") => reply(StatusCode::OK, json!({"status": "ok"})),
        (Method::GET, "/v1/openapi.json") => crate::api::openapi("/v1"),
        (_, p) if p.starts_with("/v1/") => bootstrap(gw, req, peer).await,
        (Method::GET, "/metrics") if may_scrape(gw, &req, local) => {
            let mut res = Response::new(full(gw.metrics().render()));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            res
        }
        (Method::GET, "/metrics") => refused(gw, peer, path, "metrics"),
        _ => crate::api::error(&ApiError::not_found(
            "such endpoint here: GET /healthz, GET /metrics, GET /v1/openapi.json, and POST /v1/users with the bootstrap key; administer through /.wardgate/v1/ on the gateway's listener, or the operator's socket",
        )),
    }
}

/// `/v1/...` on the admin listener: the shared admin key is a bootstrap credential. It creates
/// the first administrator (`POST /v1/users` with an administering role, while no active user
/// holds one) and nothing else; every use is audited and alerted. Everything else is
/// administered by people and keys on the gateway's listener, or the host's operator.
async fn bootstrap(gw: &Arc<Gateway>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let path = req.uri().path().to_string();
    let presented = bootstrap_key(gw, &req);
    let mut e = Event::new(
        EventKind::Login,
        wardgate_audit::Actor::new(wardgate_audit::ActorKind::Key, "bootstrap"),
        if presented {
            "admin:bootstrap"
        } else {
            "admin:refused"
        },
    );
    e.client = Some(peer.ip().to_string());
    e.resource.path = Some(path.clone());
    if let Err(err) = gw.audit().append(e, wardgate_audit::Durability::Sync) {
        tracing::error!(error = %err, "a use of the bootstrap key could not be audited");
        return crate::api::error(&ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            "the audit log could not record this; nothing was done",
        ));
    }
    if !presented {
        return crate::api::error(&ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send the bootstrap key, or use the gateway's listener with a session or an API key",
        ));
    }
    gw.alert(crate::alerts::alert(
        "bootstrap",
        format!("the bootstrap key was used from {} for {path}", peer.ip()),
        "bootstrap",
        Some(peer.ip()),
        None,
    ));
    if !(req.method() == Method::POST && path == "/v1/users") {
        return crate::api::error(&ApiError::forbidden(
            "the bootstrap key only creates the first administrator (POST /v1/users)",
        ));
    }
    let bytes = match Limited::new(req.into_body(), crate::api::MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return crate::api::error(&ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                "the body is too large",
            ))
        }
    };
    crate::api::bootstrap(gw, &bytes).await
}
