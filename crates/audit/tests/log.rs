//! The audit log: appends, reopens, survives a killed writer, and verification finds every
//! kind of tampering and says where.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wardgate_audit::{
    verify, Actor, AuditLog, DecisionSummary, Durability, Event, EventKind, Fault, Filter, Format,
    Options, ResourceRef, Search,
};

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wardgate-audit-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn decision(user: &str, patient: &str, verdict: &str) -> Event {
    let mut e = Event::new(
        EventKind::Decision,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: user.into(),
        },
        "notes:view",
    );
    e.resource = ResourceRef {
        practice: Some("p-1".into()),
        patient: Some(patient.into()),
        path: Some(format!("/api/patients/{patient}/notes")),
        ..ResourceRef::default()
    };
    e.decision = Some(DecisionSummary {
        verdict: if verdict == "allow" {
            wardgate_audit::Verdict::Allow
        } else {
            wardgate_audit::Verdict::Deny
        },
        reasons: vec!["granted".into()],
    });
    e.client = Some("10.20.1.5".into());
    e.request_id = Some("req-1".into());
    e
}

fn change(n: u64) -> Event {
    let mut e = Event::new(
        EventKind::Change,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: "admin".into(),
        },
        "user:edit",
    );
    e.before = Some(serde_json::json!({"roles": ["Biller"], "n": n}));
    e.after = Some(serde_json::json!({"roles": ["Biller", "Office Staff"], "n": n}));
    e
}

fn small() -> Options {
    Options {
        anchor_every: 10,
        ..Options::default()
    }
}

fn seg_lines(dir: &Path) -> (PathBuf, Vec<String>) {
    let seg = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".jsonl")
                && p.file_name().unwrap().to_string_lossy().starts_with("seg-")
        })
        .min()
        .unwrap();
    let lines = std::fs::read_to_string(&seg)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (seg, lines)
}

fn write_lines(path: &Path, lines: &[String]) {
    std::fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// A log of 30 records: sync changes and batched decisions.
fn filled(name: &str) -> PathBuf {
    let dir = temp(name);
    let (log, report) = AuditLog::open(&dir, small()).unwrap();
    assert_eq!(report.last_seq, 0);
    for i in 0..15 {
        log.append(change(i), Durability::Sync).unwrap();
        log.append(
            decision(
                if i % 2 == 0 { "u-7" } else { "u-3" },
                &format!("pt-{}", i % 4),
                "allow",
            ),
            Durability::Batched,
        )
        .unwrap();
    }
    assert_eq!(log.flush().unwrap(), 30);
    drop(log);
    dir
}

#[test]
fn appends_reopen_and_verify() {
    let dir = filled("basic");
    let report = verify(&dir, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(
        (report.records, report.first_seq, report.last_seq),
        (30, Some(1), Some(30))
    );
    assert!(report.anchors >= 3);
    let (log, report) = AuditLog::open(&dir, small()).unwrap();
    assert_eq!((report.last_seq, report.truncated_bytes), (30, 0));
    assert_eq!(log.append(change(99), Durability::Sync).unwrap(), 31);
    assert_eq!(log.append(change(100), Durability::Group).unwrap(), 32);
    drop(log);
    assert!(verify(&dir, None).unwrap().ok());
}

#[test]
fn an_edited_record_is_found() {
    let dir = filled("edit");
    let (seg, mut lines) = seg_lines(&dir);
    let i = (3..lines.len())
        .find(|&i| lines[i].contains("\"allow\""))
        .unwrap();
    lines[i] = lines[i].replace("\"allow\"", "\"deny\"");
    write_lines(&seg, &lines);
    let report = verify(&dir, None).unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!(report.problems[0].line, i as u64 + 1);
    assert_eq!(report.problems[0].fault, Fault::Edited);
}

#[test]
fn a_deleted_record_is_found() {
    let dir = filled("delete");
    let (seg, mut lines) = seg_lines(&dir);
    lines.remove(11);
    write_lines(&seg, &lines);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.seq == Some(13) && matches!(p.fault, Fault::Missing { .. })),
        "{:?}",
        report.problems
    );
}

