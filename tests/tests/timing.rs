//! The sign-in timing oracle of the security review (item 8), alone in its own test process
//! so that no other test's work lands on one case more than another.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use http::StatusCode;
use wardgate_identity::Actor;
use wardgate_tests::gateway::{Harness, Setup};

const PASSWORD: &str = "Correct#Horse9battery";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// 8. Every sign-in answer costs the same password-hash work, so timing tells nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_answers_take_the_same_time_whatever_the_account() {
    let setup = Setup {
        sessions: "login_per_minute = 1000".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-timing", setup).await;
    let mut settings = h.gw.store().security("p1").unwrap();
    settings.lockout_after = 1000;
    h.gw.store()
        .set_security(&Actor::system(), "p1", &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    h.user("wrong@clinic.test", &["Biller"], PASSWORD, true);
    let locked = h.user("locked@clinic.test", &["Biller"], PASSWORD, true);
    h.gw.store().lock(&Actor::system(), &locked.id).unwrap();
    let disabled = h.user("disabled@clinic.test", &["Biller"], PASSWORD, true);
    h.gw.store()
        .disable(&Actor::system(), &disabled.id)
        .unwrap();
    // A user of another practice only: right password, no role here.
    h.gw.store()
        .add_practice(&Actor::system(), "p9", "Elsewhere", "UTC", &[])
        .unwrap();
    h.gw.store()
        .add_user(
            &Actor::system(),
            wardgate_identity::NewUser {
                email: "norole@clinic.test".into(),
                first_name: "N".into(),
                last_name: "R".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Biller".into()],
                practices: vec!["p9".into()],
                ..Default::default()
            },
        )
        .unwrap();
    let cases = [
        ("unknown", "nobody@clinic.test", "Wrong#Password1"),
        ("locked", "locked@clinic.test", PASSWORD),
        ("disabled", "disabled@clinic.test", PASSWORD),
        ("wrong password", "wrong@clinic.test", "Wrong#Password1"),
        ("no role here", "norole@clinic.test", "Temporary#Pass1"),
    ];
    let b = h.api_browser();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); cases.len()];
    for round in 0..12 {
        for (i, (_, email, password)) in cases.iter().enumerate() {
            let started = Instant::now();
            let r = b.login(email, password).await;
            let took = started.elapsed();
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{email}: {}", r.body);
            assert_eq!(r.json()["error"], "invalid_credentials");
            // The first round warms caches and connections.
            if round > 0 {
                times[i].push(took);
            }
        }
    }
    let medians: Vec<Duration> = times.into_iter().map(median).collect();
    let (lo, hi) = (medians.iter().min().unwrap(), medians.iter().max().unwrap());
    let report: Vec<String> = cases
        .iter()
        .zip(&medians)
        .map(|((name, _, _), m)| format!("{name}: {m:?}"))
        .collect();
    assert!(
        hi.as_secs_f64() <= lo.as_secs_f64() * 1.2,
        "medians differ by more than 20%: {report:?}"
    );
}
