//! The admin listener: health, Prometheus metrics, the policy in force, swaps and rollback.
//! Everything but `/healthz` needs the admin API key (`Authorization: Bearer ...`).

use std::net::SocketAddr;
use std::sync::Arc;

use http::{header, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;
use wardgate_audit::{Event, EventKind};
use wardgate_policy::Engine;

use crate::body::{full, Body};
use crate::state::Gateway;

/// Largest candidate accepted over the API.
const MAX_CANDIDATE_BYTES: usize = 16 << 20;

fn reply(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    let mut res = Response::new(full(body.to_string()));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    res
}

fn authorized(gw: &Gateway, req: &Request<Incoming>) -> bool {
    let Some(admin) = &gw.config().admin else {
        return false;
    };
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| admin.api_key_sha256.matches(k.trim()))
}

/// A request without the admin key: audited, and told how to authenticate.
fn refused(gw: &Gateway, peer: SocketAddr, path: String) -> Response<Body> {
    let mut e = Event::new(
        EventKind::Login,
        wardgate_audit::Actor::new(wardgate_audit::ActorKind::Key, "admin"),
        "admin:refused",
    );
    e.client = Some(peer.ip().to_string());
    e.resource.path = Some(path);
    let _ = gw.audit().try_append(e);
    let mut res = reply(
        StatusCode::UNAUTHORIZED,
        json!({"error": "unauthenticated", "message": "send the admin API key"}),
    );
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"wardgate-admin\""),
    );
    res
}

pub async fn handle(gw: &Arc<Gateway>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    let path = req.uri().path().to_string();
    if req.method() == Method::GET && path == "/healthz" {
        return reply(StatusCode::OK, json!({"status": "ok"}));
    }
    if req.method() == Method::GET && path == "/v1/openapi.json" {
        return crate::api::openapi("/v1");
    }
    if path.starts_with("/v1/") {
        return bootstrap(gw, req, peer).await;
    }
    if !authorized(gw, &req) {
        return refused(gw, peer, path);
    }
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/metrics") => {
            let mut res = Response::new(full(gw.metrics().render()));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            res
        }
        (Method::GET, "/policy") => {
            let current = gw.policy().current();
            let m = current.manifest();
            reply(
                StatusCode::OK,
                json!({
                    "module_hash": current.module_hash,
                    "previous": gw.policy().previous().map(|p| p.module_hash.clone()),
                    "name": m.name,
                    "version": m.version,
                    "roles": m.roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                    "routes": m.routes.iter().map(|r| json!({"method": r.method, "path": r.pattern, "action": m.action_name(r.action)})).collect::<Vec<_>>(),
                }),
            )
        }
        (Method::PUT, "/policy") | (Method::POST, "/policy") => {
            let name = req
                .headers()
                .get("x-policy-name")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("candidate.policy")
                .to_string();
            let bytes = match Limited::new(req.into_body(), MAX_CANDIDATE_BYTES)
                .collect()
                .await
            {
                Ok(b) => b.to_bytes().to_vec(),
                Err(_) => {
                    return reply(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        json!({"error": "too_large", "message": format!("a candidate may be at most {MAX_CANDIDATE_BYTES} bytes")}),
                    )
                }
            };
            match gw
                .swap_in(name, bytes, "admin", wardgate_audit::Actor::system("admin"))
                .await
            {
                Ok(report) => reply(StatusCode::OK, json!({"swapped": report})),
                Err(e) => reply(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    json!({"error": "refused", "message": e.to_string()}),
                ),
            }
        }
        (Method::POST, "/policy/rollback") => {
            match gw.rollback(wardgate_audit::Actor::system("admin")) {
                Ok(report) => reply(StatusCode::OK, json!({"rolled_back": report})),
                Err(e) => reply(
                    StatusCode::CONFLICT,
                    json!({"error": "no_previous", "message": e.to_string()}),
                ),
            }
        }
        (Method::POST, p) if p.starts_with("/users/") => user_action(gw, p),
        (Method::GET, p) if p.starts_with("/users/") && p.ends_with("/sessions") => {
            let id = p
                .trim_start_matches("/users/")
                .trim_end_matches("/sessions");
            match gw.store().user(id).and_then(|u| gw.store().sessions(&u.id)) {
                Ok(list) => reply(StatusCode::OK, json!({"sessions": list})),
                Err(e) => reply(
                    StatusCode::NOT_FOUND,
                    json!({"error": "not_found", "message": e.to_string()}),
                ),
            }
        }
        (Method::POST, "/audit/flush") => {
            let audit = gw.audit().clone();
            let flushed = tokio::task::spawn_blocking(move || audit.flush()).await;
            match flushed {
                Ok(Ok(_)) => reply(StatusCode::OK, json!({"flushed": true})),
                _ => reply(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({"error": "audit_unavailable", "message": "the audit log could not be flushed"}),
                ),
            }
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            json!({"error": "not_found", "message": "GET /healthz, GET /metrics, GET|PUT /policy, POST /policy/rollback, POST /audit/flush, GET /users/{id}/sessions, POST /users/{id}/logout|lock|unlock|disable|enable"}),
        ),
    }
}

