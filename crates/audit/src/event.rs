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

/// Who an event is about: a person, an integration's service account (or its key), the
/// gateway itself, or nobody known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    User,
    Service,
    Key,
    System,
    /// Whoever runs commands on the gateway's host.
    Operator,
    #[default]
    Anonymous,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::Service => "service",
            ActorKind::Key => "key",
            ActorKind::System => "system",
            ActorKind::Operator => "operator",
            ActorKind::Anonymous => "anonymous",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Actor {
        Actor {
            kind,
            id: id.into(),
        }
    }

    pub fn user(id: impl Into<String>) -> Actor {
        Actor::new(ActorKind::User, id)
    }

    pub fn system(id: impl Into<String>) -> Actor {
        Actor::new(ActorKind::System, id)
    }

    /// Nobody known (an anonymous request, a sign-in for an unknown account).
    pub fn anonymous() -> Actor {
        Actor::default()
    }
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

/// What a decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    Deny,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny => "deny",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionSummary {
    pub verdict: Verdict,
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
