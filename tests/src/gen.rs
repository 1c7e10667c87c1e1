//! Generators for property tests: random requests against any manifest, and random policies
//! that exercise every construct of the language.

use proptest::prelude::*;
use serde_json::{json, Value};
use wardgate_policy::Manifest;

/// Requests that hit the interesting cases of a manifest: held, lent and unknown roles, known
/// and unknown actions, edge amounts, missing values, windows, networks, emergencies, scopes.
pub fn request(m: &Manifest) -> impl Strategy<Value = Value> {
    let mut roles: Vec<String> = m.roles.iter().map(|r| r.name.clone()).collect();
    roles.push("Nobody".into());
    let mut actions: Vec<String> = m.actions.iter().map(|a| a.name.clone()).collect();
    actions.push("bogus:act".into());
    let mut modules = m.modules.clone();
    modules.push("other".into());
    let mut flags = m.flags.clone();
    flags.push("unrelated".into());
    let scope_pool: Vec<String> = {
        let mut s = vec!["*".to_string(), "*:*".into(), "nothing:*".into()];
        for a in m.actions.iter().take(6) {
            let (f, v) = a.name.split_once(':').unwrap_or((&a.name, ""));
            s.push(format!("{f}:*"));
            s.push(a.name.clone());
            s.push(format!("*:{v}"));
            s.push(f.to_string());
        }
        s.extend(m.modules.iter().map(|x| format!("{x}:*")));
        s
    };
    let amounts = vec![
        json!(null),
        json!(0),
        json!(-3),
        json!(1.5),
        json!("2.250"),
        json!(99.99),
        json!(100),
        json!("100.00001"),
        json!(499.99),
        json!(500),
        json!("500.00"),
        json!(1000000),
        json!("1000000.01"),
        json!("x"),
        json!(true),
    ];
    let strings = vec![
        json!(null),
        json!("x"),
        json!("a"),
        json!("b"),
        json!("u-7"),
        json!(""),
        json!(3),
    ];
    let bools = vec![json!(null), json!(true), json!(false), json!("true")];
    (
        (
            {
                let n = roles.len().min(3);
                proptest::sample::subsequence(roles, 0..=n)
            },
            proptest::sample::select(actions),
            {
                let n = modules.len().min(3);
                proptest::sample::subsequence(modules, 0..=n)
            },
            {
                let n = flags.len().min(2);
                proptest::sample::subsequence(flags, 0..=n)
            },
            prop_oneof![Just(None), Just(Some("u-7")), Just(Some("u-3"))],
            proptest::sample::select(amounts),
            proptest::sample::select(strings.clone()),
            proptest::sample::select(strings),
            proptest::sample::select(bools),
        ),
        (
            (0u32..7, 0u32..24, prop_oneof![Just(0u32), Just(29), Just(30), Just(59)]),
            prop_oneof![
                Just(None), Just(Some("10.20.1.5")), Just(Some("10.255.0.1")), Just(Some("203.0.113.9")),
                Just(Some("192.168.7.7")), Just(Some("2001:db8:abcd:12::1")), Just(Some("2001:db8:abce::1")),
                Just(Some("::1")), Just(Some("garbage"))
            ],
            proptest::sample::subsequence(vec!["assigned".to_string(), "shared".into(), "other".into()], 0..=2),
            prop_oneof![Just(None), Just(Some(0u64)), Just(Some(299)), Just(Some(300)), Just(Some(900)), Just(Some(3599)), Just(Some(7200))],
            any::<bool>(),
            prop_oneof![Just(None), Just(Some("US")), Just(Some("de")), Just(Some("FR"))],
            prop_oneof![Just(None), Just(Some("pt-1")), Just(Some("pt-9"))],
        ),
        (
            prop_oneof![Just(None), Just(Some("user")), Just(Some("service"))],
            {
                let n = scope_pool.len().min(2);
                prop_oneof![Just(None), proptest::sample::subsequence(scope_pool, 0..=n).prop_map(Some)]
            },
            prop_oneof![
                Just(None),
                Just(Some((Some("patient unconscious"), None))),
                Just(Some((Some("  "), None))),
                Just(Some((None, None))),
                // Started this many seconds before the request: around common maximums.
                proptest::sample::select(vec![-60i64, 0, 1799, 1800, 1801, 3599, 3600, 3601, 7200, 7201, 14400, 14401])
                    .prop_map(|ago| Some((Some("r"), Some(ago)))),
            ],
            prop_oneof![Just(None), Just(Some("America/New_York")), Just(Some("Asia/Tokyo"))],
        ),
    )
        .prop_map(
            |(
                (roles, action, modules, flags, owner, amount, tag, approved_by, urgent),
                ((day, h, min), ip, relations, age, mfa, country, patient),
                (kind, scopes, emergency, tz),
            )| {
                let mut principal = json!({"id": "u-7", "roles": roles, "flags": flags, "mfa": mfa});
                if let Some(a) = age {
                    principal["auth_age_seconds"] = json!(a);
                }
                if let Some(k) = kind {
                    principal["type"] = json!(k);
                }
                if let Some(s) = scopes {
                    principal["scopes"] = json!(s);
                }
                let mut context = json!({
                    "time": format!("2026-11-{:02}T{:02}:{:02}:00-05:00", 23 + day, h, min),
                    "modules": modules,
                    "relations": relations,
                });
                if let Some(ip) = ip {
                    context["ip"] = json!(ip);
                }
                if let Some(c) = country {
                    context["country"] = json!(c);
                }
                if let Some((reason, ago)) = emergency {
                    let mut e = json!({});
                    if let Some(r) = reason {
                        e["reason"] = json!(r);
                    }
                    if let Some(ago) = ago {
                        // The request is at -05:00; express the start in UTC.
                        let start = (i64::from(23 + day) * 86_400 + i64::from(h) * 3600 + i64::from(min) * 60 + 5 * 3600) - ago;
                        let (d, rest) = (start.div_euclid(86_400), start.rem_euclid(86_400));
                        e["started_at"] = json!(format!(
                            "2026-11-{:02}T{:02}:{:02}:{:02}Z",
                            d,
                            rest / 3600,
                            (rest % 3600) / 60,
                            rest % 60
                        ));
                    }
                    context["emergency"] = e;
                }
                if let Some(tz) = tz {
                    context["timezone"] = json!(tz);
                }
                let attributes = json!({"amount": amount, "tag": tag, "approved_by": approved_by, "urgent": urgent});
                let mut resource = json!({"attributes": attributes});
                if let Some(o) = owner {
                    resource["owner"] = json!(o);
                }
                if let Some(p) = patient {
                    resource["patient"] = json!(p);
                }
                json!({"principal": principal, "action": action, "resource": resource, "context": context})
            },
        )
}

