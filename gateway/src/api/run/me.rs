//! What a caller does for themselves: see who they are, change their own password.

use http::StatusCode;
use serde_json::json;
use wardgate_identity::{ActorKind, IdentityError, Store};

use super::{view, Caller, Reply};
use crate::api::error::{ApiError, Problems};
use crate::api::ops::{CodeBody, PasswordBody};

/// The caller: what kind, their id, the practice they act at and their roles there, the roles
/// of the policy in force, and a person's account as an administrator of that practice would
/// see it.
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
        "second_factor": match caller.actor.kind {
            ActorKind::User => Some(store.has_second_factor(&caller.actor.id)?),
            _ => None,
        },
        "policy_roles": store.policy_roles().unwrap_or_default(),
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
    // Counted like a sign-in: a wrong current password is a failed attempt, and a throttled
    // account is refused. The caller's other sessions end with the change; this one stays.
    match store.change_own_password(
        &caller.actor.id,
        &b.current,
        &b.new,
        caller.practice.as_deref(),
        caller.session.as_deref(),
    ) {
        Ok(ended) => Ok(Reply::ok(
            json!({"changed": true, "other_sessions_ended": ended}),
        )),
        Err(IdentityError::BadCredentials) => {
            Err(ApiError::field("current", "is not your current password"))
        }
        Err(IdentityError::LockedOut) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            "too many wrong passwords: the account is locked for a while (an administrator can unlock it)",
        )),
        Err(e @ (IdentityError::WeakPassword(_) | IdentityError::PasswordReused)) => {
            Err(ApiError::field("new", e.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

fn person_only(caller: &Caller) -> Result<(), ApiError> {
    if caller.actor.kind != ActorKind::User {
        return Err(ApiError::forbidden(
            "only a person signed in at the gateway has a second factor here",
        ));
    }
    Ok(())
}

/// "Enable Two-Factor Authentication" by a signed-in person: their password again (a wrong
/// one counts as a failed sign-in), and to replace a factor a current code from it; then a
/// new authenticator secret and recovery codes, shown once (never kept for an
/// Idempotency-Key replay), in force once confirmed (the old one works until then).
pub(super) fn enroll(store: &Store, caller: &Caller, b: CodeBody) -> Result<Reply, ApiError> {
    person_only(caller)?;
    let me = &caller.actor.id;
    let password = b.password.unwrap_or_default();
    if password.is_empty() {
        return Err(ApiError::field(
            "password",
            "type your password to set up a second factor",
        ));
    }
    let email = store.user(me)?.email;
    match store.sign_in(&email, &password, caller.practice.as_deref()) {
        Ok(_) => {}
        Err(IdentityError::LockedOut) => return Err(locked_out()),
        Err(IdentityError::BadCredentials) => {
            return Err(ApiError::field("password", "is not your password"))
        }
        Err(e) => return Err(e.into()),
    }
    if !store.has_second_factor(me)? {
        return Ok(enrollment(store.enroll_totp(me, "Wardgate")?));
    }
    // A new phone: the old factor proves it is its person; it keeps working until the new
    // one is confirmed. A lost one is an administrator's reset.
    let Some(code) = b.code.filter(|c| !c.trim().is_empty()) else {
        return Err(ApiError::field(
            "code",
            "you have a second factor: a current code from it (or a recovery code) replaces it; if it is lost, an administrator resets it",
        ));
    };
    match store.verify_second_factor(me, &code, caller.practice.as_deref()) {
        Ok(()) => Ok(enrollment(store.begin_replace_totp(me, "Wardgate")?)),
        Err(IdentityError::LockedOut) => Err(locked_out()),
        Err(IdentityError::BadCredentials | IdentityError::BadToken) => Err(ApiError::field(
            "code",
            "is not a current code of your second factor",
        )),
        Err(e) => Err(e.into()),
    }
}

fn enrollment(e: wardgate_identity::TotpEnrollment) -> Reply {
    Reply::ok(json!({
        "secret": e.secret,
        "uri": e.uri,
        "recovery_codes": e.recovery_codes,
    }))
}

/// The new authenticator's first code: from now on the second factor is asked at sign-in.
pub(super) fn confirm(store: &Store, caller: &Caller, b: CodeBody) -> Result<Reply, ApiError> {
    person_only(caller)?;
    let code = b.code.unwrap_or_default();
    match store.confirm_totp(&caller.actor.id, &code) {
        Ok(()) => Ok(Reply::ok(json!({"enrolled": true}))),
        Err(IdentityError::BadCredentials) => Err(ApiError::field(
            "code",
            "is not the authenticator's current code; check the time on the phone",
        )),
        Err(IdentityError::BadToken) => Err(ApiError::field(
            "code",
            "no authenticator is being set up: start again",
        )),
        Err(e) => Err(e.into()),
    }
}

fn locked_out() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "locked_out",
        "too many wrong codes: the account is locked for a while (an administrator can unlock it)",
    )
}
