//! The kareo policy reproduces the seed's role table cell by cell
//! (`contracts/kareo-permissions.csv`, copied into `tests/data/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use wardgate_policy::matrix::Cell;
use wardgate_policy::{compile_file, Request};
use wardgate_tests::root;

const ROLES: [&str; 6] = [
    "System Admin",
    "Provider",
    "Clinical Assistant",
    "Office Staff",
    "Biller",
    "Business Manager",
];

struct Row {
    module: String,
    action: String,
    cells: Vec<bool>,
}

fn contract() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("tests/data/kareo-permissions.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header[4..], ROLES, "the contract's role columns changed");
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            Row {
                module: f[1].to_string(),
                action: f[3].to_string(),
                cells: f[4..].iter().map(|c| *c == "Y").collect(),
            }
        })
        .collect()
}

#[test]
fn the_contract_copy_matches_the_shared_original() {
    let shared = root().join("../shared/contracts/kareo-permissions.csv");
    if let Ok(original) = std::fs::read_to_string(shared) {
        let copy =
            std::fs::read_to_string(root().join("tests/data/kareo-permissions.csv")).unwrap();
        assert_eq!(
            copy, original,
            "tests/data/kareo-permissions.csv is out of date"
        );
    }
}

#[test]
fn matrix_matches_the_contract_cell_by_cell() {
    let policy = compile_file(&root().join("policies/kareo.policy"))
        .unwrap()
        .policy;
    let matrix = policy.matrix();
    assert_eq!(matrix.roles, ROLES);
    let rows = contract();
    let mut checked = 0;
    for row in &rows {
        if row.action.starts_with('(') {
            continue; // the "View Owner Notes Only" restriction row, checked below
        }
        let m = matrix
            .rows
            .iter()
            .find(|r| r.action == row.action)
            .unwrap_or_else(|| panic!("{} is missing from the policy", row.action));
        let module = m.module.clone().unwrap_or_default();
        assert_eq!(module, row.module, "{}: module", row.action);
        for (i, role) in ROLES.iter().enumerate() {
            let granted = m.cells[i] != Cell::Deny;
            assert_eq!(granted, row.cells[i], "{} / {role}", row.action);
            checked += 1;
        }
    }
    assert_eq!(checked, 29 * 6);
    // Every action of the policy is in the contract: nothing extra was granted.
    assert_eq!(matrix.rows.len(), 29);
}

#[test]
fn owner_notes_only_restricts_exactly_the_providers_note_viewing() {
    let policy = compile_file(&root().join("policies/kareo.policy"))
        .unwrap()
        .policy;
    let rows = contract();
    let restriction = rows.iter().find(|r| r.action.starts_with('(')).unwrap();
    let matrix = policy.matrix();
    for action in ["notes:view", "signed_notes:view"] {
        let m = matrix.rows.iter().find(|r| r.action == action).unwrap();
        for (i, role) in ROLES.iter().enumerate() {
            // Restricted (conditional) exactly where the contract's restriction row says Y.
            let restricted = m.cells[i] == Cell::Conditional;
            assert_eq!(restricted, restriction.cells[i], "{action} / {role}");
        }
    }
    let decide = |owner: &str| {
        let req: Request = serde_json::from_value(serde_json::json!({
            "principal": {"id": "u-7", "roles": ["Provider"]},
            "action": "notes:view",
            "resource": {"owner": owner},
            "context": {"time": "2026-11-23T10:15:00-05:00", "modules": ["clinical"]}
        }))
        .unwrap();
        policy.decide(&req).is_allow()
    };
    assert!(decide("u-7"));
    assert!(!decide("u-8"));
}

#[test]
fn every_cell_decides_as_the_matrix_says() {
    let policy = compile_file(&root().join("policies/kareo.policy"))
        .unwrap()
        .policy;
    for row in contract().iter().filter(|r| !r.action.starts_with('(')) {
        for (i, role) in ROLES.iter().enumerate() {
            for subscribed in [true, false] {
                let modules: Vec<&str> = if subscribed {
                    vec!["clinical", "billing", "engage"]
                } else {
                    vec![]
                };
                let req: Request = serde_json::from_value(serde_json::json!({
                    "principal": {"id": "u-7", "roles": [role]},
                    "action": row.action,
                    "resource": {"owner": "u-7"},
                    "context": {"time": "2026-11-23T10:15:00-05:00", "modules": modules}
                }))
                .unwrap();
                let allowed = policy.decide(&req).is_allow();
                let expected = row.cells[i] && (subscribed || row.module.is_empty());
                assert_eq!(
                    allowed, expected,
                    "{} / {role} (subscribed: {subscribed})",
                    row.action
                );
            }
        }
    }
}
