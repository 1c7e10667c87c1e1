//! Alerts: each rule fires when it should and not before, and reaches a real webhook.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use wardgate_audit::{
    Actor, AlertEngine, AlertRules, AuditLog, DecisionSummary, Durability, Event, EventKind,
    Options, ResourceRef, Threshold, WebhookSink,
};

fn login(user: &str, client: &str, ok: bool) -> Event {
    let mut e = Event::new(
        EventKind::Login,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: user.into(),
        },
        "session:login",
    );
    e.client = Some(client.into());
    e.decision = Some(DecisionSummary {
        verdict: if ok {
            wardgate_audit::Verdict::Allow
        } else {
            wardgate_audit::Verdict::Deny
        },
        reasons: vec![],
    });
    e
}

fn open(user: &str, patient: &str) -> Event {
    let mut e = Event::new(
        EventKind::Decision,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: user.into(),
        },
        "patients:read",
    );
    e.resource = ResourceRef {
        patient: Some(patient.into()),
        ..ResourceRef::default()
    };
    e.decision = Some(DecisionSummary {
        verdict: wardgate_audit::Verdict::Allow,
        reasons: vec!["granted".into()],
    });
    e
}

fn rules() -> AlertRules {
    AlertRules {
        failed_logins: Some(Threshold {
            count: 3,
            window: Duration::from_secs(60),
        }),
        bulk_access: Some(Threshold {
            count: 4,
            window: Duration::from_secs(60),
        }),
        break_glass: true,
        admin_roles: vec!["System Admin".into()],
    }
}

#[test]
fn failed_logins_per_account_and_per_address_within_the_window() {
    let mut engine = AlertEngine::new(rules());
    assert!(engine.observe(&login("a", "10.0.0.1", false), 0).is_empty());
    assert!(engine
        .observe(&login("a", "10.0.0.2", false), 1_000)
        .is_empty());
    // Outside the window: the first failure no longer counts.
    assert!(engine
        .observe(&login("a", "10.0.0.3", false), 61_500)
        .is_empty());
    let fired = engine.observe(&login("a", "10.0.0.4", false), 62_000);
    assert!(fired.is_empty(), "{fired:?}");
    let fired = engine.observe(&login("a", "10.0.0.5", false), 62_500);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].rule, "failed_logins");
    assert!(fired[0].message.contains("account a"));
    // Many accounts from one address.
    let mut engine = AlertEngine::new(rules());
    engine.observe(&login("x", "203.0.113.9", false), 0);
    engine.observe(&login("y", "203.0.113.9", false), 10);
    let fired = engine.observe(&login("z", "203.0.113.9", false), 20);
    assert!(
        fired
            .iter()
            .any(|a| a.message.contains("address 203.0.113.9")),
        "{fired:?}"
    );
    // Successful sign-ins are not failures.
    let mut engine = AlertEngine::new(rules());
    for t in 0..10 {
        assert!(engine.observe(&login("a", "10.0.0.1", true), t).is_empty());
    }
}

#[test]
fn bulk_access_counts_distinct_patients() {
    let mut engine = AlertEngine::new(rules());
    for t in 0..10 {
        assert!(
            engine.observe(&open("u-7", "pt-1"), t).is_empty(),
            "the same patient again is not bulk"
        );
    }
    for (i, p) in ["pt-2", "pt-3", "pt-4"].iter().enumerate() {
        assert!(engine.observe(&open("u-7", p), 100 + i as i64).is_empty());
    }
    let fired = engine.observe(&open("u-7", "pt-5"), 200);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].rule, "bulk_access");
    assert!(
        engine.observe(&open("u-8", "pt-6"), 300).is_empty(),
        "per principal"
    );
}

#[test]
fn break_glass_and_admin_changes_always_alert() {
    let mut engine = AlertEngine::new(rules());
    let mut e = open("u-7", "pt-9");
    e.obligations = vec![
        serde_json::json!({"type": "audit", "level": "emergency", "break_glass": "er", "reason": "unconscious"}),
    ];
    let fired = engine.observe(&e, 0);
    assert_eq!(fired.len(), 1);
    assert!(fired[0].message.contains("unconscious"));
    let mut c = Event::new(
        EventKind::Change,
        Actor {
            kind: wardgate_audit::ActorKind::User,
            id: "owner".into(),
        },
        "user:edit",
    );
    c.before = Some(serde_json::json!({"roles": ["Biller"]}));
    c.after = Some(serde_json::json!({"roles": ["Biller", "System Admin"]}));
    assert_eq!(engine.observe(&c, 0)[0].rule, "admin_change");
    c.after = Some(serde_json::json!({"roles": ["Office Staff"]}));
    assert!(engine.observe(&c, 0).is_empty());
}

