//! The bodies and queries of the administrative operations, as they travel: JSON objects with
//! every field named (an unknown one is refused) and the schema the OpenAPI document shows.

use serde::{Deserialize, Serialize};

/// "Add User" / "Add Provider". Without a password one is generated and shown once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NewUserBody {
    pub email: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub phone: Option<String>,
    pub password: Option<String>,
    pub npi: Option<String>,
    pub taxonomy: Option<String>,
    pub provider_type: Option<String>,
    pub specialty: Option<String>,
    pub credentials: Option<String>,
    /// A provider's state license number.
    pub license_number: Option<String>,
    pub modules: Vec<String>,
    pub roles: Vec<String>,
    pub practices: Vec<String>,
    pub location: Option<String>,
    pub expires_at: Option<String>,
    pub emergency_access: Vec<String>,
}

/// "Edit User": only the fields sent change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct EditBody {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// A provider's fields.
    pub npi: Option<String>,
    pub taxonomy: Option<String>,
    pub provider_type: Option<String>,
    pub specialty: Option<String>,
    pub credentials: Option<String>,
    pub license_number: Option<String>,
    pub modules: Option<Vec<String>>,
    /// Practices where emergency access is allowed from now on ...
    pub allow_emergency: Vec<String>,
    /// ... and where it no longer is.
    pub deny_emergency: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct GrantBody {
    pub role: String,
    pub practice: String,
    pub location: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RelateBody {
    pub patient: String,
    /// `assigned` or `shared`.
    pub relation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PracticeBody {
    pub id: String,
    pub name: String,
    /// An IANA time zone, e.g. `America/New_York`.
    pub timezone: String,
    /// Subscribed modules (`clinical`, `billing`, `engage`).
    pub modules: Vec<String>,
}

/// "Manage Practice Information": only the fields sent change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PracticeEdit {
    pub name: Option<String>,
    pub timezone: Option<String>,
}

/// The modules a practice subscribes to, from now on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ModulesBody {
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LocationBody {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AccountBody {
    pub id: String,
    pub practice: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KeyBody {
    pub account: String,
    pub scopes: Vec<String>,
    /// Client networks (CIDR or address); empty: anywhere.
    pub networks: Vec<String>,
    pub rate_per_minute: Option<u32>,
    /// e.g. `90d`.
    pub expires_in: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RotateBody {
    /// How long the old key keeps working, e.g. `1h`.
    pub overlap: Option<String>,
}

/// A location's new name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LocationEdit {
    pub name: String,
}

/// A page of a list: at most `limit` items after the one named `cursor`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// `GET /users` filters and page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub practice: Option<String>,
    pub role: Option<String>,
    pub status: Option<String>,
    /// The first letters of a name or email.
    pub prefix: Option<String>,
    /// Only people with a role at this location.
    pub location: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// A policy to put in force: its text, or a compiled module in base64.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyBody {
    /// A name for messages, e.g. `kareo.policy`.
    pub name: String,
    /// Policy text ...
    pub text: Option<String>,
    /// ... or a compiled module (`wardgate policy build`), base64.
    pub module_base64: Option<String>,
    /// Put in force only if this module hash is still the one in force (409 `stale` if not).
    pub expect: Option<String>,
}

/// Activity log filters (`GET /audit`, `/audit/export`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Who, when, what, which patient and practice: the audit log's own filter.
    pub filter: wardgate_audit::Filter,
    pub limit: Option<usize>,
    /// Export only: `csv` (the default) or `jsonl`.
    pub format: Option<String>,
    /// Search only: the records after this sequence number (before it, newest first): the
    /// previous page's `next_cursor`.
    pub cursor: Option<u64>,
    /// Search only: `oldest` first (the default) or `newest` first.
    pub order: Option<String>,
}

/// A test suite to run against the policy in force (the `.tests` format of `wardgate policy
/// test`); without one, the gateway's configured suite.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyTestBody {
    pub suite: Option<String>,
}

/// A one-time code of the caller's authenticator (or a recovery code).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CodeBody {
    /// To enrol: the caller's current password.
    pub password: Option<String>,
    /// To replace a factor: a current code from it (or a recovery code). To confirm: the
    /// first code of the new authenticator.
    pub code: Option<String>,
}

/// "Change Password": the current one, and the new one twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordBody {
    pub current: String,
    pub new: String,
    pub confirm: String,
}
