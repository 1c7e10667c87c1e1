//! Wardgate's audit log: every decision and change as a record in append-only segment files,
//! each record carrying the SHA-256 of the one before, with signed anchors of the chain head
//! in a separate file so that a cut tail is detectable too.
//!
//! A record is one JSON line whose last field is `hash`: the SHA-256 of the line's bytes
//! before `,"hash":` plus the closing brace. Verifying never re-serializes: it hashes the bytes
//! as written.

mod alert;
mod event;
mod log;
pub mod private;
mod record;
mod search;
mod verify;

pub use alert::{Alert, AlertEngine, AlertRules, AlertSink, LogSink, Threshold, WebhookSink};
pub use event::{Actor, ActorKind, DecisionSummary, Event, EventKind, ResourceRef, Verdict};
pub use log::{AuditLog, Durability, OpenReport, Options};
pub use record::{Record, GENESIS};
pub use search::{Filter, Format, Search};
pub use verify::{verify, Fault, Problem, VerifyReport};

/// What went wrong with the log itself.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the audit writer has stopped")]
    WriterGone,
    #[error("the audit queue is full")]
    Backlog,
    #[error("cannot encode an event: {0}")]
    Encode(String),
    #[error("the anchor key {0} is not 32 bytes of hex")]
    BadKey(String),
}

pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> AuditError {
    AuditError::Io {
        path: path.display().to_string(),
        source,
    }
}
