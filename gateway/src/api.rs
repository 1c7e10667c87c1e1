//! The administration API, `/v1`: every operation of the seeds' "Settings > Users / Roles /
//! Security" while the gateway serves, for three kinds of caller -
//!
//! - a person signed in at the gateway, or an integration with a `wg_` key, on the gateway's
//!   own listener under [`PREFIX`]: these requests go through the whole pipeline (network,
//!   country, credential, session rules, rate limit, the policy's route and decision, the one
//!   exit's audit record) and are kept to the caller's practice;
//! - the operator on the gateway's host, over a Unix socket only its user can reach
//!   ([`socket`]): the command line's way in, named `operator:<os user>`.
//!
//! Each change is recorded by the store in the gateway's own audit chain, in the transaction
//! that makes it, before the caller hears of it; the store's caches see it at once.

pub mod audit;
pub mod bodies;
pub mod client;
pub mod error;
mod idempotent;
pub mod openapi;
pub mod ops;
pub mod policy;
pub mod run;
pub mod socket;

use std::sync::Arc;

use http::{header, HeaderValue, Request, Response, StatusCode};

use crate::body::Body;
use crate::state::Gateway;
use error::ApiError;
use ops::Op;
use run::{Caller, Reply};

/// Where the API lives on the gateway's own listener.
pub const PREFIX: &str = "/.wardgate/v1/";

/// The largest request body the API reads.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// The header a signed-in browser sends with its CSRF token on every change.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The header with which a client makes a retried change safe.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// The client's `Idempotency-Key`, if it sent a usable one.
fn idempotency_key(headers: &http::HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_string()))
        }
        _ => Err(ApiError::field(
            "Idempotency-Key",
            "must be 1 to 255 visible ASCII characters (e.g. a UUID)",
        )),
    }
}

/// Whether a path of the gateway's listener is what a caller does for themselves (who they
/// are, their own password): authenticated like the rest, not an administrative action.
pub fn is_self_service(path: &str) -> bool {
    matches!(
        path.strip_prefix(PREFIX),
        Some("me" | "me/password" | "me/second-factor" | "me/second-factor/confirm")
    )
}

/// Answers one API request for `caller`: `path` is below the API root.
pub async fn serve(
    gw: &Arc<Gateway>,
    caller: Caller,
    req: Request<Body>,
    path: String,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    // A malformed key is refused whatever the operation, so a client learns of it at once.
    let retry = match idempotency_key(&parts.headers) {
        Ok(k) => k,
        Err(e) => return error(&e),
    };
    let op = match read(body)
        .await
        .and_then(|bytes| Op::parse(&parts.method, &path, parts.uri.query(), &bytes))
    {
        Ok(op) => op,
        Err(e) => return error(&e),
    };
    let done = match op {
        // The activity log is the gateway's.
        Op::AuditSearch(q) => audit::search(gw, &caller, q).await.map(|v| Reply {
            status: StatusCode::OK,
            body: v,
            etag: None,
            replayed: false,
        }),
        Op::AuditExport(q) => return audit::export(gw, &caller, q).unwrap_or_else(|e| error(&e)),
        Op::AuditVerify => audit::verify(gw).await.map(|v| Reply {
            status: StatusCode::OK,
            body: v,
            etag: None,
            replayed: false,
        }),
        Op::Policy
        | Op::Explain(_)
        | Op::SwapPolicy(_)
        | Op::RollbackPolicy
        | Op::PolicyMatrix
        | Op::PolicyTest(_)
        | Op::PolicyPreview(_) => policy::serve(gw, &caller, op).await,
        // The security settings come with the network rules that apply, from the file.
        op @ (Op::Security(_) | Op::SetSecurity(..)) => {
            answer(gw, caller, &parts.headers, retry, op)
                .await
                .map(|r| with_network(gw, r))
        }
        // A new authenticator's secret is shown once: never kept for a replay.
        op @ Op::EnrollSecondFactor(_) => answer(gw, caller, &parts.headers, None, op).await,
        op => answer(gw, caller, &parts.headers, retry, op).await,
    };
    match done {
        Ok(reply) => render(&reply),
        Err(e) => error(&e),
    }
}

async fn read(body: Body) -> Result<bytes::Bytes, ApiError> {
    crate::body::read_all(body, MAX_BODY_BYTES)
        .await
        .map_err(|e| match e {
            crate::body::ReadError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a request body may be at most {MAX_BODY_BYTES} bytes"),
            ),
            crate::body::ReadError::Timeout | crate::body::ReadError::Broken => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            ),
        })
}