const FEATURES: [(&str, &[&str]); 4] = [
    ("doc", &["read", "edit", "delete"]),
    ("bill", &["read", "approve"]),
    ("ward", &["enter"]),
    ("admin", &["manage", "export"]),
];

fn atom() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("own".to_string()),
        Just("mfa".to_string()),
        Just("relation assigned".to_string()),
        Just("relation shared".to_string()),
        Just("flag emergency_access".to_string()),
        Just("role \"R0\"".to_string()),
        Just("role in [\"R1\", \"R2\"]".to_string()),
        Just("from 10.0.0.0/8, 2001:db8:abcd::/48".to_string()),
        Just("from 192.168.7.7".to_string()),
        Just("during mon-fri 09:00-17:00".to_string()),
        Just("during sat+sun 22:00-06:00, wed 12:00-12:30".to_string()),
        Just("country in [\"US\", \"DE\"]".to_string()),
        Just("resource.amount < 500.00".to_string()),
        Just("resource.amount >= 99.99".to_string()),
        Just("resource.amount == 2.25".to_string()),
        Just("resource.amount <= 100".to_string()),
        Just("resource.amount > 500".to_string()),
        Just("resource.amount != -3".to_string()),
        Just("auth_age > 5m".to_string()),
        Just("auth_age >= 1h".to_string()),
        Just("resource.amount in [1.5, -3, 1000000]".to_string()),
        Just("resource.tag == \"x\"".to_string()),
        Just("resource.tag != \"a\"".to_string()),
        Just("resource.approved_by == principal".to_string()),
        Just("resource.urgent == true".to_string()),
        Just("auth_age <= 15m".to_string()),
        Just("auth_age < 5m".to_string()),
        Just("principal.type == \"service\"".to_string()),
        Just("resource.patient in [\"pt-1\", \"pt-2\"]".to_string()),
        Just("resource.owner == resource.approved_by".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
    ]
}

