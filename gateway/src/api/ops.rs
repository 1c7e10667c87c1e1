//! The administrative operations as values, and the one table between them and HTTP: the
//! server parses a request into an [`Op`], the command line turns an [`Op`] into a request.
//! Paths are relative to the API's root (`/v1` on the operator's socket and the admin
//! listener, `/.wardgate/v1` on the gateway's own listener).

use http::Method;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use serde_json::Value;
use wardgate_identity::SecuritySettings;

pub use super::bodies::*;
use super::error::{ApiError, Problem};

/// What may stay unescaped in a path segment; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'@')
    .remove(b'~');

/// What can be done to a user in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAction {
    Lock,
    Unlock,
    Disable,
    Enable,
    /// Remove from the account (the email becomes `archived_<email>`).
    Unassign,
    /// End every session (remote logout).
    Logout,
    /// A one-time reset link token.
    Reset,
    /// "Lost my phone": the second factor and recovery codes go; enroll again at sign-in.
    ResetSecondFactor,
}

impl UserAction {
    const ALL: [(UserAction, &'static str); 8] = [
        (UserAction::Lock, "lock"),
        (UserAction::Unlock, "unlock"),
        (UserAction::Disable, "disable"),
        (UserAction::Enable, "enable"),
        (UserAction::Unassign, "unassign"),
        (UserAction::Logout, "logout"),
        (UserAction::Reset, "reset"),
        (UserAction::ResetSecondFactor, "reset-second-factor"),
    ];

    pub fn as_str(self) -> &'static str {
        UserAction::ALL
            .iter()
            .find(|(a, _)| *a == self)
            .map_or("?", |(_, s)| s)
    }

    fn parse(s: &str) -> Option<UserAction> {
        UserAction::ALL
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(a, _)| *a)
    }
}

/// One administrative operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    ListUsers(ListQuery),
    ShowUser(String),
    AddUser(Box<NewUserBody>),
    InviteUser(Box<NewUserBody>),
    EditUser(String, Box<EditBody>),
    DeleteUser(String),
    User(String, UserAction),
    Sessions(String, Page),
    EndSession {
        user: String,
        session: String,
    },
    Grant(String, GrantBody),
    Revoke {
        user: String,
        role: String,
        practice: String,
        /// One location only; without one, everywhere at the practice.
        location: Option<String>,
    },
    Relate(String, RelateBody),
    Relations(String, Page),
    Unrelate {
        user: String,
        patient: String,
        relation: String,
    },
    ListPractices(Page),
    AddPractice(PracticeBody),
    EditPractice(String, PracticeEdit),
    SetModules(String, ModulesBody),
    AddLocation(String, LocationBody),
    Locations(String, Page),
    EditLocation {
        practice: String,
        location: String,
        edit: LocationEdit,
    },
    RemoveLocation {
        practice: String,
        location: String,
    },
    Security(String),
    SetSecurity(String, Box<SecuritySettings>),
    AddAccount(AccountBody),
    ListKeys {
        account: Option<String>,
        page: Page,
    },
    IssueKey(KeyBody),
    RotateKey(String, RotateBody),
    RevokeKey(String),
    AuditSearch(AuditQuery),
    AuditExport(AuditQuery),
    AuditVerify,
    /// The policy in force: its hash, name, roles and routes.
    Policy,
    /// Decides one request (JSON, as `wardgate policy eval` reads) with the policy in force.
    Explain(Box<Value>),
    SwapPolicy(PolicyBody),
    RollbackPolicy,
    /// Who may do what under the policy in force: the role comparison table.
    PolicyMatrix,
    /// A candidate policy checked as a swap would check it, and what it would change in who
    /// may do what - without putting it in force.
    PolicyPreview(PolicyBody),
    /// Runs a test suite (the one sent, or the gateway's configured one) against the policy
    /// in force.
    PolicyTest(PolicyTestBody),
    /// The practice's break-glass grants, open and past, newest first.
    Emergency {
        practice: Option<String>,
        page: Page,
    },
    /// Ends an open break-glass grant now.
    CloseEmergency {
        practice: Option<String>,
        id: String,
    },
    /// Who the caller is: their account, practice and roles.
    Me,
    /// The caller changes their own password.
    ChangePassword(PasswordBody),
    /// The caller sets up an authenticator app (replacing theirs with its current code).
    EnrollSecondFactor(CodeBody),
    /// The caller confirms the new authenticator with its first code.
    ConfirmSecondFactor(CodeBody),
}

/// A request to make for an operation: method, path (with query) below the API root, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Value>,
}

