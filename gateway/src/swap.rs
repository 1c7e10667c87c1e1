//! Policy candidates: compiled when they are source, loaded into the host, and checked before
//! they may be put in force: their policy tests pass, and every role someone holds in the
//! identity store still exists.

use std::path::Path;
use std::sync::Arc;

use wardgate_host::{Host, LoadedModule};
use wardgate_identity::Store;
use wardgate_policy::matrix::Matrix;
use wardgate_policy::Engine;
use wardgate_policy::Suite;

/// Why a candidate was refused. The module in force stays.
#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("the policy does not compile:\n{0}")]
    Compile(String),
    #[error("the module cannot be loaded: {0}")]
    Load(String),
    #[error("the policy tests cannot be read: {0}")]
    TestsUnreadable(String),
    #[error("{} of {total} policy tests fail: {}", failed.len(), failed.join("; "))]
    Tests { failed: Vec<String>, total: usize },
    #[error("roles held in the identity store are missing from the policy: {}", missing.iter().map(|(r, n)| format!("{r} ({n} holders)")).collect::<Vec<_>>().join(", "))]
    MissingRoles { missing: Vec<(String, u64)> },
    #[error("the identity store cannot be read: {0}")]
    Store(String),
    #[error("{0}")]
    Busy(&'static str),
    #[error("another policy was put in force since this one was prepared: look again")]
    Stale,
}

/// A candidate that passed every check.
#[derive(Debug)]
pub struct Candidate {
    pub module: LoadedModule,
    pub tests_passed: usize,
    /// Its text and who may do what, when the candidate came as source.
    pub source: Option<Arc<Source>>,
}

/// A policy module's source, and the permission matrix of it.
#[derive(Debug)]
pub struct Source {
    pub text: String,
    pub matrix: Matrix,
}

/// The sources of the recent modules put in force from source (a few, for rollbacks), by
/// module hash.
#[derive(Debug, Default)]
pub struct Sources(std::sync::Mutex<Vec<(String, Arc<Source>)>>);

impl Sources {
    pub fn new(hash: &str, first: Option<Arc<Source>>) -> Sources {
        let held = first.map(|s| (hash.to_string(), s)).into_iter().collect();
        Sources(std::sync::Mutex::new(held))
    }

    pub fn get(&self, hash: &str) -> Option<Arc<Source>> {
        let held = self.0.lock().ok()?;
        held.iter().find(|(h, _)| h == hash).map(|(_, s)| s.clone())
    }

    pub fn remember(&self, hash: &str, source: Arc<Source>) {
        if let Ok(mut held) = self.0.lock() {
            held.retain(|(h, _)| h != hash);
            held.push((hash.to_string(), source));
            let excess = held.len().saturating_sub(4);
            held.drain(..excess);
        }
    }
}

/// Compiles policy source to component bytes (and its permission matrix); component bytes
/// pass through, with no matrix (the source is not in them).
pub fn to_component(name: &str, bytes: &[u8]) -> Result<(Vec<u8>, Option<Matrix>), SwapError> {
    if bytes.starts_with(b"\0asm") {
        return Ok((bytes.to_vec(), None));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SwapError::Compile("neither a component nor UTF-8 policy text".into()))?;
    let compiled =
        wardgate_policy::compile_str(name, text).map_err(|d| SwapError::Compile(d.to_string()))?;
    let component = wardgate_compiler::compile(&compiled.policy)
        .map_err(|e| SwapError::Compile(e.to_string()))?;
    Ok((component, Some(compiled.policy.matrix())))
}

/// A policy test suite's cases run against `engine`: how many passed, and each failure.
pub fn run_suite(engine: &dyn Engine, suite: &Suite) -> (usize, Vec<String>) {
    let mut passed = 0;
    let mut failed = Vec::new();
    for case in &suite.cases {
        let r = case.run(engine);
        if r.passed {
            passed += 1;
        } else {
            failed.push(format!("{}: {}", r.name, r.failure.unwrap_or_default()));
        }
    }
    (passed, failed)
}

/// Runs every check on a candidate.
pub fn check(
    host: &Host,
    store: &Store,
    tests: Option<&Path>,
    name: &str,
    bytes: &[u8],
) -> Result<Candidate, SwapError> {
    let (component, matrix) = to_component(name, bytes)?;
    let source = matrix.and_then(|matrix| {
        let text = String::from_utf8(bytes.to_vec()).ok()?;
        Some(Arc::new(Source { text, matrix }))
    });
    let module = host
        .load(&component)
        .map_err(|e| SwapError::Load(e.to_string()))?;
    let mut tests_passed = 0;
    if let Some(path) = tests {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SwapError::TestsUnreadable(format!("{}: {e}", path.display())))?;
        let suite =
            Suite::parse(path, &text).map_err(|e| SwapError::TestsUnreadable(e.to_string()))?;
        let (passed, failed) = run_suite(&module, &suite);
        tests_passed = passed;
        if !failed.is_empty() {
            return Err(SwapError::Tests {
                failed,
                total: suite.cases.len(),
            });
        }
    }
    let held = store
        .held_roles()
        .map_err(|e| SwapError::Store(e.to_string()))?;
    let manifest = module.manifest();
    let missing: Vec<(String, u64)> = held
        .into_iter()
        .filter(|(role, _)| manifest.role_id(role).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(SwapError::MissingRoles { missing });
    }
    Ok(Candidate {
        module,
        tests_passed,
        source,
    })
}
