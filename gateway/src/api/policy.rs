//! The policy over the API: what is in force, a request decided and explained by it, a new
//! policy put in force (checked as a file swap is: it compiles, its tests pass, every role held
//! in the store exists in it) and the previous one put back. Each swap names who made it.

use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value};
use wardgate_policy::Engine;

use super::error::{ApiError, Problem};
use super::ops::Op;
use super::run::{Caller, Reply};
use crate::state::Gateway;

fn audit_actor(caller: &Caller) -> wardgate_audit::Actor {
    use wardgate_identity::ActorKind;
    let kind = match caller.actor.kind {
        ActorKind::System => wardgate_audit::ActorKind::System,
        ActorKind::User => wardgate_audit::ActorKind::User,
        ActorKind::Key => wardgate_audit::ActorKind::Key,
        ActorKind::Operator => wardgate_audit::ActorKind::Operator,
    };
    wardgate_audit::Actor::new(kind, &caller.actor.id)
}

/// The policy is the whole gateway's: a caller bound to a practice changes it only when the
/// gateway serves that practice alone.
fn may_change(gw: &Gateway, caller: &Caller) -> bool {
    match &caller.practice {
        None => true,
        Some(p) => gw
            .store()
            .practices()
            .is_ok_and(|all| all.iter().all(|q| q.id == *p)),
    }
}

pub async fn serve(gw: &Arc<Gateway>, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    let ok = |body: Value| Reply {
        status: StatusCode::OK,
        body,
        etag: None,
        replayed: false,
    };
    match op {
        Op::Policy => {
            let current = gw.policy().current();
            let m = current.manifest();
            let routes: Vec<Value> = m
                .routes
                .iter()
                .map(|r| json!({"method": r.method, "path": r.pattern, "action": m.action_name(r.action)}))
                .collect();
            Ok(ok(json!({
                "module_hash": current.module_hash,
                "previous": gw.policy().previous().map(|p| p.module_hash.clone()),
                "name": m.name,
                "version": m.version,
                "roles": m.roles.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                "routes": routes,
                "source": gw.source().map(|s| s.text.clone()),
            })))
        }
        Op::Explain(request) => {
            let mut request = *request;
            // A practice-bound caller asks about their practice only.
            if let (Some(p), Some(obj)) = (&caller.practice, request.as_object_mut()) {
                let resource = obj.entry("resource").or_insert_with(|| json!({}));
                if let Some(r) = resource.as_object_mut() {
                    r.insert("practice".into(), json!(p));
                }
            }
            let parsed = wardgate_policy::Request::from_json(&request.to_string()).map_err(|e| {
                ApiError::invalid(vec![Problem {
                    field: "body".into(),
                    message: e.to_string(),
                }])
            })?;
            let current = gw.policy().current();
            let decision = current.decide(&parsed);
            Ok(ok(json!({"module_hash": current.module_hash, "decision": decision})))
        }
        Op::SwapPolicy(_) | Op::RollbackPolicy if !may_change(gw, caller) => Err(ApiError::forbidden(
            "the policy is the gateway's, and it serves other practices too: the host's operator changes it",
        )),
        Op::SwapPolicy(body) => swap(gw, caller, body).await,
        Op::PolicyPreview(body) => preview(gw, body).await,
        Op::RollbackPolicy => match gw.rollback(audit_actor(caller)).await {
            Ok(report) => Ok(ok(json!({ "rolled_back": report, "saved_to": persist(gw) }))),
            Err(e) => Err(ApiError::new(StatusCode::CONFLICT, "no_previous", e.to_string())),
        },
        Op::PolicyMatrix => {
            let current = gw.policy().current();
            let source = gw.source().ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "no_source",
                    "the policy in force was put in force compiled, so its rules are not known here; put it in force as text to see its matrix",
                )
            })?;
            Ok(ok(matrix_json(&current.module_hash, &source.matrix)))
        }
        Op::PolicyTest(body) => {
            let (path, text) = match body.suite {
                Some(text) => (std::path::PathBuf::from("request.tests.toml"), text),
                None => {
                    let Some(path) = gw.config().policy.tests.clone() else {
                        return Err(ApiError::invalid(vec![Problem {
                            field: "suite".into(),
                            message: "the gateway has no configured tests ([policy] tests); send a suite".into(),
                        }]));
                    };
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        ApiError::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "tests_unreadable",
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    (path, text)
                }
            };
            let suite = wardgate_policy::Suite::parse(&path, &text).map_err(|e| {
                ApiError::invalid(vec![Problem {
                    field: "suite".into(),
                    message: e.to_string(),
                }])
            })?;
            let current = gw.policy().current();
            let module = current.clone();
            let (passed, failed) = tokio::task::spawn_blocking(move || {
                crate::swap::run_suite(&*module, &suite)
            })
            .await
            .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "failed", "the tests stopped unexpectedly"))?;
            Ok(ok(json!({
                "module_hash": current.module_hash,
                "passed": passed,
                "failed": failed,
                "total": passed + failed.len(),
            })))
        }
        _ => Err(ApiError::not_found("such operation")),
    }
}

