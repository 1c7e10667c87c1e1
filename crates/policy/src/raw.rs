//! Decisions as engines produce them (codes and indices), and their rendering into the words
//! and JSON the outside world reads. Both engines, the reference evaluator and a Wasm
//! component, produce a [`RawDecision`]; one renderer turns either into a [`Decision`].

use crate::manifest::Manifest;
pub use crate::request::ReasonCode;
use crate::request::{Decision, Obligation, Prepared, Reason, Verdict};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawReason {
    pub code: ReasonCode,
    pub rule: Option<u32>,
    pub role: Option<u32>,
    pub break_glass: Option<u32>,
    pub max_auth_age: Option<u64>,
    pub mfa: bool,
}

impl RawReason {
    pub fn code(code: ReasonCode) -> Self {
        RawReason {
            code,
            rule: None,
            role: None,
            break_glass: None,
            max_auth_age: None,
            mfa: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawObligation {
    Redact(u32),
    Audit(u32),
    Alert(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawDecision {
    pub allow: bool,
    pub reasons: Vec<RawReason>,
    pub obligations: Vec<RawObligation>,
}

impl RawDecision {
    pub fn deny(reason: RawReason) -> Self {
        RawDecision {
            allow: false,
            reasons: vec![reason],
            obligations: Vec::new(),
        }
    }
}

impl Manifest {
    /// Renders a raw decision in words, for the request it answers.
    pub fn render(&self, raw: &RawDecision, p: &Prepared) -> Decision {
        let action = p
            .action
            .map_or(p.action_name.as_str(), |a| self.action_name(a));
        let reasons = raw
            .reasons
            .iter()
            .map(|r| self.reason(r, p, action))
            .collect();
        let obligations = raw
            .obligations
            .iter()
            .map(|o| match *o {
                RawObligation::Redact(i) => Obligation::Redact {
                    field: self
                        .redactions
                        .get(i as usize)
                        .map_or_else(String::new, |r| r.field.clone()),
                },
                RawObligation::Audit(i) => Obligation::Audit {
                    level: "emergency".into(),
                    break_glass: self.break_glass.get(i as usize).map(|b| b.name.clone()),
                    reason: p.emergency.as_ref().and_then(|e| e.reason.clone()),
                },
                RawObligation::Alert(i) => {
                    let bg = self.break_glass.get(i as usize);
                    Obligation::Alert {
                        break_glass: bg.map_or_else(String::new, |b| b.name.clone()),
                        max_seconds: bg.map_or(0, |b| b.max_seconds),
                    }
                }
            })
            .collect();
        Decision {
            decision: if raw.allow {
                Verdict::Allow
            } else {
                Verdict::Deny
            },
            reasons,
            obligations,
        }
    }

    fn reason(&self, r: &RawReason, p: &Prepared, action: &str) -> Reason {
        let rule = r.rule.and_then(|i| self.rules.get(i as usize));
        let line = rule.map(|x| x.line);
        let message = match r.code {
            ReasonCode::Granted => format!(
                "granted to role \"{}\" by rule at line {}",
                r.role.map_or("?", |x| self.role_name(x)),
                line.unwrap_or(0)
            ),
            ReasonCode::BreakGlass => format!(
                "opened by break_glass \"{}\"",
                r.break_glass
                    .and_then(|i| self.break_glass.get(i as usize))
                    .map_or("?", |b| b.name.as_str())
            ),
            ReasonCode::DeniedByRule => format!("denied by rule at line {}", line.unwrap_or(0)),
            ReasonCode::RequirementNotMet => format!(
                "{action} requires {} (line {})",
                rule.and_then(|x| x.condition.as_deref()).unwrap_or("?"),
                line.unwrap_or(0)
            ),
            ReasonCode::NoGrant => format!("no role in effect grants {action}"),
            ReasonCode::UnknownAction => {
                format!("`{}` is not an action of this policy", p.action_name)
            }
            ReasonCode::ModuleNotSubscribed => format!(
                "{action} needs a subscription to module `{}`",
                p.action
                    .and_then(|a| self.actions.get(a as usize))
                    .and_then(|a| a.module)
                    .and_then(|m| self.modules.get(m as usize))
                    .map_or("?", String::as_str)
            ),
            ReasonCode::Scope => match &p.scopes {
                None => "a service principal without scopes may do nothing".to_string(),
                Some(s) if s.is_empty() => format!("the key's scopes (none) do not cover {action}"),
                Some(s) => format!("the key's scopes ({}) do not cover {action}", s.join(", ")),
            },
            ReasonCode::StepUpRequired => match r.max_auth_age {
                Some(s) => {
                    format!("re-authenticate: this action needs a sign-in within the last {s}s")
                }
                None => "re-authenticate with a second factor".to_string(),
            },
            // Engines report these as faults, not as raw reasons.
            ReasonCode::InvalidRequest => "the request could not be read".to_string(),
            ReasonCode::EngineFault => "the policy engine failed".to_string(),
        };
        let mut out = Reason::new(r.code, message);
        match r.code {
            ReasonCode::Granted => {
                out.role = r.role.map(|x| self.role_name(x).to_string());
                out.rule = rule.map(|x| x.text.clone());
                out.line = line;
            }
            ReasonCode::DeniedByRule | ReasonCode::RequirementNotMet => {
                out.role = rule
                    .and_then(|x| x.role)
                    .map(|x| self.role_name(x).to_string());
                out.rule = rule.map(|x| x.text.clone());
                out.line = line;
            }
            ReasonCode::BreakGlass => {
                out.line = r
                    .break_glass
                    .and_then(|i| self.break_glass.get(i as usize))
                    .map(|b| b.line);
            }
            ReasonCode::StepUpRequired => {
                out.max_auth_age_seconds = r.max_auth_age;
                out.mfa = r.mfa.then_some(true);
            }
            _ => {}
        }
        out
    }
}
