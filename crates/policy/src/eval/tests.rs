use serde_json::{json, Value};

use crate::request::{Obligation, Request};
use crate::suite::merge;
use crate::{compile_str, Decision, Policy};

fn policy(src: &str) -> Policy {
    match compile_str("t.policy", src) {
        Ok(c) => c.policy,
        Err(d) => panic!("{d}"),
    }
}

fn decide(p: &Policy, over: Value) -> Decision {
    let mut base = json!({
        "principal": {"id": "u-7"},
        "action": "a:x",
        "context": {"time": "2026-11-23T10:15:00-05:00"}
    });
    merge(&mut base, over);
    let req: Request = serde_json::from_value(base).unwrap();
    p.decide(&req)
}

fn allowed(p: &Policy, over: Value) -> bool {
    decide(p, over).is_allow()
}

const HEAD: &str = "policy \"t\" version \"1\"\nfeature a verbs x, y\nattribute amount decimal\nattribute by string\n";

#[test]
fn default_deny_and_deny_beats_allow_across_roles() {
    let p = policy(&format!(
        "{HEAD}role \"A\" {{ allow a:x }}\nrole \"B\" {{ deny a:x }}\nrole \"C\" {{ }}"
    ));
    assert!(allowed(&p, json!({"principal": {"roles": ["A"]}})));
    assert!(!allowed(&p, json!({"principal": {"roles": ["A", "B"]}})));
    assert!(!allowed(&p, json!({"principal": {"roles": ["C"]}})));
    assert!(!allowed(&p, json!({"principal": {"roles": []}})));
    let d = decide(&p, json!({"principal": {"roles": ["A", "B"]}}));
    assert_eq!(d.reasons[0].code, "denied_by_rule");
    assert_eq!(d.reasons[0].line, Some(6));
}

#[test]
fn unknown_values_grant_nothing_and_deny_fail_closed() {
    let p = policy(&format!(
        "{HEAD}role \"A\" {{ allow a:x, a:y when resource.amount < 10.00 }}\ndeny a:y when resource.by == principal"
    ));
    // Allow with a missing attribute: not granted.
    assert!(!allowed(&p, json!({"principal": {"roles": ["A"]}})));
    assert!(allowed(
        &p,
        json!({"principal": {"roles": ["A"]}, "resource": {"attributes": {"amount": 9.99}}})
    ));
    // Wrong type counts as unknown, not as a value.
    assert!(!allowed(
        &p,
        json!({"principal": {"roles": ["A"]}, "resource": {"attributes": {"amount": true}}})
    ));
    // Deny with a missing attribute: fires.
    let y = |by: Value| {
        allowed(
            &p,
            json!({"principal": {"roles": ["A"]}, "action": "a:y", "resource": {"attributes": {"amount": 1, "by": by}}}),
        )
    };
    assert!(!y(Value::Null));
    assert!(!y(json!("u-7")));
    assert!(y(json!("u-3")));
}

#[test]
fn negation_of_unknown_stays_unknown() {
    let p = policy(&format!(
        "{HEAD}role \"A\" {{ allow a:x when not resource.amount > 100 }}"
    ));
    assert!(!allowed(&p, json!({"principal": {"roles": ["A"]}})));
    assert!(allowed(
        &p,
        json!({"principal": {"roles": ["A"]}, "resource": {"attributes": {"amount": 100}}})
    ));
    assert!(!allowed(
        &p,
        json!({"principal": {"roles": ["A"]}, "resource": {"attributes": {"amount": 100.01}}})
    ));
}

#[test]
fn decimals_are_exact() {
    let p = policy(&format!("{HEAD}role \"A\" {{ allow a:x when resource.amount < 500.00 }}\nrole \"B\" {{ allow a:x when resource.amount == 0.3 }}"));
    let a = |v: Value| {
        allowed(
            &p,
            json!({"principal": {"roles": ["A"]}, "resource": {"attributes": {"amount": v}}}),
        )
    };
    assert!(a(json!(499.99)));
    assert!(a(serde_json::from_str("499.9999999999999999999").unwrap()));
    assert!(!a(json!("500.000")));
    assert!(!a(json!(500)));
    assert!(!a(serde_json::from_str("5e2").unwrap()));
    assert!(a(serde_json::from_str("4.9999e2").unwrap()));
    let b = |v: &str| {
        allowed(
            &p,
            json!({"principal": {"roles": ["B"]}, "resource": {"attributes": {"amount": serde_json::from_str::<Value>(v).unwrap()}}}),
        )
    };
    assert!(b("0.30"));
    assert!(b("\"0.3\""));
    assert!(!b("0.30000000000000004"));
}

