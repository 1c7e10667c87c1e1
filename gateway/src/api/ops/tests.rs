//! The table between operations and requests, both ways.

use super::*;

/// Every operation survives the trip through HTTP: what the command line sends is what
/// the server understands.
#[test]
fn every_operation_round_trips_through_its_request() {
    let ops = sample_ops();
    for op in ops {
        let call = op.call();
        let (path, query) = match call.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (call.path.as_str(), None),
        };
        let body = call.body.map(|b| b.to_string()).unwrap_or_default();
        let back = Op::parse(&call.method, path, query, body.as_bytes()).unwrap();
        assert_eq!(back, op, "{} {}", call.method, call.path);
    }
}

#[test]
fn unknown_fields_and_operations_are_named() {
    let e = Op::parse(&Method::POST, "/users", None, br#"{"emial": "x"}"#).unwrap_err();
    assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
    assert_eq!(e.problems[0].field, "emial");
    let e = Op::parse(&Method::POST, "/users/u-1/promote", None, b"").unwrap_err();
    assert_eq!(e.status, http::StatusCode::NOT_FOUND);
    let e = Op::parse(&Method::GET, "/users", Some("limit=lots"), b"").unwrap_err();
    assert_eq!(e.problems[0].field, "limit");
}

/// The document and the parser agree: every path of the document is an operation, and every
/// operation is a path of the document.
#[test]
fn the_openapi_document_lists_exactly_the_operations() {
    let templates: Vec<(String, String)> = crate::api::openapi::operations()
        .map(|(m, p)| (m.to_ascii_uppercase(), p.to_string()))
        .collect();
    for (method, template) in &templates {
        let path: String = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let parsed = Op::parse(&method, &path, Some("practice=p&relation=shared"), b"{}");
        assert!(parsed.is_ok(), "{method} {template}: {parsed:?}");
    }
    let matches = |method: &Method, path: &str| {
        templates.iter().any(|(m, t)| {
            let (a, b): (Vec<&str>, Vec<&str>) =
                (t.split('/').collect(), path.split('/').collect());
            *m == method.as_str()
                && a.len() == b.len()
                && a.iter().zip(&b).all(|(x, y)| x.starts_with('{') || x == y)
        })
    };
    for op in sample_ops() {
        let call = op.call();
        let path = call.path.split('?').next().unwrap_or("");
        assert!(
            matches(&call.method, path),
            "{} {} is not in the document",
            call.method,
            path
        );
    }
    let doc = crate::api::openapi::document("/v1");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["components"]["schemas"]["User"].is_object(), "{doc}");
}

