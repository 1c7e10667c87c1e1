//! Shared helpers for Wardgate's end-to-end and golden tests.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)] // test tooling

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from(".."), Path::to_path_buf)
}

/// Compares `actual` with the golden file at `rel` (from the workspace root); with `BLESS=1`
/// rewrites the file instead. Returns a description of the mismatch, if any.
pub fn golden(rel: &str, actual: &str) -> Result<(), String> {
    let path = root().join(rel);
    if std::env::var_os("BLESS").is_some_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(&path, actual).map_err(|e| format!("{rel}: {e}"))?;
        return Ok(());
    }
    let expected = std::fs::read_to_string(&path)
        .map_err(|e| format!("{rel}: {e} (run with BLESS=1 to create it)"))?;
    if expected == actual {
        return Ok(());
    }
    let first = expected
        .lines()
        .zip(actual.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
    Err(format!(
        "{rel} differs from the output at line {}:\n  expected: {:?}\n  actual:   {:?}\n(run with BLESS=1 to accept the new output)",
        first + 1,
        expected.lines().nth(first).unwrap_or("<end of file>"),
        actual.lines().nth(first).unwrap_or("<end of output>"),
    ))
}

pub mod api;
pub mod fuzz;
pub mod gateway;
pub mod gen;
pub mod mail;