#[test]
fn inserted_and_reordered_records_are_found() {
    let dir = filled("insert");
    let (seg, mut lines) = seg_lines(&dir);
    let copy = lines[3].clone();
    lines.insert(8, copy);
    write_lines(&seg, &lines);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.line == 9 && matches!(p.fault, Fault::Reordered { .. })),
        "{:?}",
        report.problems
    );

    let dir = filled("reorder");
    let (seg, mut lines) = seg_lines(&dir);
    lines.swap(4, 5);
    write_lines(&seg, &lines);
    let report = verify(&dir, None).unwrap();
    assert!(!report.ok());
    assert!(
        report.problems.iter().any(|p| p.line == 5),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_cut_tail_is_found_by_the_anchors() {
    let dir = filled("cut");
    let (seg, mut lines) = seg_lines(&dir);
    lines.truncate(25);
    write_lines(&seg, &lines);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p.fault, Fault::CutOff { .. })),
        "{:?}",
        report.problems
    );
}

/// An attacker who edits a record and recomputes every hash after it still meets the anchors.
#[test]
fn a_rewritten_chain_is_found_by_the_anchors() {
    let dir = filled("rewrite");
    let (seg, lines) = seg_lines(&dir);
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        if i == 2 {
            v["event"]["actor"]["id"] = serde_json::json!("someone-else");
        }
        let body = format!(
            "{{\"seq\":{},\"time\":{},\"prev\":\"{prev}\",\"event\":{}}}",
            v["seq"], v["time"], v["event"]
        );
        let hash: String = Sha256::digest(body.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        out.push(format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1]));
        prev = hash;
    }
    write_lines(&seg, &out);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p.fault, Fault::Rewritten { .. })),
        "{:?}",
        report.problems
    );
    // Forging the anchors needs the key.
    let anchors = std::fs::read_to_string(dir.join("anchors.jsonl")).unwrap();
    let forged: Vec<String> = anchors
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let seq = v["seq"].as_u64().unwrap() as usize;
            let line: serde_json::Value = serde_json::from_str(&out[seq - 1]).unwrap();
            v["hash"] = line["hash"].clone();
            v.to_string()
        })
        .collect();
    write_lines(&dir.join("anchors.jsonl"), &forged);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p.fault, Fault::AnchorForged { .. })),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_torn_tail_is_cut_and_recorded() {
    let dir = filled("torn");
    let (seg, _) = seg_lines(&dir);
    let mut f = std::fs::OpenOptions::new().append(true).open(&seg).unwrap();
    f.write_all(b"{\"seq\":31,\"time\":\"2026-11-23T10:1")
        .unwrap();
    drop(f);
    assert!(!verify(&dir, None).unwrap().ok());
    let (log, report) = AuditLog::open(&dir, small()).unwrap();
    assert!(report.truncated_bytes > 0);
    assert_eq!(report.last_seq, 31, "the recovery itself is record 31");
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    let mut found = Vec::new();
    Search {
        filter: Filter {
            action: Some("audit:*".into()),
            ..Filter::default()
        },
        format: Format::JsonLines,
    }
    .run(&dir, &mut found)
    .unwrap();
    assert!(String::from_utf8(found)
        .unwrap()
        .contains("truncated_bytes"));
}

#[test]
fn segments_rotate_and_the_chain_spans_them() {
    let dir = temp("rotate");
    let (log, _) = AuditLog::open(
        &dir,
        Options {
            max_segment_bytes: 2000,
            anchor_every: 50,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..40 {
        log.append(change(i), Durability::Batched).unwrap();
    }
    log.flush().unwrap();
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.segments > 3, "{}", report.segments);
    // Removing a whole middle segment is found.
    let mut segs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("seg-"))
        .collect();
    segs.sort();
    std::fs::remove_file(&segs[1]).unwrap();
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p.fault, Fault::Missing { .. })),
        "{:?}",
        report.problems
    );
}

