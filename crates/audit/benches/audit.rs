//! Audit throughput: batched appends (group commit), a durable single append, and a search
//! over a million records. `cargo bench -p wardgate-audit --bench audit`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use wardgate_audit::{
    Actor, AuditLog, DecisionSummary, Durability, Event, EventKind, Filter, Format, Options,
    ResourceRef, Search,
};

fn event(i: u64) -> Event {
    let mut e = Event::new(
        EventKind::Decision,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: format!("u-{}", i % 50),
        },
        "notes:view",
    );
    e.resource = ResourceRef {
        practice: Some("p-1".into()),
        patient: Some(format!("pt-{}", i % 5000)),
        path: Some(format!("/api/patients/pt-{}/notes", i % 5000)),
        ..ResourceRef::default()
    };
    e.decision = Some(DecisionSummary {
        verdict: wardgate_audit::Verdict::Allow,
        reasons: vec!["granted".into()],
    });
    e.client = Some("10.20.1.5".into());
    e.request_id = Some(format!("req-{i}"));
    e.module_hash =
        Some("sha256:05f914d50964f141efe86c836acd6a79c7ddab06c53e819a3096c40c0a460934".into());
    e
}

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wardgate-audit-bench-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(10_000));
    g.sample_size(20);
    let d = dir("batched");
    let (log, _) = AuditLog::open(&d, Options::default()).unwrap();
    let mut i = 0;
    g.bench_function("batched_10k_then_flush", |b| {
        b.iter(|| {
            for _ in 0..10_000 {
                i += 1;
                log.append(event(i), Durability::Batched).unwrap();
            }
            log.flush().unwrap()
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("sync_change_fsync", |b| {
        b.iter(|| {
            i += 1;
            log.append(event(i), Durability::Sync).unwrap()
        })
    });
    g.finish();
    drop(log);
    let _ = std::fs::remove_dir_all(&d);

    // A million records, then "who opened patient pt-9".
    let d = dir("search");
    let (log, _) = AuditLog::open(&d, Options::default()).unwrap();
    let started = Instant::now();
    for i in 0..1_000_000u64 {
        log.append(event(i), Durability::Batched).unwrap();
    }
    log.flush().unwrap();
    let took = started.elapsed();
    eprintln!(
        "wrote 1,000,000 records in {:.2} s ({:.0} records/s)",
        took.as_secs_f64(),
        1e6 / took.as_secs_f64()
    );
    drop(log);
    let mut g = c.benchmark_group("search");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("patient_in_1m_records", |b| {
        b.iter(|| {
            let s = Search {
                filter: Filter {
                    patient: Some("pt-9".into()),
                    ..Filter::default()
                },
                format: Format::JsonLines,
            };
            s.run(black_box(&d), &mut std::io::sink()).unwrap()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&d);
}

criterion_group!(benches, bench);
criterion_main!(benches);
