//! Differential tests: the compiled component must agree with the reference evaluator on
//! decision, reasons and obligations, for the shipped policies, a corpus of tricky ones and
//! property-generated policies with property-generated requests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use wardgate_host::{Host, HostConfig, LoadedModule};
use wardgate_policy::{compile_str, Engine, Policy, Request};
use wardgate_tests::{gen, root};

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| Host::new(HostConfig::default()).unwrap())
}

fn both(src: &str) -> (Policy, LoadedModule) {
    let policy = match compile_str("p.policy", src) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}\n{src}"),
    };
    let bytes = wardgate_compiler::compile(&policy).unwrap();
    let module = host().load(&bytes).unwrap();
    assert_eq!(
        module.manifest(),
        &policy.manifest,
        "the module's manifest differs from the source's"
    );
    (policy, module)
}

/// Decides one request both ways; a difference is returned as a readable report.
fn agree(policy: &Policy, module: &LoadedModule, value: &serde_json::Value) -> Result<(), String> {
    let req: Request = serde_json::from_value(value.clone()).unwrap();
    let p = match policy.prepare(&req) {
        Ok(p) => p,
        Err(_) => return Ok(()),
    };
    let reference = policy.decide_raw(&p);
    let compiled = module
        .decide_raw(&p)
        .map_err(|f| format!("module fault: {f}\nrequest: {value}"))?;
    if reference != compiled {
        return Err(format!(
            "request: {value}\nreference: {reference:?}\ncompiled:  {compiled:?}"
        ));
    }
    let (a, b) = (policy.decide(&req), Engine::decide(module, &req));
    if a != b {
        return Err(format!(
            "rendered differently\nrequest: {value}\n{a:?}\n{b:?}"
        ));
    }
    Ok(())
}

fn run_requests(src: &str, cases: u32) -> usize {
    let (policy, module) = both(src);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let count = AtomicUsize::new(0);
    runner
        .run(&gen::request(&policy.manifest), |req| {
            count.fetch_add(1, Ordering::Relaxed);
            agree(&policy, &module, &req).map_err(TestCaseError::fail)
        })
        .unwrap_or_else(|e| panic!("{e}\npolicy:\n{src}"));
    count.into_inner()
}

#[test]
fn shipped_policies_agree() {
    for name in ["kareo", "clinic"] {
        let src = std::fs::read_to_string(root().join(format!("policies/{name}.policy"))).unwrap();
        assert_eq!(run_requests(&src, 1500), 1500);
    }
}

#[test]
fn shipped_policy_tests_agree() {
    for name in ["kareo", "clinic"] {
        let path = root().join(format!("policies/{name}.tests.toml"));
        let suite =
            wardgate_policy::suite::Suite::parse(&path, &std::fs::read_to_string(&path).unwrap())
                .unwrap();
        let src = std::fs::read_to_string(&suite.policy).unwrap();
        let (policy, module) = both(&src);
        for case in &suite.cases {
            agree(&policy, &module, &case.request).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        }
    }
}

#[test]
fn tricky_policies_agree() {
    let dir = root().join("tests/policies/tricky");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 4);
    for f in files {
        run_requests(&std::fs::read_to_string(&f).unwrap(), 800);
    }
}

#[test]
fn generated_policies_agree() {
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let total = AtomicUsize::new(0);
    runner
        .run(&gen::policy(), |src| {
            total.fetch_add(run_requests(&src, 64), Ordering::Relaxed);
            Ok(())
        })
        .unwrap();
    assert!(total.into_inner() >= 40 * 64);
}
