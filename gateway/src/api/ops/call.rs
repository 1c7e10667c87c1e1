//! Each operation as the request that asks for it (the other half of [`Op::parse`]).

use http::Method;
use serde_json::Value;

use super::*;

impl Op {
    /// The request that asks for this operation.
    pub fn call(&self) -> Call {
        let (method, path, body) = self.user_call().unwrap_or_else(|| self.other_call());
        Call { method, path, body }
    }

    /// The request for a user's operation.
    fn user_call(&self) -> Option<(Method, String, Option<Value>)> {
        Some(match self {
            Op::ListUsers(q) => {
                let limit = q.limit.map(|l| l.to_string());
                let pairs = [
                    ("practice", &q.practice),
                    ("role", &q.role),
                    ("status", &q.status),
                    ("prefix", &q.prefix),
                    ("location", &q.location),
                    ("limit", &limit),
                    ("cursor", &q.cursor),
                ];
                (Method::GET, format!("/users{}", query(&pairs)), None)
            }
            Op::ShowUser(u) => (Method::GET, format!("/users/{}", seg(u)), None),
            Op::AddUser(b) => (Method::POST, "/users".into(), to_value(b)),
            Op::InviteUser(b) => (Method::POST, "/users/invitations".into(), to_value(b)),
            Op::EditUser(u, b) => (Method::PATCH, format!("/users/{}", seg(u)), to_value(b)),
            Op::DeleteUser(u) => (Method::DELETE, format!("/users/{}", seg(u)), None),
            Op::User(u, a) => (
                Method::POST,
                format!("/users/{}/{}", seg(u), a.as_str()),
                None,
            ),
            Op::Sessions(u, p) => (
                Method::GET,
                format!("/users/{}/sessions{}", seg(u), page_query(p)),
                None,
            ),
            Op::EndSession { user, session } => (
                Method::DELETE,
                format!("/users/{}/sessions/{}", seg(user), seg(session)),
                None,
            ),
            Op::Grant(u, b) => (
                Method::POST,
                format!("/users/{}/roles", seg(u)),
                to_value(b),
            ),
            Op::Revoke {
                user,
                role,
                practice,
                location,
            } => (
                Method::DELETE,
                format!(
                    "/users/{}/roles/{}{}",
                    seg(user),
                    seg(role),
                    query(&[
                        ("practice", &Some(practice.clone())),
                        ("location", location)
                    ])
                ),
                None,
            ),
            Op::Relate(u, b) => (
                Method::POST,
                format!("/users/{}/relations", seg(u)),
                to_value(b),
            ),
            Op::Relations(u, p) => (
                Method::GET,
                format!("/users/{}/relations{}", seg(u), page_query(p)),
                None,
            ),
            Op::Unrelate {
                user,
                patient,
                relation,
            } => (
                Method::DELETE,
                format!(
                    "/users/{}/relations/{}{}",
                    seg(user),
                    seg(patient),
                    query(&[("relation", &Some(relation.clone()))])
                ),
                None,
            ),
            Op::Me => (Method::GET, "/me".into(), None),
            Op::ChangePassword(b) => (Method::POST, "/me/password".into(), to_value(b)),
            Op::EnrollSecondFactor(b) => (Method::POST, "/me/second-factor".into(), to_value(b)),
            Op::ConfirmSecondFactor(b) => (
                Method::POST,
                "/me/second-factor/confirm".into(),
                to_value(b),
            ),
            _ => return None,
        })
    }

