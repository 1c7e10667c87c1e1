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
        _: &wardgate_identity::Actor,
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
                emergency_access: vec!["p-1".into()],
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
    s.verify_second_factor(&id, &totp(&secret, later), None)
        .unwrap();
    assert!(
        s.verify_second_factor(&id, &totp(&secret, now), None)
            .is_err(),
        "an old code no longer works"
    );
    s.verify_second_factor(&id, &e.recovery_codes[3], None)
        .unwrap();
    assert!(
        s.verify_second_factor(&id, &e.recovery_codes[3], None)
            .is_err(),
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

/// Enrolls the test user's second factor and returns the seed.
fn enrolled(s: &Store, clock: &TestClock, id: &str) -> Vec<u8> {
    let e = s.enroll_totp(id, "Wardgate").unwrap();
    let secret = base32_decode(&e.secret);
    s.confirm_totp(id, &totp(&secret, clock.now().timestamp()))
        .unwrap();
    secret
}

#[test]
fn a_totp_code_is_good_once_even_across_stores() {
    let (s, clock, id) = store("totp-once");
    let secret = enrolled(&s, &clock, &id);
    clock.advance(Duration::seconds(30));
    let code = totp(&secret, clock.now().timestamp());
    s.verify_second_factor(&id, &code, None).unwrap();
    assert!(matches!(
        s.verify_second_factor(&id, &code, None),
        Err(IdentityError::BadCredentials)
    ));
    // Nor an earlier step's code within the drift window, once a later one was used.
    let earlier = totp(&secret, clock.now().timestamp() - 30);
    assert!(s.verify_second_factor(&id, &earlier, None).is_err());
    // Another process on the same database sees the step as spent too.
    let path =
        std::env::temp_dir().join(format!("wardgate-auth-totp-once-{}.db", std::process::id()));
    let other = Store::open(&path, Box::new(Nothing))
        .unwrap()
        .with_clock(Box::new(clock.clone()));
    assert!(other.verify_second_factor(&id, &code, None).is_err());
    clock.advance(Duration::seconds(30));
    other
        .verify_second_factor(&id, &totp(&secret, clock.now().timestamp()), None)
        .unwrap();
}

#[test]
fn wrong_codes_throttle_the_account_and_a_new_password_sign_in_does_not_reset_them() {
    let (s, clock, id) = store("totp-guess");
    s.change_password(&id, "Temporary#Pass1", "Brand#New#Pass2")
        .unwrap();
    let secret = enrolled(&s, &clock, &id);
    for round in 0..2 {
        // Each round starts the sign-in again with the right password.
        s.login("nurse@x.com", "Brand#New#Pass2").unwrap();
        for _ in 0..2 {
            assert!(
                matches!(
                    s.verify_second_factor(&id, "000001", None),
                    Err(IdentityError::BadCredentials)
                ),
                "round {round}"
            );
        }
    }
    s.login("nurse@x.com", "Brand#New#Pass2").unwrap();
    assert!(
        matches!(
            s.verify_second_factor(&id, "000001", None),
            Err(IdentityError::LockedOut)
        ),
        "the fifth wrong code throttles"
    );
    clock.advance(Duration::seconds(30));
    let right = totp(&secret, clock.now().timestamp());
    assert!(
        matches!(
            s.verify_second_factor(&id, &right, None),
            Err(IdentityError::LockedOut)
        ),
        "while throttled even the right code is refused"
    );
    assert!(matches!(
        s.login("nurse@x.com", "Brand#New#Pass2"),
        Err(IdentityError::LockedOut)
    ));
    assert!(s.user(&id).unwrap().locked_until.is_some());
    clock.advance(Duration::minutes(16));
    s.login("nurse@x.com", "Brand#New#Pass2").unwrap();
    s.verify_second_factor(&id, &totp(&secret, clock.now().timestamp()), None)
        .unwrap();
    assert_eq!(s.user(&id).unwrap().status, UserStatus::Active);
}

#[test]
fn throttling_grows_ends_by_itself_or_by_unlock_and_leaves_open_sessions() {
    let (s, clock, id) = store("throttle");
    let session = s
        .start_session(&id, "p-1", Some("10.0.0.1"), None, false)
        .unwrap();
    for _ in 0..4 {
        assert!(matches!(
            s.login("nurse@x.com", "Wrong#Pass1"),
            Err(IdentityError::BadCredentials)
        ));
    }
    assert!(matches!(
        s.login("nurse@x.com", "Wrong#Pass1"),
        Err(IdentityError::LockedOut)
    ));
    assert!(
        s.session(&session).unwrap().is_some(),
        "guessing someone's password does not sign them out"
    );
    clock.advance(Duration::minutes(16));
    // The first throttle was 15 minutes; the next failure throttles for 30.
    assert!(matches!(
        s.login("nurse@x.com", "Wrong#Pass1"),
        Err(IdentityError::LockedOut)
    ));
    clock.advance(Duration::minutes(16));
    assert!(
        matches!(
            s.login("nurse@x.com", "Temporary#Pass1"),
            Err(IdentityError::LockedOut)
        ),
        "still throttled after 16 of 30 minutes"
    );
    clock.advance(Duration::minutes(15));
    s.login("nurse@x.com", "Temporary#Pass1").unwrap();
    // An administrator's unlock ends a throttle at once.
    for _ in 0..5 {
        let _ = s.login("nurse@x.com", "Wrong#Pass1");
    }
    assert!(s.login("nurse@x.com", "Temporary#Pass1").is_err());
    s.unlock(&Actor::system(), &id).unwrap();
    s.login("nurse@x.com", "Temporary#Pass1").unwrap();
}

#[test]
fn the_practice_sets_the_throttle() {
    let (s, _clock, _id) = store("throttle-settings");
    let mut settings = s.security("p-1").unwrap();
    settings.lockout_after = 2;
    s.set_security(&Actor::system(), "p-1", &settings).unwrap();
    assert!(matches!(
        s.sign_in("nurse@x.com", "Wrong#Pass1", Some("p-1")),
        Err(IdentityError::BadCredentials)
    ));
    assert!(matches!(
        s.sign_in("nurse@x.com", "Wrong#Pass1", Some("p-1")),
        Err(IdentityError::LockedOut)
    ));
    settings.lockout_after = 0;
    assert!(s.set_security(&Actor::system(), "p-1", &settings).is_err());
}

#[test]
fn emergency_access_is_granted_per_practice_and_needs_a_role_there() {
    let (s, _clock, id) = store("emergency-practice");
    s.add_practice(&Actor::system(), "p-2", "Other", "America/New_York", &[])
        .unwrap();
    // Allowed at p-1 only: nothing at p-2, where the user holds no role.
    assert!(matches!(
        s.open_emergency(&id, "p-2", "patient unconscious", Duration::hours(1)),
        Err(IdentityError::Forbidden(_))
    ));
    assert!(!s.may_open_emergency(&id, "p-2").unwrap());
    // A role at p-2 without the grant there is not enough either.
    s.grant(&Actor::system(), &id, "Provider", "p-2", None, None)
        .unwrap();
    assert!(s
        .open_emergency(&id, "p-2", "patient unconscious", Duration::hours(1))
        .is_err());
    // Allowed at p-2 once the administrator says so; and only where a role is held.
    let edit = wardgate_identity::UserEdit {
        emergency_access: vec![("p-2".into(), true)],
        ..Default::default()
    };
    assert_eq!(
        s.edit(&Actor::system(), &id, &edit)
            .unwrap()
            .emergency_access,
        ["p-1", "p-2"]
    );
    s.open_emergency(&id, "p-2", "patient unconscious", Duration::hours(1))
        .unwrap();
    s.revoke(&Actor::system(), &id, "Provider", "p-1", None)
        .unwrap();
    assert!(
        !s.may_open_emergency(&id, "p-1").unwrap(),
        "no role left at p-1"
    );
    assert!(s
        .open_emergency(&id, "p-1", "patient unconscious", Duration::hours(1))
        .is_err());
    // The grant must name a practice the user is given.
    let bad = NewUser {
        email: "x@x.com".into(),
        first_name: "X".into(),
        last_name: "Y".into(),
        password: "Temporary#Pass1".into(),
        roles: vec!["Provider".into()],
        practices: vec!["p-1".into()],
        emergency_access: vec!["p-2".into()],
        ..NewUser::default()
    };
    assert!(matches!(
        s.add_user(&Actor::system(), bad),
        Err(IdentityError::Invalid(_))
    ));
}

#[test]
fn second_factor_seeds_are_sealed_with_a_key_outside_the_database() {
    let (s, clock, id) = store("sealed");
    let secret = enrolled(&s, &clock, &id);
    drop(s);
    let path = std::env::temp_dir().join(format!("wardgate-auth-sealed-{}.db", std::process::id()));
    let raw: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("SELECT totp_secret FROM users WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(raw.starts_with("sealed1:"), "{raw}");
    assert!(!raw.contains(&hex::encode(&secret)));
    assert!(wardgate_identity::SecretKey::resolve(&path, None).is_ok());
    assert!(std::path::Path::new(&format!("{}.key", path.display())).exists());
    // With another key the seed does not open: no code is accepted.
    let other = Store::open_with_key(
        &path,
        Box::new(Nothing),
        wardgate_identity::SecretKey::from_hex(&"ab".repeat(32)).unwrap(),
    )
    .unwrap()
    .with_clock(Box::new(clock.clone()));
    clock.advance(Duration::seconds(30));
    assert!(other
        .verify_second_factor(&id, &totp(&secret, clock.now().timestamp()), None)
        .is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            path.clone(),
            std::path::PathBuf::from(format!("{}.key", path.display())),
        ] {
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }
}

#[test]
fn a_key_whose_stored_networks_cannot_be_read_is_refused_not_opened_to_anywhere() {
    let (s, _clock, _) = store("key-networks");
    s.add_service_account(&Actor::system(), "lab", "p-1", &["Provider".into()])
        .unwrap();
    let issued = s
        .issue_key(
            &Actor::system(),
            &wardgate_identity::NewKey {
                account: "lab".into(),
                scopes: vec!["labs:read".into()],
                networks: vec!["10.1.0.0/16".parse().unwrap()],
                ..Default::default()
            },
        )
        .unwrap();
    let key = s.verify_key(&issued.key).unwrap();
    assert_eq!(
        key.networks,
        vec!["10.1.0.0/16".parse::<ipnet::IpNet>().unwrap()]
    );
    let path = std::env::temp_dir().join(format!(
        "wardgate-auth-key-networks-{}.db",
        std::process::id()
    ));
    let raw = rusqlite::Connection::open(&path).unwrap();
    for broken in ["not json", r#"["10.1.0.0/16", "ten"]"#, r#"{"a": 1}"#] {
        raw.execute(
            "UPDATE api_keys SET networks = ?1 WHERE id = ?2",
            [broken, &issued.id],
        )
        .unwrap();
        let refused = s.verify_key(&issued.key);
        assert!(
            matches!(refused, Err(IdentityError::Invalid(ref m)) if m.contains(&issued.id)),
            "{broken}: {refused:?}"
        );
        assert!(s.verify_key_cached(&issued.key).is_err(), "{broken}");
    }
}

#[test]
fn wrong_old_passwords_count_as_failed_sign_ins_and_a_change_ends_the_other_sessions() {
    let (s, clock, id) = store("change-throttle");
    let here = s.start_session(&id, "p-1", None, None, false).unwrap();
    let there = s.start_session(&id, "p-1", None, None, false).unwrap();
    let change = |old: &str, keep: Option<&str>| {
        s.change_own_password(&id, old, "Brand#New#Pass2", Some("p-1"), keep)
    };
    for _ in 0..4 {
        assert!(matches!(
            change("Wrong#Pass1", None),
            Err(IdentityError::BadCredentials)
        ));
    }
    assert!(
        matches!(change("Wrong#Pass1", None), Err(IdentityError::LockedOut)),
        "the fifth wrong old password throttles, as the fifth failed sign-in does"
    );
    assert!(
        matches!(
            change("Temporary#Pass1", None),
            Err(IdentityError::LockedOut)
        ),
        "while throttled even the right old password is refused"
    );
    assert!(matches!(
        s.login("nurse@x.com", "Temporary#Pass1"),
        Err(IdentityError::LockedOut)
    ));
    assert!(
        s.session(&here).unwrap().is_some() && s.session(&there).unwrap().is_some(),
        "guessing does not sign anyone out"
    );
    clock.advance(Duration::minutes(16));
    let keep = s.session(&here).unwrap().unwrap().id;
    assert_eq!(change("Temporary#Pass1", Some(keep.as_str())).unwrap(), 1);
    assert!(s.session(&here).unwrap().is_some(), "this session stays");
    assert!(s.session(&there).unwrap().is_none(), "the other one ended");
    s.login("nurse@x.com", "Brand#New#Pass2").unwrap();
    // The change made during sign-in (no session to keep) ends them all.
    assert_eq!(
        s.change_own_password(&id, "Brand#New#Pass2", "Third#New#Pass3", None, None)
            .unwrap(),
        1
    );
    assert!(s.session(&here).unwrap().is_none());
}