#[test]
fn alerts_reach_a_webhook_as_http_posts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/wardgate", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            if h == "\r\n" || h.is_empty() {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        (request_line, String::from_utf8(body).unwrap())
    });
    let dir = std::env::temp_dir().join(format!("wardgate-audit-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (log, _) = AuditLog::open_with_alerts(
        &dir,
        Options::default(),
        rules(),
        vec![Box::new(WebhookSink::new(url))],
    )
    .unwrap();
    for i in 0..3 {
        log.append(
            login("mallory", &format!("10.9.9.{i}"), false),
            Durability::Sync,
        )
        .unwrap();
    }
    let (request_line, body) = server.join().unwrap();
    drop(log);
    assert!(
        request_line.starts_with("POST /hooks/wardgate "),
        "{request_line}"
    );
    let alert: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(alert["rule"], "failed_logins");
    assert_eq!(alert["actor"], "mallory");
    std::fs::remove_dir_all(dir).ok();
}

/// A failed sign-in as the gateway records it: nobody known, the address tried in the detail.
fn gateway_failure(email: &str, client: &str) -> Event {
    let mut e = Event::new(EventKind::Login, Actor::anonymous(), "login:failure");
    e.client = Some(client.into());
    e.resource.practice = Some("p1".into());
    e.detail = Some(serde_json::json!({"email": email, "practice": "p1"}));
    e
}

#[test]
fn the_gateways_failed_sign_ins_alert_once_when_account_and_address_trip_together() {
    let mut engine = AlertEngine::new(rules());
    assert!(engine
        .observe(&gateway_failure("a@x.test", "10.0.0.1"), 0)
        .is_empty());
    assert!(engine
        .observe(&gateway_failure("a@x.test", "10.0.0.1"), 10)
        .is_empty());
    let fired = engine.observe(&gateway_failure("a@x.test", "10.0.0.1"), 20);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(fired[0].message.contains("account a@x.test"));
    assert!(fired[0].message.contains("address 10.0.0.1"));
    assert_eq!(fired[0].practice.as_deref(), Some("p1"));
    // The counts start again after an alert.
    assert!(engine
        .observe(&gateway_failure("a@x.test", "10.0.0.1"), 30)
        .is_empty());
}

#[test]
fn security_changes_alert_and_the_alerts_own_records_do_not() {
    let mut engine = AlertEngine::new(rules());
    let mut c = Event::new(EventKind::Change, Actor::user("owner"), "practice:security");
    c.resource.practice = Some("p1".into());
    c.after = Some(serde_json::json!({"practice": "p1", "settings": {"require_mfa": false}}));
    let fired = engine.observe(&c, 0);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].rule, "admin_change");
    assert!(fired[0].message.contains("security settings of p1"));
    let mut own = Event::new(
        EventKind::Change,
        Actor::system("system"),
        "alert:admin_change",
    );
    own.after = Some(serde_json::json!({"roles": ["System Admin"]}));
    assert!(engine.observe(&own, 0).is_empty());
    let mut delivered = Event::new(
        EventKind::Change,
        Actor::system("system"),
        "outbox:delivered",
    );
    delivered.after = Some(serde_json::json!({"role": "System Admin"}));
    assert!(engine.observe(&delivered, 0).is_empty());
}

#[test]
fn what_someone_typed_is_not_put_into_an_alert_and_made_up_accounts_hold_no_memory() {
    let mut engine = AlertEngine::new(rules());
    let typed = "Please call 555-0100\nto verify your account <b>now</b>";
    let mut fired = Vec::new();
    for t in 0..3 {
        fired.extend(engine.observe(&gateway_failure(typed, "10.9.9.9"), t));
    }
    assert_eq!(fired.len(), 1);
    assert!(
        !fired[0].message.contains("555-0100"),
        "{}",
        fired[0].message
    );
    assert!(fired[0].message.contains("an unknown address"));
    // Thousands of made-up accounts, each tried once: the engine forgets the old ones.
    for i in 0..30_000i64 {
        engine.observe(
            &gateway_failure(&format!("u{i}@x.test"), "10.9.9.8"),
            i * 100,
        );
    }
    assert!(engine.tracked() <= 10_002, "{}", engine.tracked());
    let late = engine.observe(&gateway_failure("last@x.test", "10.1.1.1"), 3_000_000_000);
    assert!(late.is_empty());
}
