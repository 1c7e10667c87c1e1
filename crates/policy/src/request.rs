//! Requests and decisions: the JSON shapes outside tools rely on, and the prepared form the
//! evaluator reads.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::ir::{ActionId, Policy, RoleId, Type};
use crate::manifest::Manifest;

/// An authorization request, as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Request {
    pub principal: Principal,
    pub action: String,
    #[serde(default)]
    pub resource: Resource,
    pub context: Context,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Principal {
    pub id: String,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The roles in effect for the target practice or location.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_age_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
    /// API-key scopes; absent for browser sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Resource {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Context {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// RFC 3339 with offset.
    pub time: String,
    /// The practice's IANA time zone; overrides the policy's `timezone`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default)]
    pub modules: Vec<String>,
    #[serde(default)]
    pub relations: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emergency: Option<Emergency>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Emergency {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When the emergency access was opened (RFC 3339); absent means now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
}

/// A request that cannot be evaluated at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("invalid request JSON: {0}")]
    Json(String),
    #[error("context.time `{0}` is not an RFC 3339 time with offset")]
    Time(String),
    #[error("context.timezone `{0}` is not an IANA time zone")]
    Timezone(String),
    #[error("context.emergency.started_at `{0}` is not an RFC 3339 time")]
    EmergencyStart(String),
    #[error("principal.id is empty")]
    NoPrincipal,
    #[error("principal.type `{0}` is neither \"user\" nor \"service\"")]
    PrincipalType(String),
}

impl Request {
    pub fn from_json(text: &str) -> Result<Request, RequestError> {
        serde_json::from_str(text).map_err(|e| RequestError::Json(e.to_string()))
    }
}

/// An attribute value after typing against the policy's declaration.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Missing,
    /// Present but not of the declared type: no comparison on it can be true.
    Invalid,
    Str(String),
    Dec(Decimal),
    Bool(bool),
}

/// A request resolved against one policy's manifest: names to indices, time to the practice's
/// local time. Every engine decides from this form.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub principal_id: String,
    /// `user` or `service`.
    pub principal_type: String,
    /// Roles the manifest knows, without repeats, in the request's order.
    pub roles: Vec<RoleId>,
    pub unknown_roles: Vec<String>,
    /// Flags the manifest names.
    pub flags: Vec<u32>,
    pub auth_age: Option<u64>,
    pub mfa: bool,
    pub scopes: Option<Vec<String>>,
    pub action: Option<ActionId>,
    pub action_name: String,
    pub practice: Option<String>,
    pub location: Option<String>,
    pub owner: Option<String>,
    pub patient: Option<String>,
    /// One per manifest attribute.
    pub attrs: Vec<AttrValue>,
    pub ip: Option<IpAddr>,
    pub country: Option<String>,
    /// Local weekday, 0 = Monday.
    pub weekday: u8,
    /// Local minutes after midnight.
    pub minute: u16,
    /// Unix seconds.
    pub now: i64,
    /// Subscribed modules the manifest names.
    pub modules: Vec<u32>,
    /// Relations the manifest names.
    pub relations: Vec<u32>,
    pub emergency: Option<PreparedEmergency>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEmergency {
    /// Trimmed; `None` when empty.
    pub reason: Option<String>,
    /// Unix seconds.
    pub started_at: Option<i64>,
}

/// Reads an exact decimal from a JSON number or string, never through floating point.
pub fn decimal_of(v: &serde_json::Value) -> Option<Decimal> {
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(&text).ok()
    } else {
        Decimal::from_str_exact(&text).ok()
    }
}

fn interned(names: &[String], id: impl Fn(&str) -> Option<u32>) -> Vec<u32> {
    let mut out = Vec::new();
    for n in names {
        if let Some(i) = id(n) {
            if !out.contains(&i) {
                out.push(i);
            }
        }
    }
    out
}

