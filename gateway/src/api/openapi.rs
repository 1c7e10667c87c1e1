//! The API's OpenAPI 3.1 document, built from the same table the server parses with: every
//! operation's method and path, its request body's schema and its response's, derived from
//! the Rust types (JSON Schema 2020-12, as OpenAPI 3.1 uses). A test checks that every path
//! here parses into an operation and that every operation's request is a path here.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use wardgate_identity::SecuritySettings;

use super::ops::{
    AccountBody, CodeBody, EditBody, GrantBody, KeyBody, LocationBody, LocationEdit, ModulesBody,
    NewUserBody, PasswordBody, PolicyBody, PolicyTestBody, PracticeBody, PracticeEdit, RelateBody,
    RotateBody,
};

mod schemas;
use schemas::*;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// One operation: method, path template, id, summary, success status, request and response.
struct Endpoint {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    status: u16,
    request: Option<SchemaFn>,
    response: SchemaFn,
}

fn s<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

macro_rules! endpoints {
    ($($method:literal $path:literal $id:literal $status:literal $req:tt $res:ty : $summary:literal;)*) => {
        &[$(Endpoint {
            method: $method,
            path: $path,
            id: $id,
            summary: $summary,
            status: $status,
            request: endpoints!(@req $req),
            response: s::<$res>,
        },)*]
    };
    (@req -) => { None };
    (@req $t:ty) => { Some(s::<$t>) };
}

/// The operations, as [`super::ops::Op::parse`] accepts them.
const ENDPOINTS: &[Endpoint] = endpoints! {
    "get" "/users" "listUsers" 200 - UserPage: "Users, providers first; filters and first letters";
    "post" "/users" "addUser" 201 NewUserBody UserReply: "Add User / Add Provider";
    "post" "/users/invitations" "inviteUser" 201 NewUserBody UserReply: "Send Invite";
    "get" "/users/{user}" "showUser" 200 - UserReply: "One user (by id or email), with its ETag";
    "patch" "/users/{user}" "editUser" 200 EditBody UserReply: "Edit User (If-Match: the ETag)";
    "delete" "/users/{user}" "deleteUser" 200 - Deleted: "Delete a user for good";
    "get" "/users/{user}/sessions" "userSessions" 200 - Sessions: "A user's live sessions";
    "post" "/users/{user}/lock" "lockUser" 200 - UserReply: "Lock (ends the sessions)";
    "post" "/users/{user}/unlock" "unlockUser" 200 - UserReply: "Unlock Account";
    "post" "/users/{user}/disable" "disableUser" 200 - UserReply: "Disable User";
    "post" "/users/{user}/enable" "enableUser" 200 - UserReply: "Enable User";
    "post" "/users/{user}/unassign" "unassignUser" 200 - UserReply: "Unassign (email becomes archived_)";
    "post" "/users/{user}/logout" "logoutUser" 200 - LoggedOut: "Remote logout: end every session";
    "delete" "/users/{user}/sessions/{session}" "endSession" 200 - LoggedOut: "End one session";
    "post" "/users/{user}/reset-second-factor" "resetSecondFactor" 200 - UserReply: "Reset a lost second factor";
    "post" "/users/{user}/reset" "resetUser" 200 - ResetToken: "Reset Password: the link mailed, or a one-time token";
    "post" "/users/{user}/roles" "grantRole" 200 GrantBody UserReply: "Grant a role at a practice or location";
    "delete" "/users/{user}/roles/{role}" "revokeRole" 200 - UserReply: "Revoke a role (?practice=)";
    "post" "/users/{user}/relations" "relatePatient" 200 RelateBody Related: "Relate a user to a patient";
    "get" "/users/{user}/relations" "userRelations" 200 - Relations: "A user's patients";
    "delete" "/users/{user}/relations/{patient}" "unrelatePatient" 200 - Unrelated: "End a relation (?relation=)";
    "get" "/practices" "listPractices" 200 - Practices: "Practices, with administrator warnings";
    "post" "/practices" "addPractice" 201 PracticeBody PracticeReply: "Add a practice (the host's operator)";
    "patch" "/practices/{practice}" "editPractice" 200 PracticeEdit PracticeReply: "Manage Practice Information: name, time zone";
    "put" "/practices/{practice}/modules" "setModules" 200 ModulesBody PracticeReply: "Change the module subscriptions";
    "get" "/practices/{practice}/locations" "listLocations" 200 - Locations: "A practice's locations";
    "patch" "/practices/{practice}/locations/{location}" "renameLocation" 200 LocationEdit LocationReply: "Rename a location";
    "delete" "/practices/{practice}/locations/{location}" "removeLocation" 200 - RemovedLocation: "Remove a location no role grant names";
    "post" "/practices/{practice}/locations" "addLocation" 201 LocationBody LocationReply: "Add a location";
    "get" "/practices/{practice}/security" "getSecurity" 200 - Security: "Settings > Security";
    "put" "/practices/{practice}/security" "setSecurity" 200 SecuritySettings Security: "Change the security settings";
    "post" "/accounts" "addAccount" 201 AccountBody Account: "A service account for an integration";
    "get" "/keys" "listKeys" 200 - Keys: "API keys with their use";
    "post" "/keys" "issueKey" 201 KeyBody Issued: "Issue a key (shown once)";
    "post" "/keys/{key}/rotate" "rotateKey" 201 RotateBody Issued: "Rotate a key, the old one kept for an overlap";
    "delete" "/keys/{key}" "revokeKey" 200 - Revoked: "Revoke a key at once";
    "get" "/audit" "searchAudit" 200 - AuditPage: "Activity Log: filter by user, date range, action, patient";
    "get" "/audit/export" "exportAudit" 200 - Export: "Export the matching records (streamed CSV or JSON lines)";
    "get" "/audit/verify" "verifyAudit" 200 - Verified: "Verify the chain and its anchors";
    "get" "/policy" "getPolicy" 200 - PolicyInForce: "The policy in force";
    "post" "/policy/explain" "explainRequest" 200 ExplainRequest Explained: "Decide one request with the policy in force";
    "put" "/policy" "swapPolicy" 200 PolicyBody Swapped: "Put a policy in force (checked, tested; previous kept)";
    "post" "/policy/rollback" "rollbackPolicy" 200 - RolledBack: "Put the previous policy back";
    "get" "/policy/matrix" "policyMatrix" 200 - PolicyMatrix: "Who may do what: the role comparison table";
    "post" "/policy/test" "testPolicy" 200 PolicyTestBody TestRun: "Run a test suite against the policy in force";
    "post" "/policy/preview" "previewPolicy" 200 PolicyBody Preview: "Check a candidate policy and see who gains and loses what, without putting it in force";
    "get" "/emergency" "listEmergency" 200 - EmergencyPage: "Emergency access: the practice's break-glass grants, open and past, newest first";
    "post" "/emergency/{grant}/close" "closeEmergency" 200 - EmergencyClosed: "End an open break-glass grant now";
    "post" "/me/second-factor" "enrollSecondFactor" 200 CodeBody Enrollment: "Set up your authenticator app, or replace it (your password again, and a current code of the old one)";
    "post" "/me/second-factor/confirm" "confirmSecondFactor" 200 CodeBody Enrolled: "Confirm your new authenticator with its first code";
    "get" "/me" "me" 200 - Me: "Who you are: account, practice, roles";
    "post" "/me/password" "changePassword" 200 PasswordBody Changed: "Change your own password (your other sessions end)";
};

