//! The gateway's hot path: an API key lookup, warm cache vs the database.
//! `cargo bench -p wardgate-identity --bench keys`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use wardgate_identity::{Actor, ChangeSink, NewKey, Store};

struct Nothing;
impl ChangeSink for Nothing {
    fn record(
        &self,
        _: &wardgate_identity::Actor,
        _: &str,
        _: Option<serde_json::Value>,
        _: Option<serde_json::Value>,
    ) -> Result<(), String> {
        Ok(())
    }
}

fn bench(c: &mut Criterion) {
    let path = std::env::temp_dir().join(format!("wardgate-bench-keys-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let s = Store::open(&path, Box::new(Nothing)).unwrap();
    s.add_practice(&Actor::system(), "p-1", "Clinic", "UTC", &[])
        .unwrap();
    s.add_service_account(&Actor::system(), "sync", "p-1", &["Biller".into()])
        .unwrap();
    let keys: Vec<String> = (0..100)
        .map(|_| {
            s.issue_key(
                &Actor::system(),
                &NewKey {
                    account: "sync".into(),
                    scopes: vec!["billing:*".into()],
                    ..NewKey::default()
                },
            )
            .unwrap()
            .key
        })
        .collect();
    let mut i = 0;
    c.bench_function("key_lookup/warm_cache", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(s.verify_key_cached(black_box(&keys[i])).unwrap())
        })
    });
    let user = s
        .add_user(
            &Actor::system(),
            wardgate_identity::NewUser {
                email: "bench@x.com".into(),
                first_name: "B".into(),
                last_name: "Ench".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Biller".into()],
                practices: vec!["p-1".into()],
                ..Default::default()
            },
        )
        .unwrap();
    let tokens: Vec<String> = (0..100)
        .map(|_| s.start_session(&user.id, "p-1", None, None, false).unwrap())
        .collect();
    c.bench_function("session_lookup/warm_cache", |b| {
        b.iter(|| {
            i = (i + 1) % tokens.len();
            black_box(s.session_cached(black_box(&tokens[i])).unwrap())
        })
    });
    let mut g = c.benchmark_group("key_lookup");
    g.sample_size(20);
    g.bench_function("database_with_usage_write", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            black_box(s.verify_key(black_box(&keys[i])).unwrap())
        })
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench);
criterion_main!(benches);
