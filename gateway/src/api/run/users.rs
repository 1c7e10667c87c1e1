//! The operations on users: listing, adding and inviting, editing, the one-step actions,
//! roles, relations, sessions.

use http::StatusCode;
use serde_json::json;
use wardgate_identity::{NewUser, Store, User, UserEdit, UserFilter, UserStatus};

use super::{may_give, not_last_admin, only_here, paginate, target, view, within, Caller, Reply};
use crate::api::error::{ApiError, Problems};
use crate::api::ops::{EditBody, ListQuery, NewUserBody, Op, UserAction};

pub(super) fn run(store: &Store, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    let actor = &caller.actor;
    match op {
        Op::ListUsers(q) => list_users(store, caller, q),
        Op::ShowUser(u) => Ok(Reply::user(
            caller,
            StatusCode::OK,
            &target(store, caller, &u)?,
            None,
        )),
        Op::AddUser(body) => add_user(store, caller, *body),
        Op::InviteUser(body) => {
            may_give(store, caller, &body.roles)?;
            let new = new_user(caller, *body, Some(String::new()))?;
            let (user, token) = store.invite(actor, new, chrono::Duration::days(7))?;
            // Mailed, the link is the user's alone; without mail, whoever invites hands it on.
            let extra = if store.mails() {
                Some(("mailed_to", json!(user.email)))
            } else {
                Some(("activation_token", json!(token)))
            };
            Ok(Reply::user(caller, StatusCode::CREATED, &user, extra))
        }
        Op::EditUser(u, body) => {
            let user = target(store, caller, &u)?;
            only_here(caller, &user)?;
            let edit = edit(*body);
            Ok(Reply::user(
                caller,
                StatusCode::OK,
                &store.edit(actor, &user.id, &edit)?,
                None,
            ))
        }
        Op::DeleteUser(u) => {
            let user = target(store, caller, &u)?;
            if user.id == actor.id {
                return Err(ApiError::forbidden("nobody may delete their own account"));
            }
            only_here(caller, &user)?;
            not_last_admin(store, &user, None)?;
            store.delete(actor, &user.id)?;
            Ok(Reply::ok(json!({"deleted": user.id})))
        }
        Op::User(u, action) => user_action(store, caller, &u, action),
        Op::Sessions(u, page) => {
            let user = target(store, caller, &u)?;
            let sessions: Vec<_> = store
                .sessions(&user.id)?
                .into_iter()
                .filter(|s| caller.practice.as_ref().is_none_or(|p| *p == s.practice_id))
                .collect();
            let (sessions, next) = paginate(sessions, |s| &s.id, &page)?;
            Ok(Reply::ok(
                json!({ "sessions": sessions, "next_cursor": next }),
            ))
        }
        Op::EndSession { user, session } => {
            let user = target(store, caller, &user)?;
            let mine = store.sessions(&user.id)?.into_iter().any(|s| {
                s.id == session && caller.practice.as_ref().is_none_or(|p| *p == s.practice_id)
            });
            if !mine
                || !store.end_session_by(actor, &user.id, &session, "ended by an administrator")?
            {
                return Err(ApiError::not_found("such live session"));
            }
            Ok(Reply::ok(json!({"user": user.id, "ended": 1})))
        }
        Op::Grant(u, g) => {
            let user = target(store, caller, &u)?;
            within(caller, "practice", &g.practice)?;
            if user.id == actor.id {
                return Err(ApiError::forbidden("nobody may raise their own roles"));
            }
            may_give(store, caller, std::slice::from_ref(&g.role))?;
            let (location, expires) = (g.location.as_deref(), g.expires_at.as_deref());
            let user = store.grant(actor, &user.id, &g.role, &g.practice, location, expires)?;
            Ok(Reply::user(caller, StatusCode::OK, &user, None))
        }
        Op::Revoke {
            user,
            role,
            practice,
            location,
        } => {
            let user = target(store, caller, &user)?;
            within(caller, "practice", &practice)?;
            if store.admin_roles().contains(&role) {
                not_last_admin(store, &user, Some(&practice))?;
            }
            let user = store.revoke(actor, &user.id, &role, &practice, location.as_deref())?;
            Ok(Reply::user(caller, StatusCode::OK, &user, None))
        }
        Op::Relations(u, page) => {
            let user = target(store, caller, &u)?;
            let all: Vec<(String, String)> = store
                .patients_of(&user.id)?
                .into_iter()
                .map(|(patient, relation)| {
                    (format!("{patient}/{relation}"), patient + "\0" + &relation)
                })
                .collect();
            let (page, next) = paginate(all, |(id, _)| id, &page)?;
            let relations: Vec<_> = page
                .into_iter()
                .filter_map(|(_, pr)| {
                    pr.split_once('\0')
                        .map(|(p, r)| json!({"patient": p, "relation": r}))
                })
                .collect();
            Ok(Reply::ok(
                json!({"user": user.id, "relations": relations, "next_cursor": next}),
            ))
        }
        Op::Unrelate {
            user,
            patient,
            relation,
        } => {
            let user = target(store, caller, &user)?;
            if !store.unrelate(actor, &user.id, &patient, &relation)? {
                return Err(ApiError::not_found("such relation"));
            }
            Ok(Reply::ok(
                json!({"user": user.id, "patient": patient, "removed": relation}),
            ))
        }
        Op::Relate(u, r) => {
            let user = target(store, caller, &u)?;
            store.relate(actor, &user.id, &r.patient, &r.relation)?;
            Ok(Reply::ok(
                json!({"user": user.id, "patient": r.patient, "relation": r.relation}),
            ))
        }
        _ => Err(ApiError::not_found("such operation")),
    }
}

