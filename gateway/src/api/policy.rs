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
        Op::SwapPolicy(body) => {
            let bytes = match (body.text, body.module_base64) {
                (Some(text), None) => text.into_bytes(),
                (None, Some(b64)) => data_encoding::BASE64.decode(b64.trim().as_bytes()).map_err(|e| {
                    ApiError::invalid(vec![Problem {
                        field: "module_base64".into(),
                        message: e.to_string(),
                    }])
                })?,
                _ => {
                    return Err(ApiError::invalid(vec![Problem {
                        field: "text".into(),
                        message: "send the policy's text or its module (module_base64), one of the two".into(),
                    }]))
                }
            };
            let name = if body.name.trim().is_empty() {
                "candidate.policy".to_string()
            } else {
                body.name
            };
            match gw.swap_in(name, bytes, "api", audit_actor(caller)).await {
                Ok(report) => Ok(ok(json!({ "swapped": report }))),
                Err(e) => Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "refused",
                    e.to_string(),
                )),
            }
        }
        Op::RollbackPolicy => match gw.rollback(audit_actor(caller)) {
            Ok(report) => Ok(ok(json!({ "rolled_back": report }))),
            Err(e) => Err(ApiError::new(StatusCode::CONFLICT, "no_previous", e.to_string())),
        },
        Op::PolicyMatrix => {
            let current = gw.policy().current();
            let matrix = gw.matrix().ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "no_source",
                    "the policy in force was put in force compiled, so its rules are not known here; put it in force as text to see its matrix",
                )
            })?;
            Ok(ok(matrix_json(&current.module_hash, &matrix)))
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
            json!({
                "action": r.action,
                "module": r.module,
                "cells": r.cells.iter().map(|c| c.symbol()).collect::<Vec<_>>(),
                "conditional": conditions,
            })
        })
        .collect();
    json!({"module_hash": hash, "roles": m.roles, "rows": rows})
}