fn seg(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn query(pairs: &[(&str, &Option<String>)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    let q = q.finish();
    if q.is_empty() {
        q
    } else {
        format!("?{q}")
    }
}

fn to_value<T: Serialize>(body: &T) -> Option<Value> {
    serde_json::to_value(body).ok()
}

impl Op {
    /// The operation a request asks for. `path` is below the API root, without the query.
    pub fn parse(
        method: &Method,
        path: &str,
        query: Option<&str>,
        body: &[u8],
    ) -> Result<Op, ApiError> {
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let q: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let s: Vec<&str> = segments.iter().map(String::as_str).collect();
        let m = method.as_str();
        let op = match (m, s.as_slice()) {
            ("GET", ["users"]) => Op::ListUsers(ListQuery {
                practice: param("practice"),
                role: param("role"),
                status: param("status"),
                prefix: param("prefix"),
                location: param("location"),
                limit: match param("limit") {
                    Some(l) => Some(l.parse().map_err(|_| {
                        field_error("limit", "must be a whole number from 1 to 500")
                    })?),
                    None => None,
                },
                cursor: param("cursor"),
            }),
            ("POST", ["users"]) => Op::AddUser(Box::new(json(body)?)),
            ("POST", ["users", "invitations"]) => Op::InviteUser(Box::new(json(body)?)),
            ("GET", ["users", u]) => Op::ShowUser(u.to_string()),
            ("PATCH", ["users", u]) => Op::EditUser(u.to_string(), Box::new(json(body)?)),
            ("DELETE", ["users", u]) => Op::DeleteUser(u.to_string()),
            ("GET", ["users", u, "sessions"]) => Op::Sessions(u.to_string(), page(&param)?),
            ("DELETE", ["users", u, "sessions", id]) => Op::EndSession {
                user: u.to_string(),
                session: id.to_string(),
            },
            ("POST", ["users", u, "roles"]) => Op::Grant(u.to_string(), json(body)?),
            ("DELETE", ["users", u, "roles", role]) => Op::Revoke {
                user: u.to_string(),
                role: role.to_string(),
                practice: param("practice")
                    .ok_or_else(|| field_error("practice", "say at which practice"))?,
                location: param("location"),
            },
            ("POST", ["users", u, "relations"]) => Op::Relate(u.to_string(), json(body)?),
            ("GET", ["users", u, "relations"]) => Op::Relations(u.to_string(), page(&param)?),
            ("DELETE", ["users", u, "relations", patient]) => Op::Unrelate {
                user: u.to_string(),
                patient: patient.to_string(),
                relation: param("relation")
                    .ok_or_else(|| field_error("relation", "say which: assigned or shared"))?,
            },
            ("POST", ["users", u, action]) => match UserAction::parse(action) {
                Some(a) => Op::User(u.to_string(), a),
                None => return Err(no_such(method, path)),
            },
            ("GET", ["practices"]) => Op::ListPractices(page(&param)?),
            ("POST", ["practices"]) => Op::AddPractice(json(body)?),
            ("PATCH", ["practices", p]) => Op::EditPractice(p.to_string(), json(body)?),
            ("PUT", ["practices", p, "modules"]) => Op::SetModules(p.to_string(), json(body)?),
            ("POST", ["practices", p, "locations"]) => Op::AddLocation(p.to_string(), json(body)?),
            ("GET", ["practices", p, "locations"]) => Op::Locations(p.to_string(), page(&param)?),
            ("PATCH", ["practices", p, "locations", l]) => Op::EditLocation {
                practice: p.to_string(),
                location: l.to_string(),
                edit: json(body)?,
            },
            ("DELETE", ["practices", p, "locations", l]) => Op::RemoveLocation {
                practice: p.to_string(),
                location: l.to_string(),
            },
            ("GET", ["practices", p, "security"]) => Op::Security(p.to_string()),
            ("PUT", ["practices", p, "security"]) => {
                Op::SetSecurity(p.to_string(), Box::new(json(body)?))
            }
            ("POST", ["accounts"]) => Op::AddAccount(json(body)?),
            ("GET", ["keys"]) => Op::ListKeys {
                account: param("account"),
                page: page(&param)?,
            },
            ("POST", ["keys"]) => Op::IssueKey(json(body)?),
            ("POST", ["keys", k, "rotate"]) => Op::RotateKey(k.to_string(), json(body)?),
            ("DELETE", ["keys", k]) => Op::RevokeKey(k.to_string()),
            ("GET", ["audit"]) => Op::AuditSearch(audit_query(&param)?),
            ("GET", ["audit", "export"]) => Op::AuditExport(audit_query(&param)?),
            ("GET", ["audit", "verify"]) => Op::AuditVerify,
            ("GET", ["policy"]) => Op::Policy,
            ("POST", ["policy", "explain"]) => Op::Explain(Box::new(json(body)?)),
            ("PUT", ["policy"]) => Op::SwapPolicy(json(body)?),
            ("POST", ["policy", "rollback"]) => Op::RollbackPolicy,
            ("GET", ["policy", "matrix"]) => Op::PolicyMatrix,
            ("POST", ["policy", "test"]) => Op::PolicyTest(json(body)?),
            ("POST", ["policy", "preview"]) => Op::PolicyPreview(json(body)?),
            ("GET", ["emergency"]) => Op::Emergency {
                practice: param("practice"),
                page: page(&param)?,
            },
            ("POST", ["emergency", id, "close"]) => Op::CloseEmergency {
                practice: param("practice"),
                id: id.to_string(),
            },
            ("GET", ["me"]) => Op::Me,
            ("POST", ["me", "password"]) => Op::ChangePassword(json(body)?),
            ("POST", ["me", "second-factor"]) => Op::EnrollSecondFactor(json(body)?),
            ("POST", ["me", "second-factor", "confirm"]) => Op::ConfirmSecondFactor(json(body)?),
            _ => return Err(no_such(method, path)),
        };
        Ok(op)
    }

    /// Whether the operation changes anything (and so is serialized with other changes).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Op::ListUsers(_)
                | Op::ShowUser(_)
                | Op::Sessions(..)
                | Op::ListPractices(_)
                | Op::Relations(..)
                | Op::Locations(..)
                | Op::Security(_)
                | Op::ListKeys { .. }
                | Op::AuditSearch(_)
                | Op::AuditExport(_)
                | Op::AuditVerify
                | Op::Policy
                | Op::Explain(_)
                | Op::PolicyMatrix
                | Op::PolicyTest(_)
                | Op::PolicyPreview(_)
                | Op::Emergency { .. }
                | Op::Me
        )
    }

    /// The user an operation is about, for `If-Match`.
    pub fn target_user(&self) -> Option<&str> {
        match self {
            Op::ShowUser(u)
            | Op::EditUser(u, _)
            | Op::DeleteUser(u)
            | Op::User(u, _)
            | Op::Grant(u, _)
            | Op::Relate(u, _)
            | Op::Revoke { user: u, .. }
            | Op::EndSession { user: u, .. }
            | Op::Unrelate { user: u, .. } => Some(u),
            _ => None,
        }
    }
}

