//! Golden files: the diagnostics of every broken policy and the matrices of the shipped ones.
//! `BLESS=1 cargo test -p wardgate-tests` rewrites them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use wardgate_policy::{compile, Code, Source};
use wardgate_tests::{golden, root};

fn sorted_files(dir: &str, ext: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
}

#[test]
fn diagnostics_of_broken_policies() {
    let files = sorted_files("tests/policies/broken", "policy");
    assert!(files.len() >= 7, "the corpus went missing");
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&f).unwrap();
        let source = Source::new(format!("tests/policies/broken/{name}"), text);
        let rendered = match compile(source) {
            Ok(c) => {
                // Warnings-only files are in the corpus too.
                assert!(
                    !c.warnings.is_empty(),
                    "{name} compiled without a single diagnostic"
                );
                seen.extend(c.warnings.iter().map(|d| d.code));
                c.source.render(&c.warnings)
            }
            Err(d) => {
                seen.extend(d.items.iter().map(|d| d.code));
                d.to_string()
            }
        };
        let golden_path = format!(
            "tests/policies/broken/{}.stderr",
            name.trim_end_matches(".policy")
        );
        if let Err(e) = golden(&golden_path, &rendered) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let missing: Vec<&str> = Code::POLICY
        .iter()
        .filter(|c| !seen.contains(c))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "no broken policy in tests/policies/broken shows these codes: {}",
        missing.join(", ")
    );
}

#[test]
fn matrices_of_shipped_policies() {
    for name in ["kareo", "clinic"] {
        let c =
            wardgate_policy::compile_file(&root().join(format!("policies/{name}.policy"))).unwrap();
        assert!(
            c.warnings.is_empty(),
            "{name}: {}",
            c.source.render(&c.warnings)
        );
        let m = c.policy.matrix();
        golden(&format!("tests/golden/{name}.matrix.txt"), &m.to_table()).unwrap();
        golden(&format!("tests/golden/{name}.matrix.csv"), &m.to_csv()).unwrap();
    }
}

#[test]
fn every_diagnostic_points_into_the_source_and_names_a_line() {
    for f in sorted_files("tests/policies/broken", "policy") {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.display().to_string();
        let diags = match compile(Source::new(name.clone(), text.clone())) {
            Ok(c) => c.warnings,
            Err(d) => d.items,
        };
        for d in diags {
            assert!(
                d.span.start <= d.span.end && d.span.end as usize <= text.len(),
                "{name}: {d:?}"
            );
            assert!(
                !d.message.is_empty() && !d.label.is_empty(),
                "{name}: {d:?}"
            );
        }
    }
}
