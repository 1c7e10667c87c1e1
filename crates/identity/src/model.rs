//! What the store holds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Practice {
    pub id: String,
    pub name: String,
    pub timezone: String,
    /// Subscribed modules (`clinical`, `billing`, `engage`).
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    pub id: String,
    pub practice_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    Staff,
    Provider,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UserStatus {
    Active,
    Locked,
    Disabled,
    /// Removed from the account; the email is renamed `archived_<email>`, history kept.
    Unassigned,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Locked => "locked",
            UserStatus::Disabled => "disabled",
            UserStatus::Unassigned => "unassigned",
        }
    }

    pub(crate) fn parse(s: &str) -> UserStatus {
        match s {
            "locked" => UserStatus::Locked,
            "disabled" => UserStatus::Disabled,
            "unassigned" => UserStatus::Unassigned,
            _ => UserStatus::Active,
        }
    }
}

/// A role held at a practice, or at one location of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Assignment {
    pub role: String,
    pub practice_id: String,
    pub location_id: Option<String>,
    /// RFC 3339; the role lapses by itself then ("contractor for 3 months", "acting manager").
    pub expires_at: Option<String>,
    pub granted_by: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub middle_name: Option<String>,
    pub last_name: String,
    pub phone: Option<String>,
    pub kind: UserKind,
    pub npi: Option<String>,
    pub taxonomy: Option<String>,
    pub provider_type: Option<String>,
    pub specialty: Option<String>,
    pub credentials: Option<String>,
    /// A provider's state license number.
    pub license_number: Option<String>,
    /// Modules activated for a provider; a provider can be locked only when this is empty.
    pub active_modules: Vec<String>,
    pub status: UserStatus,
    /// The temporary password must be changed at the next sign-in.
    pub must_change_password: bool,
    /// Throttled after failed sign-ins until then (RFC 3339); an administrator can unlock.
    pub locked_until: Option<String>,
    /// "Allow emergency access for (Practice)": the practices where break-glass may be opened.
    pub emergency_access: Vec<String>,
    pub assignments: Vec<Assignment>,
}

/// What a valid key unlocks, for the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyInfo {
    pub id: String,
    pub account: String,
    pub practice: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    /// Client networks the key may be used from; empty: anywhere.
    #[schemars(with = "Vec<String>")]
    pub networks: Vec<ipnet::IpNet>,
    pub rate_per_minute: Option<u32>,
    pub expires_at: Option<String>,
    pub revoked: bool,
    pub last_used_at: Option<String>,
    pub uses: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionInfo {
    /// The first 12 hex digits of the token's hash: enough to name it, useless to use it.
    pub id: String,
    pub user_id: String,
    pub practice_id: String,
    pub client: Option<String>,
    pub device: Option<String>,
    pub created_at: String,
    pub last_seen_at: String,
    pub authenticated_at: String,
    pub mfa: bool,
}