fn page(param: &dyn Fn(&str) -> Option<String>) -> Result<Page, ApiError> {
    Ok(Page {
        limit: match param("limit") {
            Some(l) => Some(
                l.parse()
                    .map_err(|_| field_error("limit", "must be a whole number from 1 to 500"))?,
            ),
            None => None,
        },
        cursor: param("cursor"),
    })
}

fn audit_query(param: &dyn Fn(&str) -> Option<String>) -> Result<AuditQuery, ApiError> {
    let mut problems = Vec::new();
    let mut bad = |field: &str, message: String| {
        problems.push(Problem {
            field: field.into(),
            message,
        })
    };
    if let Some(d) = param("decision").filter(|d| d != "allow" && d != "deny") {
        bad("decision", format!("`{d}` is not allow or deny"));
    }
    if let Some(o) = param("order").filter(|o| o != "oldest" && o != "newest") {
        bad("order", format!("`{o}` is not oldest or newest"));
    }
    if let Some(f) = param("format").filter(|f| f != "csv" && f != "jsonl") {
        bad("format", format!("`{f}` is not csv or jsonl"));
    }
    for field in ["from", "to"] {
        if let Some(t) = param(field) {
            let day = chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d").is_ok();
            if !day && chrono::DateTime::parse_from_rfc3339(&t).is_err() {
                bad(field, format!("`{t}` is not RFC 3339 or YYYY-MM-DD"));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::invalid(problems));
    }
    Ok(AuditQuery {
        filter: wardgate_audit::Filter {
            user: param("user"),
            from: param("from"),
            to: param("to"),
            action: param("action"),
            decision: param("decision"),
            patient: param("patient"),
            practice: param("practice"),
        },
        limit: match param("limit") {
            Some(l) => Some(
                l.parse()
                    .map_err(|_| field_error("limit", "must be a whole number"))?,
            ),
            None => None,
        },
        format: param("format"),
        order: param("order"),
        cursor: match param("cursor") {
            Some(c) => Some(c.parse().map_err(|_| {
                field_error("cursor", "must be the next_cursor of the previous page")
            })?),
            None => None,
        },
    })
}

fn field_error(field: &str, message: &str) -> ApiError {
    ApiError::field(field, message)
}

fn no_such(method: &Method, path: &str) -> ApiError {
    ApiError::new(
        http::StatusCode::NOT_FOUND,
        "not_found",
        format!("no operation {method} {path}; see /v1/openapi.json"),
    )
}

/// A JSON body into its type; an unknown or mistyped field is named.
fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid(vec![Problem {
            field: "body".into(),
            message: "this operation takes a JSON object".into(),
        }]));
    }
    // An object, not an array that serde would read field by field.
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(vec![Problem {
            field: "body".into(),
            message: format!("not JSON: {e}"),
        }])
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(vec![Problem {
            field: "body".into(),
            message: "this operation takes a JSON object".into(),
        }]));
    }
    serde_json::from_value(value).map_err(|e| {
        let message = e.to_string();
        let field = message
            .split('`')
            .nth(1)
            .filter(|_| message.contains("field"))
            .unwrap_or("body");
        ApiError::invalid(vec![Problem {
            field: field.to_string(),
            message,
        }])
    })
}

mod call;
#[cfg(test)]
mod tests;