/// The query parameters an operation takes.
fn query(id: &str) -> Vec<(&'static str, &'static str)> {
    match id {
        "listUsers" => vec![
            ("practice", "only this practice's users"),
            ("role", "only holders of this role"),
            ("status", "active, locked, disabled or unassigned"),
            ("prefix", "the first letters of a name or email"),
            ("location", "only people with a role at this location"),
            ("limit", "at most this many (1 to 500, default 100)"),
            ("cursor", "the previous page's next_cursor"),
        ],
        "revokeRole" => vec![
            ("practice", "where the role is revoked (required)"),
            (
                "location",
                "at this location only (default: everywhere at the practice)",
            ),
        ],
        "unrelatePatient" => vec![("relation", "assigned or shared (required)")],
        "listKeys" => vec![
            ("account", "only this service account's keys"),
            ("limit", "at most this many (1 to 500, default 100)"),
            ("cursor", "the previous page's next_cursor"),
        ],
        "listEmergency" => vec![
            (
                "practice",
                "the practice (yours, when you are bound to one)",
            ),
            ("limit", "at most this many (1 to 500, default 100)"),
            ("cursor", "the previous page's next_cursor"),
        ],
        "closeEmergency" => vec![(
            "practice",
            "the practice (yours, when you are bound to one)",
        )],
        "listPractices" | "userSessions" | "userRelations" | "listLocations" => vec![
            ("limit", "at most this many (1 to 500, default 100)"),
            ("cursor", "the previous page's next_cursor"),
        ],
        "searchAudit" | "exportAudit" => {
            let mut q = vec![
                ("user", "the actor: a user, service account or key id"),
                ("from", "from (RFC 3339 or YYYY-MM-DD), inclusive"),
                ("to", "until (RFC 3339 or YYYY-MM-DD), inclusive"),
                ("action", "an action, or a prefix ending in *"),
                ("decision", "allow or deny"),
                ("patient", "a patient id"),
                ("practice", "a practice (yours, when you are bound to one)"),
            ];
            if id == "searchAudit" {
                q.push((
                    "limit",
                    "at most this many records (1 to 10000, default 1000)",
                ));
                q.push(("cursor", "the previous page's next_cursor"));
                q.push(("order", "oldest (the default) or newest first"));
            } else {
                q.push(("format", "csv (the default) or jsonl"));
            }
            q
        }
        _ => Vec::new(),
    }
}

