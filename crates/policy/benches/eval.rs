//! Reference-evaluator latency over a realistic request mix.
//!
//! `cargo bench -p wardgate-policy --bench eval`; each iteration is one decision, cycling
//! through the mix, so criterion's median is the median per-decision time.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;
use wardgate_policy::{compile_str, Policy, Request};

const KAREO: &str = include_str!("../../../policies/kareo.policy");
const CLINIC: &str = include_str!("../../../policies/clinic.policy");

/// A day at a clinic: mostly allowed reads, some denials, conditions, an emergency.
fn mix(policy: &Policy) -> Vec<Request> {
    let roles: Vec<String> = policy.roles.iter().map(|r| r.name.clone()).collect();
    let actions: Vec<String> = policy.actions.iter().map(|a| a.name.clone()).collect();
    let mut out = Vec::new();
    for i in 0..256usize {
        let role = &roles[i % roles.len()];
        let action = &actions[(i * 7) % actions.len()];
        let mut v = json!({
            "principal": {"id": "u-7", "type": "user", "roles": [role], "auth_age_seconds": 120 + i, "mfa": i % 3 != 0},
            "action": action,
            "resource": {"practice": "p-1", "location": "l-2", "owner": if i % 2 == 0 { "u-7" } else { "u-3" },
                         "patient": "pt-9", "attributes": {"amount": 400 + (i % 200), "approved_by": "u-3"}},
            "context": {"ip": "10.20.1.5", "country": "US", "time": format!("2026-11-{:02}T{:02}:15:00-05:00", 23 + i % 7, 6 + i % 14),
                        "modules": ["clinical", "billing", "engage"], "relations": if i % 4 == 0 { json!(["assigned"]) } else { json!([]) }}
        });
        if i % 50 == 0 {
            v["principal"]["flags"] = json!(["emergency_access"]);
            v["context"]["emergency"] = json!({"reason": "patient unconscious"});
        }
        if i % 10 == 0 {
            v["principal"]["type"] = json!("service");
            v["principal"]["scopes"] = json!(["billing:*", "patients:read"]);
        }
        out.push(serde_json::from_value(v).unwrap());
    }
    out
}

fn bench(c: &mut Criterion) {
    for (name, src) in [("kareo", KAREO), ("clinic", CLINIC)] {
        let policy = compile_str(name, src).unwrap().policy;
        let requests = mix(&policy);
        let prepared: Vec<_> = requests
            .iter()
            .map(|r| policy.prepare(r).unwrap())
            .collect();
        let mut g = c.benchmark_group(format!("reference/{name}"));
        let mut i = 0usize;
        g.bench_function("decide_prepared", |b| {
            b.iter(|| {
                i = (i + 1) % prepared.len();
                black_box(policy.decide_prepared(black_box(&prepared[i])))
            })
        });
        let mut j = 0usize;
        g.bench_function("prepare_and_decide", |b| {
            b.iter(|| {
                j = (j + 1) % requests.len();
                black_box(policy.decide(black_box(&requests[j])))
            })
        });
        g.finish();
        c.bench_function(&format!("compile/{name}"), |b| {
            b.iter(|| compile_str(name, black_box(src)).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
