//! The logic behind `fuzz/`: fuzzer bytes drive the same generators the property tests use,
//! and every generated request must be decided alike by the reference and the component.

use std::sync::OnceLock;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use wardgate_policy::{compile_str, Request};

/// Decides fuzzer-chosen requests on a fuzzer-chosen policy both ways; panics on any
/// disagreement (which the fuzzer reports).
pub fn differential(data: &[u8]) {
    static HOST: OnceLock<wardgate_host::Host> = OnceLock::new();
    let host = HOST.get_or_init(|| {
        wardgate_host::Host::new(wardgate_host::HostConfig::default())
            .unwrap_or_else(|e| panic!("{e}"))
    });
    let mut seed = [0u8; 32];
    for (i, b) in data.iter().enumerate() {
        seed[i % 32] ^= b.rotate_left((i / 32) as u32);
    }
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let Ok(tree) = crate::gen::policy().new_tree(&mut runner) else {
        return;
    };
    let src = tree.current();
    let Ok(compiled) = compile_str("fuzz.policy", &src) else {
        return;
    };
    let policy = compiled.policy;
    let bytes = wardgate_compiler::compile(&policy).unwrap_or_else(|e| panic!("{e}\n{src}"));
    let module = host.load(&bytes).unwrap_or_else(|e| panic!("{e}\n{src}"));
    for _ in 0..32 {
        let Ok(tree) = crate::gen::request(&policy.manifest).new_tree(&mut runner) else {
            return;
        };
        let value = tree.current();
        let Ok(req) = serde_json::from_value::<Request>(value.clone()) else {
            continue;
        };
        let Ok(p) = policy.prepare(&req) else {
            continue;
        };
        let reference = policy.decide_raw(&p);
        let compiled = wardgate_policy::Engine::decide_raw(&module, &p);
        assert_eq!(Ok(reference), compiled, "request {value}\npolicy:\n{src}");
    }
}
