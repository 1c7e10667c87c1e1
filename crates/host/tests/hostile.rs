//! Hostile modules cannot hurt the host: each misbehaviour is a deny with a reason, the
//! instance is thrown away, and the host keeps serving.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use wardgate_compiler::{compile, compile_sabotaged, Sabotage};
use wardgate_host::{Host, HostConfig, LoadError, PolicyHandle};
use wardgate_policy::{compile_str, Engine, Request, Verdict};

const SRC: &str = r#"
policy "small" version "1"
feature notes verbs view
role "Provider" { allow notes:view when own }
"#;

fn request() -> Request {
    serde_json::from_value(serde_json::json!({
        "principal": {"id": "u-7", "roles": ["Provider"]},
        "action": "notes:view",
        "resource": {"owner": "u-7"},
        "context": {"time": "2026-11-23T10:15:00-05:00"}
    }))
    .unwrap()
}

fn host() -> Host {
    Host::new(HostConfig {
        deadline: Duration::from_millis(50),
        max_memory_bytes: 8 << 20,
        ..HostConfig::default()
    })
    .unwrap()
}

fn sabotaged(s: Sabotage) -> Vec<u8> {
    compile_sabotaged(&compile_str("small.policy", SRC).unwrap().policy, s).unwrap()
}

fn good() -> Vec<u8> {
    compile(&compile_str("small.policy", SRC).unwrap().policy).unwrap()
}

/// Two calls in a row: both denied with `engine_fault` naming the problem.
fn denied_twice(bytes: &[u8], expect: &str) {
    let host = host();
    let module = host.load(bytes).unwrap();
    for _ in 0..2 {
        let d = module.decide(&request());
        assert_eq!(d.decision, Verdict::Deny);
        assert_eq!(d.reasons[0].code, "engine_fault");
        assert!(
            d.reasons[0].message.contains(expect),
            "{}",
            d.reasons[0].message
        );
    }
    // The host still runs a good module.
    let fine = host.load(&good()).unwrap();
    assert!(fine.decide(&request()).is_allow());
}

#[test]
fn the_good_module_allows() {
    let host = host();
    assert!(host.load(&good()).unwrap().decide(&request()).is_allow());
}

#[test]
fn an_endless_loop_is_stopped_at_the_deadline() {
    let started = Instant::now();
    denied_twice(&sabotaged(Sabotage::LoopForever), "deadline");
    // Two calls of 50 ms each and some slack; a missing deadline would hang the test.
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn unbounded_memory_growth_is_stopped_by_the_limit() {
    denied_twice(&sabotaged(Sabotage::GrowMemory), "memory limit");
}

#[test]
fn a_trap_is_a_deny() {
    denied_twice(&sabotaged(Sabotage::Trap), "unreachable");
}

#[test]
fn an_out_of_range_discriminant_is_a_deny() {
    denied_twice(&sabotaged(Sabotage::BadDiscriminant), "failed");
}

#[test]
fn a_pointer_outside_memory_is_a_deny() {
    denied_twice(&sabotaged(Sabotage::BadPointer), "failed");
}

#[test]
fn a_manifest_pointing_outside_memory_is_refused() {
    let err = host()
        .load(&sabotaged(Sabotage::BadManifestPointer))
        .unwrap_err();
    assert!(matches!(err, LoadError::Manifest(_)), "{err}");
}

#[test]
fn oversized_modules_are_refused() {
    let host = Host::new(HostConfig {
        max_module_bytes: 1000,
        ..HostConfig::default()
    })
    .unwrap();
    assert!(matches!(
        host.load(&good()),
        Err(LoadError::TooLarge { .. })
    ));
}

#[test]
fn garbage_is_refused() {
    assert!(matches!(
        host().load(b"\0asm not really"),
        Err(LoadError::Invalid(_))
    ));
}

/// A component built by hand: imports a function and exports nothing.
fn importing_component() -> Vec<u8> {
    use wasm_encoder::{Component, ComponentImportSection, ComponentTypeRef, ComponentTypeSection};
    let mut c = Component::new();
    let mut types = ComponentTypeSection::new();
    types
        .function()
        .params(Vec::<(&str, wasm_encoder::ComponentValType)>::new())
        .result(None);
    c.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import("phone-home", ComponentTypeRef::Func(0));
    c.section(&imports);
    c.finish()
}

#[test]
fn modules_that_import_anything_are_refused() {
    match host().load(&importing_component()) {
        Err(LoadError::Imports(names)) => assert_eq!(names, ["phone-home"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn components_of_another_world_are_refused() {
    let empty = wasm_encoder::Component::new().finish();
    assert!(matches!(host().load(&empty), Err(LoadError::World(_))));
}

#[test]
fn swaps_are_atomic_and_roll_back() {
    let host = host();
    let v1 = host.load(&good()).unwrap();
    let deny_all = compile(
        &compile_str(
            "small.policy",
            "policy \"small\" version \"2\"\nfeature notes verbs view\nrole \"Provider\" { }\n",
        )
        .unwrap()
        .policy,
    )
    .unwrap();
    let handle = PolicyHandle::new(v1);
    assert!(handle.decide(&request()).is_allow());
    let in_flight = handle.current();
    let old = handle.swap(host.load(&deny_all).unwrap());
    assert_eq!(old.manifest().version, "1");
    assert!(!handle.decide(&request()).is_allow());
    // A call that began before the swap finishes on the module it began with.
    assert!(in_flight.decide(&request()).is_allow());
    let back = handle.rollback().unwrap();
    assert_eq!(back.manifest().version, "1");
    assert!(handle.decide(&request()).is_allow());
    // Rolling back again returns to version 2: the previous one is always kept.
    assert_eq!(handle.rollback().unwrap().manifest().version, "2");
}

#[test]
fn a_hundred_swaps_under_load_fail_no_request() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let host = host();
    let v2_src = "policy \"small\" version \"2\"\nfeature notes verbs view\nrole \"Provider\" { allow notes:view }\n";
    let v2 = compile(&compile_str("small.policy", v2_src).unwrap().policy).unwrap();
    let v1 = good();
    let handle = Arc::new(PolicyHandle::new(host.load(&v1).unwrap()));
    let stop = Arc::new(AtomicBool::new(false));
    let decided = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (handle, stop, decided) = (handle.clone(), stop.clone(), decided.clone());
            std::thread::spawn(move || {
                let req = request();
                while !stop.load(Ordering::Relaxed) {
                    let d = handle.decide(&req);
                    // Both versions allow this request; anything else is a failed request.
                    assert!(d.is_allow(), "{d:?}");
                    decided.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..100 {
        let bytes = if i % 2 == 0 { &v2 } else { &v1 };
        handle.swap(host.load(bytes).unwrap());
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(decided.load(Ordering::Relaxed) > 100);
}
