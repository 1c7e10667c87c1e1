//! Property tests: the front end never panics, and decisions respect the language's laws.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use proptest::prelude::*;
use serde_json::json;
use wardgate_policy::matrix::Cell;
use wardgate_policy::{compile_str, Policy, Request, Verdict};

const KAREO: &str = include_str!("../../../policies/kareo.policy");
const CLINIC: &str = include_str!("../../../policies/clinic.policy");

const VOCAB: &[&str] = &[
    "policy",
    "\"p\"",
    "version",
    "feature",
    "patients",
    "verbs",
    "read",
    ",",
    "module",
    "=",
    "role",
    "\"R\"",
    "extends",
    "{",
    "}",
    "allow",
    "deny",
    "patients:read",
    "*",
    "when",
    "unless",
    "own",
    "mfa",
    "and",
    "or",
    "not",
    "(",
    ")",
    "resource.amount",
    "<",
    "<=",
    "==",
    "!=",
    "500.00",
    "\"x\"",
    "from",
    "10.0.0.0/8",
    "::1/128",
    "during",
    "mon-fri",
    "07:00-19:00",
    "relation",
    "assigned",
    "attribute",
    "amount",
    "decimal",
    "redact",
    "patients.ssn",
    "role",
    "in",
    "[",
    "]",
    "break_glass",
    "who",
    "flag",
    "max",
    "4h",
    "reason",
    "required",
    "alert",
    "route",
    "GET",
    "/api/{id}",
    "->",
    "path",
    "id",
    "json",
    "\"/a\"",
    "require",
    "auth_age",
    "15m",
    "for",
    "\n",
    "timezone",
    "\"UTC\"",
    "#",
    "grant",
    "principal",
    "country",
    "\"US\"",
    "-1",
    "true",
];

fn policy(src: &str) -> Policy {
    compile_str("p.policy", src)
        .expect("shipped policy compiles")
        .policy
}