/// The matrix as JSON: the roles, and per action its module, a cell per role (`Y`, `Y*`,
/// `-`) and the conditions of each `Y*`.
fn matrix_json(hash: &str, m: &wardgate_policy::matrix::Matrix) -> Value {
    let rows: Vec<Value> = m
        .rows
        .iter()
        .map(|r| {
            let conditions: Vec<Value> = r
                .conditions
                .iter()
                .map(|(role, why)| json!({"role": role, "conditions": why}))
                .collect();
            let inherited: Vec<Value> = r
                .inherited
                .iter()
                .map(|(role, from)| json!({"role": role, "from": from}))
                .collect();
            json!({
                "action": r.action,
                "module": r.module,
                "cells": r.cells.iter().map(|c| c.symbol()).collect::<Vec<_>>(),
                "conditional": conditions,
                "inherited": inherited,
            })
        })
        .collect();
    let about: Vec<Value> = m
        .roles
        .iter()
        .zip(m.about.iter())
        .map(|(role, a)| json!({"role": role, "description": a.description, "extends": a.extends}))
        .collect();
    json!({"module_hash": hash, "roles": m.roles, "rows": rows, "about": about})
}

/// `POST /policy/preview`: the candidate checked as a swap would check it, and every cell of
/// the role comparison table it changes.
async fn preview(gw: &Arc<Gateway>, body: super::ops::PolicyBody) -> Result<Reply, ApiError> {
    let Some(text) = body.text else {
        return Err(ApiError::field(
            "text",
            "send the candidate policy's text (a compiled module has no matrix to compare)",
        ));
    };
    let before = gw.source().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "no_source",
            "the policy in force was put in force compiled: there is nothing to compare with",
        )
    })?;
    let name = if body.name.trim().is_empty() {
        "candidate.policy".to_string()
    } else {
        body.name
    };
    let candidate = gw
        .preview_candidate(name, text.into_bytes())
        .await
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "refused", e.to_string()))?;
    let Some(after) = &candidate.source else {
        return Err(ApiError::field("text", "the candidate is not policy text"));
    };
    let (old, new) = (&before.matrix, &after.matrix);
    let missing = |m: &wardgate_policy::matrix::Matrix, other: &wardgate_policy::matrix::Matrix| {
        m.roles
            .iter()
            .filter(|r| !other.roles.contains(r))
            .cloned()
            .collect::<Vec<_>>()
    };
    Ok(Reply {
        status: StatusCode::OK,
        body: json!({
            "module_hash": candidate.module.module_hash,
            "tests_passed": candidate.tests_passed,
            "roles_added": missing(new, old),
            "roles_removed": missing(old, new),
            "changes": matrix_changes(old, new),
        }),
        etag: None,
        replayed: false,
    })
}

/// A cell of a matrix: its symbol and, for `Y*`, its conditions.
fn cell(m: &wardgate_policy::matrix::Matrix, role: &str, action: &str) -> (String, Vec<String>) {
    let Some(i) = m.roles.iter().position(|r| r == role) else {
        return ("-".into(), Vec::new());
    };
    let Some(row) = m.rows.iter().find(|r| r.action == action) else {
        return ("-".into(), Vec::new());
    };
    let symbol = row.cells.get(i).map_or("-", |c| c.symbol()).to_string();
    let conditions = row
        .conditions
        .iter()
        .filter(|(r, _)| r == role)
        .flat_map(|(_, c)| c.iter().cloned())
        .collect();
    (symbol, conditions)
}

