//! The activity log over the API: search (a page of records as JSON), export (every matching
//! record, streamed as CSV or JSON lines while the log is read) and verification. A caller bound
//! to a practice sees that practice's records only.

use std::io::Write;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use wardgate_audit::{Filter, Format, Search};

use super::error::ApiError;
use super::ops::AuditQuery;
use super::run::Caller;
use crate::body::{Body, BoxError};
use crate::state::Gateway;

/// The most records one search answers with.
pub const MAX_RECORDS: usize = 10_000;

fn filter(caller: &Caller, q: &AuditQuery) -> Result<Filter, ApiError> {
    if let (Some(mine), Some(asked)) = (&caller.practice, &q.filter.practice) {
        if mine != asked {
            return Err(ApiError::forbidden(format!(
                "you administer practice {mine} only"
            )));
        }
    }
    Ok(Filter {
        practice: caller
            .practice
            .clone()
            .or_else(|| q.filter.practice.clone()),
        ..q.filter.clone()
    })
}

/// A page of whole lines as the search writes them: oldest first, the first `limit` after
/// the cursor (then the search stops), or newest first, the last `limit` before it (the
/// search reads on, keeping only those).
struct Lines {
    kept: std::collections::VecDeque<Vec<u8>>,
    line: Vec<u8>,
    /// One more than a page, to know whether there is a next one.
    room: usize,
    newest: bool,
    cursor: Option<u64>,
    /// How many matched on this side of the cursor.
    matched: usize,
}

#[derive(serde::Deserialize)]
struct Seq {
    seq: u64,
}

impl Lines {
    fn take(&mut self, line: Vec<u8>) {
        if let Some(c) = self.cursor {
            let seq = serde_json::from_slice::<Seq>(&line).map(|r| r.seq);
            let beyond = match seq {
                Ok(seq) if self.newest => seq >= c,
                Ok(seq) => seq <= c,
                Err(_) => true,
            };
            if beyond {
                return;
            }
        }
        self.matched += 1;
        self.kept.push_back(line);
        if self.newest && self.kept.len() > self.room {
            self.kept.pop_front();
        }
    }
}

impl Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.newest && self.kept.len() >= self.room {
            return Err(std::io::Error::other("enough"));
        }
        for part in buf.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(part);
            if part.ends_with(b"\n") {
                let line = std::mem::take(&mut self.line);
                self.take(line);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn failed(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "audit_unavailable",
        format!("the audit log could not be {what}"),
    )
}

/// `GET /audit`: a page of matching records, oldest first (or newest first).
pub async fn search(gw: &Arc<Gateway>, caller: &Caller, q: AuditQuery) -> Result<Value, ApiError> {
    let filter = filter(caller, &q)?;
    let limit = q.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_RECORDS {
        return Err(ApiError::invalid(vec![super::error::Problem {
            field: "limit".into(),
            message: format!("must be from 1 to {MAX_RECORDS}"),
        }]));
    }
    let audit = gw.audit().clone();
    let dir = gw.config().audit.dir.clone();
    tokio::task::spawn_blocking(move || {
        audit.flush().map_err(|_| failed("flushed"))?;
        let newest = q.order.as_deref() == Some("newest");
        let mut lines = Lines {
            kept: std::collections::VecDeque::new(),
            line: Vec::new(),
            room: limit + 1,
            newest,
            cursor: q.cursor,
            matched: 0,
        };
        let search = Search {
            filter,
            format: Format::JsonLines,
        };
        // Stopping early ends the search with an error: what was gathered is the page.
        let _ = search.run(&dir, &mut lines);
        let more = lines.matched > limit;
        let mut records: Vec<Value> = lines
            .kept
            .iter()
            .filter_map(|l| serde_json::from_slice(l).ok())
            .collect();
        if newest {
            records.reverse();
        }
        records.truncate(limit);
        let next = records
            .last()
            .and_then(|r| r.get("seq"))
            .filter(|_| more)
            .cloned();
        Ok(json!({"records": records, "truncated": more, "next_cursor": next}))
    })
    .await
    .map_err(|_| failed("read"))?
}

/// A `Write` that hands what is written to the response body as it comes.
struct Streamed {
    sender: http_body_util::channel::Sender<Bytes, BoxError>,
    runtime: tokio::runtime::Handle,
    buf: Vec<u8>,
}

impl Streamed {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.runtime
            .block_on(self.sender.send_data(chunk))
            .map_err(|_| std::io::Error::other("the client went away"))
    }
}

impl Write for Streamed {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= 64 * 1024 {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.send()
    }
}

/// `GET /audit/export`: every matching record, streamed.
pub fn export(
    gw: &Arc<Gateway>,
    caller: &Caller,
    q: AuditQuery,
) -> Result<Response<Body>, ApiError> {
    let filter = filter(caller, &q)?;
    let (format, content_type) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => (Format::Csv, "text/csv; charset=utf-8"),
        "jsonl" => (Format::JsonLines, "application/x-ndjson"),
        other => {
            return Err(ApiError::invalid(vec![super::error::Problem {
                field: "format".into(),
                message: format!("`{other}` is not csv or jsonl"),
            }]))
        }
    };
    let (sender, body) = http_body_util::channel::Channel::<Bytes, BoxError>::new(4);
    let audit = gw.audit().clone();
    let dir = gw.config().audit.dir.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        if audit.flush().is_err() {
            tracing::error!("the audit log could not be flushed for an export");
        }
        let mut out = Streamed {
            sender,
            runtime,
            buf: Vec::new(),
        };
        let search = Search { filter, format };
        let read = search.run(&dir, &mut out);
        let flushed = out.flush();
        if let Err(e) = &read {
            tracing::warn!(error = %e, "an audit export stopped");
        }
        if read.is_err() || flushed.is_err() {
            // The client sees a broken body, not a complete-looking file.
            out.sender.abort(BoxError::from("the export stopped"));
        }
    });
    let mut res = Response::new(body.boxed());
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /audit/verify`: the whole chain and its anchors.
pub async fn verify(gw: &Arc<Gateway>) -> Result<Value, ApiError> {
    let audit = gw.audit().clone();
    let dir = gw.config().audit.dir.clone();
    tokio::task::spawn_blocking(move || {
        audit.flush().map_err(|_| failed("flushed"))?;
        let report = wardgate_audit::verify(&dir, None).map_err(|_| failed("read"))?;
        let problems: Vec<Value> = report
            .problems
            .iter()
            .map(|p| json!({"file": p.file, "line": p.line, "seq": p.seq, "problem": p.fault.to_string()}))
            .collect();
        Ok(json!({
            "ok": report.ok(),
            "records": report.records,
            "segments": report.segments,
            "anchors": report.anchors,
            "first_seq": report.first_seq,
            "last_seq": report.last_seq,
            "problems": problems,
        }))
    })
    .await
    .map_err(|_| failed("read"))?
}
