//! Changes made with an `Idempotency-Key`: the first request runs and its successful reply is
//! kept for a day; the same request again gets that reply (marked `Idempotent-Replayed`), not
//! a second user or key; the same key with another request is refused. Changes run one at a
//! time, so two copies of a request in flight cannot both run.

use http::StatusCode;
use serde_json::{json, Value};
use wardgate_identity::{Remembered, Store};

use super::error::ApiError;
use super::ops::Op;
use super::run::{self, Caller, Reply};

/// The kept answer to an earlier copy of this request, if there is one; a refusal if the key
/// was used for another request.
pub(super) fn replay(
    store: &Store,
    caller: &Caller,
    key: &str,
    op: &Op,
) -> Result<Option<Reply>, ApiError> {
    let Some(kept) = store.remembered(&actor(caller), key)? else {
        return Ok(None);
    };
    if kept.request_hash != digest(store, op) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for another request; use a new key for a new request",
        ));
    }
    let saved: Value = serde_json::from_slice(&kept.reply).unwrap_or_default();
    Ok(Some(Reply {
        status: StatusCode::from_u16(kept.status).unwrap_or(StatusCode::OK),
        body: saved.get("body").cloned().unwrap_or_default(),
        etag: saved
            .get("etag")
            .and_then(Value::as_str)
            .map(str::to_string),
        replayed: true,
    }))
}

/// Runs `op` for `caller` and keeps its reply, when it succeeded, under `key`.
pub(super) fn run(store: &Store, caller: &Caller, key: &str, op: Op) -> Result<Reply, ApiError> {
    let request_hash = digest(store, &op);
    let reply = run::run(store, caller, op)?;
    let saved = json!({"body": reply.body, "etag": reply.etag});
    store.remember(
        &actor(caller),
        key,
        &Remembered {
            request_hash,
            status: reply.status.as_u16(),
            reply: saved.to_string().into_bytes(),
        },
    )?;
    Ok(reply)
}

/// Whose keys these are: the caller at the practice they act at, so that a person at two
/// practices is not answered at one with a reply kept at the other.
/// (A JSON array, so no id or practice can be mistaken for another's.)
fn actor(caller: &Caller) -> String {
    json!([
        format!("{:?}", caller.actor.kind),
        caller.actor.id,
        caller.practice
    ])
    .to_string()
}

/// What makes two requests the same: the method, path, query and body they are sent as,
/// digested with the store's key (the body can hold a password).
fn digest(store: &Store, op: &Op) -> String {
    let call = op.call();
    let mut request = Vec::new();
    request.extend_from_slice(call.method.as_str().as_bytes());
    request.push(0);
    request.extend_from_slice(call.path.as_bytes());
    request.push(0);
    if let Some(body) = call.body {
        request.extend_from_slice(body.to_string().as_bytes());
    }
    store.request_hash(&request)
}
