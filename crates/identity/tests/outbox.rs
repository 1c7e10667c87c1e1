//! The outbox and what it carries: messages queued with their cause (both or neither), sealed
//! while they wait and erased once delivered, leased to one worker at a time; emailed codes
//! single use, expiring and attempt-limited; "Forgot password?" limited and silent; links of
//! one purpose only.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use wardgate_identity::{Actor, ChangeSink, Clock, CodeSent, IdentityError, NewUser, Store};

/// Records actions; refuses every record while `fail` is set (an audit log that is down).
#[derive(Clone, Default)]
struct Sink {
    actions: Arc<Mutex<Vec<String>>>,
    fail: Arc<AtomicBool>,
    /// Refuses only the record of this action.
    fail_on: Arc<Mutex<Option<String>>>,
}
impl ChangeSink for Sink {
    fn record(
        &self,
        _: &Actor,
        action: &str,
        _: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), String> {
        if self.fail.load(Ordering::SeqCst)
            || self.fail_on.lock().unwrap().as_deref() == Some(action)
        {
            return Err("the audit log is down".into());
        }
        self.actions
            .lock()
            .unwrap()
            .push(format!("{action} {}", after.unwrap_or_default()));
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

struct Fixture {
    store: Store,
    clock: TestClock,
    sink: Sink,
    user: String,
    path: std::path::PathBuf,
}

fn fixture(name: &str) -> Fixture {
    let path =
        std::env::temp_dir().join(format!("wardgate-outbox-{name}-{}.db", std::process::id()));
    for ext in ["", "-wal", "-shm", ".key"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let clock = TestClock(Arc::new(Mutex::new(
        "2026-12-01T10:00:00Z".parse().unwrap(),
    )));
    let sink = Sink::default();
    let store = Store::open(&path, Box::new(sink.clone()))
        .unwrap()
        .with_clock(Box::new(clock.clone()));
    store.set_mails(true);
    store
        .add_practice(&Actor::system(), "p-1", "Clinic", "UTC", &[])
        .unwrap();
    let u = store
        .add_user(
            &Actor::system(),
            NewUser {
                email: "nurse@x.test".into(),
                first_name: "Nia".into(),
                last_name: "Urse".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Provider".into()],
                practices: vec!["p-1".into()],
                ..NewUser::default()
            },
        )
        .unwrap();
    Fixture {
        store,
        clock,
        sink,
        user: u.id,
        path,
    }
}

/// The payload column as stored.
fn raw_payloads(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut st = conn
        .prepare("SELECT payload FROM outbox ORDER BY id")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

#[test]
fn a_link_is_queued_with_its_token_sealed_and_erased_once_delivered() {
    let f = fixture("sealed");
    let token = f
        .store
        .reset_token(&Actor::user("admin"), &f.user, Duration::hours(24))
        .unwrap();
    let raw = raw_payloads(&f.path);
    assert_eq!(raw.len(), 1);
    assert!(raw[0].starts_with("sealed1:") && !raw[0].contains(&token));
    let due = f.store.due_messages(10, Duration::minutes(5)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].template, "reset");
    assert_eq!(due[0].recipient, "nurse@x.test");
    assert_eq!(due[0].payload["token"], token.as_str());
    assert_eq!(due[0].practice.as_deref(), Some("p-1"));
    // Leased: nobody else takes it meanwhile.
    assert!(f
        .store
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .is_empty());
    f.store.message_sent(due[0].id).unwrap();
    assert_eq!(raw_payloads(&f.path), [""]);
    let info = &f.store.messages(None, 10).unwrap()[0];
    assert_eq!((info.state.as_str(), info.attempts), ("sent", 1));
    let actions = f.sink.actions.lock().unwrap().join("\n");
    assert!(actions.contains("outbox:delivered"));
    assert!(!actions.contains(&token), "{actions}");
}

#[test]
fn nothing_is_queued_when_the_change_is_not_recorded() {
    let f = fixture("atomic");
    f.sink.fail.store(true, Ordering::SeqCst);
    assert!(f
        .store
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .is_err());
    f.sink.fail.store(false, Ordering::SeqCst);
    assert!(raw_payloads(&f.path).is_empty(), "both or neither");
    // An invitation is one change: the account, its link and the mail, or none of them.
    let invite = NewUser {
        email: "invitee@x.test".into(),
        first_name: "In".into(),
        last_name: "Vitee".into(),
        roles: vec!["Provider".into()],
        practices: vec!["p-1".into()],
        ..NewUser::default()
    };
    // The account is recorded; the invitation's record then fails.
    *f.sink.fail_on.lock().unwrap() = Some("user:activation-token".into());
    assert!(f
        .store
        .invite(&Actor::system(), invite.clone(), Duration::days(7))
        .is_err());
    *f.sink.fail_on.lock().unwrap() = None;
    assert!(
        f.store.user("invitee@x.test").is_err(),
        "no account without its invitation"
    );
    let (user, token) = f
        .store
        .invite(&Actor::system(), invite, Duration::days(7))
        .unwrap();
    let due = f.store.due_messages(10, Duration::minutes(5)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].template.as_str(), due[0].recipient.as_str()),
        ("invite", "invitee@x.test")
    );
    assert_eq!(due[0].payload["token"], token.as_str());
    assert!(f.store.token_usable(&token, "activation").unwrap());
    assert_eq!(
        f.store
            .spend_token(&token, Some("activation"), "First#Password9")
            .unwrap(),
        user.id
    );
}

#[test]
fn a_failed_delivery_waits_its_backoff_and_a_final_one_is_recorded() {
    let f = fixture("retry");
    f.store
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    let m = f
        .store
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .remove(0);
    let at = f.clock.now() + Duration::seconds(30);
    f.store
        .message_failed(m.id, "relay down", Some(at))
        .unwrap();
    assert!(f
        .store
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .is_empty());
    f.clock.advance(Duration::seconds(31));
    let again = f.store.due_messages(10, Duration::minutes(5)).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 2);
    f.store
        .message_failed(m.id, "550 no such user", None)
        .unwrap();
    let info = &f.store.messages(None, 10).unwrap()[0];
    assert_eq!(info.state, "failed");
    assert_eq!(info.last_error.as_deref(), Some("550 no such user"));
    assert_eq!(raw_payloads(&f.path), [""]);
    assert_eq!(f.store.queued_messages().unwrap(), 0);
    // Nothing comes back once given up, however late; after a month it is forgotten.
    f.clock.advance(Duration::days(2));
    assert!(f
        .store
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .is_empty());
    assert_eq!(f.store.forget_messages(Duration::days(30)).unwrap(), 0);
    f.clock.advance(Duration::days(29));
    assert_eq!(f.store.forget_messages(Duration::days(30)).unwrap(), 1);
    assert!(f.store.messages(None, 10).unwrap().is_empty());
}

