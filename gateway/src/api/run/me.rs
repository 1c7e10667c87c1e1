//! What a caller does for themselves: see who they are, change their own password.

use serde_json::json;
use wardgate_identity::{ActorKind, IdentityError, Store};

use super::{view, Caller, Reply};
use crate::api::error::{ApiError, Problems};
use crate::api::ops::PasswordBody;

/// The caller: what kind, their id, the practice they act at and their roles there, and a
/// person's account as an administrator of that practice would see it.
pub(super) fn me(store: &Store, caller: &Caller) -> Result<Reply, ApiError> {
    let kind = match caller.actor.kind {
        ActorKind::System => "system",
        ActorKind::User => "user",
        ActorKind::Key => "key",
        ActorKind::Operator => "operator",
    };
    let user = match caller.actor.kind {
        ActorKind::User => Some(view(caller, store.user(&caller.actor.id)?)),
        _ => None,
    };
    Ok(Reply::ok(json!({
        "kind": kind,
        "id": caller.actor.id,
        "practice": caller.practice,
        "roles": caller.roles,
        "user": user,
    })))
}

/// "Change Password" by a signed-in person: the current password, the new one twice, the
/// practice's password rules and history. Keys and the operator have no password here.
pub(super) fn change_password(
    store: &Store,
    caller: &Caller,
    b: PasswordBody,
) -> Result<Reply, ApiError> {
    if caller.actor.kind != ActorKind::User {
        return Err(ApiError::forbidden(
            "only a person signed in at the gateway changes their own password",
        ));
    }
    let mut problems = Problems::default();
    for (field, value) in [("current", &b.current), ("new", &b.new)] {
        if value.is_empty() {
            problems.add(field, "is required");
        }
    }
    if b.new != b.confirm {
        problems.add("confirm", "the new passwords do not match");
    }
    problems.finish()?;
    match store.change_password(&caller.actor.id, &b.current, &b.new) {
        Ok(()) => Ok(Reply::ok(json!({"changed": true}))),
        Err(IdentityError::BadCredentials) => {
            Err(ApiError::field("current", "is not your current password"))
        }
        Err(e @ (IdentityError::WeakPassword(_) | IdentityError::PasswordReused)) => {
            Err(ApiError::field("new", e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}
