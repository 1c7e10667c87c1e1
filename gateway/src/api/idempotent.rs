//! Changes made with an `Idempotency-Key`: the first request runs and its successful reply is
//! kept for a day; the same request again gets that reply (marked `Idempotent-Replayed`), not
//! a second user or key; the same key with another request is refused. Changes run one at a
//! time, so two copies of a request in flight cannot both run.

use http::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
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
    if kept.request_hash != digest(op) {
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
    let request_hash = digest(&op);
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

fn actor(caller: &Caller) -> String {
    format!("{:?}:{}", caller.actor.kind, caller.actor.id)
}

/// What makes two requests the same: the method, path, query and body they are sent as.
fn digest(op: &Op) -> String {
    let call = op.call();
    let mut h = Sha256::new();
    h.update(call.method.as_str());
    h.update([0]);
    h.update(&call.path);
    h.update([0]);
    h.update(call.body.map(|b| b.to_string()).unwrap_or_default());
    hex::encode(h.finalize())
}
