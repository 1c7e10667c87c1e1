//! Decision latency, one run, same request mix: the compiled component with a reused
//! instance, with a fresh instance per call, the reference evaluator, and cedar-policy on an
//! equivalent Cedar policy (`bench/cedar/`). Also compile times.
//!
//! `cargo bench -p wardgate-host --bench decide`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use cedar_policy::{
    Authorizer, Context, Entities, EntityUid, PolicySet, Schema, ValidationMode, Validator,
};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use serde_json::json;
use wardgate_host::{Host, HostConfig, Strategy};
use wardgate_policy::{compile_str, Engine, Request};

const KAREO: &str = include_str!("../../../policies/kareo.policy");
const CEDAR: &str = include_str!("../../../bench/cedar/kareo.cedar");
const CEDAR_SCHEMA: &str = include_str!("../../../bench/cedar/kareo.cedarschema");

struct Case {
    request: Request,
    cedar: cedar_policy::Request,
    entities: Entities,
}

fn mix(policy: &wardgate_policy::Policy, schema: &Schema) -> Vec<Case> {
    let roles: Vec<String> = policy.roles.iter().map(|r| r.name.clone()).collect();
    let actions: Vec<String> = policy.actions.iter().map(|a| a.name.clone()).collect();
    (0..256usize)
        .map(|i| {
            let role = &roles[i % roles.len()];
            let action = &actions[(i * 7) % actions.len()];
            let owner = if i % 2 == 0 { "u-7" } else { "u-3" };
            let modules: Vec<&str> = match i % 8 {
                0 => vec!["billing", "engage"],
                1 => vec!["clinical"],
                _ => vec!["clinical", "billing", "engage"],
            };
            let request: Request = serde_json::from_value(json!({
                "principal": {"id": "u-7", "roles": [role]},
                "action": action,
                "resource": {"owner": owner},
                "context": {"time": "2026-11-23T10:15:00-05:00", "modules": modules}
            }))
            .unwrap();
            let entities = Entities::from_json_value(
                json!([
                    {"uid": {"type": "Kareo::User", "id": "u-7"}, "attrs": {}, "parents": [{"type": "Kareo::Role", "id": role}]},
                    {"uid": {"type": "Kareo::User", "id": "u-3"}, "attrs": {}, "parents": []},
                    {"uid": {"type": "Kareo::Role", "id": role}, "attrs": {}, "parents": []},
                    {"uid": {"type": "Kareo::Resource", "id": "r"}, "attrs": {"owner": {"__entity": {"type": "Kareo::User", "id": owner}}}, "parents": []}
                ]),
                Some(schema),
            )
            .unwrap();
            let uid = |t: &str, id: &str| -> EntityUid { format!("{t}::{}", json!(id)).parse().unwrap() };
            let action_uid = uid("Kareo::Action", action);
            let context = Context::from_json_value(json!({"modules": modules}), Some((schema, &action_uid))).unwrap();
            let cedar = cedar_policy::Request::new(
                uid("Kareo::User", "u-7"),
                action_uid,
                uid("Kareo::Resource", "r"),
                context,
                Some(schema),
            )
            .unwrap();
            Case { request, cedar, entities }
        })
        .collect()
}

/// A policy of `roles` roles over `features` x 10 verbs, with conditions and inheritance.
fn generated(roles: usize, features: usize) -> String {
    let mut s = String::from("policy \"generated\" version \"1\"\nattribute amount decimal\n");
    for f in 0..features {
        s.push_str(&format!(
            "feature f{f} verbs v0, v1, v2, v3, v4, v5, v6, v7, v8, v9\n"
        ));
    }
    let actions = features * 10;
    for r in 0..roles {
        let extends = if r % 10 == 9 {
            format!(" extends \"r{}\"", r - 1)
        } else {
            String::new()
        };
        s.push_str(&format!("role \"r{r}\"{extends} {{\n"));
        let granted: Vec<String> = (0..40)
            .map(|k| (r * 37 + k * 13) % actions)
            .map(|a| format!("f{}:v{}", a / 10, a % 10))
            .collect();
        s.push_str(&format!("  allow {}\n", granted[..30].join(", ")));
        s.push_str(&format!(
            "  allow {} when resource.amount < 500.00 or own\n",
            granted[30..].join(", ")
        ));
        if r % 7 == 0 {
            s.push_str("  during mon-fri 07:00-19:00\n");
        }
        s.push_str("}\n");
    }
    s
}