#[test]
fn emailed_codes_work_once_expire_and_are_voided_by_wrong_guesses() {
    let f = fixture("codes");
    let s = &f.store;
    assert_eq!(
        s.send_email_code(&f.user, Some("p-1")).unwrap(),
        CodeSent::Sent
    );
    assert_eq!(
        s.send_email_code(&f.user, Some("p-1")).unwrap(),
        CodeSent::TooSoon,
        "not one per click"
    );
    let code = |s: &Store| -> String {
        let due = s.due_messages(10, Duration::minutes(5)).unwrap();
        due.last().unwrap().payload["code"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let first = code(s);
    assert_eq!(first.len(), 6);
    assert!(s.verify_email_code(&f.user, &first, Some("p-1")).is_ok());
    assert!(
        matches!(
            s.verify_email_code(&f.user, &first, Some("p-1")),
            Err(IdentityError::BadToken)
        ),
        "once"
    );
    // Expired after ten minutes.
    f.clock.advance(Duration::seconds(31));
    s.send_email_code(&f.user, None).unwrap();
    let second = code(s);
    f.clock.advance(Duration::minutes(11));
    assert!(matches!(
        s.verify_email_code(&f.user, &second, Some("p-1")),
        Err(IdentityError::BadToken)
    ));
    // Five wrong guesses void it; the right one after that is refused.
    s.send_email_code(&f.user, None).unwrap();
    let third = code(s);
    let wrong = if third == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..4 {
        assert!(matches!(
            s.verify_email_code(&f.user, wrong, Some("p-1")),
            Err(IdentityError::BadCredentials)
        ));
    }
    assert!(matches!(
        s.verify_email_code(&f.user, wrong, Some("p-1")),
        Err(IdentityError::LockedOut)
    ));
    assert!(s.verify_email_code(&f.user, &third, Some("p-1")).is_err());
    // The wrong codes counted toward the account's throttle (as wrong TOTP codes do): no
    // more codes, and no sign-in, until it ends.
    f.clock.advance(Duration::seconds(31));
    assert!(matches!(
        s.send_email_code(&f.user, None),
        Err(IdentityError::LockedOut)
    ));
    f.clock.advance(Duration::minutes(16));
    // Five codes an hour at most, however long one waits between them.
    assert_eq!(s.send_email_code(&f.user, None).unwrap(), CodeSent::Sent);
    f.clock.advance(Duration::seconds(31));
    assert_eq!(s.send_email_code(&f.user, None).unwrap(), CodeSent::Sent);
    f.clock.advance(Duration::seconds(31));
    assert_eq!(s.send_email_code(&f.user, None).unwrap(), CodeSent::Limited);
    f.clock.advance(Duration::minutes(61));
    assert_eq!(s.send_email_code(&f.user, None).unwrap(), CodeSent::Sent);
    let actions = f.sink.actions.lock().unwrap().join("\n");
    for c in [&first, &second, &third] {
        assert!(!actions.contains(c.as_str()), "a code is never recorded");
    }
}

#[test]
fn forgot_password_is_silent_limited_and_only_for_people_who_may_sign_in_here() {
    let f = fixture("forgot");
    let s = &f.store;
    s.request_reset("nobody@x.test", Some("p-1"), "10.0.0.1")
        .unwrap();
    s.request_reset("NURSE@x.test", Some("p-2"), "10.0.0.1")
        .unwrap();
    s.request_reset("not an address", Some("p-1"), "10.0.0.1")
        .unwrap();
    assert!(raw_payloads(&f.path).is_empty());
    for _ in 0..5 {
        s.request_reset(" Nurse@X.test ", Some("p-1"), "10.0.0.1")
            .unwrap();
    }
    assert_eq!(raw_payloads(&f.path).len(), 3, "three an hour");
    f.clock.advance(Duration::minutes(61));
    s.request_reset("nurse@x.test", Some("p-1"), "10.0.0.1")
        .unwrap();
    assert_eq!(raw_payloads(&f.path).len(), 4);
    assert!(f
        .sink
        .actions
        .lock()
        .unwrap()
        .iter()
        .any(|a| a.starts_with("user:reset-throttled")));
    // A disabled account gets nothing, and its earlier link no longer works.
    let links: Vec<String> = s
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .iter()
        .map(|m| m.payload["token"].as_str().unwrap().to_string())
        .collect();
    s.disable(&Actor::system(), &f.user).unwrap();
    s.request_reset("nurse@x.test", Some("p-1"), "10.0.0.1")
        .unwrap();
    assert_eq!(raw_payloads(&f.path).len(), 4);
    assert!(!s.token_usable(&links[0], "reset").unwrap());
    assert!(matches!(
        s.spend_token(&links[0], Some("reset"), "Brand#New#Pass9"),
        Err(IdentityError::BadToken)
    ));
}

#[test]
fn a_link_opens_only_its_own_page_and_spending_one_spends_them_all() {
    let f = fixture("purpose");
    let s = &f.store;
    let a = s
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    let b = s
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    assert!(!s.token_usable(&a, "activation").unwrap());
    assert!(matches!(
        s.spend_token(&a, Some("activation"), "Brand#New#Pass9"),
        Err(IdentityError::BadToken)
    ));
    let session = s.start_session(&f.user, "p-1", None, None, false).unwrap();
    assert_eq!(
        s.spend_token(&a, Some("reset"), "Brand#New#Pass9").unwrap(),
        f.user
    );
    assert!(
        !s.token_usable(&b, "reset").unwrap(),
        "the other link is spent too"
    );
    assert!(s.session(&session).unwrap().is_none(), "sessions ended");
    // A link does not bring back a recent password.
    let c = s
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    assert!(matches!(
        s.spend_token(&c, Some("reset"), "Brand#New#Pass9"),
        Err(IdentityError::PasswordReused)
    ));
    assert!(
        s.token_usable(&c, "reset").unwrap(),
        "a refused password spends nothing"
    );
}

#[test]
fn a_first_sign_in_is_nowhere_new_and_later_new_places_are_named() {
    let f = fixture("places");
    let s = &f.store;
    let home = ["network 10.0.0.0/24".to_string(), "country US".to_string()];
    assert!(s.note_sign_in_places(&f.user, &home).unwrap().is_empty());
    assert!(s.note_sign_in_places(&f.user, &home).unwrap().is_empty());
    let away = ["network 81.2.69.0/24".to_string(), "country GB".to_string()];
    assert_eq!(s.note_sign_in_places(&f.user, &away).unwrap(), away);
    assert!(s.note_sign_in_places(&f.user, &away).unwrap().is_empty());
}

#[test]
fn links_die_when_the_address_or_the_password_changes_and_names_stay_on_one_line() {
    let f = fixture("changes");
    let s = &f.store;
    let before_email = s
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    s.edit(
        &Actor::system(),
        &f.user,
        &wardgate_identity::UserEdit {
            email: Some("right.nurse@x.test".into()),
            ..wardgate_identity::UserEdit::default()
        },
    )
    .unwrap();
    assert!(
        !s.token_usable(&before_email, "reset").unwrap(),
        "mailed to the old address"
    );
    let before_password = s
        .reset_token(&Actor::system(), &f.user, Duration::hours(1))
        .unwrap();
    s.change_password(&f.user, "Temporary#Pass1", "Changed#Pass2026")
        .unwrap();
    assert!(
        !s.token_usable(&before_password, "reset").unwrap(),
        "older than the password"
    );
    for bad in ["Eve\r\nBcc: x@evil.test", "Eve\u{202e}gnp.exe"] {
        let e = s
            .edit(
                &Actor::system(),
                &f.user,
                &wardgate_identity::UserEdit {
                    first_name: Some(bad.into()),
                    ..wardgate_identity::UserEdit::default()
                },
            )
            .unwrap_err();
        assert!(matches!(e, IdentityError::Invalid(_)), "{bad:?}: {e}");
    }
    // A spent code is no reason to wait for the next one.
    s.send_email_code(&f.user, None).unwrap();
    let code = s
        .due_messages(10, Duration::minutes(5))
        .unwrap()
        .last()
        .unwrap()
        .payload["code"]
        .as_str()
        .unwrap()
        .to_string();
    s.verify_email_code(&f.user, &code, Some("p-1")).unwrap();
    assert_eq!(s.send_email_code(&f.user, None).unwrap(), CodeSent::Sent);
}
