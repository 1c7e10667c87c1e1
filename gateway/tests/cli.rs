//! The `wardgate policy` commands, run as a user would run them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn wardgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn check_passes_shipped_policies_and_fails_broken_ones_with_places() {
    let ok = wardgate(
        &[
            "policy",
            "check",
            "policies/kareo.policy",
            "policies/clinic.policy",
        ],
        None,
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("policies/kareo.policy: ok (6 roles, 29 actions"));

    let bad = wardgate(
        &[
            "policy",
            "check",
            "tests/policies/broken/unknown-names.policy",
        ],
        None,
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = text(&bad.stderr);
    assert!(
        err.contains("tests/policies/broken/unknown-names.policy:5:15"),
        "{err}"
    );
    assert!(err.contains("did you mean `notes:view`?"), "{err}");
    assert!(err.contains("^^^^"), "{err}");
    assert!(text(&bad.stdout).contains("7 error(s)"));
}

#[test]
fn matrix_formats() {
    let csv = wardgate(
        &[
            "policy",
            "matrix",
            "policies/kareo.policy",
            "--format",
            "csv",
        ],
        None,
    );
    assert!(csv.status.success());
    let out = text(&csv.stdout);
    assert!(out.starts_with("action,module,System Admin,Provider,Clinical Assistant,Office Staff,Biller,Business Manager\n"));
    assert!(
        out.contains("\nnotes:view,clinical,-,Y*,Y,-,-,-\n"),
        "{out}"
    );
    let json = wardgate(
        &[
            "policy",
            "matrix",
            "policies/kareo.policy",
            "--format",
            "json",
        ],
        None,
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["actions"][4]["action"], "notes:view");
    assert_eq!(v["actions"][4]["cells"]["Provider"], "Y*");
}

const REQ: &str = r#"{"principal": {"id": "u-7", "type": "user", "roles": ["Provider"], "flags": ["emergency_access"], "auth_age_seconds": 120, "mfa": true, "scopes": ["billing:*"]}, "action": "notes:view", "resource": {"practice": "p-1", "location": "l-2", "owner": "u-7", "patient": "pt-9", "attributes": {"amount": 499.99, "approved_by": "u-3"}}, "context": {"ip": "10.20.1.5", "country": "US", "time": "2026-11-23T10:15:00-05:00", "modules": ["clinical", "billing", "engage"], "relations": ["assigned"], "emergency": {"reason": "patient unconscious in ER"}}}"#;

