//! Carrying out an [`Op`] against the identity store, for one caller: the same code whether
//! the gateway serves it or the command line runs it with the gateway stopped. The store's
//! own rules hold (duplicates, the password policy, "only practices they themselves can
//! access"); here the caller is kept to their practice and nobody raises their own roles.

use http::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wardgate_identity::{Actor, Store, User};

use super::error::{ApiError, Problems};
use super::ops::Op;

mod me;
mod settings;
mod users;

/// The most users one page holds.
pub const MAX_PAGE: usize = 500;

/// Who asks, and how far their reach goes.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    /// `Some(p)`: a person or key of practice `p`, administering that practice only. `None`:
    /// the host's operator (or the system), everywhere.
    pub practice: Option<String>,
    /// The caller's roles in effect there (a key: its account's).
    pub roles: Vec<String>,
    /// The session a person signed in at the gateway calls from (its id, as
    /// [`wardgate_identity::SessionInfo`] shows it); `None` for a key, the operator, the system.
    pub session: Option<String>,
}

impl Caller {
    /// The host's operator: everywhere, above the policy.
    pub fn operator(actor: Actor) -> Caller {
        Caller {
            actor,
            practice: None,
            roles: Vec::new(),
            session: None,
        }
    }
}

/// An operation's result: status, body, and the user's version where there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub etag: Option<String>,
    /// The kept answer to an earlier copy of this request (`Idempotency-Key`).
    pub replayed: bool,
}

impl Reply {
    pub(super) fn ok(body: Value) -> Reply {
        Reply {
            status: StatusCode::OK,
            body,
            etag: None,
            replayed: false,
        }
    }

    /// A user as the caller may see them: at a practice-bound caller's practice only.
    pub(super) fn user(
        caller: &Caller,
        status: StatusCode,
        user: &User,
        extra: Option<(&str, Value)>,
    ) -> Reply {
        let user = &view(caller, user.clone());
        let mut body = json!({ "user": user });
        if let (Some((k, v)), Some(obj)) = (extra, body.as_object_mut()) {
            obj.insert(k.to_string(), v);
        }
        Reply {
            status,
            body,
            etag: Some(etag(user)),
            replayed: false,
        }
    }
}

/// A user's version: changes whenever anything an administrator sees of them changes.
pub fn etag(user: &User) -> String {
    let bytes = serde_json::to_vec(user).unwrap_or_default();
    let digest = Sha256::digest(&bytes);
    format!("\"{}\"", hex::encode(digest.get(..12).unwrap_or_default()))
}

/// Runs `op` for `caller`.
pub fn run(store: &Store, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::ListPractices(_)
        | Op::AddPractice(_)
        | Op::Locations(..)
        | Op::EditLocation { .. }
        | Op::RemoveLocation { .. }
        | Op::EditPractice(..)
        | Op::SetModules(..)
        | Op::AddLocation(..)
        | Op::Security(_)
        | Op::SetSecurity(..)
        | Op::AddAccount(_)
        | Op::ListKeys { .. }
        | Op::IssueKey(_)
        | Op::RotateKey(..)
        | Op::RevokeKey(_)
        | Op::Emergency { .. }
        | Op::CloseEmergency { .. } => settings::run(store, caller, op),
        Op::AuditSearch(_)
        | Op::AuditExport(_)
        | Op::AuditVerify
        | Op::Policy
        | Op::Explain(_)
        | Op::SwapPolicy(_)
        | Op::RollbackPolicy
        | Op::PolicyMatrix
        | Op::PolicyTest(_)
        | Op::PolicyPreview(_) => Err(ApiError::not_found(
            "operation here: the running gateway serves the audit log and the policy (or run `wardgate audit` and `wardgate policy`)",
        )),
        Op::Me => me::me(store, caller),
        Op::ChangePassword(b) => me::change_password(store, caller, b),
        Op::EnrollSecondFactor(b) => me::enroll(store, caller, b),
        Op::ConfirmSecondFactor(b) => me::confirm(store, caller, b),
        op => users::run(store, caller, op),
    }
}

/// A user the caller may administer; another practice's user is not found, not forbidden, so
/// nothing about them leaks.
/// What a practice-bound caller sees of a user: their roles and emergency access at that
/// practice, not elsewhere.
pub fn view(caller: &Caller, mut user: User) -> User {
    if let Some(p) = &caller.practice {
        user.assignments.retain(|a| a.practice_id == *p);
        user.emergency_access.retain(|e| e == p);
    }
    user
}