impl Manifest {
    /// Resolves a request against this manifest.
    pub fn prepare(&self, req: &Request) -> Result<Prepared, RequestError> {
        if req.principal.id.is_empty() {
            return Err(RequestError::NoPrincipal);
        }
        let instant = DateTime::parse_from_rfc3339(&req.context.time)
            .map_err(|_| RequestError::Time(req.context.time.clone()))?;
        let zone = match &req.context.timezone {
            Some(tz) => Some(Tz::from_str(tz).map_err(|_| RequestError::Timezone(tz.clone()))?),
            None => self.tz(),
        };
        let (weekday, minute) = match zone {
            Some(tz) => {
                let local = instant.with_timezone(&tz);
                (
                    local.weekday().num_days_from_monday(),
                    local.hour() * 60 + local.minute(),
                )
            }
            None => (
                instant.weekday().num_days_from_monday(),
                instant.hour() * 60 + instant.minute(),
            ),
        };
        let emergency = match &req.context.emergency {
            Some(e) => Some(PreparedEmergency {
                reason: e
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
                started_at: match &e.started_at {
                    Some(s) => Some(
                        DateTime::parse_from_rfc3339(s)
                            .map_err(|_| RequestError::EmergencyStart(s.clone()))?
                            .timestamp(),
                    ),
                    None => None,
                },
            }),
            None => None,
        };
        let mut roles = Vec::new();
        let mut unknown_roles = Vec::new();
        for r in &req.principal.roles {
            match self.role_id(r) {
                Some(id) if !roles.contains(&id) => roles.push(id),
                Some(_) => {}
                None => unknown_roles.push(r.clone()),
            }
        }
        let attrs = self
            .attributes
            .iter()
            .map(|a| match req.resource.attributes.get(&a.name) {
                None | Some(serde_json::Value::Null) => AttrValue::Missing,
                Some(v) => match a.ty {
                    Type::Decimal => decimal_of(v).map_or(AttrValue::Invalid, AttrValue::Dec),
                    Type::String => v
                        .as_str()
                        .map_or(AttrValue::Invalid, |s| AttrValue::Str(s.to_string())),
                    Type::Bool => v.as_bool().map_or(AttrValue::Invalid, AttrValue::Bool),
                    Type::Duration => AttrValue::Invalid,
                },
            })
            .collect();
        Ok(Prepared {
            principal_id: req.principal.id.clone(),
            principal_type: req
                .principal
                .kind
                .clone()
                .unwrap_or_else(|| "user".to_string()),
            roles,
            unknown_roles,
            flags: interned(&req.principal.flags, |n| self.flag_id(n)),
            auth_age: req.principal.auth_age_seconds,
            mfa: req.principal.mfa.unwrap_or(false),
            scopes: req.principal.scopes.clone(),
            action: self.action_id(&req.action),
            action_name: req.action.clone(),
            practice: req.resource.practice.clone(),
            location: req.resource.location.clone(),
            owner: req.resource.owner.clone(),
            patient: req.resource.patient.clone(),
            attrs,
            ip: req
                .context
                .ip
                .as_deref()
                .and_then(|s| IpAddr::from_str(s.trim()).ok()),
            country: req
                .context
                .country
                .as_ref()
                .map(|c| c.trim().to_ascii_uppercase()),
            weekday: u8::try_from(weekday).unwrap_or(0),
            minute: u16::try_from(minute).unwrap_or(0),
            now: instant.timestamp(),
            modules: interned(&req.context.modules, |n| self.module_id(n)),
            relations: interned(&req.context.relations, |n| self.relation_id(n)),
            emergency,
        })
    }
}

impl Policy {
    /// Resolves a request against this policy's manifest.
    pub fn prepare(&self, req: &Request) -> Result<Prepared, RequestError> {
        self.manifest.prepare(req)
    }
}

/// Allow or deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allow,
    Deny,
}

/// Why a decision came out as it did, as a code that stays typed end to end (serialized in
/// snake case: `granted`, `no_grant`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonCode {
    Granted,
    BreakGlass,
    DeniedByRule,
    RequirementNotMet,
    NoGrant,
    UnknownAction,
    ModuleNotSubscribed,
    Scope,
    StepUpRequired,
    /// The request could not be read against the policy (an unknown name, a bad value).
    InvalidRequest,
    /// The engine failed (a trap, a deadline, nonsense back): a deny, never a guess.
    EngineFault,
}

impl ReasonCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::Granted => "granted",
            ReasonCode::BreakGlass => "break_glass",
            ReasonCode::DeniedByRule => "denied_by_rule",
            ReasonCode::RequirementNotMet => "requirement_not_met",
            ReasonCode::NoGrant => "no_grant",
            ReasonCode::UnknownAction => "unknown_action",
            ReasonCode::ModuleNotSubscribed => "module_not_subscribed",
            ReasonCode::Scope => "scope",
            ReasonCode::StepUpRequired => "step_up_required",
            ReasonCode::InvalidRequest => "invalid_request",
            ReasonCode::EngineFault => "engine_fault",
        }
    }
}

impl std::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A code compares with its serialized name (policy test files name codes so).
impl PartialEq<str> for ReasonCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ReasonCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// Why a decision came out as it did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// For `step_up_required`: the newest authentication the action accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_auth_age_seconds: Option<u64>,
    /// For `step_up_required`: whether a second factor is needed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<bool>,
}

impl Reason {
    pub fn new(code: ReasonCode, message: impl Into<String>) -> Self {
        Reason {
            code,
            message: message.into(),
            role: None,
            rule: None,
            line: None,
            max_auth_age_seconds: None,
            mfa: None,
        }
    }
}

/// Something the gateway must do when it forwards an allowed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Obligation {
    /// Remove this field (`feature.field`) from the response body.
    Redact { field: String },
    /// Record the request at this audit level (`emergency` under break-glass).
    Audit {
        level: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        break_glass: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Raise an alert.
    Alert {
        break_glass: String,
        max_seconds: u64,
    },
}

/// The answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Verdict,
    pub reasons: Vec<Reason>,
    pub obligations: Vec<Obligation>,
}

impl Decision {
    pub fn deny(reason: Reason) -> Self {
        Decision {
            decision: Verdict::Deny,
            reasons: vec![reason],
            obligations: Vec::new(),
        }
    }

    pub fn is_allow(&self) -> bool {
        self.decision == Verdict::Allow
    }
}