fn sample_ops() -> Vec<Op> {
    vec![
        Op::ListUsers(ListQuery {
            practice: Some("p 1".into()),
            prefix: Some("ma&r".into()),
            limit: Some(5),
            ..ListQuery::default()
        }),
        Op::ShowUser("maria+x@clinic.example".into()),
        Op::AddUser(Box::new(NewUserBody {
            email: "a@b.example".into(),
            roles: vec!["System Admin".into()],
            ..NewUserBody::default()
        })),
        Op::InviteUser(Box::default()),
        Op::EditUser("u/1".into(), Box::default()),
        Op::DeleteUser("u-1".into()),
        Op::User("u-1".into(), UserAction::Unlock),
        Op::User("u-1".into(), UserAction::Reset),
        Op::Sessions("u-1".into(), Page::default()),
        Op::Sessions(
            "u-1".into(),
            Page {
                limit: Some(2),
                cursor: Some("abc".into()),
            },
        ),
        Op::EndSession {
            user: "u-1".into(),
            session: "0123456789ab".into(),
        },
        Op::User("u-1".into(), UserAction::ResetSecondFactor),
        Op::Grant("u-1".into(), GrantBody::default()),
        Op::Revoke {
            user: "u-1".into(),
            role: "System Admin".into(),
            practice: "p-1".into(),
            location: None,
        },
        Op::Revoke {
            user: "u-1".into(),
            role: "Provider".into(),
            practice: "p-1".into(),
            location: Some("north".into()),
        },
        Op::Relate("u-1".into(), RelateBody::default()),
        Op::Relations("u-1".into(), Page::default()),
        Op::Unrelate {
            user: "u-1".into(),
            patient: "pt 7".into(),
            relation: "shared".into(),
        },
        Op::Locations("p-1".into(), Page::default()),
        Op::EditLocation {
            practice: "p-1".into(),
            location: "l-1".into(),
            edit: LocationEdit::default(),
        },
        Op::RemoveLocation {
            practice: "p-1".into(),
            location: "l-1".into(),
        },
        Op::ListPractices(Page::default()),
        Op::ListPractices(Page {
            limit: Some(2),
            cursor: Some("p-1".into()),
        }),
        Op::AddPractice(PracticeBody::default()),
        Op::EditPractice("p-1".into(), PracticeEdit::default()),
        Op::SetModules("p-1".into(), ModulesBody::default()),
        Op::AddLocation("p-1".into(), LocationBody::default()),
        Op::Security("p-1".into()),
        Op::SetSecurity("p-1".into(), Box::default()),
        Op::AddAccount(AccountBody::default()),
        Op::ListKeys {
            account: Some("lab".into()),
            page: Page::default(),
        },
        Op::ListKeys {
            account: None,
            page: Page {
                limit: Some(1),
                cursor: None,
            },
        },
        Op::IssueKey(KeyBody::default()),
        Op::RotateKey("abc".into(), RotateBody::default()),
        Op::RevokeKey("abc".into()),
        Op::AuditSearch(AuditQuery {
            filter: wardgate_audit::Filter {
                user: Some("u-1".into()),
                action: Some("user:*".into()),
                ..Default::default()
            },
            limit: Some(10),
            ..AuditQuery::default()
        }),
        Op::AuditExport(AuditQuery {
            format: Some("jsonl".into()),
            ..AuditQuery::default()
        }),
        Op::AuditVerify,
        Op::Policy,
        Op::Explain(Box::new(serde_json::json!({"action": "notes:view"}))),
        Op::SwapPolicy(PolicyBody {
            name: "p.policy".into(),
            text: Some("policy \"x\" version \"1\"".into()),
            module_base64: None,
            expect: Some("sha256:abc".into()),
        }),
        Op::RollbackPolicy,
        Op::PolicyMatrix,
        Op::PolicyTest(PolicyTestBody::default()),
        Op::Emergency {
            practice: Some("p 1".into()),
            page: Page {
                limit: Some(3),
                cursor: Some("9".into()),
            },
        },
        Op::CloseEmergency {
            practice: None,
            id: "12".into(),
        },
        Op::PolicyPreview(PolicyBody {
            name: "candidate.policy".into(),
            text: Some("policy \"x\" version \"2\"".into()),
            ..PolicyBody::default()
        }),
        Op::PolicyTest(PolicyTestBody {
            suite: Some("policy = \"x\"".into()),
        }),
        Op::Me,
        Op::EnrollSecondFactor(CodeBody {
            password: Some("Correct#Horse9".into()),
            ..CodeBody::default()
        }),
        Op::ConfirmSecondFactor(CodeBody::default()),
        Op::ChangePassword(PasswordBody {
            current: "a".into(),
            new: "b".into(),
            confirm: "b".into(),
        }),
    ]
}

/// The shipped policies decide every administrative operation: each path of the document
/// (but what a caller does for themselves) has a route in each of them.
#[test]
fn the_shipped_policies_route_every_operation() {
    use wardgate_policy::Engine;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies");
    for name in ["kareo.policy", "clinic.policy"] {
        let compiled = wardgate_policy::compile_file(&root.join(name)).unwrap();
        let manifest = compiled.policy.manifest();
        let mut missing = Vec::new();
        for (method, template) in crate::api::openapi::operations() {
            if template.starts_with("/me") {
                continue;
            }
            let path = format!("/.wardgate/v1{template}");
            let routed = manifest
                .routes
                .iter()
                .any(|r| r.method.eq_ignore_ascii_case(method) && r.pattern == path);
            if !routed {
                missing.push(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
        assert!(missing.is_empty(), "{name} does not route: {missing:?}");
    }
}