    /// The request for any other operation.
    fn other_call(&self) -> (Method, String, Option<Value>) {
        match self {
            Op::Locations(p, page) => (
                Method::GET,
                format!("/practices/{}/locations{}", seg(p), page_query(page)),
                None,
            ),
            Op::EditLocation {
                practice,
                location,
                edit,
            } => (
                Method::PATCH,
                format!("/practices/{}/locations/{}", seg(practice), seg(location)),
                to_value(edit),
            ),
            Op::RemoveLocation { practice, location } => (
                Method::DELETE,
                format!("/practices/{}/locations/{}", seg(practice), seg(location)),
                None,
            ),
            Op::ListPractices(page) => {
                let limit = page.limit.map(|l| l.to_string());
                let pairs = [("limit", &limit), ("cursor", &page.cursor)];
                (Method::GET, format!("/practices{}", query(&pairs)), None)
            }
            Op::AddPractice(b) => (Method::POST, "/practices".into(), to_value(b)),
            Op::EditPractice(p, b) => {
                (Method::PATCH, format!("/practices/{}", seg(p)), to_value(b))
            }
            Op::SetModules(p, b) => (
                Method::PUT,
                format!("/practices/{}/modules", seg(p)),
                to_value(b),
            ),
            Op::AddLocation(p, b) => (
                Method::POST,
                format!("/practices/{}/locations", seg(p)),
                to_value(b),
            ),
            Op::Security(p) => (Method::GET, format!("/practices/{}/security", seg(p)), None),
            Op::SetSecurity(p, s) => (
                Method::PUT,
                format!("/practices/{}/security", seg(p)),
                to_value(s),
            ),
            Op::AddAccount(b) => (Method::POST, "/accounts".into(), to_value(b)),
            Op::ListKeys { account, page } => {
                let limit = page.limit.map(|l| l.to_string());
                let pairs = [
                    ("account", account),
                    ("limit", &limit),
                    ("cursor", &page.cursor),
                ];
                (Method::GET, format!("/keys{}", query(&pairs)), None)
            }
            Op::IssueKey(b) => (Method::POST, "/keys".into(), to_value(b)),
            Op::RotateKey(k, b) => (
                Method::POST,
                format!("/keys/{}/rotate", seg(k)),
                to_value(b),
            ),
            Op::RevokeKey(k) => (Method::DELETE, format!("/keys/{}", seg(k)), None),
            Op::AuditSearch(q) | Op::AuditExport(q) => {
                let limit = q.limit.map(|l| l.to_string());
                let cursor = q.cursor.map(|c| c.to_string());
                let pairs = [
                    ("user", &q.filter.user),
                    ("from", &q.filter.from),
                    ("to", &q.filter.to),
                    ("action", &q.filter.action),
                    ("decision", &q.filter.decision),
                    ("patient", &q.filter.patient),
                    ("practice", &q.filter.practice),
                    ("limit", &limit),
                    ("format", &q.format),
                    ("cursor", &cursor),
                    ("order", &q.order),
                ];
                let leaf = if matches!(self, Op::AuditExport(_)) {
                    "/audit/export"
                } else {
                    "/audit"
                };
                (Method::GET, format!("{leaf}{}", query(&pairs)), None)
            }
            Op::AuditVerify => (Method::GET, "/audit/verify".into(), None),
            Op::Policy => (Method::GET, "/policy".into(), None),
            Op::Explain(r) => (Method::POST, "/policy/explain".into(), Some((**r).clone())),
            Op::SwapPolicy(b) => (Method::PUT, "/policy".into(), to_value(b)),
            Op::RollbackPolicy => (Method::POST, "/policy/rollback".into(), None),
            Op::PolicyMatrix => (Method::GET, "/policy/matrix".into(), None),
            Op::PolicyTest(b) => (Method::POST, "/policy/test".into(), to_value(b)),
            Op::PolicyPreview(b) => (Method::POST, "/policy/preview".into(), to_value(b)),
            Op::Emergency { practice, page } => {
                let limit = page.limit.map(|l| l.to_string());
                let pairs = [
                    ("practice", practice),
                    ("limit", &limit),
                    ("cursor", &page.cursor),
                ];
                (Method::GET, format!("/emergency{}", query(&pairs)), None)
            }
            Op::CloseEmergency { practice, id } => (
                Method::POST,
                format!(
                    "/emergency/{}/close{}",
                    seg(id),
                    query(&[("practice", practice)])
                ),
                None,
            ),
            // A user's operation is `user_call`'s.
            _ => (Method::GET, "/".into(), None),
        }
    }
}

/// A page's query string.
fn page_query(page: &Page) -> String {
    let limit = page.limit.map(|l| l.to_string());
    query(&[("limit", &limit), ("cursor", &page.cursor)])
}
