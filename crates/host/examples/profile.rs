//! Decides one request many times through a reused instance, for profilers:
//! `cargo run --release -p wardgate-host --example profile -- 200000`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use wardgate_host::{Host, HostConfig};
use wardgate_policy::{compile_str, Engine, Request};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let policy = compile_str(
        "kareo.policy",
        include_str!("../../../policies/kareo.policy"),
    )
    .unwrap()
    .policy;
    let host = Host::new(HostConfig::default()).unwrap();
    let module = host
        .load(&wardgate_compiler::compile(&policy).unwrap())
        .unwrap();
    let req: Request = serde_json::from_value(serde_json::json!({
        "principal": {"id": "u-7", "roles": ["Provider"]},
        "action": "notes:view",
        "resource": {"owner": "u-7"},
        "context": {"time": "2026-11-23T10:15:00-05:00", "modules": ["clinical", "billing", "engage"]}
    }))
    .unwrap();
    let p = policy.prepare(&req).unwrap();
    let started = std::time::Instant::now();
    let mut allowed = 0;
    for _ in 0..n {
        allowed += usize::from(module.decide_raw(&p).unwrap().allow);
    }
    let per = started.elapsed().as_nanos() / n as u128;
    println!("{n} decisions, {allowed} allowed, {per} ns each");
}