#[test]
fn search_and_export_stream_matching_records() {
    let dir = filled("search");
    let run = |filter: Filter, format: Format| {
        let mut out = Vec::new();
        let n = Search { filter, format }.run(&dir, &mut out).unwrap();
        (n, String::from_utf8(out).unwrap())
    };
    let (n, text) = run(
        Filter {
            user: Some("u-7".into()),
            patient: Some("pt-0".into()),
            ..Filter::default()
        },
        Format::JsonLines,
    );
    assert_eq!(n, 4);
    assert!(text
        .lines()
        .all(|l| l.contains("\"u-7\"") && l.contains("\"pt-0\"")));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let (n, _) = run(
        Filter {
            from: Some(today.clone()),
            to: Some(today),
            ..Filter::default()
        },
        Format::JsonLines,
    );
    assert_eq!(n, 30);
    let (n, _) = run(
        Filter {
            to: Some("2000-01-01".into()),
            ..Filter::default()
        },
        Format::JsonLines,
    );
    assert_eq!(n, 0);
    let (n, csv) = run(
        Filter {
            decision: Some("allow".into()),
            ..Filter::default()
        },
        Format::Csv,
    );
    assert_eq!(n, 15);
    assert!(csv.starts_with("seq,time,kind,actor_kind,actor,action,practice"));
    assert_eq!(csv.lines().count(), 16);
}

#[test]
fn a_full_queue_makes_writers_wait_and_loses_nothing() {
    let dir = temp("backpressure");
    let (log, _) = AuditLog::open(
        &dir,
        Options {
            queue: 4,
            batch: 3,
            ..Options::default()
        },
    )
    .unwrap();
    let log = std::sync::Arc::new(log);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    log.append(
                        decision(&format!("u-{t}"), &format!("pt-{i}"), "deny"),
                        Durability::Batched,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(log.flush().unwrap(), 1000);
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert!(report.ok() && report.records == 1000, "{report:?}");
}

/// Runs only as the child of `a_killed_writer_loses_no_acknowledged_record`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("WARDGATE_AUDIT_CHILD") else {
        return;
    };
    let (log, _) = AuditLog::open(Path::new(&dir), Options::default()).unwrap();
    let mut out = std::io::stdout();
    // Until the parent kills this process.
    let mut i = 0;
    loop {
        log.append(decision("u-7", "pt-9", "allow"), Durability::Batched)
            .unwrap();
        let seq = log.append(change(i), Durability::Sync).unwrap();
        writeln!(out, "acked {seq}").unwrap();
        out.flush().unwrap();
        i += 1;
    }
}

