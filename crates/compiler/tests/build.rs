//! Compiled modules are valid, import nothing, and are deterministic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use wardgate_policy::compile_str;

const KAREO: &str = include_str!("../../../policies/kareo.policy");
const CLINIC: &str = include_str!("../../../policies/clinic.policy");

#[test]
fn shipped_policies_become_components_without_imports() {
    for src in [KAREO, CLINIC] {
        let policy = compile_str("p.policy", src).unwrap().policy;
        let core = wardgate_compiler::core_module(&policy).unwrap();
        wasmparser::Validator::new().validate_all(&core).unwrap();
        for payload in wasmparser::Parser::new(0).parse_all(&core) {
            if let wasmparser::Payload::ImportSection(s) = payload.unwrap() {
                assert_eq!(s.count(), 0, "the core module imports something");
            }
        }
        let component = wardgate_compiler::compile(&policy).unwrap();
        let mut features = wasmparser::WasmFeatures::default();
        features.insert(wasmparser::WasmFeatures::COMPONENT_MODEL);
        wasmparser::Validator::new_with_features(features)
            .validate_all(&component)
            .unwrap();
        assert_eq!(top_level_imports(&component), Vec::<String>::new());
    }
}

#[test]
fn the_same_policy_gives_the_same_bytes() {
    let a = wardgate_compiler::compile(&compile_str("p.policy", CLINIC).unwrap().policy).unwrap();
    let b = wardgate_compiler::compile(&compile_str("p.policy", CLINIC).unwrap().policy).unwrap();
    assert_eq!(a, b);
    let other =
        wardgate_compiler::compile(&compile_str("p.policy", KAREO).unwrap().policy).unwrap();
    assert_ne!(a, other);
}

/// Imports of the outermost component (nested components may import types from it).
fn top_level_imports(component: &[u8]) -> Vec<String> {
    let mut depth = 0;
    let mut names = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.unwrap() {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(s) if depth == 1 => {
                names.extend(s.into_iter().map(|i| i.unwrap().name.name.to_string()));
            }
            _ => {}
        }
    }
    names
}