/// The version of a user as this caller sees them, for `If-Match`.
pub fn etag_for(store: &Store, caller: &Caller, id: &str) -> Result<String, ApiError> {
    Ok(etag(&view(caller, target(store, caller, id)?)))
}

/// A change to the whole account (its email, status, password, sessions) by a practice-bound
/// caller: only for someone who works at the caller's practice alone. Someone who also works
/// elsewhere is changed by the host's operator, or only at this practice (revoke, relations).
pub(super) fn only_here(caller: &Caller, user: &User) -> Result<(), ApiError> {
    match &caller.practice {
        Some(p) if user.assignments.iter().any(|a| a.practice_id != *p) => {
            Err(ApiError::forbidden(format!(
                "{} also works at other practices; only their roles at {p} are yours to change",
                user.email
            )))
        }
        _ => Ok(()),
    }
}

/// Roles a caller hands out (a grant, a new user, an account): an administrator of the
/// practice may give any; anyone else only roles they hold themselves, so nobody mints an
/// identity with more than they have.
pub(super) fn may_give(store: &Store, caller: &Caller, roles: &[String]) -> Result<(), ApiError> {
    if caller.practice.is_none() {
        return Ok(());
    }
    let admin = caller.roles.iter().any(|r| store.admin_roles().contains(r));
    match roles.iter().find(|r| !admin && !caller.roles.contains(r)) {
        Some(r) => Err(ApiError::forbidden(format!(
            "you may give only roles you hold yourself; not {r}"
        ))),
        None => Ok(()),
    }
}

/// A change that would leave a practice without an active administrator is refused.
pub(super) fn not_last_admin(
    store: &Store,
    user: &User,
    practice: Option<&str>,
) -> Result<(), ApiError> {
    let sole = store.sole_admin_of(&user.id)?;
    match sole
        .iter()
        .find(|p| practice.is_none_or(|q| q == p.as_str()))
    {
        Some(p) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "last_administrator",
            format!(
                "{} is the last administrator of {p}; make another first",
                user.email
            ),
        )),
        None => Ok(()),
    }
}

/// A page of `items` (in their order): at most `limit` after the one whose id is the cursor,
/// and the cursor of the next page.
pub(super) fn paginate<T>(
    items: Vec<T>,
    id: impl Fn(&T) -> &str,
    page: &super::ops::Page,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let limit = page.limit.unwrap_or(100);
    let mut problems = Problems::default();
    if limit == 0 || limit > MAX_PAGE {
        problems.add("limit", format!("must be from 1 to {MAX_PAGE}"));
    }
    let start = match &page.cursor {
        Some(c) => match items.iter().position(|i| id(i) == c) {
            Some(n) => n + 1,
            None => {
                problems.add(
                    "cursor",
                    "not a cursor of this list (it is gone); start again",
                );
                0
            }
        },
        None => 0,
    };
    problems.finish()?;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(limit).collect();
    let next = (start + page.len() < total)
        .then(|| page.last().map(|i| id(i).to_string()))
        .flatten();
    Ok((page, next))
}

pub(super) fn target(store: &Store, caller: &Caller, id: &str) -> Result<User, ApiError> {
    // Only "no such user" is a 404; a store that fails is the store's fault, not the id's.
    let user = store.user(id).map_err(|e| match e {
        wardgate_identity::IdentityError::NotFound { .. } => ApiError::not_found("such user"),
        e => ApiError::from(e),
    })?;
    match &caller.practice {
        Some(p) if !user.assignments.iter().any(|a| a.practice_id == *p) => {
            Err(ApiError::not_found("such user"))
        }
        _ => Ok(user),
    }
}

/// A value naming a practice must name the caller's.
pub(super) fn within(caller: &Caller, field: &str, practice: &str) -> Result<(), ApiError> {
    match &caller.practice {
        Some(p) if p != practice => Err(ApiError::forbidden(format!(
            "{field}: you administer practice {p} only, not {practice}"
        ))),
        _ => Ok(()),
    }
}

pub(super) fn duration(field: &str, text: &str) -> Result<chrono::Duration, ApiError> {
    let bad = || {
        let mut p = Problems::default();
        p.add(
            field,
            format!("`{text}` is not a duration from 1s to 3650d, e.g. 90d"),
        );
        p.finish()
            .err()
            .unwrap_or_else(|| ApiError::not_found(field))
    };
    let d = wardgate_policy::duration::parse(text).map_err(|_| bad())?;
    match chrono::Duration::from_std(d) {
        Ok(d) if d > chrono::Duration::zero() && d <= chrono::Duration::days(3650) => Ok(d),
        _ => Err(bad()),
    }
}
