//! Wardgate's policy language: parse -> check -> lower to an IR -> reference evaluator.
//!
//! ```
//! let src = r#"
//! policy "demo" version "1"
//! feature notes verbs view
//! role "Provider" { allow notes:view when own }
//! "#;
//! let policy = wardgate_policy::compile_str("demo.policy", src).unwrap().policy;
//! let req = wardgate_policy::Request::from_json(r#"{
//!   "principal": {"id": "u-7", "roles": ["Provider"]},
//!   "action": "notes:view",
//!   "resource": {"owner": "u-7"},
//!   "context": {"time": "2026-11-23T10:15:00-05:00"}}"#).unwrap();
//! assert!(policy.decide(&req).is_allow());
//! ```

// The stages, inside: text -> tokens -> syntax -> checked IR -> decisions.
mod ast;
mod check;
mod eval;
mod lex;
mod parse;
mod symbols;

// What hosts, the compiler and tools use.
pub mod diag;
pub mod duration;
pub mod engine;
/// The checked policy, as the compiler to WebAssembly reads it.
pub mod ir;
pub mod keys;
pub mod manifest;
pub mod matrix;
pub mod raw;
pub mod request;
pub mod route;
pub mod suite;

use std::path::Path;

pub use diag::{Code, Diagnostic, Diagnostics, Severity, Source, Span};
pub use engine::{Engine, EngineFault};
pub use ir::Policy;
pub use manifest::Manifest;
pub use raw::RawDecision;
pub use request::{
    Decision, Obligation, Reason, ReasonCode, Request, RequestError, Resource, Verdict,
};
pub use route::RequestParts;
pub use suite::Suite;

/// A policy that compiled, with the warnings it drew.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub policy: Policy,
    pub source: Source,
    pub warnings: Vec<Diagnostic>,
}

/// Compiles policy text. Errors come back all at once, with warnings, ready to render.
pub fn compile(source: Source) -> Result<Compiled, Diagnostics> {
    let (ast, mut diags) = parse::parse(&source.text);
    let policy = check::check(&source, &ast, &mut diags);
    diags.sort_by_key(|d| (d.span.start, d.span.end));
    match policy {
        Some(policy) if !diags.iter().any(Diagnostic::is_error) => Ok(Compiled {
            policy,
            source,
            warnings: diags,
        }),
        _ => Err(Diagnostics {
            source,
            items: diags,
        }),
    }
}

pub fn compile_str(name: &str, text: &str) -> Result<Compiled, Diagnostics> {
    compile(Source::new(name, text))
}

/// Why a policy file could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

pub fn compile_file(path: &Path) -> Result<Compiled, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.display().to_string(),
        source,
    })?;
    compile(Source::new(path.display().to_string(), text)).map_err(LoadError::Invalid)
}
