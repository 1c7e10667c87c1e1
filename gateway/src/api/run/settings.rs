//! The operations on practices, locations, security settings, service accounts and keys.

use http::StatusCode;
use serde_json::{json, Value};
use wardgate_identity::{NewKey, Store};

use super::{duration, paginate, within, Caller, Reply};
use crate::api::error::{ApiError, Problems};
use crate::api::ops::{KeyBody, Op};

pub(super) fn run(store: &Store, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    match op {
        Op::AddAccount(_)
        | Op::ListKeys { .. }
        | Op::IssueKey(_)
        | Op::RotateKey(..)
        | Op::RevokeKey(_) => keys(store, caller, op),
        Op::Emergency { practice, page } => {
            let p = practice_of(caller, practice)?;
            let grants = store.emergency_grants(&p)?;
            let (grants, next) = paginate(grants, |g| &g.id, &page)?;
            Ok(Reply::ok(
                json!({"practice": p, "grants": grants, "next_cursor": next}),
            ))
        }
        Op::CloseEmergency { practice, id } => {
            let p = practice_of(caller, practice)?;
            store.close_emergency(&caller.actor, &p, &id)?;
            Ok(Reply::ok(json!({"closed": id, "practice": p})))
        }
        op => practices(store, caller, op),
    }
}

/// The practice an operation is about: the caller's own, or (for the host's operator) the
/// one named.
fn practice_of(caller: &Caller, named: Option<String>) -> Result<String, ApiError> {
    let p = named
        .or_else(|| caller.practice.clone())
        .ok_or_else(|| ApiError::field("practice", "name the practice"))?;
    within(caller, "practice", &p)?;
    Ok(p)
}

/// Practices, locations, security settings.
fn practices(store: &Store, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    let actor = &caller.actor;
    match op {
        Op::ListPractices(page) => {
            let mine: Vec<_> = store
                .practices()?
                .into_iter()
                .filter(|p| caller.practice.as_ref().is_none_or(|m| *m == p.id))
                .collect();
            let (mine, next) = super::paginate(mine, |p| &p.id, &page)?;
            let practices: Vec<Value> = mine
                .into_iter()
                .map(|p| {
                    let warning = store.admin_warning(&p.id).ok().flatten();
                    json!({"practice": p, "warning": warning})
                })
                .collect();
            Ok(Reply::ok(
                json!({ "practices": practices, "next_cursor": next }),
            ))
        }
        Op::AddPractice(p) => {
            if let Some(mine) = &caller.practice {
                return Err(ApiError::forbidden(format!(
                    "you administer practice {mine}; adding a practice is the host operator's"
                )));
            }
            let added = store.add_practice(actor, &p.id, &p.name, &p.timezone, &p.modules)?;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: json!({ "practice": added }),
                etag: None,
                replayed: false,
            })
        }
        Op::EditPractice(p, e) => {
            within(caller, "practice", &p)?;
            let edited =
                store.edit_practice(actor, &p, e.name.as_deref(), e.timezone.as_deref())?;
            Ok(Reply::ok(json!({ "practice": edited })))
        }
        Op::SetModules(p, m) => {
            within(caller, "practice", &p)?;
            Ok(Reply::ok(
                json!({ "practice": store.set_modules(actor, &p, &m.modules)? }),
            ))
        }
        Op::AddLocation(p, l) => {
            within(caller, "practice", &p)?;
            let mut problems = Problems::default();
            for (field, value) in [("id", &l.id), ("name", &l.name)] {
                if value.trim().is_empty() {
                    problems.add(field, "is required");
                }
            }
            problems.finish()?;
            let added = store.add_location(actor, &l.id, &p, &l.name)?;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: json!({ "location": added }),
                etag: None,
                replayed: false,
            })
        }
        Op::Locations(p, page) => {
            within(caller, "practice", &p)?;
            let (locations, next) = paginate(store.locations(&p)?, |l| &l.id, &page)?;
            Ok(Reply::ok(
                json!({ "locations": locations, "next_cursor": next }),
            ))
        }
        Op::EditLocation {
            practice,
            location,
            edit,
        } => {
            within(caller, "practice", &practice)?;
            let l = store.rename_location(actor, &practice, &location, &edit.name)?;
            Ok(Reply::ok(json!({ "location": l })))
        }
        Op::RemoveLocation { practice, location } => {
            within(caller, "practice", &practice)?;
            store.remove_location(actor, &practice, &location)?;
            Ok(Reply::ok(json!({ "removed": location })))
        }
        Op::Security(p) => {
            within(caller, "practice", &p)?;
            Ok(Reply::ok(
                json!({"practice": p, "security": store.security(&p)?}),
            ))
        }
        Op::SetSecurity(p, settings) => {
            within(caller, "practice", &p)?;
            let saved = store.set_security(actor, &p, &settings)?;
            Ok(Reply::ok(json!({"practice": p, "security": saved})))
        }
        _ => Err(ApiError::not_found("such operation")),
    }
}

