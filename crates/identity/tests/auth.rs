//! Tokens, second factors, emergency access, relations and expiry, on a controllable clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use wardgate_identity::{
    totp, Actor, ChangeSink, Clock, IdentityError, NewUser, Store, UserStatus,
};

struct Nothing;
impl ChangeSink for Nothing {
    fn record(
        &self,
        _: &str,
        _: &str,
        _: Option<serde_json::Value>,
        _: Option<serde_json::Value>,
    ) -> Result<(), String> {
        Ok(())
    }
}

#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);
impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}
impl TestClock {
    fn advance(&self, d: Duration) {
        *self.0.lock().unwrap() += d;
    }
}

fn store(name: &str) -> (Store, TestClock, String) {
    let path = std::env::temp_dir().join(format!("wardgate-auth-{name}-{}.db", std::process::id()));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let clock = TestClock(Arc::new(Mutex::new(
        "2026-11-23T10:00:00Z".parse().unwrap(),
    )));
    let s = Store::open(&path, Box::new(Nothing))
        .unwrap()
        .with_clock(Box::new(clock.clone()));
    s.add_practice(&Actor::system(), "p-1", "Clinic", "America/New_York", &[])
        .unwrap();
    let u = s
        .add_user(
            &Actor::system(),
            NewUser {
                email: "nurse@x.com".into(),
                first_name: "N".into(),
                last_name: "Urse".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Provider".into()],
                practices: vec!["p-1".into()],
                emergency_access: true,
                ..NewUser::default()
            },
        )
        .unwrap();
    (s, clock, u.id)
}

#[test]
fn reset_tokens_are_single_use_and_expire() {
    let (s, clock, id) = store("tokens");
    let token = s
        .reset_token(&Actor::system(), &id, Duration::hours(24))
        .unwrap();
    s.set_password_with_token(&token, "Brand#New#Pass2")
        .unwrap();
    assert!(
        matches!(
            s.set_password_with_token(&token, "Other#New#Pass3"),
            Err(IdentityError::BadToken)
        ),
        "used once"
    );
    assert!(s.login("nurse@x.com", "Brand#New#Pass2").is_ok());
    let late = s
        .activation_token(&Actor::system(), &id, Duration::hours(1))
        .unwrap();
    clock.advance(Duration::hours(2));
    assert!(matches!(
        s.set_password_with_token(&late, "Late#New#Pass4"),
        Err(IdentityError::BadToken)
    ));
    assert!(matches!(
        s.set_password_with_token("made-up", "Late#New#Pass4"),
        Err(IdentityError::BadToken)
    ));
}

#[test]
fn totp_enrollment_verification_and_recovery_codes() {
    let (s, clock, id) = store("totp");
    let e = s.enroll_totp(&id, "Wardgate").unwrap();
    assert!(e
        .uri
        .starts_with("otpauth://totp/Wardgate:nurse@x.com?secret="));
    assert_eq!(e.recovery_codes.len(), 10);
    assert!(!s.has_second_factor(&id).unwrap());
    let secret = base32_decode(&e.secret);
    let now = clock.now().timestamp();
    assert!(
        matches!(
            s.confirm_totp(&id, "000000"),
            Err(IdentityError::BadCredentials)
        ) || totp(&secret, now) == "000000"
    );
    s.confirm_totp(&id, &totp(&secret, now)).unwrap();
    assert!(s.has_second_factor(&id).unwrap());
    clock.advance(Duration::seconds(95));
    let later = clock.now().timestamp();
    s.verify_second_factor(&id, &totp(&secret, later)).unwrap();
    assert!(
        s.verify_second_factor(&id, &totp(&secret, now)).is_err(),
        "an old code no longer works"
    );
    s.verify_second_factor(&id, &e.recovery_codes[3]).unwrap();
    assert!(
        s.verify_second_factor(&id, &e.recovery_codes[3]).is_err(),
        "a recovery code works once"
    );
}

fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes() {
        buf = (buf << 5) | A.iter().position(|x| *x == c).unwrap() as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buf >> bits) & 0xff) as u8);
        }
    }
    out
}

#[test]
fn emergency_access_needs_the_flag_and_a_reason_and_ends_by_itself() {
    let (s, clock, id) = store("emergency");
    assert!(matches!(
        s.open_emergency(&id, "p-1", "  ", Duration::hours(1)),
        Err(IdentityError::Invalid(_))
    ));
    s.open_emergency(&id, "p-1", "patient unconscious in ER", Duration::hours(1))
        .unwrap();
    assert_eq!(
        s.emergency(&id, "p-1").unwrap().unwrap().0,
        "patient unconscious in ER"
    );
    clock.advance(Duration::minutes(61));
    assert!(s.emergency(&id, "p-1").unwrap().is_none(), "time-boxed");
    let other = s
        .add_user(
            &Actor::system(),
            NewUser {
                email: "desk@x.com".into(),
                first_name: "D".into(),
                last_name: "Esk".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Front Desk".into()],
                practices: vec!["p-1".into()],
                ..NewUser::default()
            },
        )
        .unwrap();
    assert!(matches!(
        s.open_emergency(&other.id, "p-1", "I want to", Duration::hours(1)),
        Err(IdentityError::Forbidden(_))
    ));
}

#[test]
fn relations_inactivity_and_password_expiry() {
    let (s, clock, id) = store("expiry");
    s.relate(&Actor::system(), &id, "pt-9", "assigned").unwrap();
    s.relate(&Actor::system(), &id, "pt-9", "shared").unwrap();
    assert_eq!(s.relations(&id, "pt-9").unwrap(), ["assigned", "shared"]);
    assert!(s.relations(&id, "pt-4").unwrap().is_empty());
    assert!(s.relate(&Actor::system(), &id, "pt-9", "cousin").is_err());
    assert!(!s.password_expired(&id).unwrap());
    clock.advance(Duration::days(91));
    assert!(s.password_expired(&id).unwrap());
    let disabled = s
        .expire_inactive(&Actor::system(), Duration::days(30))
        .unwrap();
    assert_eq!(disabled, std::slice::from_ref(&id));
    assert_eq!(s.user(&id).unwrap().status, UserStatus::Disabled);
}

#[test]
fn the_cached_lookup_tells_when_a_session_was_used_before_across_flushes() {
    let (s, clock, id) = store("last-seen");
    let t = s
        .start_session(&id, "p-1", Some("10.0.0.1"), None, false)
        .unwrap();
    let seen = |s: &Store| s.session_cached(&t).unwrap().unwrap().last_seen_at;
    assert_eq!(seen(&s), "2026-11-23T10:00:00.000Z");
    clock.advance(Duration::minutes(3));
    assert_eq!(seen(&s), "2026-11-23T10:00:00.000Z", "the previous use");
    clock.advance(Duration::minutes(4));
    assert_eq!(seen(&s), "2026-11-23T10:03:00.000Z");
    s.flush_sessions().unwrap();
    clock.advance(Duration::minutes(5));
    assert_eq!(seen(&s), "2026-11-23T10:07:00.000Z", "exact after a flush");
    assert_eq!(
        s.session(&t).unwrap().unwrap().last_seen_at,
        "2026-11-23T10:07:00.000Z",
        "the flush wrote the use before"
    );
}
