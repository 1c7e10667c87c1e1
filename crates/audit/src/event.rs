//! What is audited: who did what to which resource, with what result, from where.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A request the gateway decided.
    Decision,
    /// A change to users, roles, keys, practices or settings.
    Change,
    /// A sign-in attempt, successful or not.
    Login,
    /// A policy module put in force or rolled back.
    PolicySwap,
    /// The log itself recovered from a crash.
    Recovery,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `user`, `service`, `key`, `system`.
    pub kind: String,
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub practice: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSummary {
    /// `allow` or `deny`.
    pub verdict: String,
    /// Reason codes, in order.
    #[serde(default)]
    pub reasons: Vec<String>,
}

/// One audited event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub actor: Actor,
    pub action: String,
    #[serde(default)]
    pub resource: ResourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<DecisionSummary>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub obligations: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// For changes: the state before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<serde_json::Value>,
    /// Anything else worth keeping (recovery details, emergency reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl Event {
    pub fn new(kind: EventKind, actor: Actor, action: impl Into<String>) -> Self {
        Event {
            kind,
            actor,
            action: action.into(),
            resource: ResourceRef::default(),
            decision: None,
            obligations: Vec::new(),
            module_hash: None,
            client: None,
            country: None,
            request_id: None,
            session_id: None,
            before: None,
            after: None,
            detail: None,
        }
    }
}