/// Service accounts and their keys.
fn keys(store: &Store, caller: &Caller, op: Op) -> Result<Reply, ApiError> {
    let actor = &caller.actor;
    match op {
        Op::AddAccount(a) => {
            no_key(caller, "create service accounts")?;
            within(caller, "practice", &a.practice)?;
            super::may_give(store, caller, &a.roles)?;
            let mut problems = Problems::default();
            if a.id.trim().is_empty() {
                problems.add("id", "is required");
            }
            if a.roles.is_empty() {
                problems.add("roles", "give at least one role");
            }
            problems.finish()?;
            store.add_service_account(actor, &a.id, &a.practice, &a.roles)?;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: json!({"account": a.id, "practice": a.practice, "roles": a.roles}),
                etag: None,
                replayed: false,
            })
        }
        Op::ListKeys { account, page } => {
            let keys: Vec<_> = store
                .keys(account.as_deref())?
                .into_iter()
                .filter(|k| caller.practice.as_ref().is_none_or(|p| *p == k.practice))
                .collect();
            let (keys, next) = super::paginate(keys, |k| &k.id, &page)?;
            Ok(Reply::ok(json!({ "keys": keys, "next_cursor": next })))
        }
        Op::IssueKey(k) => issue_key(store, caller, k),
        Op::RotateKey(id, r) => {
            key_of(store, caller, &id)?;
            let overlap = match r.overlap.as_deref() {
                Some(o) => duration("overlap", o)?,
                None => chrono::Duration::hours(1),
            };
            let issued = store.rotate_key(actor, &id, overlap)?;
            Ok(Reply {
                status: StatusCode::CREATED,
                body: json!({ "key": issued }),
                etag: None,
                replayed: false,
            })
        }
        Op::RevokeKey(id) => {
            key_of(store, caller, &id)?;
            store.revoke_key(actor, &id)?;
            Ok(Reply::ok(json!({"revoked": id})))
        }
        _ => Err(ApiError::not_found("such operation")),
    }
}

fn key_of(store: &Store, caller: &Caller, id: &str) -> Result<(), ApiError> {
    let found = store
        .keys(None)?
        .into_iter()
        .find(|k| k.id == id)
        .filter(|k| caller.practice.as_ref().is_none_or(|p| *p == k.practice));
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("such key"))
}

/// Keys do not make keys or service accounts (a narrow key would make a wide one); people
/// and the host's operator do.
fn no_key(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.actor.kind == wardgate_identity::ActorKind::Key {
        return Err(ApiError::forbidden(format!(
            "an API key may not {what}; a person or the host's operator may"
        )));
    }
    Ok(())
}

fn issue_key(store: &Store, caller: &Caller, k: KeyBody) -> Result<Reply, ApiError> {
    no_key(caller, "issue keys")?;
    let mut problems = Problems::default();
    let networks: Vec<ipnet::IpNet> = k
        .networks
        .iter()
        .filter_map(|n| match n.parse::<crate::config::Net>() {
            Ok(net) => Some(net.0),
            Err(e) => {
                problems.add("networks", e);
                None
            }
        })
        .collect();
    if k.scopes.is_empty() {
        problems.add("scopes", "a key needs at least one scope");
    }
    let expires_in = match k.expires_in.as_deref().map(|e| duration("expires_in", e)) {
        Some(Err(e)) => {
            for p in e.problems {
                problems.add(&p.field, p.message);
            }
            None
        }
        Some(Ok(d)) => Some(d),
        None => None,
    };
    problems.finish()?;
    if let Some(mine) = &caller.practice {
        let theirs = store.account_practice(&k.account)?;
        if theirs != *mine {
            return Err(ApiError::not_found("such service account"));
        }
    }
    let issued = store.issue_key(
        &caller.actor,
        &NewKey {
            account: k.account,
            scopes: k.scopes,
            networks,
            rate_per_minute: k.rate_per_minute,
            expires_in,
        },
    )?;
    Ok(Reply {
        status: StatusCode::CREATED,
        body: json!({ "key": issued }),
        etag: None,
        replayed: false,
    })
}
