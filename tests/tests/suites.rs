//! The shipped policies' own test files pass, and a wrong expectation is caught.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use wardgate_policy::compile_file;
use wardgate_policy::suite::Suite;
use wardgate_tests::root;

fn run(file: &str) -> (usize, Vec<String>) {
    let path = root().join(file);
    let suite = Suite::parse(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
    let policy = compile_file(&suite.policy).unwrap().policy;
    let mut failures = Vec::new();
    for case in &suite.cases {
        let r = case.run(&policy);
        if !r.passed {
            failures.push(format!("{}: {}", r.name, r.failure.unwrap_or_default()));
        }
    }
    (suite.cases.len(), failures)
}

#[test]
fn kareo_tests_pass() {
    let (n, failures) = run("policies/kareo.tests.toml");
    assert!(n >= 30);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn clinic_tests_pass() {
    let (n, failures) = run("policies/clinic.tests.toml");
    assert!(n >= 50);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn a_wrong_expectation_fails() {
    let dir = std::env::temp_dir().join(format!("wardgate-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("policies/clinic.policy"),
        dir.join("clinic.policy"),
    )
    .unwrap();
    let text = r#"
policy = "clinic.policy"
[defaults]
principal.id = "u-7"
context.time = "2026-11-23T10:15:00-05:00"
[[case]]
name = "wrong on purpose"
principal.roles = ["Front Desk"]
action = "medical_records:read"
expect = "allow"
[[case]]
name = "wrong reason on purpose"
principal.roles = ["Front Desk"]
action = "medical_records:read"
expect = "deny"
reason = "scope"
[[case]]
name = "wrong obligations on purpose"
principal.roles = ["Front Desk"]
action = "patients:read"
expect = "allow"
obligations = []
"#;
    let path = dir.join("wrong.tests.toml");
    std::fs::write(&path, text).unwrap();
    let suite = Suite::parse(&path, text).unwrap();
    let policy = compile_file(&suite.policy).unwrap().policy;
    for case in &suite.cases {
        assert!(!case.run(&policy).passed, "{} passed", case.name);
    }
    std::fs::remove_dir_all(dir).ok();
}