/// Every (role, action) whose cell differs between two matrices.
fn matrix_changes(
    old: &wardgate_policy::matrix::Matrix,
    new: &wardgate_policy::matrix::Matrix,
) -> Vec<Value> {
    let mut roles: Vec<&String> = new.roles.iter().chain(old.roles.iter()).collect();
    roles.dedup_by(|a, b| a == b);
    let mut seen = std::collections::BTreeSet::new();
    roles.retain(|r| seen.insert(r.as_str()));
    let mut actions: Vec<&String> = Vec::new();
    for r in new.rows.iter().chain(old.rows.iter()) {
        if !actions.contains(&&r.action) {
            actions.push(&r.action);
        }
    }
    let mut out = Vec::new();
    for role in roles {
        for action in &actions {
            let (b, bc) = cell(old, role, action);
            let (a, ac) = cell(new, role, action);
            let change = match (b.as_str(), a.as_str()) {
                (x, y) if x == y && bc == ac => continue,
                ("-", _) => "gains",
                (_, "-") => "loses",
                _ => "conditions",
            };
            out.push(json!({
                "role": role, "action": action, "before": b, "after": a,
                "change": change, "conditions": ac,
            }));
        }
    }
    out
}

/// Writes the policy now in force over the configured policy file, when that file is policy
/// text and the module in force came as text, so a restart starts from what the API put in
/// force (and the file watcher does not put the old file back). Atomic: a temporary file in
/// the same folder, synced, renamed over it. Where it went, if anywhere.
fn persist(gw: &Gateway) -> Option<String> {
    use std::io::Write;
    let path = &gw.config().policy.module;
    if path.extension().and_then(|e| e.to_str()) != Some("policy") {
        return None;
    }
    let source = gw.source()?;
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
    let name = path.file_name()?.to_string_lossy().into_owned();
    let tmp = dir.join(format!(".{name}.{}.tmp", crate::signins::random_hex(6)?));
    let written = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(source.text.as_bytes())?;
        // The policy file keeps who may read it.
        if let Ok(meta) = std::fs::metadata(path) {
            f.set_permissions(meta.permissions())?;
        }
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    match written {
        Ok(()) => {
            if let Ok(mut last) = gw.policy_file.lock() {
                *last = crate::state::file_stamp(path);
            }
            Some(path.display().to_string())
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "the policy put in force could not be saved to its file");
            None
        }
    }
}

/// `PUT /policy`: the text or the module, checked as a file swap is, put in force when the
/// module it expects to replace (if it names one) is still the one in force.
async fn swap(
    gw: &Arc<Gateway>,
    caller: &Caller,
    body: super::ops::PolicyBody,
) -> Result<Reply, ApiError> {
    let bytes = match (body.text, body.module_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(b64)) => data_encoding::BASE64
            .decode(b64.trim().as_bytes())
            .map_err(|e| {
                ApiError::invalid(vec![Problem {
                    field: "module_base64".into(),
                    message: e.to_string(),
                }])
            })?,
        _ => {
            return Err(ApiError::invalid(vec![Problem {
                field: "text".into(),
                message: "send the policy's text or its module (module_base64), one of the two"
                    .into(),
            }]))
        }
    };
    let name = if body.name.trim().is_empty() {
        "candidate.policy".to_string()
    } else {
        body.name
    };
    let expect = body.expect.as_deref();
    match gw
        .swap_in(name, bytes, "api", audit_actor(caller), expect)
        .await
    {
        Ok(report) => Ok(Reply {
            status: StatusCode::OK,
            body: json!({ "swapped": report, "saved_to": persist(gw) }),
            etag: None,
            replayed: false,
        }),
        Err(crate::swap::SwapError::Stale) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "stale",
            crate::swap::SwapError::Stale.to_string(),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "refused",
            e.to_string(),
        )),
    }
}