#[test]
fn time_windows_use_local_time_and_wrap_midnight() {
    let p = policy(&format!(
        "{HEAD}role \"Night\" {{ allow a:x during mon-fri 22:00-06:00 }}"
    ));
    let at = |t: &str| {
        allowed(
            &p,
            json!({"principal": {"roles": ["Night"]}, "context": {"time": t}}),
        )
    };
    assert!(at("2026-11-23T22:00:00-05:00")); // Monday 22:00
    assert!(at("2026-11-24T05:59:00-05:00")); // Tuesday early, from Monday's window
    assert!(!at("2026-11-24T06:00:00-05:00"));
    assert!(!at("2026-11-23T05:00:00-05:00")); // Monday early: Sunday had no window
    assert!(at("2026-11-28T05:00:00-05:00")); // Saturday early, from Friday's window
    assert!(!at("2026-11-28T22:30:00-05:00")); // Saturday night
}

#[test]
fn time_zone_precedence_request_then_policy_then_offset() {
    let src = format!("{HEAD}role \"Day\" {{ allow a:x during mon-fri 09:00-17:00 }}");
    let offset_only = policy(&src);
    let zoned = policy(&format!("{src}\ntimezone \"America/Los_Angeles\""));
    let req = |tz: Option<&str>| {
        let mut ctx = json!({"time": "2026-11-23T16:30:00Z"});
        if let Some(tz) = tz {
            ctx["timezone"] = json!(tz);
        }
        json!({"principal": {"roles": ["Day"]}, "context": ctx})
    };
    // 16:30 UTC: 16:30 at the offset, 08:30 in Los Angeles, 11:30 in New York.
    assert!(allowed(&offset_only, req(None)));
    assert!(!allowed(&zoned, req(None)));
    assert!(allowed(&zoned, req(Some("America/New_York"))));
    let bad = decide(&zoned, req(Some("Mars/Base")));
    assert_eq!(bad.reasons[0].code, "invalid_request");
}

#[test]
fn networks_v4_and_v6() {
    let p = policy(&format!(
        "{HEAD}role \"Office\" {{ allow a:x from 10.20.0.0/16, 2001:db8::/32, 192.168.1.7 }}"
    ));
    let from = |ip: Option<&str>| {
        let mut ctx = json!({"time": "2026-11-23T10:15:00-05:00"});
        if let Some(ip) = ip {
            ctx["ip"] = json!(ip);
        }
        allowed(
            &p,
            json!({"principal": {"roles": ["Office"]}, "context": ctx}),
        )
    };
    assert!(from(Some("10.20.255.1")));
    assert!(!from(Some("10.21.0.1")));
    assert!(from(Some("2001:db8:1::5")));
    assert!(!from(Some("2001:db9::5")));
    assert!(from(Some("192.168.1.7")));
    assert!(!from(Some("192.168.1.8")));
    assert!(!from(None));
    assert!(!from(Some("not an address")));
}

#[test]
fn inherited_grants_carry_every_guard_on_the_way() {
    let p = policy(&format!(
        "{HEAD}role \"Base\" {{ allow a:x\n from 10.0.0.0/8 }}\nrole \"Child\" extends \"Base\" {{ allow a:y\n during mon-fri 09:00-17:00 }}"
    ));
    let d = |role: &str, action: &str, ip: &str, time: &str| {
        allowed(
            &p,
            json!({"principal": {"roles": [role]}, "action": action, "context": {"ip": ip, "time": time}}),
        )
    };
    let weekday = "2026-11-23T10:00:00-05:00";
    let sunday = "2026-11-29T10:00:00-05:00";
    assert!(d("Base", "a:x", "10.1.1.1", sunday));
    assert!(!d("Base", "a:x", "11.1.1.1", weekday));
    assert!(d("Child", "a:x", "10.1.1.1", weekday));
    assert!(
        !d("Child", "a:x", "10.1.1.1", sunday),
        "the child's hours apply to inherited grants"
    );
    assert!(
        !d("Child", "a:x", "11.1.1.1", weekday),
        "the parent's network applies to inherited grants"
    );
    assert!(
        d("Child", "a:y", "11.1.1.1", weekday),
        "the parent's network does not bind the child's own grants"
    );
}

#[test]
fn step_up_names_the_age_limit_and_the_second_factor() {
    let p = policy(&format!(
        "{HEAD}role \"A\" {{ allow a:x when auth_age <= 10m\n allow a:y when mfa and auth_age < 5m }}"
    ));
    let d = decide(
        &p,
        json!({"principal": {"roles": ["A"], "auth_age_seconds": 3600}}),
    );
    assert!(!d.is_allow());
    let step = d
        .reasons
        .iter()
        .find(|r| r.code == "step_up_required")
        .unwrap();
    assert_eq!(step.max_auth_age_seconds, Some(600));
    assert_eq!(step.mfa, None);
    let d = decide(&p, json!({"principal": {"roles": ["A"]}, "action": "a:y"}));
    let step = d
        .reasons
        .iter()
        .find(|r| r.code == "step_up_required")
        .unwrap();
    assert_eq!(step.max_auth_age_seconds, Some(299));
    assert_eq!(step.mfa, Some(true));
    // No step-up when re-authenticating would not help.
    let d = decide(
        &p,
        json!({"principal": {"roles": []}, "auth_age_seconds": 3600}),
    );
    assert!(d.reasons.iter().all(|r| r.code != "step_up_required"));
}

