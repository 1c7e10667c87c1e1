//! Between the policy crate's types and the component's: requests down, decisions and
//! manifests up. What comes up is checked: an index the manifest does not have is a fault.

use std::net::IpAddr;

use wardgate_policy::ir::{BindSource as PBindSource, BindTarget as PBindTarget, RouteBind, Type};
use wardgate_policy::keys::attr_key;
use wardgate_policy::manifest::{
    ActionInfo, AttributeInfo, BreakGlassInfo, RedactionInfo, RoleInfo, RouteInfo, RuleInfo,
};
use wardgate_policy::raw::{RawDecision, RawObligation, RawReason, ReasonCode as RCode};
use wardgate_policy::request::Prepared;
use wardgate_policy::{EngineFault, Manifest};

use crate::bindings::exports::wardgate::policy::authorizer as wit;
use crate::LoadError;

/// A set of manifest indices as bits; the manifest guarantees they are below 64.
fn bits(indices: &[u32]) -> u64 {
    indices
        .iter()
        .filter(|&&i| i < 64)
        .fold(0, |acc, &i| acc | (1 << i))
}

pub fn request(p: &Prepared) -> wit::Request {
    wit::Request {
        principal: p.principal_id.clone(),
        kind: if p.principal_type == "service" {
            wit::PrincipalKind::Service
        } else {
            wit::PrincipalKind::User
        },
        roles: p.roles.clone(),
        flags: bits(&p.flags),
        auth_age: p.auth_age,
        mfa: p.mfa,
        scopes: p.scopes.clone(),
        action: p.action,
        practice: p.practice.clone(),
        location: p.location.clone(),
        owner: p.owner.clone(),
        patient: p.patient.clone(),
        attributes: p.attrs.iter().map(attr_key).collect(),
        ip: p.ip.map(|ip| match ip {
            IpAddr::V4(v4) => wit::IpAddress {
                v6: false,
                hi: 0,
                lo: u64::from(u32::from(v4)),
            },
            IpAddr::V6(v6) => {
                let bits = u128::from(v6);
                wit::IpAddress {
                    v6: true,
                    hi: (bits >> 64) as u64,
                    lo: bits as u64,
                }
            }
        }),
        country: p.country.clone(),
        weekday: p.weekday,
        minute: p.minute,
        now: p.now,
        modules: bits(&p.modules),
        relations: bits(&p.relations),
        emergency: p.emergency.as_ref().map(|e| wit::Emergency {
            reason: e.reason.clone(),
            started_at: e.started_at,
        }),
    }
}

fn check(index: Option<u32>, len: usize, what: &str) -> Result<Option<u32>, EngineFault> {
    match index {
        Some(i) if i as usize >= len => Err(EngineFault(format!(
            "malformed decision: {what} {i} is not in the manifest ({len} entries)"
        ))),
        other => Ok(other),
    }
}

pub fn decision(d: wit::Decision, m: &Manifest) -> Result<RawDecision, EngineFault> {
    let mut reasons = Vec::with_capacity(d.reasons.len());
    for r in d.reasons {
        reasons.push(RawReason {
            code: match r.code {
                wit::ReasonCode::Granted => RCode::Granted,
                wit::ReasonCode::BreakGlass => RCode::BreakGlass,
                wit::ReasonCode::DeniedByRule => RCode::DeniedByRule,
                wit::ReasonCode::RequirementNotMet => RCode::RequirementNotMet,
                wit::ReasonCode::NoGrant => RCode::NoGrant,
                wit::ReasonCode::UnknownAction => RCode::UnknownAction,
                wit::ReasonCode::ModuleNotSubscribed => RCode::ModuleNotSubscribed,
                wit::ReasonCode::Scope => RCode::Scope,
                wit::ReasonCode::StepUpRequired => RCode::StepUpRequired,
            },
            rule: check(r.rule, m.rules.len(), "rule")?,
            role: check(r.role, m.roles.len(), "role")?,
            break_glass: check(r.break_glass, m.break_glass.len(), "break-glass entry")?,
            max_auth_age: r.max_auth_age,
            mfa: r.mfa,
        });
    }
    if reasons.is_empty() {
        return Err(EngineFault("malformed decision: no reason given".into()));
    }
    let mut obligations = Vec::with_capacity(d.obligations.len());
    for o in d.obligations {
        obligations.push(match o {
            wit::Obligation::Redact(i) => {
                check(Some(i), m.redactions.len(), "redaction")?;
                RawObligation::Redact(i)
            }
            wit::Obligation::Audit(i) => {
                check(Some(i), m.break_glass.len(), "break-glass entry")?;
                RawObligation::Audit(i)
            }
            wit::Obligation::Alert(i) => {
                check(Some(i), m.break_glass.len(), "break-glass entry")?;
                RawObligation::Alert(i)
            }
        });
    }
    Ok(RawDecision {
        allow: d.allow,
        reasons,
        obligations,
    })
}

pub fn manifest(m: wit::ModuleManifest) -> Result<Manifest, LoadError> {
    let mut out = Manifest::default();
    out.name = m.name;
    out.version = m.version;
    out.content_hash = m.content_hash;
    out.timezone = m.timezone;
    out.features = m.features;
    out.actions = m
        .actions
        .into_iter()
        .map(|a| ActionInfo {
            name: a.name,
            feature: a.feature,
            module: a.module,
        })
        .collect();
    out.modules = m.modules;
    out.roles = m
        .roles
        .into_iter()
        .map(|r| RoleInfo {
            name: r.name,
            line: r.line,
        })
        .collect();
    out.attributes = m
        .attributes
        .into_iter()
        .map(|a| AttributeInfo {
            name: a.name,
            ty: match a.type_ {
                wit::AttributeType::Decimal => Type::Decimal,
                wit::AttributeType::String => Type::String,
                wit::AttributeType::Boolean => Type::Bool,
            },
        })
        .collect();
    out.relations = m.relations;
    out.flags = m.flags;
    out.rules = m
        .rules
        .into_iter()
        .map(|r| RuleInfo {
            text: r.text,
            line: r.line,
            role: r.role,
            deny: r.deny,
            require: r.require,
            condition: r.condition,
        })
        .collect();
    out.redactions = m
        .redactions
        .into_iter()
        .map(|r| RedactionInfo {
            field: r.field,
            feature: r.feature,
            line: r.line,
        })
        .collect();
    out.break_glass = m
        .break_glass
        .into_iter()
        .map(|b| BreakGlassInfo {
            name: b.name,
            max_seconds: b.max_seconds,
            alert: b.alert,
            line: b.line,
        })
        .collect();
    out.routes = m
        .routes
        .into_iter()
        .map(|r| RouteInfo {
            method: r.method,
            pattern: r.pattern,
            action: r.action,
            binds: r
                .binds
                .into_iter()
                .map(|b| RouteBind {
                    target: match b.target {
                        wit::BindTarget::Practice => PBindTarget::Practice,
                        wit::BindTarget::Location => PBindTarget::Location,
                        wit::BindTarget::Owner => PBindTarget::Owner,
                        wit::BindTarget::Patient => PBindTarget::Patient,
                        wit::BindTarget::Attribute(a) => PBindTarget::Attr(a),
                    },
                    source: match b.source {
                        wit::BindSource::Path(s) => PBindSource::Path(s),
                        wit::BindSource::Query(s) => PBindSource::Query(s),
                        wit::BindSource::Header(s) => PBindSource::Header(s),
                        wit::BindSource::Json(s) => PBindSource::Json(s),
                    },
                })
                .collect(),
            line: r.line,
            segments: Vec::new(),
        })
        .collect();
    Ok(out)
}