fn parameters(e: &Endpoint) -> Vec<Value> {
    let mut out: Vec<Value> = e
        .path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true,
                   "schema": {"type": "string", "minLength": 1}})
        })
        .collect();
    for (name, description) in query(e.id) {
        let schema = match name {
            "limit" if e.id == "searchAudit" => {
                json!({"type": "integer", "minimum": 1, "maximum": super::audit::MAX_RECORDS})
            }
            "limit" => json!({"type": "integer", "minimum": 1, "maximum": super::run::MAX_PAGE}),
            "format" => json!({"type": "string", "enum": ["csv", "jsonl"]}),
            "cursor" if e.id == "searchAudit" => json!({"type": "integer", "minimum": 0}),
            "order" => json!({"type": "string", "enum": ["oldest", "newest"]}),
            "decision" => json!({"type": "string", "enum": ["allow", "deny"]}),
            "status" => {
                json!({"type": "string", "enum": ["active", "locked", "disabled", "unassigned"]})
            }
            _ => json!({"type": "string"}),
        };
        let required = matches!(
            (e.id, name),
            ("revokeRole", "practice") | ("unrelatePatient", "relation")
        );
        out.push(json!({"name": name, "in": "query", "required": required,
                        "description": description, "schema": schema}));
    }
    if e.method != "get" {
        out.push(json!({"name": "Idempotency-Key", "in": "header", "required": false,
            "description": "makes a retry safe: the same request with the same key within a day gets the first reply (Idempotent-Replayed: true); another request with it is refused (422)",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}}));
    }
    if e.id == "editUser" {
        out.push(
            json!({"name": "If-Match", "in": "header", "required": false,
                        "description": "the ETag read with the user; 412 if it changed since",
                        "schema": {"type": "string"}}),
        );
    }
    out
}

/// The document, for an API rooted at `root` (`/v1` or `/.wardgate/v1`).
pub fn document(root: &str) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let error = s::<Error>(&mut g);
    let mut paths: Map<String, Value> = Map::new();
    for e in ENDPOINTS {
        let content = if e.id == "exportAudit" {
            let text = json!({"schema": {"type": "string"}});
            json!({"text/csv; charset=utf-8": text, "application/x-ndjson": text})
        } else {
            json!({"application/json": {"schema": (e.response)(&mut g)}})
        };
        let mut op = json!({
            "operationId": e.id,
            "summary": e.summary,
            "parameters": parameters(e),
            "responses": {
                e.status.to_string(): {
                    "description": e.summary,
                    "content": content,
                },
                "default": {
                    "description": "refused: 400 (every field), 401, 403 (the policy's reason), 404, 409, 412, 413, 429, 503",
                    "content": {"application/json": {"schema": error.clone()}},
                },
            },
        });
        if let (Some(request), Some(obj)) = (e.request, op.as_object_mut()) {
            obj.insert(
                "requestBody".into(),
                json!({"required": true,
                       "content": {"application/json": {"schema": request(&mut g)}}}),
            );
        }
        let entry = paths
            .entry(e.path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(obj) = entry.as_object_mut() {
            obj.insert(e.method.to_string(), op);
        }
    }
    let schemas = g.take_definitions(true);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Wardgate administration API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Users, roles, practices, security settings and keys, while the gateway serves. On the gateway's listener every operation is decided by the policy (its routes under /.wardgate/v1) and kept to the caller's practice.",
        },
        "servers": [{"url": root}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "a wg_ API key"},
                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-wardgate",
                            "description": "a session; changes also send X-CSRF-Token"},
            },
        },
    })
}

/// Every path template of the document, with its method.
pub fn operations() -> impl Iterator<Item = (&'static str, &'static str)> {
    ENDPOINTS.iter().map(|e| (e.method, e.path))
}