/// `POST /users/{id or email}/{logout|lock|unlock|disable|enable}`: what an administrator does
/// to a user while the gateway runs (the command line cannot then: the gateway holds the audit
/// log). Locking and disabling end the user's sessions at once.
fn user_action(gw: &Gateway, path: &str) -> Response<Body> {
    let rest = path.trim_start_matches("/users/");
    let Some((id, action)) = rest.rsplit_once('/') else {
        return reply(StatusCode::NOT_FOUND, json!({"error": "not_found"}));
    };
    let actor = wardgate_identity::Actor::user("admin-api");
    let user = match gw.store().user(id) {
        Ok(u) => u,
        Err(e) => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": e.to_string()}),
            )
        }
    };
    let done = match action {
        "logout" => gw
            .store()
            .end_sessions(&actor, &user.id, "remote-logout")
            .map(|n| json!({"sessions_ended": n})),
        "lock" => gw
            .store()
            .lock(&actor, &user.id)
            .map(|u| json!({"status": u.status})),
        "unlock" => gw
            .store()
            .unlock(&actor, &user.id)
            .map(|u| json!({"status": u.status})),
        "disable" => gw
            .store()
            .disable(&actor, &user.id)
            .map(|u| json!({"status": u.status})),
        "enable" => gw
            .store()
            .enable(&actor, &user.id)
            .map(|u| json!({"status": u.status})),
        _ => return reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    };
    match done {
        Ok(v) => reply(StatusCode::OK, v),
        Err(e) => reply(
            StatusCode::CONFLICT,
            json!({"error": "refused", "message": e.to_string()}),
        ),
    }
}

/// `/v1/...` on the admin listener: the shared admin key is a bootstrap credential. It creates
/// the first administrator (`POST /v1/users` with an administering role, while no active user
/// holds one) and nothing else; every use is audited and alerted. Everything else is
/// administered by people and keys on the gateway's listener, or the host's operator.
async fn bootstrap(gw: &Arc<Gateway>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    use crate::api::error::ApiError;
    let path = req.uri().path().to_string();
    let presented = authorized(gw, &req);
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
    gw.alert(
        "bootstrap",
        &format!("the bootstrap key was used from {} for {path}", peer.ip()),
    );
    if !(req.method() == Method::POST && path == "/v1/users") {
        return crate::api::error(&ApiError::forbidden(
            "the bootstrap key only creates the first administrator (POST /v1/users)",
        ));
    }
    let store = gw.store().clone();
    let has_admin = tokio::task::spawn_blocking(move || store.has_active_admin()).await;
    match has_admin {
        Ok(Ok(false)) => {}
        Ok(Ok(true)) => {
            return crate::api::error(&ApiError::forbidden(
                "an administrator exists: the bootstrap key creates only the first",
            ))
        }
        _ => {
            return crate::api::error(&ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the identity store could not be read",
            ))
        }
    }
    let (parts, body) = req.into_parts();
    let bytes = match Limited::new(body, crate::api::MAX_BODY_BYTES)
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
    let admin_roles = gw.store().admin_roles().to_vec();
    let administering = serde_json::from_slice::<crate::api::ops::NewUserBody>(&bytes)
        .is_ok_and(|b| b.roles.iter().any(|r| admin_roles.contains(r)));
    if !administering {
        return crate::api::error(&ApiError::forbidden(format!(
            "the first administrator needs one of these roles: {}",
            admin_roles.join(", ")
        )));
    }
    let caller = crate::api::run::Caller::operator(wardgate_identity::Actor {
        kind: wardgate_identity::ActorKind::System,
        id: "bootstrap".into(),
    });
    let req = Request::from_parts(parts, full(bytes));
    crate::api::serve(gw, caller, req, "/users".into()).await
}
