//! Verification: every record hashes to what it says, follows the one before it, and every
//! anchor (signed with the log's key) still matches the chain, so an edited, deleted, inserted
//! or reordered record, and a cut tail, are found and located.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use crate::log::{mac, segment_name, segments, ANCHORS};
use crate::record::{decode, LineError, GENESIS};
use crate::{io, AuditError};

/// One thing wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    /// 1-based line in that file.
    pub line: u64,
    pub seq: Option<u64>,
    pub fault: Fault,
}

/// What is wrong with a record or an anchor.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("an anchor without a record number")]
    AnchorWithoutRecord,
    #[error("anchor for record {seq} has a bad signature (forged or edited)")]
    AnchorForged { seq: u64 },
    #[error("unreadable anchor: {0}")]
    AnchorUnreadable(String),
    #[error("torn record at the end of the file (an interrupted write)")]
    Torn,
    #[error("the record does not match its hash: it was edited")]
    Edited,
    #[error("not a record: {0}")]
    NotARecord(String),
    #[error("the segment's name says it starts elsewhere ({name})")]
    MisnamedSegment { name: String },
    #[error("expected record {expected}: records {expected}..{last} are missing (deleted)", last = found - 1)]
    Missing { expected: u64, found: u64 },
    #[error("expected record {expected}, found {found}: records were inserted or reordered")]
    Reordered { expected: u64, found: u64 },
    #[error("the log starts at record {seq}: earlier records are missing")]
    StartsLate { seq: u64 },
    #[error("does not follow the record before it (its `prev` hash differs)")]
    BrokenLink,
    #[error("differs from what anchor line {anchor_line} signed: the chain was rewritten")]
    Rewritten { anchor_line: u64 },
    #[error("the log ends at record {last} but this anchor vouches for record {seq}: the newest records were cut off")]
    CutOff { last: u64, seq: u64 },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "{}:{}: record {s}: {}", self.file, self.line, self.fault),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.fault),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub segments: usize,
    pub records: u64,
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub head: Option<String>,
    pub anchors: usize,
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, file: &str, line: u64, seq: Option<u64>, fault: Fault) {
        self.problems.push(Problem {
            file: file.to_string(),
            line,
            seq,
            fault,
        });
    }
}

#[derive(Deserialize)]
struct Anchor {
    #[serde(default)]
    seq: Option<u64>,
    /// Retention removed every record up to here; the chain resumes after it.
    #[serde(default)]
    pruned_through: Option<u64>,
    hash: String,
    mac: String,
}

/// The signed anchors: record number -> (hash, line), and the newest retention note.
#[derive(Default)]
struct Anchors {
    at: BTreeMap<u64, (String, u64)>,
    pruned: Option<(u64, String)>,
}

/// Verifies the log in `dir`. `key` checks the anchors' signatures (the log's own
/// `anchor.key` if `None` and it exists).
pub fn verify(dir: &Path, key: Option<&[u8]>) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport::default();
    let own_key = crate::log::key_if_present(dir)?;
    let key = key.map(<[u8]>::to_vec).or(own_key);

    // Anchors first: few, and each must be met while scanning the records.
    let anchors = read_anchors(dir, key.as_deref(), &mut report)?;
    report.anchors = anchors.at.len();
    let mut chain = Chain {
        prev: GENESIS.to_string(),
        expected: None,
        anchors: anchors.at,
    };
    if let Some((through, hash)) = &anchors.pruned {
        // Retention removed the oldest records under a signed note: resume from it.
        chain.prev = hash.clone();
        chain.expected = Some(through + 1);
        chain.anchors.retain(|seq, _| seq > through);
    }
    for seg in segments(dir)? {
        report.segments += 1;
        chain.segment(&seg, &mut report)?;
    }
    let last = report.last_seq.unwrap_or(0);
    for (seq, (_, line)) in chain.anchors.range(last + 1..) {
        let fault = Fault::CutOff { last, seq: *seq };
        report.problem(ANCHORS, *line, Some(*seq), fault);
    }
    Ok(report)
}

