//! Step 8: the policy module decides. The request is the principal, the action and resource of
//! the route, and the context (address, country, the practice's time zone and modules); the
//! answer is an allow, or the rejection its first reason says.

use std::time::Instant;

use wardgate_host::LoadedModule;
use wardgate_identity::Practice;
use wardgate_policy::request as policy;
use wardgate_policy::{Decision, Engine, ReasonCode};

use super::principal::Principal;
use super::Ctx;
use crate::reject::Rejection;
use crate::state::Gateway;

pub(super) fn decide(
    gw: &Gateway,
    module: &LoadedModule,
    who: Principal,
    practice: &Practice,
    action: String,
    mut resource: policy::Resource,
    cx: &mut Ctx,
) -> Result<Decision, Rejection> {
    // A route may name the practice too; it must be the one the request is for.
    match &resource.practice {
        Some(p) if *p != practice.id => return Err(Rejection::UnknownPractice),
        _ => resource.practice = Some(practice.id.clone()),
    }
    let request = policy::Request {
        principal: who.principal,
        action,
        resource,
        context: policy::Context {
            ip: Some(cx.client.to_string()),
            country: cx.country.map(|c| c.to_string()),
            time: gw.clock().utc().to_rfc3339(),
            timezone: Some(practice.timezone.clone()),
            modules: practice.modules.clone(),
            relations: who.relations,
            emergency: who.emergency,
        },
    };
    let started = Instant::now();
    let decision = module.decide(&request);
    gw.metrics()
        .decision_seconds
        .observe(started.elapsed().as_secs_f64());
    let rejection = rejection_of(&decision);
    cx.decision = Some(decision.clone());
    match rejection {
        Some(r) => Err(r),
        None => Ok(decision),
    }
}

/// The rejection a deny stands for: a fresher sign-in when any reason asks for one, a fault
/// when the engine could not decide, else the policy's refusal with its first reason.
fn rejection_of(decision: &Decision) -> Option<Rejection> {
    if decision.is_allow() {
        return None;
    }
    if let Some(r) = decision
        .reasons
        .iter()
        .find(|r| r.code == ReasonCode::StepUpRequired)
    {
        return Some(Rejection::StepUp {
            max_age_seconds: r.max_auth_age_seconds,
            mfa: r.mfa.unwrap_or(false),
        });
    }
    let first = decision.reasons.first().map(|r| r.code);
    Some(match first {
        Some(ReasonCode::EngineFault | ReasonCode::InvalidRequest) => {
            tracing::error!(reason = ?decision.reasons.first(), "the policy module could not decide");
            Rejection::PolicyFault
        }
        code => Rejection::Denied {
            reason: code.unwrap_or(ReasonCode::NoGrant),
        },
    })
}