fn request_strategy(policy: &Policy) -> impl Strategy<Value = serde_json::Value> {
    let mut roles: Vec<String> = policy.roles.iter().map(|r| r.name.clone()).collect();
    roles.push("Nobody".into());
    let mut actions: Vec<String> = policy.actions.iter().map(|a| a.name.clone()).collect();
    actions.push("bogus:act".into());
    let modules = vec!["clinical".to_string(), "billing".into(), "engage".into()];
    (
        proptest::sample::subsequence(roles, 0..3),
        proptest::sample::select(actions),
        proptest::sample::subsequence(modules, 0..=3),
        prop_oneof![Just(None), Just(Some("u-7")), Just(Some("u-3"))],
        prop_oneof![Just(json!(null)), Just(json!(499.99)), Just(json!("500.00")), Just(json!(12)), Just(json!("x")), Just(json!(true))],
        prop_oneof![Just(json!(null)), Just(json!("u-7")), Just(json!("u-3")), Just(json!(5))],
        (0u32..7, 0u32..24, 0u32..60),
        prop_oneof![Just(None), Just(Some("10.20.1.5")), Just(Some("203.0.113.9")), Just(Some("2001:db8::1")), Just(Some("garbage"))],
        proptest::sample::subsequence(vec!["assigned".to_string(), "shared".into()], 0..=2),
        (prop_oneof![Just(None), Just(Some(60u64)), Just(Some(7200))], any::<bool>()),
        (any::<bool>(), any::<bool>(), prop_oneof![Just(None), Just(Some(vec!["*".to_string()])), Just(Some(vec!["billing:*".to_string()])), Just(Some(vec![]))]),
    )
        .prop_map(
            |(roles, action, modules, owner, amount, approved_by, (day, h, m), ip, relations, (age, mfa), (flag, emergency, scopes))| {
                let mut principal = json!({"id": "u-7", "roles": roles, "mfa": mfa});
                if let Some(a) = age {
                    principal["auth_age_seconds"] = json!(a);
                }
                if flag {
                    principal["flags"] = json!(["emergency_access"]);
                }
                if let Some(s) = scopes {
                    principal["scopes"] = json!(s);
                }
                let mut context = json!({
                    "time": format!("2026-11-{:02}T{:02}:{:02}:00-05:00", 23 + day, h, m),
                    "modules": modules,
                    "relations": relations,
                });
                if let Some(ip) = ip {
                    context["ip"] = json!(ip);
                }
                if emergency {
                    context["emergency"] = json!({"reason": "patient unconscious"});
                }
                let mut resource = json!({"attributes": {"amount": amount, "approved_by": approved_by}});
                if let Some(o) = owner {
                    resource["owner"] = json!(o);
                }
                json!({"principal": principal, "action": action, "resource": resource, "context": context})
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn front_end_never_panics_on_arbitrary_text(text in "\\PC{0,300}") {
        let _ = compile_str("fuzz.policy", &text);
    }

    #[test]
    fn front_end_never_panics_on_token_soup(tokens in proptest::collection::vec(proptest::sample::select(VOCAB), 0..80)) {
        let text = tokens.join(" ");
        match compile_str("soup.policy", &text) {
            Ok(c) => { let _ = c.policy.matrix().to_table(); }
            Err(d) => {
                prop_assert!(d.error_count() > 0);
                let rendered = d.to_string();
                prop_assert!(rendered.contains("soup.policy:"));
            }
        }
    }

    #[test]
    fn mutated_shipped_policies_never_panic(cut in 0usize..CLINIC.len(), len in 0usize..40, insert in proptest::sample::select(VOCAB)) {
        let mut text = CLINIC.to_string();
        let start = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let end = (start + len).min(text.len());
        let end = (end..=text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text.replace_range(start..end, insert);
        let _ = compile_str("mutated.policy", &text);
    }
}

fn check_laws(policy: &Policy, value: serde_json::Value) -> Result<(), TestCaseError> {
    let req: Request = serde_json::from_value(value.clone()).expect("generated requests read");
    let d = policy.decide(&req);
    prop_assert_eq!(&d, &policy.decide(&req), "deterministic");
    prop_assert!(!d.reasons.is_empty(), "every decision gives a reason");
    if d.decision == Verdict::Deny {
        prop_assert!(d.obligations.is_empty());
    }
    // Scopes only narrow: whatever a scoped principal may do, the unscoped one may do too.
    if d.is_allow() && req.principal.scopes.is_some() {
        let mut unscoped = req.clone();
        unscoped.principal.scopes = None;
        prop_assert!(policy.decide(&unscoped).is_allow(), "scopes widened access");
    }
    // Without break-glass, an allow needs a held role whose matrix cell is not `-`.
    if d.is_allow() && req.context.emergency.is_none() {
        let aid = policy
            .action_id(&req.action)
            .expect("allowed actions exist");
        let ok = req
            .principal
            .roles
            .iter()
            .filter_map(|r| policy.role_id(r))
            .any(|r| policy.cell(r, aid).0 != Cell::Deny);
        prop_assert!(
            ok,
            "allowed although every held role's cell is `-`: {}",
            value
        );
    }
    // A `Y` cell with the module subscribed and nothing else in the way is an allow.
    if req.context.emergency.is_none() && req.principal.scopes.is_none() {
        if let Some(aid) = policy.action_id(&req.action) {
            let module_ok = policy
                .action(aid)
                .and_then(|a| a.module)
                .is_none_or(|m| req.context.modules.contains(&policy.modules[m as usize]));
            let y = req
                .principal
                .roles
                .iter()
                .filter_map(|r| policy.role_id(r))
                .any(|r| policy.cell(r, aid).0 == Cell::Allow);
            let global_conditional = policy
                .global_denies
                .iter()
                .any(|&g| policy.rule(g).is_some_and(|r| r.covers(aid)));
            let any_role_deny = req
                .principal
                .roles
                .iter()
                .filter_map(|r| policy.role_id(r))
                .any(|r| {
                    policy.role(r).is_some_and(|x| {
                        x.denies
                            .iter()
                            .any(|&d| policy.rule(d).is_some_and(|y| y.covers(aid)))
                    })
                });
            if y && module_ok && !global_conditional && !any_role_deny {
                prop_assert!(d.is_allow(), "a Y cell was denied: {}", value);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn kareo_decisions_obey_the_laws(req in request_strategy(&policy(KAREO))) {
        check_laws(&policy(KAREO), req)?;
    }

    #[test]
    fn clinic_decisions_obey_the_laws(req in request_strategy(&policy(CLINIC))) {
        check_laws(&policy(CLINIC), req)?;
    }
}
