//! The administrator's console over real sockets: what each person is offered follows the
//! policy (and a forged form is refused by the API anyway), every page's API calls are decided
//! and audited as that person, and the console refuses keys, other sites, stale tokens and
//! break-glass sessions, escapes what it shows and caches nothing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use http::StatusCode;
use wardgate_policy::Engine;
use wardgate_tests::gateway::{Harness, Setup, CSRF_COOKIE};

const CONSOLE: &str = "/.wardgate/console/";

fn clinic() -> Setup {
    Setup {
        policy: "clinic.policy",
        ..Setup::default()
    }
}

/// A browser signed in as a new user with `roles` (a permanent password).
async fn person(
    h: &Harness,
    email: &str,
    roles: &[&str],
) -> (wardgate_tests::gateway::Browser, String) {
    let user = h.user(email, roles, "Correct#Horse9", true);
    let b = h.browser();
    let r = b.login(email, "Correct#Horse9").await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    (b, user.id)
}

fn nav(body: &str) -> String {
    let start = body.find("<nav").expect("a navigation");
    let end = body[start..].find("</nav>").unwrap() + start;
    body[start..end].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_buttons_follow_the_policy_and_the_api_refuses_anyway() {
    let h = Harness::start("console-policy", clinic()).await;
    let (owner, _) = person(&h, "owner@clinic.example", &["Owner"]).await;
    let (manager, _) = person(&h, "manager@clinic.example", &["Manager"]).await;
    let (desk, _) = person(&h, "desk@clinic.example", &["Front Desk"]).await;
    let target = h.user(
        "target@clinic.example",
        &["Front Desk"],
        "Correct#Horse9",
        true,
    );
    let user_page = format!("{CONSOLE}users/{}", target.id);

    // The Owner: every section, and every button on a user's page.
    let r = owner.get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for section in ["Users", "Roles", "Security", "API keys", "Activity log"] {
        assert!(
            nav(&r.body).contains(section),
            "{section}: {}",
            nav(&r.body)
        );
    }
    let r = owner.get(&user_page).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for button in [
        "Delete user",
        "Give role",
        "Take away",
        "Lock user",
        "Save user",
    ] {
        assert!(r.body.contains(button), "the Owner is offered {button}");
    }

    // The Manager: sees users, but cannot delete them, change roles or edit them.
    let r = manager.get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("target@clinic.example"));
    assert!(
        !r.body.contains("Add User"),
        "no staff:create for a Manager"
    );
    let r = manager.get(&user_page).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for button in [
        "Delete user",
        "Give role",
        "Take away",
        "Lock user",
        "Save user",
    ] {
        assert!(!r.body.contains(button), "the Manager is offered {button}");
    }
    // A form the page never offered, posted anyway: the API decides, and says no.
    let r = manager
        .post(
            &user_page,
            &[("do", "delete"), ("confirm_email", "target@clinic.example")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = manager
        .post(&user_page, &[("do", "grant"), ("role", "Owner")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let still = h.gw.store().user(&target.id).unwrap();
    assert_eq!(still.assignments.len(), 1, "{still:?}");

    // Front Desk: no user administration at all; the direct URL is refused.
    let r = desk.get(CONSOLE).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = desk.get(&format!("{CONSOLE}account")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!nav(&r.body).contains("Users"), "{}", nav(&r.body));
    for path in ["users", "users/new", "keys", "activity", "security"] {
        let r = desk.get(&format!("{CONSOLE}{path}")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
    }
    let r = desk.get(&user_page).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_of_a_page_is_decided_and_audited_as_its_person() {
    let h = Harness::start("console-audit", Setup::default()).await;
    let (admin, admin_id) = person(&h, "admin@clinic.example", &["System Admin"]).await;
    let target = h.user(
        "dana@clinic.example",
        &["Office Staff"],
        "Correct#Horse9",
        true,
    );
    let r = admin.get(&format!("{CONSOLE}users?q=dan")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("dana@clinic.example"));
    let r = admin
        .post(
            &format!("{CONSOLE}users/{}", target.id),
            &[("do", "lock"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        h.gw.store().user(&target.id).unwrap().status,
        wardgate_identity::UserStatus::Locked
    );
    let records = h.audit_records();
    let decided: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["event"]["kind"] == "decision")
        .filter(|r| {
            r["event"]["resource"]["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/.wardgate/v1/users"))
        })
        .collect();
    assert!(
        decided
            .iter()
            .any(|r| r["event"]["resource"]["path"] == "/.wardgate/v1/users"
                && r["event"]["action"] == "user_accounts:manage"
                && r["event"]["actor"]["id"] == admin_id.as_str()
                && r["event"]["decision"]["verdict"] == "allow"
                && r["event"]["session_id"].is_string()),
        "{decided:#?}"
    );
    let lock_path = format!("/.wardgate/v1/users/{}/lock", target.id);
    assert!(
        decided
            .iter()
            .any(|r| r["event"]["resource"]["path"] == lock_path.as_str()),
        "{decided:#?}"
    );
    assert!(
        records.iter().any(|r| r["event"]["kind"] == "change"
            && r["event"]["action"] == "user:lock"
            && r["event"]["actor"]["id"] == admin_id.as_str()),
        "the lock names the administrator who made it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_refuses_keys_other_sites_and_stale_forms_and_escapes_and_caches_nothing() {
    let h = Harness::start("console-guard", Setup::default()).await;
    let (admin, _) = person(&h, "admin@clinic.example", &["System Admin"]).await;
    let hostile =
        h.gw.store()
            .add_user(
                &wardgate_identity::Actor::system(),
                wardgate_identity::NewUser {
                    email: "x@clinic.example".into(),
                    first_name: "<script>alert(1)</script>".into(),
                    last_name: "\"><img src=x onerror=alert(2)>".into(),
                    password: "Temporary#Pass1".into(),
                    roles: vec!["Biller".into()],
                    practices: vec![wardgate_tests::gateway::PRACTICE.into()],
                    ..wardgate_identity::NewUser::default()
                },
            )
            .unwrap();

    // Escaped wherever it is shown; nothing inline may run anyway.
    let r = admin.get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!r.body.contains("<script>alert"), "unescaped");
    assert!(!r.body.contains("<img src=x"), "unescaped");
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.headers["cache-control"], "no-store");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    let css = admin.get(&format!("{CONSOLE}console.css")).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers["x-content-type-options"], "nosniff");

    let user_page = format!("{CONSOLE}users/{}", hostile.id);
    // A form from elsewhere (another origin), or without this browser's token: refused.
    let forged = admin.clone().with_header("origin", "https://evil.example");
    let r = forged.post(&user_page, &[("do", "disable")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = admin
        .post(&user_page, &[("do", "disable"), ("csrf", "not-the-token")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(admin.cookie(CSRF_COOKIE).is_some());
    assert_eq!(
        h.gw.store().user(&hostile.id).unwrap().status,
        wardgate_identity::UserStatus::Active
    );

    // Not signed in: to the sign-in page, and back here afterwards.
    let r = h.browser().get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let to = r.headers["location"].to_str().unwrap();
    assert_eq!(to, "/.wardgate/login?next=/.wardgate/console/users");

    // An integration's key: the API is its way in, not the console.
    let key = h.key("sync", "System Admin", &["user_accounts:*"], None);
    let r = h.get(&format!("{CONSOLE}users"), &key).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "sign_in_required");
    // The keys page draws each key's use per day, from the activity log.
    let r = admin.get(&format!("{CONSOLE}keys")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        r.body
            .contains("aria-label=\"1 requests in the last 14 days"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_role_is_previewed_tested_and_put_in_force_and_survives_a_restart() {
    let h = Harness::start(
        "console-role",
        Setup {
            tests: true,
            ..clinic()
        },
    )
    .await;
    let (owner, _) = person(&h, "owner@clinic.example", &["Owner"]).await;
    let fields = [
        ("name", "Senior Front Desk"),
        ("extends", "Front Desk"),
        ("description", "Front Desk who also reads billing"),
        ("allow", "billing:read"),
        ("allow", "notes:read"),
        ("own", "notes"),
    ];
    let mut preview = vec![("do", "preview")];
    preview.extend(fields);
    let r = owner.post(&format!("{CONSOLE}roles"), &preview).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("Nothing is saved yet"), "{}", r.body);
    assert!(
        r.body.contains("billing:read"),
        "the new role's gain is shown"
    );
    assert!(r.body.contains("policy tests pass"), "{}", r.body);
    // Nothing changed yet.
    assert!(!h
        .gw
        .policy()
        .current()
        .manifest()
        .roles
        .iter()
        .any(|r| r.name == "Senior Front Desk"));
    let hash = r
        .body
        .split("name=\"module_hash\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    // A hostile name is refused with its field named, nothing written.
    let r = owner
        .post(
            &format!("{CONSOLE}roles"),
            &[
                ("do", "preview"),
                ("name", "X\" { allow * } role \"Y"),
                ("allow", "billing:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Saved with the hash of the policy it was previewed against.
    let mut save = vec![("do", "save"), ("module_hash", hash.as_str())];
    save.extend(fields);
    let r = owner.post(&format!("{CONSOLE}roles"), &save).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let m = h.gw.policy().current();
    assert!(m
        .manifest()
        .roles
        .iter()
        .any(|r| r.name == "Senior Front Desk"));
    let text = std::fs::read_to_string(&h.policy_path).unwrap();
    assert!(
        text.contains("role \"Senior Front Desk\" extends \"Front Desk\""),
        "{text}"
    );
    assert!(text.contains("allow notes:read when own"), "{text}");
    // The author is named by id: nothing a person types about themselves reaches the text.
    assert!(text.contains("made in the console by u-"), "{text}");
    assert!(!text.contains("owner@clinic.example"), "{text}");
    // A stale preview is not saved over a newer policy: by the console, and by the API
    // itself for whoever names the module they expect to replace.
    let r = owner.post(&format!("{CONSOLE}roles"), &save).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = h
        .operator(wardgate::api::ops::Op::SwapPolicy(
            wardgate::api::ops::PolicyBody {
                name: "stale.policy".into(),
                text: Some(text.clone()),
                expect: Some(hash.clone()),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"], "stale");
    // Edited (found by the console's marks, replaced in place): notes no more.
    let hash = h.gw.policy().current().module_hash.clone();
    let r = owner
        .get(&format!("{CONSOLE}roles?edit=Senior%20Front%20Desk"))
        .await;
    assert!(r.body.contains("Edit Senior Front Desk"), "{}", r.body);
    let edit = [
        ("do", "save"),
        ("module_hash", hash.as_str()),
        ("editing", "Senior Front Desk"),
        ("name", "Senior Front Desk"),
        ("extends", "Front Desk"),
        ("allow", "billing:read"),
    ];
    let r = owner.post(&format!("{CONSOLE}roles"), &edit).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let text = std::fs::read_to_string(&h.policy_path).unwrap();
    assert_eq!(
        text.matches("\nrole \"Senior Front Desk\"").count(),
        1,
        "{text}"
    );
    assert!(!text.contains("allow notes:read when own"), "{text}");
    // A role the console did not write is not edited here.
    let r = owner
        .post(
            &format!("{CONSOLE}roles"),
            &[
                ("do", "preview"),
                ("editing", "Owner"),
                ("name", "Owner"),
                ("allow", "billing:read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Given to someone, and still there after a restart.
    let desk = h.user(
        "lead@clinic.example",
        &["Senior Front Desk"],
        "Correct#Horse9",
        true,
    );
    let h = h.restart().await;
    assert!(h
        .gw
        .policy()
        .current()
        .manifest()
        .roles
        .iter()
        .any(|r| r.name == "Senior Front Desk"));
    assert_eq!(
        h.gw.store().user(&desk.id).unwrap().assignments[0].role,
        "Senior Front Desk"
    );
    // Deleting a role someone holds is refused by the swap's check, and says why.
    let (owner, _) = person(&h, "owner2@clinic.example", &["Owner"]).await;
    let hash = h.gw.policy().current().module_hash.clone();
    let r = owner
        .post(
            &format!("{CONSOLE}roles"),
            &[
                ("do", "save"),
                ("module_hash", hash.as_str()),
                ("editing", "Senior Front Desk"),
                ("name", "Senior Front Desk"),
                ("delete", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("holders"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_is_seen_and_ended_from_the_console_and_locks_out_administration() {
    let h = Harness::start("console-emergency", Setup::default()).await;
    let (admin, _) = person(&h, "admin@clinic.example", &["System Admin"]).await;
    h.user(
        "priya@clinic.example",
        &["Provider"],
        "Correct#Horse9",
        true,
    );
    let doctor = h.api_browser();
    doctor.login("priya@clinic.example", "Correct#Horse9").await;
    let r = doctor
        .post(
            "/.wardgate/emergency",
            &[("reason", "patient coding in exam room 2")],
        )
        .await;
    assert_eq!(r.json()["emergency"], true, "{}", r.body);
    assert_eq!(
        doctor.get("/api/users").await.headers["wardgate-emergency"],
        "active"
    );
    // Under break-glass, no administration: not the console either.
    let html_doctor = doctor.moved(&h, None, &doctor.user_agent);
    let html_doctor = wardgate_tests::gateway::Browser {
        json: false,
        ..html_doctor
    };
    let r = html_doctor.get(&format!("{CONSOLE}account")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let r = admin.get(&format!("{CONSOLE}emergency")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("patient coding in exam room 2"));
    assert!(r.body.contains("priya@clinic.example"));
    let grant = r
        .body
        .split("name=\"grant\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = admin
        .post(
            &format!("{CONSOLE}emergency"),
            &[("do", "close"), ("grant", &grant)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Ended at once: the doctor is back to their own permissions.
    let r = doctor.get("/api/users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(h
        .audit_records()
        .iter()
        .any(|r| r["event"]["action"] == "emergency:close"));
    // Ending it twice says so.
    let r = admin
        .post(
            &format!("{CONSOLE}emergency"),
            &[("do", "close"), ("grant", &grant)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("already ended"), "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_up_and_replaces_their_authenticator_from_my_account() {
    let h = Harness::start("console-mfa", Setup::default()).await;
    let (b, id) = person(&h, "desk@clinic.example", &["Office Staff"]).await;
    let account = format!("{CONSOLE}account");
    let r = b.get(&account).await;
    assert!(r.body.contains("Set up an authenticator app"), "{}", r.body);
    let secret_of = |body: &str| {
        body.split("id=\"totp-secret\" class=\"secret\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap()
            .to_string()
    };
    // A session alone does not set one up: the password is asked again.
    let r = b
        .post(&account, &[("do", "enroll"), ("password", "Wrong#Horse9")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = b
        .post(
            &account,
            &[("do", "enroll"), ("password", "Correct#Horse9")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let shown = secret_of(&r.body);
    let secret = wardgate_tests::gateway::base32(&shown);
    assert!(r.body.contains("Recovery codes"));
    // A wrong first code: said so, nothing on.
    let r = b
        .post(&account, &[("do", "confirm"), ("code", "000000")])
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(!h.gw.store().has_second_factor(&id).unwrap());
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b
        .post(&account, &[("do", "confirm"), ("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(h.gw.store().has_second_factor(&id).unwrap());
    // Replacing it (a new phone) takes the password and a current code of the old one.
    let r = b
        .post(
            &account,
            &[("do", "enroll"), ("password", "Correct#Horse9")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = b
        .post(
            &account,
            &[
                ("do", "enroll"),
                ("password", "Correct#Horse9"),
                ("code", "000000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    h.clock.advance(std::time::Duration::from_secs(31));
    let old_code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b
        .post(
            &account,
            &[
                ("do", "enroll"),
                ("password", "Correct#Horse9"),
                ("code", &old_code),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new_secret = wardgate_tests::gateway::base32(&secret_of(&r.body));
    assert_ne!(new_secret, secret);
    // Until the new one is confirmed the old one still signs in.
    h.clock.advance(std::time::Duration::from_secs(31));
    let store = h.gw.store();
    let t = h.clock.utc().timestamp();
    store
        .verify_second_factor(&id, &wardgate_identity::totp(&secret, t), None)
        .unwrap();
    let r = b
        .post(
            &account,
            &[
                ("do", "confirm"),
                ("code", &wardgate_identity::totp(&new_secret, t)),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Now the new one does, and the old one no more.
    h.clock.advance(std::time::Duration::from_secs(31));
    let t = h.clock.utc().timestamp();
    assert!(store
        .verify_second_factor(&id, &wardgate_identity::totp(&secret, t), None)
        .is_err());
    store
        .verify_second_factor(&id, &wardgate_identity::totp(&new_secret, t), None)
        .unwrap();
    assert_eq!(
        b.get(&account).await.status,
        StatusCode::OK,
        "still signed in"
    );
    // The secret is in no record of the activity log.
    let log = serde_json::to_string(&h.audit_records()).unwrap();
    assert!(!log.contains(&shown), "the secret is not audited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_idle_timeout_for_a_role_is_set_in_the_console_and_ends_those_sessions() {
    let h = Harness::start("console-idle", Setup::default()).await;
    let (admin, _) = person(&h, "admin@clinic.example", &["System Admin"]).await;
    let (biller, _) = person(&h, "biller@clinic.example", &["Biller"]).await;
    let (desk, _) = person(&h, "desk@clinic.example", &["Office Staff"]).await;
    let security = format!("{CONSOLE}security");
    let r = admin.get(&security).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Every other setting as it is, Billers idle out after 2 minutes.
    let s =
        h.gw.store()
            .security(wardgate_tests::gateway::PRACTICE)
            .unwrap();
    let (idle, max, sessions, inactive) = (
        s.session_idle_minutes.to_string(),
        s.session_max_hours.to_string(),
        s.max_sessions.to_string(),
        s.inactivity_days.to_string(),
    );
    let (len, hist, age, after, mins) = (
        s.password.min_length.to_string(),
        s.password.history.to_string(),
        s.password.max_age_days.to_string(),
        s.lockout_after.to_string(),
        s.lockout_minutes.to_string(),
    );
    let form = vec![
        ("session_idle_minutes", idle.as_str()),
        ("session_max_hours", max.as_str()),
        ("max_sessions", sessions.as_str()),
        ("inactivity_days", inactive.as_str()),
        ("password.min_length", len.as_str()),
        ("password.history", hist.as_str()),
        ("password.max_age_days", age.as_str()),
        ("lockout_after", after.as_str()),
        ("lockout_minutes", mins.as_str()),
        ("idle.Biller", "2"),
    ];
    let r = admin.post(&security, &form).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let saved =
        h.gw.store()
            .security(wardgate_tests::gateway::PRACTICE)
            .unwrap();
    assert_eq!(saved.idle_minutes_by_role.get("Biller"), Some(&2));
    // A role the policy does not have is refused by the API, nothing changed.
    let mut wrong = saved.clone();
    wrong.idle_minutes_by_role.insert("Nobody".into(), 5);
    let r = h
        .operator(wardgate::api::ops::Op::SetSecurity(
            wardgate_tests::gateway::PRACTICE.into(),
            Box::new(wrong),
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("Nobody is not a role"), "{}", r.body);
    h.clock.advance(std::time::Duration::from_secs(150));
    let r = biller.get(&format!("{CONSOLE}account")).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the Biller's session idled out"
    );
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/.wardgate/login"));
    let r = desk.get(&format!("{CONSOLE}account")).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "Office Staff keep the practice's 30 minutes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_administers_its_own_people_only_and_a_session_stays_at_its_practice() {
    let h = Harness::start(
        "console-practices",
        Setup {
            practice: Some("from = \"header\"\nheader = \"x-practice\"".into()),
            ..Setup::default()
        },
    )
    .await;
    h.gw.store()
        .add_practice(
            &wardgate_identity::Actor::system(),
            "p2",
            "Second Clinic",
            "America/Chicago",
            &[],
        )
        .unwrap();
    h.gw.refresh_practices().unwrap();
    let p1 = wardgate_tests::gateway::PRACTICE;
    h.user(
        "admin@clinic.example",
        &["System Admin"],
        "Correct#Horse9",
        true,
    );
    let admin = h.browser().with_header("x-practice", p1);
    let r = admin.login("admin@clinic.example", "Correct#Horse9").await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    let other =
        h.gw.store()
            .add_user(
                &wardgate_identity::Actor::system(),
                wardgate_identity::NewUser {
                    email: "uptown@clinic.example".into(),
                    first_name: "Uma".into(),
                    last_name: "Uptown".into(),
                    password: "Temporary#Pass1".into(),
                    roles: vec!["Biller".into()],
                    practices: vec!["p2".into()],
                    ..wardgate_identity::NewUser::default()
                },
            )
            .unwrap();
    // Another practice's person is not found from here, listed or by id, nor changed.
    let r = admin.get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!r.body.contains("uptown@clinic.example"));
    let page = format!("{CONSOLE}users/{}", other.id);
    assert_eq!(admin.get(&page).await.status, StatusCode::NOT_FOUND);
    let r = admin.post(&page, &[("do", "disable")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert_eq!(
        h.gw.store().user(&other.id).unwrap().status,
        wardgate_identity::UserStatus::Active
    );
    // The same session at the other practice is not signed in there.
    let elsewhere = admin.clone().with_header("x-practice", "p2");
    let r = elsewhere.get(&format!("{CONSOLE}users")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(r.headers["location"]
        .to_str()
        .unwrap()
        .starts_with("/.wardgate/login"));
}