#[test]
fn a_killed_writer_loses_no_acknowledged_record() {
    let dir = temp("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env("WARDGATE_AUDIT_CHILD", &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = 0u64;
    let reader = BufReader::new(child.stdout.take().unwrap());
    for line in reader.lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            acked = n.trim().parse().unwrap();
            if acked >= 300 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL, mid-write as often as not
    child.wait().unwrap();
    let (log, report) = AuditLog::open(&dir, Options::default()).unwrap();
    assert!(
        report.last_seq >= acked,
        "acknowledged {acked}, found {}",
        report.last_seq
    );
    drop(log);
    let v = verify(&dir, None).unwrap();
    assert!(v.ok(), "{:?}", v.problems);
}

#[test]
fn archived_and_pruned_logs_stay_verifiable() {
    let dir = temp("retention");
    let (log, _) = AuditLog::open(
        &dir,
        Options {
            max_segment_bytes: 1500,
            anchor_every: 7,
            archive_closed: false,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..40 {
        log.append(change(i), Durability::Sync).unwrap();
    }
    let archived = log.archive().unwrap();
    assert!(archived.len() >= 3, "{archived:?}");
    assert!(archived
        .iter()
        .all(|p| p.to_string_lossy().ends_with(".jsonl.gz")));
    let report = verify(&dir, None).unwrap();
    assert!(report.ok() && report.records == 40, "{report:?}");
    // Search reads the archives too.
    let mut out = Vec::new();
    let n = Search {
        filter: Filter {
            action: Some("user:edit".into()),
            ..Filter::default()
        },
        format: Format::JsonLines,
    }
    .run(&dir, &mut out)
    .unwrap();
    assert_eq!(n, 40);

    // Retention: everything closed is older than a date in the future.
    let pruned = log.prune("9999-01-01").unwrap();
    assert_eq!(pruned, archived.len());
    log.append(change(41), Durability::Sync).unwrap();
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.first_seq.unwrap() > 1);

    // Without the signed note, the missing start is reported.
    let anchors = std::fs::read_to_string(dir.join("anchors.jsonl")).unwrap();
    let without: Vec<String> = anchors
        .lines()
        .filter(|l| !l.contains("pruned_through"))
        .map(str::to_string)
        .collect();
    write_lines(&dir.join("anchors.jsonl"), &without);
    let report = verify(&dir, None).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p.fault, Fault::StartsLate { .. })),
        "{:?}",
        report.problems
    );
}

#[test]
fn segments_rotate_by_age() {
    let dir = temp("age");
    let (log, _) = AuditLog::open(
        &dir,
        Options {
            max_segment_age: std::time::Duration::from_millis(1),
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..3 {
        log.append(change(i), Durability::Sync).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert!(report.ok() && report.segments >= 3, "{report:?}");
}

#[test]
fn one_writer_per_folder() {
    let dir = temp("lock");
    let (log, _) = AuditLog::open(&dir, Options::default()).unwrap();
    let second = AuditLog::open(&dir, Options::default());
    assert!(second.is_err(), "a second writer was let in");
    drop(log);
    assert!(AuditLog::open(&dir, Options::default()).is_ok());
}

#[test]
fn closed_segments_are_archived_and_old_ones_pruned_automatically() {
    let dir = temp("auto");
    let opts = Options {
        max_segment_bytes: 1200,
        anchor_every: 5,
        retain_for: Some(std::time::Duration::ZERO),
        ..Options::default()
    };
    let (log, _) = AuditLog::open(&dir, opts).unwrap();
    for i in 0..30 {
        log.append(change(i), Durability::Sync).unwrap();
    }
    for i in 0..30 {
        log.append(change(i), Durability::Batched).unwrap();
    }
    log.flush().unwrap();
    drop(log);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // Everything closed was older than "now minus nothing": pruned, leaving the open segment.
    assert_eq!(
        names.iter().filter(|n| n.starts_with("seg-")).count(),
        1,
        "{names:?}"
    );
    let report = verify(&dir, None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.last_seq, Some(60));
}

#[test]
fn a_full_queue_is_refused_at_once_instead_of_waiting() {
    let dir = temp("backlog");
    let opts = Options {
        queue: 1,
        // The writer takes the first event and then waits this long for company.
        linger: std::time::Duration::from_millis(500),
        ..Options::default()
    };
    let (log, _) = AuditLog::open(&dir, opts).unwrap();
    log.try_append(change(0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    log.try_append(change(1)).unwrap(); // fills the one slot
    let started = std::time::Instant::now();
    assert!(matches!(
        log.try_append(change(2)),
        Err(wardgate_audit::AuditError::Backlog)
    ));
    assert!(started.elapsed() < std::time::Duration::from_millis(100));
    log.flush().unwrap();
    drop(log);
    let report = verify(&dir, None).unwrap();
    assert_eq!(
        report.last_seq,
        Some(2),
        "the two accepted events are written"
    );
}
