//! The principal the policy sees, built in this one place for keys and sessions alike: the
//! roles in effect at this practice (and the location the request names), flags, the sign-in's
//! age and second factor, a key's scopes, the relations to the patient, an open emergency.
//! A key needs no store read (its account's roles come with the cached key); a session's
//! facts were read with it, and a request naming a location or a patient adds one read.

use wardgate_identity::{Practice, Store};
use wardgate_policy::request as policy;

use super::Who;
use crate::reject::Rejection;

/// What the policy's request takes from who asks.
pub(super) struct Principal {
    pub principal: policy::Principal,
    pub relations: Vec<String>,
    pub emergency: Option<policy::Emergency>,
}

pub(super) fn build(
    store: &Store,
    who: &Who,
    practice: &Practice,
    resource: &policy::Resource,
) -> Result<Principal, Rejection> {
    match who {
        Who::Key(key) => Ok(Principal {
            principal: policy::Principal {
                id: key.account.clone(),
                kind: Some("service".into()),
                // A key's roles are its account's, at the account's practice only.
                roles: if key.practice == practice.id {
                    key.roles.clone()
                } else {
                    Vec::new()
                },
                flags: Vec::new(),
                auth_age_seconds: None,
                mfa: None,
                scopes: Some(key.scopes.clone()),
            },
            relations: Vec::new(),
            emergency: None,
        }),
        Who::Session(s) => {
            let scoped = store
                .scoped_facts(
                    &s.info.user_id,
                    &practice.id,
                    resource.location.as_deref(),
                    resource.patient.as_deref(),
                )
                .map_err(|e| {
                    tracing::error!(error = %e, "the identity store failed");
                    Rejection::StoreFault
                })?;
            Ok(Principal {
                principal: policy::Principal {
                    id: s.info.user_id.clone(),
                    kind: Some("user".into()),
                    // Roles held at one location count only for requests about that location.
                    roles: scoped.roles_here.unwrap_or_else(|| s.roles.clone()),
                    // Break-glass is allowed per practice ("Allow emergency access for
                    // (Practice)"), and the session is this practice's.
                    flags: if s.user.emergency_access.contains(&practice.id) {
                        vec!["emergency_access".into()]
                    } else {
                        Vec::new()
                    },
                    auth_age_seconds: Some(s.auth_age_seconds),
                    mfa: Some(s.mfa),
                    scopes: None,
                },
                relations: scoped.relations,
                emergency: s
                    .emergency
                    .as_ref()
                    .map(|(reason, started)| policy::Emergency {
                        reason: Some(reason.clone()),
                        started_at: Some(started.clone()),
                    }),
            })
        }
    }
}