async fn answer(
    gw: &Arc<Gateway>,
    caller: Caller,
    headers: &http::HeaderMap,
    retry: Option<String>,
    op: Op,
) -> Result<Reply, ApiError> {
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let gw2 = gw.clone();
    let refreshes = matches!(
        op,
        Op::SetSecurity(..) | Op::AddPractice(_) | Op::EditPractice(..) | Op::SetModules(..)
    );
    let reply = tokio::task::spawn_blocking(move || {
        // Changes one at a time, so that `If-Match` compares with what the change replaces. A
        // person's own password change has no `If-Match` and is made by the store as one
        // change (it checks the old password is still in force): it does not hold up everyone
        // else's changes for its password hashing, unless it is retried with a key.
        let own_password = matches!(op, Op::ChangePassword(_)) && retry.is_none();
        let _one = (op.changes() && !own_password).then(|| gw2.changing());
        let retry = retry.filter(|_| op.changes());
        if let Some(key) = &retry {
            if let Some(reply) = idempotent::replay(gw2.store(), &caller, key, &op)? {
                return Ok(reply);
            }
        }
        if let (Some(expected), Some(user)) = (&if_match, op.target_user()) {
            // The caller's view of the user: another practice's user is not found, stale or not.
            let current = run::etag_for(gw2.store(), &caller, user)?;
            if expected.trim() != "*" && expected.trim() != current {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "stale",
                    "the user changed since you read them; read them again and retry",
                ));
            }
        }
        match retry {
            Some(key) => idempotent::run(gw2.store(), &caller, &key, op),
            None => run::run(gw2.store(), &caller, op),
        }
    })
    .await
    .map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the operation stopped unexpectedly; nothing was acknowledged",
        )
    })??;
    if refreshes {
        if let Err(e) = gw.refresh_practices() {
            tracing::error!(error = %e, "cannot re-read the practices after a change");
        }
    }
    Ok(reply)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    crate::respond::json(status, body)
}

fn render(reply: &Reply) -> Response<Body> {
    let mut res = json_response(reply.status, &reply.body);
    if reply.replayed {
        res.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    if let Some(tag) = reply
        .etag
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        res.headers_mut().insert(header::ETAG, tag);
    }
    res
}

/// The bootstrap key's one use: `body` is "Add User" for the first administrator, created
/// only while no active user holds an administering role - checked and done as one change, so
/// two bootstraps at once make one administrator.
pub async fn bootstrap(gw: &Arc<Gateway>, body: &[u8]) -> Response<Body> {
    let op = match Op::parse(&http::Method::POST, "/users", None, body) {
        Ok(op) => op,
        Err(e) => return error(&e),
    };
    let admin_roles = gw.store().admin_roles().to_vec();
    let administering =
        matches!(&op, Op::AddUser(b) if b.roles.iter().any(|r| admin_roles.contains(r)));
    if !administering {
        return error(&ApiError::forbidden(format!(
            "the first administrator needs one of these roles: {}",
            admin_roles.join(", ")
        )));
    }
    let caller = Caller::operator(wardgate_identity::Actor {
        kind: wardgate_identity::ActorKind::System,
        id: "bootstrap".into(),
    });
    let gw2 = gw.clone();
    let done = tokio::task::spawn_blocking(move || {
        let _one = gw2.changing();
        if gw2.store().has_active_admin()? {
            return Err(ApiError::forbidden(
                "an administrator exists: the bootstrap key creates only the first",
            ));
        }
        run::run(gw2.store(), &caller, op)
    })
    .await;
    match done {
        Ok(Ok(reply)) => render(&reply),
        Ok(Err(e)) => error(&e),
        Err(_) => error(&ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "failed",
            "the operation stopped unexpectedly; nothing was acknowledged",
        )),
    }
}

/// The OpenAPI document for an API rooted at `root`.
pub fn openapi(root: &str) -> Response<Body> {
    json_response(StatusCode::OK, &openapi::document(root))
}

/// An API error as its response.
pub fn error(e: &ApiError) -> Response<Body> {
    json_response(e.status, &e.body())
}

/// Adds to a practice's security settings the network and country rules that apply to it:
/// the configuration file's, which the API shows and does not change.
fn with_network(gw: &Gateway, mut reply: Reply) -> Reply {
    let c = gw.config();
    let nets = |v: &[crate::config::Net]| v.iter().map(|n| n.0.to_string()).collect::<Vec<_>>();
    let codes =
        |v: &[crate::config::CountryCode]| v.iter().map(|c| c.to_string()).collect::<Vec<_>>();
    let practice = reply
        .body
        .get("practice")
        .and_then(serde_json::Value::as_str)
        .and_then(|p| c.practices.get(p));
    let network = serde_json::json!({
        "from": "configuration",
        "allow": nets(&c.network.rules.allow),
        "deny": nets(&c.network.rules.deny),
        "practice_allow": practice.map(|p| nets(&p.allow)).unwrap_or_default(),
        "practice_deny": practice.map(|p| nets(&p.deny)).unwrap_or_default(),
        "countries": c.geo.as_ref().map(|g| serde_json::json!({
            "allow": codes(&g.allow_countries),
            "block": codes(&g.block_countries),
        })),
    });
    if let Some(o) = reply.body.as_object_mut() {
        o.insert("network".into(), network);
    }
    reply
}
