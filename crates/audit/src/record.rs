//! The on-disk record: one JSON line, hash-chained.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// The `prev` of the first record ever written.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a line says; `hash` covers everything before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    /// RFC 3339, UTC, milliseconds: sorts as text.
    pub time: String,
    pub prev: String,
    pub event: Event,
    pub hash: String,
}

#[derive(Serialize)]
struct Body<'a> {
    seq: u64,
    time: &'a str,
    prev: &'a str,
    event: &'a Event,
}

pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// The line for a record (with its newline) and its hash.
pub fn encode(
    seq: u64,
    time: &str,
    prev: &str,
    event: &Event,
) -> Result<(String, String), serde_json::Error> {
    let body = serde_json::to_string(&Body {
        seq,
        time,
        prev,
        event,
    })?;
    let hash = hex(&Sha256::digest(body.as_bytes()));
    let mut line = body;
    line.pop(); // the closing brace
    line.push_str(",\"hash\":\"");
    line.push_str(&hash);
    line.push_str("\"}\n");
    Ok((line, hash))
}

/// Why a line is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    Malformed(String),
    HashMismatch { stored: String, computed: String },
}

/// Reads a line (without its newline): the record, checked against its own hash.
pub fn decode(line: &str) -> Result<Record, LineError> {
    const MARK: &str = ",\"hash\":\"";
    let at = line
        .rfind(MARK)
        .ok_or_else(|| LineError::Malformed("no hash field".into()))?;
    let mut body = String::with_capacity(at + 1);
    body.push_str(line.get(..at).unwrap_or(""));
    body.push('}');
    let computed = hex(&Sha256::digest(body.as_bytes()));
    let record: Record =
        serde_json::from_str(line).map_err(|e| LineError::Malformed(e.to_string()))?;
    if record.hash != computed {
        return Err(LineError::HashMismatch {
            stored: record.hash,
            computed,
        });
    }
    Ok(record)
}