/// A condition of nested `and`, `or`, `not` over the atoms.
pub fn cond() -> impl Strategy<Value = String> {
    atom().prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} and {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} or {b})")),
            inner.prop_map(|a| format!("not {a}")),
        ]
    })
}

fn action_pattern() -> impl Strategy<Value = String> {
    let mut pats: Vec<String> = vec!["*".into()];
    for (f, verbs) in FEATURES {
        pats.push(format!("{f}:*"));
        for v in verbs {
            pats.push(format!("{f}:{v}"));
        }
    }
    proptest::sample::select(pats)
}

fn rule(keyword: &'static str) -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(action_pattern(), 1..3),
        proptest::option::weighted(0.6, cond()),
    )
        .prop_map(move |(actions, c)| match c {
            Some(c) => format!("{keyword} {} when {c}", actions.join(", ")),
            None => format!("{keyword} {}", actions.join(", ")),
        })
}

/// A random but valid policy using every construct.
pub fn policy() -> impl Strategy<Value = String> {
    let role = |i: usize| {
        (
            proptest::option::weighted(0.4, 0..i.max(1)),
            proptest::collection::vec(prop_oneof![4 => rule("allow"), 1 => rule("deny")], 1..4),
            proptest::option::weighted(0.3, cond()),
        )
            .prop_map(move |(parent, rules, guard)| {
                let extends = match parent {
                    Some(p) if i > 0 => format!(" extends \"R{p}\""),
                    _ => String::new(),
                };
                let mut body = rules.join("\n  ");
                if let Some(g) = guard {
                    body.push_str(&format!("\n  when {g}"));
                }
                format!("role \"R{i}\"{extends} {{\n  {body}\n}}\n")
            })
    };
    (
        (role(0), role(1), role(2), role(3)),
        proptest::option::weighted(0.5, rule("deny")),
        proptest::option::weighted(0.4, (cond(), action_pattern())),
        proptest::option::weighted(0.5, cond()),
        proptest::option::weighted(0.5, (cond(), proptest::collection::vec(action_pattern(), 1..3), any::<bool>(), any::<bool>())),
        any::<bool>(),
    )
        .prop_map(|((r0, r1, r2, r3), global, require, redact, bg, tz)| {
            let mut src = String::from("policy \"generated\" version \"1\"\n");
            for (f, verbs) in FEATURES {
                src.push_str(&format!("feature {f} verbs {}\n", verbs.join(", ")));
            }
            src.push_str("module billing = bill\nattribute amount decimal\nattribute tag string\nattribute approved_by string\nattribute urgent bool\n");
            if tz {
                src.push_str("timezone \"Europe/Berlin\"\n");
            }
            src.push_str(&r0);
            src.push_str(&r1);
            src.push_str(&r2);
            src.push_str(&r3);
            if let Some(g) = global {
                src.push_str(&format!("{g}\n"));
            }
            if let Some((c, a)) = require {
                src.push_str(&format!("require {c} for {a}\n"));
            }
            if let Some(c) = redact {
                src.push_str(&format!("redact doc.ssn, bill.card unless {c}\nredact doc.notes\n"));
            }
            if let Some((who, actions, grant, reason)) = bg {
                src.push_str(&format!("break_glass \"bg\" {{\n  who {who}\n  allow {}\n", actions.join(", ")));
                if grant {
                    src.push_str("  grant role \"R1\"\n");
                }
                if reason {
                    src.push_str("  reason required\n");
                }
                src.push_str("  max 2h\n  alert\n}\n");
            }
            src
        })
}
