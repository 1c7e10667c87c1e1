//! The shapes of the API's answers, for the document only (the handlers build the same JSON).

use schemars::JsonSchema;
use serde_json::Value;
use wardgate_identity::{
    IssuedKey, KeyInfo, Location, Practice, SecuritySettings, SessionInfo, User,
};

/// A user, with the version an edit's `If-Match` names (also in the `ETag` header).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct UserReply {
    pub(super) user: User,
    /// Only when the password was generated: shown this once.
    pub(super) temporary_password: Option<String>,
    /// Only for an invitation when no mail is configured: hand it to the user.
    pub(super) activation_token: Option<String>,
    /// Only for an invitation when mail is configured: where the link went.
    pub(super) mailed_to: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct UserPage {
    pub(super) users: Vec<User>,
    /// Pass as `cursor` for the next page; none on the last.
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Sessions {
    pub(super) sessions: Vec<SessionInfo>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Deleted {
    pub(super) deleted: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct LoggedOut {
    pub(super) user: String,
    pub(super) ended: u64,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct ResetToken {
    pub(super) user: String,
    /// Without mail: a one-time reset token, valid 24 hours, to hand to the user.
    pub(super) token: Option<String>,
    /// With mail: where the reset link went.
    pub(super) mailed_to: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Related {
    pub(super) user: String,
    pub(super) patient: String,
    pub(super) relation: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct PracticeEntry {
    pub(super) practice: Practice,
    /// No administrator, or more than two.
    pub(super) warning: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Practices {
    pub(super) practices: Vec<PracticeEntry>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct PracticeReply {
    pub(super) practice: Practice,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct LocationReply {
    pub(super) location: Location,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Locations {
    pub(super) locations: Vec<Location>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct RemovedLocation {
    pub(super) removed: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct RelationEntry {
    pub(super) patient: String,
    pub(super) relation: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Relations {
    pub(super) user: String,
    pub(super) relations: Vec<RelationEntry>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Unrelated {
    pub(super) user: String,
    pub(super) patient: String,
    pub(super) removed: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Security {
    pub(super) practice: String,
    pub(super) security: SecuritySettings,
    /// The network and country rules that apply to the practice: the configuration file's,
    /// read-only here.
    pub(super) network: NetworkRulesInForce,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct NetworkRulesInForce {
    /// Where they are changed: `configuration` (the gateway's file).
    pub(super) from: String,
    /// The gateway's `[network]` allow and deny lists (CIDR).
    pub(super) allow: Vec<String>,
    pub(super) deny: Vec<String>,
    /// `[practices.<id>]`: the practice's own lists.
    pub(super) practice_allow: Vec<String>,
    pub(super) practice_deny: Vec<String>,
    /// `[geo]`: only these countries (when not empty), and these never; `null` without a
    /// GeoIP database.
    pub(super) countries: Option<CountryRules>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct CountryRules {
    pub(super) allow: Vec<String>,
    pub(super) block: Vec<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Account {
    pub(super) account: String,
    pub(super) practice: String,
    pub(super) roles: Vec<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Keys {
    pub(super) keys: Vec<KeyInfo>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Issued {
    /// The key itself is in `key.key`, shown this once.
    pub(super) key: IssuedKey,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Revoked {
    pub(super) revoked: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct AuditPage {
    /// Records as stored: `seq`, `time`, `prev`, `hash` and the `event`.
    pub(super) records: Vec<serde_json::Map<String, Value>>,
    /// More matched than `limit`.
    pub(super) truncated: bool,
    /// When truncated: the `cursor` of the next page (the last record's `seq`).
    pub(super) next_cursor: Option<u64>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct VerifyProblem {
    pub(super) file: String,
    pub(super) line: u64,
    pub(super) seq: Option<u64>,
    pub(super) problem: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Verified {
    pub(super) ok: bool,
    pub(super) records: u64,
    pub(super) segments: u64,
    pub(super) anchors: u64,
    pub(super) first_seq: Option<u64>,
    pub(super) last_seq: Option<u64>,
    pub(super) problems: Vec<VerifyProblem>,
}

/// The export's body: CSV or JSON lines, as asked.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Export(pub(super) String);

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct RouteInfo {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) action: String,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct PolicyInForce {
    pub(super) module_hash: String,
    pub(super) previous: Option<String>,
    pub(super) name: String,
    pub(super) version: String,
    pub(super) roles: Vec<String>,
    pub(super) routes: Vec<RouteInfo>,
    /// Its text, when it was put in force as text (`null` for a compiled module).
    pub(super) source: Option<String>,
}

/// A request as `wardgate policy eval` reads it: principal, action, resource, context.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct ExplainRequest(pub(super) serde_json::Map<String, Value>);

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Explained {
    pub(super) module_hash: String,
    /// `decision` (allow or deny), the reasons (each with its code), the obligations.
    pub(super) decision: serde_json::Map<String, Value>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct SwapReport {
    pub(super) module_hash: String,
    pub(super) previous: Option<String>,
    pub(super) tests_passed: u64,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Swapped {
    pub(super) swapped: SwapReport,
    /// The policy file it was saved to (so a restart starts from it), when the gateway's
    /// policy is a text file.
    pub(super) saved_to: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct RolledBack {
    pub(super) rolled_back: SwapReport,
    /// The policy file it was saved to, as for a swap.
    pub(super) saved_to: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct FieldProblem {
    pub(super) field: String,
    pub(super) message: String,
}

/// Every error: a stable code, a sentence, and the fields that were wrong. Refusals by the
/// gateway's checks also carry the request's id and, from the policy, its `reason`.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Error {
    pub(super) error: String,
    pub(super) message: String,
    #[serde(default)]
    pub(super) problems: Vec<FieldProblem>,
    pub(super) request_id: Option<String>,
    pub(super) reason: Option<String>,
}

/// One action's row: its module, a cell per role (`Y`, `Y*` under conditions, `-`), and the
/// conditions of each `Y*` cell.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct MatrixRow {
    pub(super) action: String,
    pub(super) module: Option<String>,
    pub(super) cells: Vec<String>,
    pub(super) conditional: Vec<MatrixConditions>,
    /// Where a role has the permission through a role it extends: that role.
    pub(super) inherited: Vec<MatrixInherited>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct MatrixInherited {
    pub(super) role: String,
    pub(super) from: Vec<String>,
}

/// A role's description and the roles it extends.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct RoleAbout {
    pub(super) role: String,
    pub(super) description: Option<String>,
    pub(super) extends: Vec<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct MatrixConditions {
    pub(super) role: String,
    pub(super) conditions: Vec<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct PolicyMatrix {
    pub(super) module_hash: String,
    /// The columns, in the policy's order.
    pub(super) roles: Vec<String>,
    pub(super) rows: Vec<MatrixRow>,
    /// Per role, in the order of `roles`.
    pub(super) about: Vec<RoleAbout>,
}

/// One cell of the role comparison table that a candidate changes.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct MatrixChange {
    pub(super) role: String,
    pub(super) action: String,
    /// `Y`, `Y*` or `-` (`-` too for a role or action the policy does not have).
    pub(super) before: String,
    pub(super) after: String,
    /// `gains`, `loses` or `conditions` (the same cell with other conditions).
    pub(super) change: String,
    /// The conditions of a `Y*` cell after the change.
    pub(super) conditions: Vec<String>,
}

/// A candidate checked as a swap would check it, and what it would change.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Preview {
    pub(super) module_hash: String,
    pub(super) tests_passed: u64,
    pub(super) roles_added: Vec<String>,
    pub(super) roles_removed: Vec<String>,
    pub(super) changes: Vec<MatrixChange>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct TestRun {
    pub(super) module_hash: String,
    pub(super) passed: u64,
    /// Each failing case: its name and what went wrong.
    pub(super) failed: Vec<String>,
    pub(super) total: u64,
}

/// The caller: `user`, `key`, `operator` or `system`, their id, practice and roles, the roles
/// of the policy in force, and a person's account.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Me {
    pub(super) kind: String,
    pub(super) id: String,
    pub(super) practice: Option<String>,
    pub(super) roles: Vec<String>,
    /// Every role the policy in force has (empty when none is known yet).
    pub(super) policy_roles: Vec<String>,
    /// A person: whether they have a confirmed second factor.
    pub(super) second_factor: Option<bool>,
    pub(super) user: Option<User>,
}

/// A new authenticator: its secret (base32) and `otpauth://` URI, and recovery codes, shown
/// once.
#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Enrollment {
    pub(super) secret: String,
    pub(super) uri: String,
    pub(super) recovery_codes: Vec<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Enrolled {
    pub(super) enrolled: bool,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct Changed {
    pub(super) changed: bool,
    /// How many of your other sessions (other devices) were signed out; this one stays.
    pub(super) other_sessions_ended: u64,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct EmergencyPage {
    pub(super) practice: String,
    pub(super) grants: Vec<wardgate_identity::EmergencyGrant>,
    pub(super) next_cursor: Option<String>,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub(super) struct EmergencyClosed {
    pub(super) closed: String,
    pub(super) practice: String,
}
