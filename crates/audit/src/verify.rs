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
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "{}:{}: record {s}: {}", self.file, self.line, self.what),
            None => write!(f, "{}:{}: {}", self.file, self.line, self.what),
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

/// Verifies the log in `dir`. `key` checks the anchors' signatures (the log's own
/// `anchor.key` if `None` and it exists).
pub fn verify(dir: &Path, key: Option<&[u8]>) -> Result<VerifyReport, AuditError> {
    let mut report = VerifyReport::default();
    let own_key = crate::log::key_if_present(dir)?;
    let key = key.map(<[u8]>::to_vec).or(own_key);

    // Anchors first: few, and each must be met while scanning the records.
    let mut anchors: BTreeMap<u64, (String, u64)> = BTreeMap::new();
    let mut pruned: Option<(u64, String)> = None;
    let anchors_path = dir.join(ANCHORS);
    if let Ok(f) = File::open(&anchors_path) {
        for (i, line) in BufReader::new(f).lines().enumerate() {
            let n = i as u64 + 1;
            let line = line.map_err(|e| io(&anchors_path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let problem = |what: String| Problem {
                file: ANCHORS.into(),
                line: n,
                seq: None,
                what,
            };
            match serde_json::from_str::<Anchor>(&line) {
                Ok(a) => {
                    let Some(seq) = a.seq.or(a.pruned_through) else {
                        report
                            .problems
                            .push(problem("an anchor without a record number".into()));
                        continue;
                    };
                    if let Some(k) = &key {
                        if mac(k, seq, &a.hash) != a.mac {
                            report.problems.push(problem(format!(
                                "anchor for record {seq} has a bad signature (forged or edited)"
                            )));
                            continue;
                        }
                    }
                    if a.pruned_through.is_some() {
                        if pruned.as_ref().is_none_or(|(p, _)| seq > *p) {
                            pruned = Some((seq, a.hash));
                        }
                    } else {
                        anchors.insert(seq, (a.hash, n));
                    }
                }
                Err(e) => report
                    .problems
                    .push(problem(format!("unreadable anchor: {e}"))),
            }
        }
    }
    report.anchors = anchors.len();

    let mut prev = GENESIS.to_string();
    let mut expected: Option<u64> = None;
    if let Some((through, hash)) = &pruned {
        // Retention removed the oldest records under a signed note: resume from it.
        prev = hash.clone();
        expected = Some(through + 1);
        anchors.retain(|seq, _| seq > through);
    }
    for seg in segments(dir)? {
        report.segments += 1;
        let name = seg
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut reader = crate::log::reader(&seg)?;
        let mut buf = Vec::new();
        let mut n = 0u64;
        let mut first_in_segment = true;
        loop {
            buf.clear();
            let read = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| io(&seg, e))?;
            if read == 0 {
                break;
            }
            n += 1;
            let problem = |seq: Option<u64>, what: String| Problem {
                file: name.clone(),
                line: n,
                seq,
                what,
            };
            if buf.last() != Some(&b'\n') {
                report.problems.push(problem(
                    None,
                    "torn record at the end of the file (an interrupted write)".into(),
                ));
                break;
            }
            let text =
                String::from_utf8_lossy(buf.get(..buf.len() - 1).unwrap_or(&[])).into_owned();
            let record = match decode(&text) {
                Ok(r) => r,
                Err(LineError::HashMismatch { .. }) => {
                    report.problems.push(problem(
                        None,
                        "the record does not match its hash: it was edited".into(),
                    ));
                    // Keep following the chain from what the record claims.
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                        if let (Some(s), Some(h)) = (
                            v.get("seq").and_then(|x| x.as_u64()),
                            v.get("hash").and_then(|x| x.as_str()),
                        ) {
                            expected = Some(s + 1);
                            prev = h.to_string();
                        }
                    }
                    continue;
                }
                Err(LineError::Malformed(e)) => {
                    report
                        .problems
                        .push(problem(None, format!("not a record: {e}")));
                    continue;
                }
            };
            let seq = record.seq;
            if first_in_segment && name.trim_end_matches(".gz") != segment_name(seq) {
                report.problems.push(problem(
                    Some(seq),
                    format!("the segment's name says it starts elsewhere ({name})"),
                ));
            }
            first_in_segment = false;
            match expected {
                Some(e) if seq != e => {
                    let what = if seq > e {
                        format!(
                            "expected record {e}: records {e}..{} are missing (deleted)",
                            seq - 1
                        )
                    } else {
                        format!(
                            "expected record {e}, found {seq}: records were inserted or reordered"
                        )
                    };
                    report.problems.push(problem(Some(seq), what));
                }
                None if seq != 1 && prev == GENESIS => {
                    report.problems.push(problem(
                        Some(seq),
                        format!("the log starts at record {seq}: earlier records are missing"),
                    ));
                }
                _ => {}
            }
            if record.prev != prev && !(expected.is_none() && seq != 1) {
                report.problems.push(problem(
                    Some(seq),
                    "does not follow the record before it (its `prev` hash differs)".into(),
                ));
            }
            if let Some((hash, anchor_line)) = anchors.get(&seq) {
                if *hash != record.hash {
                    report.problems.push(problem(
                        Some(seq),
                        format!("differs from what anchor line {anchor_line} signed: the chain was rewritten"),
                    ));
                }
            }
            report.first_seq.get_or_insert(seq);
            report.last_seq = Some(seq);
            report.records += 1;
            prev = record.hash.clone();
            report.head = Some(record.hash);
            expected = Some(seq + 1);
        }
    }
    let last = report.last_seq.unwrap_or(0);
    for (seq, (_, line)) in anchors.range(last + 1..) {
        report.problems.push(Problem {
            file: ANCHORS.into(),
            line: *line,
            seq: Some(*seq),
            what: format!("the log ends at record {last} but this anchor vouches for record {seq}: the newest records were cut off"),
        });
    }
    Ok(report)
}