#[test]
fn eval_one_request_and_a_stream_in_order() {
    // The issue's example request: a provider's own note, but the key is scoped to billing.
    let one = wardgate(
        &["policy", "eval", "policies/kareo.policy", "--request", "-"],
        Some(REQ),
    );
    assert!(one.status.success(), "{}", text(&one.stderr));
    let d: serde_json::Value = serde_json::from_slice(&one.stdout).unwrap();
    assert_eq!(d["decision"], "deny");
    assert_eq!(d["reasons"][0]["code"], "scope");

    let mut lines = Vec::new();
    for (role, action) in [
        ("Provider", "notes:view"),
        ("Biller", "notes:view"),
        ("Biller", "charge_entries:manage"),
    ] {
        let mut v: serde_json::Value = serde_json::from_str(REQ).unwrap();
        v["principal"]["roles"] = serde_json::json!([role]);
        v["principal"].as_object_mut().unwrap().remove("scopes");
        v["action"] = serde_json::json!(action);
        lines.push(v.to_string());
    }
    lines.insert(1, "{not json".to_string());
    let input = lines.join("\n") + "\n";
    let out = wardgate(
        &["policy", "eval", "policies/kareo.policy", "--requests", "-"],
        Some(&input),
    );
    let decisions: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let verdicts: Vec<&str> = decisions
        .iter()
        .map(|d| d["decision"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["allow", "deny", "deny", "allow"]);
    assert_eq!(decisions[1]["reasons"][0]["code"], "invalid_request");
}

#[test]
fn explain_in_words() {
    let mut v: serde_json::Value = serde_json::from_str(REQ).unwrap();
    v["principal"]["roles"] = serde_json::json!(["Biller"]);
    let out = wardgate(
        &[
            "policy",
            "explain",
            "policies/kareo.policy",
            "--request",
            "-",
        ],
        Some(&v.to_string()),
    );
    let first = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(first, "denied: Biller has no grant for notes:view that applies; granted to: Provider (conditionally), Clinical Assistant");
}

#[test]
fn test_command_runs_suites_and_fails_on_a_wrong_case() {
    let ok = wardgate(&["policy", "test", "policies"], None);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("PASS: "));

    let dir = std::env::temp_dir().join(format!("wardgate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        root().join("policies/kareo.policy"),
        dir.join("kareo.policy"),
    )
    .unwrap();
    std::fs::write(
        dir.join("bad.tests.toml"),
        "policy = \"kareo.policy\"\n[[case]]\nname = \"biller reads notes\"\nprincipal.id = \"u\"\nprincipal.roles = [\"Biller\"]\naction = \"notes:view\"\ncontext.time = \"2026-11-23T10:15:00Z\"\ncontext.modules = [\"clinical\"]\nexpect = \"allow\"\n",
    )
    .unwrap();
    let bad = wardgate(&["policy", "test", dir.to_str().unwrap()], None);
    assert_eq!(bad.status.code(), Some(1));
    let out = text(&bad.stdout);
    assert!(
        out.contains("FAIL")
            && out.contains("biller reads notes")
            && out.contains("expected allow, got deny"),
        "{out}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn build_then_eval_through_the_module_matches_the_source() {
    let dir = std::env::temp_dir().join(format!("wardgate-build-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let wasm = dir.join("kareo.wasm");
    let built = wardgate(
        &[
            "policy",
            "build",
            "policies/kareo.policy",
            "-o",
            wasm.to_str().unwrap(),
        ],
        None,
    );
    assert!(built.status.success(), "{}", text(&built.stderr));
    assert!(text(&built.stderr).contains("sha256:"));
    let bytes = std::fs::read(&wasm).unwrap();
    assert_eq!(&bytes[..4], b"\0asm");

    let mut lines = Vec::new();
    for role in ["Provider", "Biller", "System Admin", "Business Manager"] {
        for action in [
            "notes:view",
            "charge_entries:manage",
            "billing_analytics:view",
            "nope:nope",
        ] {
            for owner in ["u-7", "u-3"] {
                let mut v: serde_json::Value = serde_json::from_str(REQ).unwrap();
                v["principal"]["roles"] = serde_json::json!([role]);
                v["principal"].as_object_mut().unwrap().remove("scopes");
                v["action"] = serde_json::json!(action);
                v["resource"]["owner"] = serde_json::json!(owner);
                lines.push(v.to_string());
            }
        }
    }
    let input = lines.join("\n") + "\n";
    let source = wardgate(
        &["policy", "eval", "policies/kareo.policy", "--requests", "-"],
        Some(&input),
    );
    let module = wardgate(
        &[
            "policy",
            "eval",
            "--module",
            wasm.to_str().unwrap(),
            "--requests",
            "-",
        ],
        Some(&input),
    );
    assert!(module.status.success(), "{}", text(&module.stderr));
    assert_eq!(text(&source.stdout).lines().count(), lines.len());
    assert_eq!(text(&source.stdout), text(&module.stdout));
    // The module's manifest is the source's.
    let m1 = wardgate(&["policy", "manifest", "policies/kareo.policy"], None);
    let m2 = wardgate(
        &["policy", "manifest", "--module", wasm.to_str().unwrap()],
        None,
    );
    assert_eq!(text(&m1.stdout), text(&m2.stdout));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn audit_verify_search_and_export() {
    use wardgate_audit::{
        Actor, AuditLog, DecisionSummary, Durability, Event, EventKind, Options, ResourceRef,
    };
    let dir = std::env::temp_dir().join(format!("wardgate-cli-audit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (log, _) = AuditLog::open(
        &dir,
        Options {
            anchor_every: 5,
            ..Options::default()
        },
    )
    .unwrap();
    for i in 0..20 {
        let mut e = Event::new(
            EventKind::Decision,
            Actor {
                kind: wardgate_audit::ActorKind::User,
                id: format!("u-{}", i % 3),
            },
            "notes:view",
        );
        e.resource = ResourceRef {
            patient: Some(format!("pt-{}", i % 10)),
            ..ResourceRef::default()
        };
        e.decision = Some(DecisionSummary {
            verdict: wardgate_audit::Verdict::Allow,
            reasons: vec!["granted".into()],
        });
        log.append(e, Durability::Sync).unwrap();
    }
    drop(log);
    let d = dir.to_str().unwrap();
    let ok = wardgate(&["audit", "verify", "--dir", d], None);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).starts_with("ok: 20 records"));
    let found = wardgate(&["audit", "search", "--dir", d, "--patient", "pt-9"], None);
    assert_eq!(text(&found.stdout).lines().count(), 2);
    let csv = wardgate(&["audit", "export", "--dir", d, "--format", "csv"], None);
    assert_eq!(text(&csv.stdout).lines().count(), 21);

    let seg = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("seg-"))
        .unwrap();
    let edited = std::fs::read_to_string(&seg)
        .unwrap()
        .replacen("\"pt-3\"", "\"pt-4\"", 1);
    std::fs::write(&seg, edited).unwrap();
    let bad = wardgate(&["audit", "verify", "--dir", d], None);
    assert_eq!(bad.status.code(), Some(1));
    let out = text(&bad.stdout);
    assert!(
        out.contains(
            "seg-00000000000000000001.jsonl:4: the record does not match its hash: it was edited"
        ),
        "{out}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn user_management_commands_follow_the_seeds() {
    let dir = std::env::temp_dir().join(format!("wardgate-cli-identity-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("wardgate.db");
    let db = db.to_str().unwrap();
    let run = |args: &[&str]| {
        let mut all = vec![args[0], args[1]];
        all.extend_from_slice(&["--db", db]);
        all.extend_from_slice(&args[2..]);
        wardgate(&all, None)
    };
    assert!(run(&[
        "practice",
        "add",
        "p-1",
        "--name",
        "Main Street",
        "--module",
        "clinical"
    ])
    .status
    .success());
    let added = run(&[
        "user",
        "add",
        "--email",
        "jadams@kareotest.com",
        "--first",
        "Jane",
        "--last",
        "Adams",
        "--role",
        "Biller",
        "--practice",
        "p-1",
        "--password",
        "Temporary#Pass1",
        "--json",
    ]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let u: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(u["must_change_password"], true);
    // The same email again is refused, clearly.
    let dup = run(&[
        "user",
        "add",
        "--email",
        "jadams@kareotest.com",
        "--first",
        "J",
        "--last",
        "A",
        "--role",
        "Biller",
        "--practice",
        "p-1",
        "--password",
        "Temporary#Pass1",
    ]);
    assert!(!dup.status.success());
    assert!(
        text(&dup.stderr).contains("already exists"),
        "{}",
        text(&dup.stderr)
    );
    // Unassign renames the email.
    let un = run(&["user", "unassign", "jadams@kareotest.com"]);
    assert!(
        text(&un.stdout).contains("archived_jadams@kareotest.com"),
        "{}",
        text(&un.stdout)
    );
    // Providers need a valid NPI and cannot be unassigned.
    let bad_npi = run(&[
        "user",
        "add",
        "--email",
        "dr@x.com",
        "--first",
        "D",
        "--last",
        "R",
        "--role",
        "Provider",
        "--practice",
        "p-1",
        "--password",
        "Temporary#Pass1",
        "--npi",
        "1234567890",
    ]);
    assert!(text(&bad_npi.stderr).contains("not a valid NPI"));
    assert!(run(&[
        "user",
        "add",
        "--email",
        "dr@x.com",
        "--first",
        "D",
        "--last",
        "R",
        "--role",
        "Provider",
        "--practice",
        "p-1",
        "--password",
        "Temporary#Pass1",
        "--npi",
        "1234567893"
    ])
    .status
    .success());
    let refused = run(&["user", "unassign", "dr@x.com"]);
    assert!(text(&refused.stderr).contains("providers cannot be unassigned"));
    // Keys: shown once, then verifiable; revoked keys are refused.
    assert!(run(&[
        "key",
        "account",
        "billing-sync",
        "--practice",
        "p-1",
        "--role",
        "Biller"
    ])
    .status
    .success());
    let issued = run(&[
        "key",
        "issue",
        "--account",
        "billing-sync",
        "--scope",
        "billing:*",
        "--rate",
        "100/min",
        "--expires",
        "90d",
        "--json",
    ]);
    let k: serde_json::Value = serde_json::from_slice(&issued.stdout).unwrap();
    let key = k["key"].as_str().unwrap();
    assert!(run(&["key", "verify", key]).status.success());
    assert!(run(&["key", "revoke", k["id"].as_str().unwrap()])
        .status
        .success());
    assert_eq!(run(&["key", "verify", key]).status.code(), Some(1));
    // Every change is in the audit log, and the log verifies.
    let audit = dir.join("audit");
    let v = wardgate(&["audit", "verify", "--dir", audit.to_str().unwrap()], None);
    assert!(v.status.success(), "{}", text(&v.stdout));
    let found = wardgate(
        &[
            "audit",
            "search",
            "--dir",
            audit.to_str().unwrap(),
            "--action",
            "user:*",
        ],
        None,
    );
    assert!(text(&found.stdout).lines().count() >= 3);
    assert!(
        !text(&found.stdout).contains(key),
        "the key's secret never reaches the audit log"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn serve_refuses_an_admin_listener_beyond_this_machine_without_tls() {
    let dir = std::env::temp_dir().join(format!("wardgate-cli-admin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("wardgate.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[admin]\nlisten = \"0.0.0.0:0\"\napi_key_sha256 = \"{}\"\n\
             [policy]\nmodule = {:?}\n[identity]\ndatabase = \"w.db\"\n[audit]\ndir = \"audit\"\n\
             [[upstream]]\nname = \"app\"\nurl = \"http://127.0.0.1:9\"\nprefix = \"/\"\n",
            "0".repeat(64),
            root().join("policies/kareo.policy").display().to_string()
        ),
    )
    .unwrap();
    let out = wardgate(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("without TLS"),
        "{}",
        text(&out.stderr)
    );
}