fn list_users(store: &Store, caller: &Caller, q: ListQuery) -> Result<Reply, ApiError> {
    let mut problems = Problems::default();
    if let (Some(mine), Some(asked)) = (&caller.practice, &q.practice) {
        if mine != asked {
            problems.add("practice", format!("you administer practice {mine} only"));
        }
    }
    let status = match q.status.as_deref() {
        None => None,
        Some("active") => Some(UserStatus::Active),
        Some("locked") => Some(UserStatus::Locked),
        Some("disabled") => Some(UserStatus::Disabled),
        Some("unassigned") => Some(UserStatus::Unassigned),
        Some(other) => {
            problems.add(
                "status",
                format!("`{other}` is not active, locked, disabled or unassigned"),
            );
            None
        }
    };
    if q.limit.is_some_and(|l| l == 0 || l > super::MAX_PAGE) {
        problems.add("limit", format!("must be from 1 to {}", super::MAX_PAGE));
    }
    problems.finish()?;
    let filter = UserFilter {
        practice: caller.practice.clone().or(q.practice),
        role: q.role,
        status,
        prefix: q.prefix,
    };
    // The store's order (providers first, then by name); the cursor is the last id seen, so
    // a page never repeats or skips a user who was there before and after.
    let mut users = store.users(&filter)?;
    if let Some(l) = &q.location {
        users.retain(|u| {
            u.assignments
                .iter()
                .any(|a| a.location_id.as_deref() == Some(l.as_str()))
        });
    }
    let page = crate::api::ops::Page {
        limit: q.limit,
        cursor: q.cursor,
    };
    let (users, next) = super::paginate(users, |u| &u.id, &page)?;
    let page: Vec<User> = users.into_iter().map(|u| view(caller, u)).collect();
    Ok(Reply::ok(json!({"users": page, "next_cursor": next})))
}

/// A strong temporary password of at least `min_length` characters: at least 96 random bits,
/// in groups, with every kind of character.
fn generated_password(min_length: usize) -> Result<String, ApiError> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    // `g` groups of four joined by dashes (5g - 1 characters), then the five-character tail
    // "-Aa9!": 5g + 4 characters, so g = ceil((min_length - 4) / 5) reaches the minimum.
    let groups = min_length.saturating_sub(4).div_ceil(5).max(4);
    let mut bytes = vec![0u8; groups * 4];
    getrandom::fill(&mut bytes).map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_randomness",
            "no random source to generate a password",
        )
    })?;
    let chars: Vec<char> = bytes
        .iter()
        .filter_map(|b| ALPHABET.get(usize::from(*b) % ALPHABET.len()))
        .map(|b| char::from(*b))
        .collect();
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    Ok(format!("{}-Aa9!", groups.join("-")))
}

/// The body of "Add User" as the store takes it; `password: None` leaves it to the caller.
fn new_user(
    caller: &Caller,
    b: NewUserBody,
    password: Option<String>,
) -> Result<NewUser, ApiError> {
    let mut problems = Problems::default();
    for (field, value) in [
        ("email", &b.email),
        ("first_name", &b.first_name),
        ("last_name", &b.last_name),
    ] {
        if value.trim().is_empty() {
            problems.add(field, "is required");
        }
    }
    if !b.email.trim().is_empty() && !wardgate_identity::valid_email(&b.email) {
        problems.add(
            "email",
            format!("`{}` is not a valid email address", b.email),
        );
    }
    if let Some(npi) = &b.npi {
        if !wardgate_identity::valid_npi(npi) {
            problems.add(
                "npi",
                format!("`{npi}` is not a valid NPI (10 digits, check digit)"),
            );
        }
    }
    if b.roles.is_empty() {
        problems.add("roles", "give at least one role");
    }
    if b.practices.is_empty() {
        problems.add("practices", "give at least one practice");
    }
    if let Some(mine) = &caller.practice {
        for p in b.practices.iter().filter(|p| *p != mine) {
            problems.add(
                "practices",
                format!("you may give access to practice {mine} only, not {p}"),
            );
        }
    }
    for p in b
        .emergency_access
        .iter()
        .filter(|p| !b.practices.contains(p))
    {
        problems.add(
            "emergency_access",
            format!("{p} is not one of the user's practices"),
        );
    }
    problems.finish()?;
    Ok(NewUser {
        email: b.email,
        first_name: b.first_name,
        middle_name: b.middle_name,
        last_name: b.last_name,
        phone: b.phone,
        provider: b.npi.is_some(),
        npi: b.npi,
        taxonomy: b.taxonomy,
        provider_type: b.provider_type,
        specialty: b.specialty,
        credentials: b.credentials,
        license_number: b.license_number,
        modules: b.modules,
        password: password.or(b.password).unwrap_or_default(),
        roles: b.roles,
        practices: b.practices,
        location: b.location,
        expires_at: b.expires_at,
        emergency_access: b.emergency_access,
    })
}

