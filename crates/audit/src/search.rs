//! Search and export, streaming: one record in memory at a time, whatever the log's size.

use std::io::{BufRead, Write};
use std::path::Path;

use crate::log::segments;
use crate::record::Record;
use crate::{io, AuditError};

/// What to look for; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The actor's id (user, service account or key).
    pub user: Option<String>,
    /// From this time (RFC 3339 or a date), inclusive.
    pub from: Option<String>,
    /// Until this time (RFC 3339, or a date meaning the whole day), inclusive.
    pub to: Option<String>,
    /// An action, or a prefix ending in `*` (`notes:*`).
    pub action: Option<String>,
    /// `allow` or `deny`.
    pub decision: Option<String>,
    pub patient: Option<String>,
    pub practice: Option<String>,
}

/// How to write what is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The records exactly as stored, one per line.
    JsonLines,
    Csv,
}

const CSV_HEADER: [&str; 16] = [
    "seq",
    "time",
    "kind",
    "actor_kind",
    "actor",
    "action",
    "practice",
    "location",
    "patient",
    "path",
    "decision",
    "reasons",
    "client",
    "country",
    "request_id",
    "session_id",
];

/// One CSV cell, defused when a spreadsheet would run it as a formula: a value whose first
/// non-blank character is `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`.
/// Quoting is the `csv` writer's.
fn defused(field: &str) -> std::borrow::Cow<'_, str> {
    let first = field.trim_start_matches(' ').chars().next();
    if first.is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r')) {
        std::borrow::Cow::Owned(format!("'{field}"))
    } else {
        std::borrow::Cow::Borrowed(field)
    }
}

impl Filter {
    fn matches(&self, r: &Record) -> bool {
        let e = &r.event;
        let eq = |want: &Option<String>, have: Option<&str>| {
            want.as_deref().is_none_or(|w| have == Some(w))
        };
        let to_ok = self.to.as_deref().is_none_or(|to| {
            if to.len() == 10 {
                r.time.get(..10).is_some_and(|d| d <= to)
            } else {
                r.time.as_str() <= to
            }
        });
        let action_ok = self
            .action
            .as_deref()
            .is_none_or(|a| match a.strip_suffix('*') {
                Some(prefix) => e.action.starts_with(prefix),
                None => e.action == a,
            });
        eq(&self.user, Some(&e.actor.id))
            && self
                .from
                .as_deref()
                .is_none_or(|from| r.time.as_str() >= from)
            && to_ok
            && action_ok
            && eq(
                &self.decision,
                e.decision.as_ref().map(|d| d.verdict.as_str()),
            )
            && eq(&self.patient, e.resource.patient.as_deref())
            && eq(&self.practice, e.resource.practice.as_deref())
    }
}

/// A search over a log folder.
#[derive(Debug, Clone)]
pub struct Search {
    pub filter: Filter,
    pub format: Format,
}

/// One line of CSV, quoted by the `csv` writer.
fn csv_row<I, F>(fields: I) -> Result<Vec<u8>, AuditError>
where
    I: IntoIterator<Item = F>,
    F: AsRef<[u8]>,
{
    let fail = |e: String| io(Path::new("<output>"), std::io::Error::other(e));
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(fields).map_err(|e| fail(e.to_string()))?;
    w.into_inner().map_err(|e| fail(e.to_string()))
}

impl Search {
    /// Writes every matching record to `out`, oldest first; returns how many matched.
    pub fn run(&self, dir: &Path, out: &mut dyn Write) -> Result<u64, AuditError> {
        let stdout = Path::new("<output>");
        if self.format == Format::Csv {
            out.write_all(&csv_row(CSV_HEADER.iter().copied())?)
                .map_err(|e| io(stdout, e))?;
        }
        let mut found = 0;
        for seg in segments(dir)? {
            for line in crate::log::reader(&seg)?.lines() {
                let line = line.map_err(|e| io(&seg, e))?;
                let Ok(r) = serde_json::from_str::<Record>(&line) else {
                    continue;
                };
                if !self.filter.matches(&r) {
                    continue;
                }
                found += 1;
                match self.format {
                    Format::JsonLines => {
                        out.write_all(line.as_bytes())
                            .and_then(|_| out.write_all(b"\n"))
                            .map_err(|e| io(stdout, e))?;
                    }
                    Format::Csv => {
                        let e = &r.event;
                        let kind = serde_json::to_value(e.kind)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default();
                        let fields = [
                            r.seq.to_string(),
                            r.time.clone(),
                            kind,
                            e.actor.kind.as_str().to_string(),
                            e.actor.id.clone(),
                            e.action.clone(),
                            e.resource.practice.clone().unwrap_or_default(),
                            e.resource.location.clone().unwrap_or_default(),
                            e.resource.patient.clone().unwrap_or_default(),
                            e.resource.path.clone().unwrap_or_default(),
                            e.decision
                                .as_ref()
                                .map(|d| d.verdict.as_str().to_string())
                                .unwrap_or_default(),
                            e.decision
                                .as_ref()
                                .map(|d| d.reasons.join(" "))
                                .unwrap_or_default(),
                            e.client.clone().unwrap_or_default(),
                            e.country.clone().unwrap_or_default(),
                            e.request_id.clone().unwrap_or_default(),
                            e.session_id.clone().unwrap_or_default(),
                        ];
                        let row = csv_row(fields.iter().map(|f| defused(f).into_owned()))?;
                        out.write_all(&row).map_err(|e| io(stdout, e))?;
                    }
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::defused as csv;

    #[test]
    fn formulas_are_defused_whatever_blanks_come_first() {
        for bad in [
            "=1+1", " =1+1", "  +1", "-2", "@SUM(A1)", "\t=1", "\r=1", " \t1",
        ] {
            assert!(
                csv(bad).trim_start_matches('"').starts_with('\''),
                "{bad:?} -> {}",
                csv(bad)
            );
        }
        assert_eq!(csv("pt-1"), "pt-1");
    }
}