fn bench(c: &mut Criterion) {
    let policy = compile_str("kareo.policy", KAREO).unwrap().policy;
    let bytes = wardgate_compiler::compile(&policy).unwrap();
    let reuse = Host::new(HostConfig::default()).unwrap();
    let fresh = Host::new(HostConfig {
        strategy: Strategy::Fresh,
        ..HostConfig::default()
    })
    .unwrap();
    let module = reuse.load(&bytes).unwrap();
    let module_fresh = fresh.load(&bytes).unwrap();

    let (schema, _) = Schema::from_cedarschema_str(CEDAR_SCHEMA).unwrap();
    let policies: PolicySet = CEDAR.parse().unwrap();
    let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::default());
    assert!(validation.validation_passed(), "{validation:?}");
    let authorizer = Authorizer::new();
    let cases = mix(&policy, &schema);
    let prepared: Vec<_> = cases
        .iter()
        .map(|c| policy.prepare(&c.request).unwrap())
        .collect();

    // The four engines agree on every request of the mix before anything is timed.
    for (case, p) in cases.iter().zip(&prepared) {
        let reference = policy.decide_raw(p);
        assert_eq!(module.decide_raw(p).unwrap(), reference);
        assert_eq!(module_fresh.decide_raw(p).unwrap(), reference);
        let cedar = authorizer
            .is_authorized(&case.cedar, &policies, &case.entities)
            .decision()
            == cedar_policy::Decision::Allow;
        assert_eq!(cedar, reference.allow, "{:?}", case.request);
    }
    let allowed = prepared
        .iter()
        .filter(|p| policy.decide_raw(p).allow)
        .count();
    eprintln!(
        "request mix: {} requests, {allowed} allowed",
        prepared.len()
    );

    let mut g = c.benchmark_group("decide/kareo");
    let mut i = 0usize;
    g.bench_function("component_reused_instance", |b| {
        b.iter(|| {
            i = (i + 1) % prepared.len();
            black_box(module.decide_raw(black_box(&prepared[i])).unwrap())
        })
    });
    g.bench_function("component_fresh_instance", |b| {
        b.iter(|| {
            i = (i + 1) % prepared.len();
            black_box(module_fresh.decide_raw(black_box(&prepared[i])).unwrap())
        })
    });
    g.bench_function("reference_evaluator", |b| {
        b.iter(|| {
            i = (i + 1) % prepared.len();
            black_box(policy.decide_raw(black_box(&prepared[i])))
        })
    });
    g.bench_function("cedar_policy", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            black_box(authorizer.is_authorized(
                black_box(&cases[i].cedar),
                &policies,
                &cases[i].entities,
            ))
        })
    });
    g.bench_function("component_from_json_request", |b| {
        b.iter(|| {
            i = (i + 1) % cases.len();
            black_box(Engine::decide(&module, black_box(&cases[i].request)))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("kareo_source_to_component", |b| {
        b.iter(|| {
            wardgate_compiler::compile(
                &compile_str("kareo.policy", black_box(KAREO))
                    .unwrap()
                    .policy,
            )
            .unwrap()
        })
    });
    let big = generated(1000, 20);
    let big_policy = compile_str("big.policy", &big).unwrap().policy;
    eprintln!(
        "generated policy: {} roles x {} actions, {} rules; component {} bytes",
        big_policy.roles.len(),
        big_policy.actions.len(),
        big_policy.rules.len(),
        wardgate_compiler::compile(&big_policy).unwrap().len()
    );
    g.bench_function("generated_1000_roles_x_200_actions_ir_to_component", |b| {
        b.iter(|| wardgate_compiler::compile(black_box(&big_policy)).unwrap())
    });
    g.bench_function(
        "generated_1000_roles_x_200_actions_source_to_component",
        |b| {
            b.iter(|| {
                wardgate_compiler::compile(
                    &compile_str("big.policy", black_box(&big)).unwrap().policy,
                )
                .unwrap()
            })
        },
    );
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