fn add_user(store: &Store, caller: &Caller, b: NewUserBody) -> Result<Reply, ApiError> {
    let generated = match &b.password {
        Some(_) => None,
        None => Some(generated_password(
            store.password_rules_for(&b.practices)?.min_length,
        )?),
    };
    may_give(store, caller, &b.roles)?;
    let new = new_user(caller, b, generated.clone())?;
    let user = store.add_user(&caller.actor, new)?;
    let extra = generated.map(|p| ("temporary_password", json!(p)));
    Ok(Reply::user(caller, StatusCode::CREATED, &user, extra))
}

fn edit(b: EditBody) -> UserEdit {
    let allowed = b.allow_emergency.into_iter().map(|p| (p, true));
    UserEdit {
        email: b.email,
        first_name: b.first_name,
        middle_name: b.middle_name,
        last_name: b.last_name,
        phone: b.phone,
        emergency_access: allowed
            .chain(b.deny_emergency.into_iter().map(|p| (p, false)))
            .collect(),
        modules: b.modules,
        npi: b.npi,
        taxonomy: b.taxonomy,
        provider_type: b.provider_type,
        specialty: b.specialty,
        credentials: b.credentials,
        license_number: b.license_number,
    }
}

fn user_action(
    store: &Store,
    caller: &Caller,
    id: &str,
    action: UserAction,
) -> Result<Reply, ApiError> {
    let actor = &caller.actor;
    let user = target(store, caller, id)?;
    let removes = matches!(
        action,
        UserAction::Lock | UserAction::Disable | UserAction::Unassign
    );
    if removes && user.id == actor.id {
        return Err(ApiError::forbidden(format!(
            "nobody may {} their own account",
            action.as_str()
        )));
    }
    // The whole account changes: only for someone who works here alone.
    only_here(caller, &user)?;
    if removes {
        not_last_admin(store, &user, None)?;
    }
    let changed = match action {
        UserAction::Lock => store.lock(actor, &user.id)?,
        UserAction::Unlock => store.unlock(actor, &user.id)?,
        UserAction::Disable => store.disable(actor, &user.id)?,
        UserAction::Enable => store.enable(actor, &user.id)?,
        UserAction::Unassign => store.unassign(actor, &user.id)?,
        UserAction::Logout => {
            let n = store.end_sessions(actor, &user.id, "remote logout")?;
            return Ok(Reply::ok(json!({"user": user.id, "ended": n})));
        }
        UserAction::Reset => {
            let token = store.reset_token(actor, &user.id, chrono::Duration::hours(24))?;
            if store.mails() {
                return Ok(Reply::ok(json!({"user": user.id, "mailed_to": user.email})));
            }
            return Ok(Reply::ok(json!({"user": user.id, "token": token})));
        }
        UserAction::ResetSecondFactor => {
            store.reset_second_factor(actor, &user.id)?;
            store.user(&user.id)?
        }
    };
    Ok(Reply::user(caller, StatusCode::OK, &changed, None))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use wardgate_identity::PasswordPolicy;

    use super::generated_password;

    #[test]
    fn generated_passwords_are_long_enough_for_every_minimum_and_have_every_kind() {
        for min_length in 8..=128 {
            let password = generated_password(min_length).unwrap();
            let length = password.chars().count();
            assert!(length >= min_length, "{min_length}: {length} in {password}");
            assert!(
                length <= min_length.max(24) + 4,
                "{min_length}: {length} is longer than needed"
            );
            let rules = PasswordPolicy {
                min_length,
                mixed_case: true,
                digit: true,
                special: true,
                ..PasswordPolicy::default()
            };
            assert!(rules.check(&password).is_ok(), "{min_length}: {password}");
            assert!(
                password.chars().any(|c| c.is_ascii_uppercase()),
                "{password}"
            );
            assert!(
                password.chars().any(|c| c.is_ascii_lowercase()),
                "{password}"
            );
            assert!(password.chars().any(|c| c.is_ascii_digit()), "{password}");
            assert!(password.chars().any(|c| !c.is_alphanumeric()), "{password}");
        }
    }
}