#[test]
fn scopes_match_features_modules_and_verbs() {
    let p = policy(&format!(
        "{HEAD}feature b verbs x\nmodule m = b\nrole \"A\" {{ allow a:*, b:x }}"
    ));
    let with = |scopes: Value, action: &str| {
        allowed(
            &p,
            json!({"principal": {"roles": ["A"], "type": "service", "scopes": scopes}, "action": action, "context": {"modules": ["m"]}}),
        )
    };
    assert!(with(json!(["a:*"]), "a:y"));
    assert!(with(json!(["a:x"]), "a:x"));
    assert!(!with(json!(["a:x"]), "a:y"));
    assert!(with(json!(["m:*"]), "b:x"));
    assert!(!with(json!(["m:*"]), "a:x"));
    assert!(with(json!(["*"]), "a:y"));
    assert!(with(json!(["*:x"]), "b:x"));
    assert!(!with(json!([]), "a:x"));
    assert!(with(json!(["a"]), "a:x"));
}

#[test]
fn redaction_unless_and_break_glass_obligations() {
    let p = policy(&format!(
        "{HEAD}role \"A\" {{ allow a:x }}\nrole \"B\" {{ allow a:x }}\nredact a.ssn, a.card.number unless role \"B\"\nbreak_glass \"bg\" {{\n who flag ea\n allow a:y\n max 30m\n reason required\n}}"
    ));
    let d = decide(&p, json!({"principal": {"roles": ["A"]}}));
    assert_eq!(
        d.obligations,
        vec![
            Obligation::Redact {
                field: "a.ssn".into()
            },
            Obligation::Redact {
                field: "a.card.number".into()
            }
        ]
    );
    assert!(decide(&p, json!({"principal": {"roles": ["A", "B"]}}))
        .obligations
        .is_empty());
    let bg = |em: Value| {
        decide(
            &p,
            json!({"principal": {"roles": ["A"], "flags": ["ea"]}, "action": "a:y", "context": {"emergency": em}}),
        )
    };
    let d = bg(json!({"reason": "cardiac arrest"}));
    assert!(d.is_allow());
    assert_eq!(d.reasons[0].code, "break_glass");
    assert_eq!(
        d.obligations,
        vec![
            Obligation::Redact {
                field: "a.ssn".into()
            },
            Obligation::Redact {
                field: "a.card.number".into()
            },
            Obligation::Audit {
                level: "emergency".into(),
                break_glass: Some("bg".into()),
                reason: Some("cardiac arrest".into())
            }
        ]
    );
    assert!(!bg(json!({})).is_allow(), "reason required");
    assert!(
        !bg(json!({"reason": "x", "started_at": "2026-11-23T10:30:00-05:00"})).is_allow(),
        "starts in the future"
    );
    assert!(bg(json!({"reason": "x", "started_at": "2026-11-23T09:45:00-05:00"})).is_allow());
    assert!(
        !bg(json!({"reason": "x", "started_at": "2026-11-23T09:44:59-05:00"})).is_allow(),
        "past max"
    );
}

#[test]
fn bad_requests_are_denied_with_a_reason() {
    let p = policy(&format!("{HEAD}role \"A\" {{ allow a:x }}"));
    for (over, code) in [
        (json!({"context": {"time": "yesterday"}}), "invalid_request"),
        (json!({"principal": {"id": ""}}), "invalid_request"),
        (json!({"action": "nope"}), "unknown_action"),
    ] {
        let d = decide(&p, over);
        assert!(!d.is_allow());
        assert_eq!(d.reasons[0].code, code);
    }
}

#[test]
fn explain_says_who_would_have_been_granted() {
    let p = policy(&format!("{HEAD}role \"A\" {{ allow a:x }}\nrole \"B\" {{ allow a:x when own }}\nrole \"C\" {{ allow a:y }}"));
    let req: Request = serde_json::from_value(json!({
        "principal": {"id": "u-7", "roles": ["C"]}, "action": "a:x",
        "context": {"time": "2026-11-23T10:15:00-05:00"}
    }))
    .unwrap();
    let (d, lines) = p.explain(&req);
    assert!(!d.is_allow());
    assert_eq!(
        lines.first().unwrap(),
        "denied: C has no grant for a:x that applies; granted to: A, B (conditionally)"
    );
}