fn read_anchors(
    dir: &Path,
    key: Option<&[u8]>,
    report: &mut VerifyReport,
) -> Result<Anchors, AuditError> {
    let mut anchors = Anchors::default();
    let path = dir.join(ANCHORS);
    let Ok(f) = File::open(&path) else {
        return Ok(anchors);
    };
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| io(&path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let a = match serde_json::from_str::<Anchor>(&line) {
            Ok(a) => a,
            Err(e) => {
                report.problem(ANCHORS, n, None, Fault::AnchorUnreadable(e.to_string()));
                continue;
            }
        };
        let Some(seq) = a.seq.or(a.pruned_through) else {
            report.problem(ANCHORS, n, None, Fault::AnchorWithoutRecord);
            continue;
        };
        if key.is_some_and(|k| mac(k, seq, &a.hash) != a.mac) {
            report.problem(ANCHORS, n, None, Fault::AnchorForged { seq });
            continue;
        }
        if a.pruned_through.is_some() {
            if anchors.pruned.as_ref().is_none_or(|(p, _)| seq > *p) {
                anchors.pruned = Some((seq, a.hash));
            }
        } else {
            anchors.at.insert(seq, (a.hash, n));
        }
    }
    Ok(anchors)
}

/// The walk along the chain: the hash the next record must follow, its number, the anchors.
struct Chain {
    prev: String,
    expected: Option<u64>,
    anchors: BTreeMap<u64, (String, u64)>,
}

impl Chain {
    fn segment(&mut self, seg: &Path, report: &mut VerifyReport) -> Result<(), AuditError> {
        let name = seg
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reader = crate::log::reader(seg)?;
        let mut buf = Vec::new();
        let mut n = 0u64;
        let mut first_in_segment = true;
        loop {
            buf.clear();
            let read = reader.read_until(b'\n', &mut buf).map_err(|e| io(seg, e))?;
            if read == 0 {
                break;
            }
            n += 1;
            if buf.last() != Some(&b'\n') {
                report.problem(&name, n, None, Fault::Torn);
                break;
            }
            let text =
                String::from_utf8_lossy(buf.get(..buf.len() - 1).unwrap_or(&[])).into_owned();
            let record = match decode(&text) {
                Ok(r) => r,
                Err(LineError::HashMismatch { .. }) => {
                    report.problem(&name, n, None, Fault::Edited);
                    self.follow_claim(&text);
                    continue;
                }
                Err(LineError::Malformed(e)) => {
                    report.problem(&name, n, None, Fault::NotARecord(e.to_string()));
                    continue;
                }
            };
            let seq = record.seq;
            if first_in_segment && name.trim_end_matches(".gz") != segment_name(seq) {
                let fault = Fault::MisnamedSegment { name: name.clone() };
                report.problem(&name, n, Some(seq), fault);
            }
            first_in_segment = false;
            for fault in self.link(seq, &record.prev, &record.hash) {
                report.problem(&name, n, Some(seq), fault);
            }
            report.first_seq.get_or_insert(seq);
            report.last_seq = Some(seq);
            report.records += 1;
            self.prev = record.hash.clone();
            report.head = Some(record.hash);
            self.expected = Some(seq + 1);
        }
        Ok(())
    }

    /// After an edited record, keeps following the chain from what the record claims.
    fn follow_claim(&mut self, text: &str) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let (Some(s), Some(h)) = (
                v.get("seq").and_then(|x| x.as_u64()),
                v.get("hash").and_then(|x| x.as_str()),
            ) {
                self.expected = Some(s + 1);
                self.prev = h.to_string();
            }
        }
    }

    /// What is wrong with record `seq` (hashing to `hash`, following `prev`) where it stands.
    fn link(&self, seq: u64, prev: &str, hash: &str) -> Vec<Fault> {
        let mut faults = Vec::new();
        match self.expected {
            Some(expected) if seq > expected => faults.push(Fault::Missing {
                expected,
                found: seq,
            }),
            Some(expected) if seq < expected => faults.push(Fault::Reordered {
                expected,
                found: seq,
            }),
            None if seq != 1 && self.prev == GENESIS => faults.push(Fault::StartsLate { seq }),
            _ => {}
        }
        if prev != self.prev && !(self.expected.is_none() && seq != 1) {
            faults.push(Fault::BrokenLink);
        }
        if let Some((signed, anchor_line)) = self.anchors.get(&seq) {
            if signed != hash {
                faults.push(Fault::Rewritten {
                    anchor_line: *anchor_line,
                });
            }
        }
        faults
    }
}
