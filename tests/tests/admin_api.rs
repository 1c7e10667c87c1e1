//! The administration API while the gateway serves, over real sockets: people signed in at the
//! gateway and integrations with keys, decided by the policy, kept to their practice, every
//! change in the gateway's one audit chain; and the operator's socket.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use http::{Method, StatusCode};
use serde_json::{json, Value};
use wardgate::api::client::Client as OperatorClient;
use wardgate::api::ops::{ListQuery, Op};
use wardgate_tests::api::{call, changes_by, signed_in, with_key, API};
use wardgate_tests::gateway::{Harness, Setup, PRACTICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_admin_administers_users_live_and_a_biller_is_refused_by_the_policy() {
    let h = Harness::start("api-admin", Setup::default()).await;
    // No credential, no administration (and no hint of who is there).
    let anonymous = h
        .client()
        .send(Method::GET, &format!("{}{API}/users", h.base), &[], None)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.body
    );
    let (admin, admin_id) = signed_in(&h, "admin@clinic.example", &["System Admin"]).await;

    let new = json!({
        "email": "frontdesk@clinic.example", "first_name": "Rosa", "last_name": "Diaz",
        "phone": "555-0100", "roles": ["Office Staff"], "practices": [PRACTICE]
    });
    // A change without the form token is a cross-site request.
    let forged = call(
        &h,
        &admin,
        Method::POST,
        "/users",
        Some(new.clone()),
        false,
        &[],
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert_eq!(forged.json()["error"], "cross_site");

    let added = call(
        &h,
        &admin,
        Method::POST,
        "/users",
        Some(new.clone()),
        true,
        &[],
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    let temporary = added.json()["temporary_password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(added.headers.contains_key("etag"));
    // The new receptionist signs in with the generated password (and must change it).
    let rosa = h.api_browser();
    let r = rosa.login("frontdesk@clinic.example", &temporary).await;
    assert_eq!(r.json()["step"], "change_password", "{}", r.body);

    let again = call(&h, &admin, Method::POST, "/users", Some(new), true, &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // Every field problem at once.
    let bad = json!({"email": "not-an-email", "roles": [], "practices": ["elsewhere"]});
    let refused = call(&h, &admin, Method::POST, "/users", Some(bad), true, &[]).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    let fields: Vec<String> = refused.json()["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_string())
        .collect();
    for f in ["email", "first_name", "last_name", "roles", "practices"] {
        assert!(fields.iter().any(|x| x == f), "{f} missing in {fields:?}");
    }

    let listed = call(
        &h,
        &admin,
        Method::GET,
        "/users?prefix=ros",
        None,
        false,
        &[],
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.json()["users"].as_array().unwrap().len(), 1);

    // Nobody raises their own roles.
    let grant = json!({"role": "Biller", "practice": PRACTICE});
    let own = format!("/users/{admin_id}/roles");
    let r = call(&h, &admin, Method::POST, &own, Some(grant), true, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // A Biller may not manage user accounts: the policy's reason.
    let (biller, _) = signed_in(&h, "biller@clinic.example", &["Biller"]).await;
    let r = call(&h, &biller, Method::GET, "/users", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "forbidden", "{}", r.body);
    assert_eq!(r.json()["reason"], "no_grant", "{}", r.body);
    // ... but may manage practice information, as the vendor's table says.
    let r = call(&h, &biller, Method::GET, "/practices", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The change is the administrator's, in the one chain, which verifies.
    assert!(changes_by(&h, &admin_id).contains(&"user:create".to_string()));
    h.gw.audit().flush().unwrap();
    let report = wardgate_audit::verify(&h.dir.join("audit"), None).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_administrators_editing_one_user_one_gets_412() {
    let h = Harness::start("api-412", Setup::default()).await;
    let (first, _) = signed_in(&h, "one@clinic.example", &["System Admin"]).await;
    let (second, _) = signed_in(&h, "two@clinic.example", &["System Admin"]).await;
    let target = h.user(
        "staff@clinic.example",
        &["Office Staff"],
        "Correct#Horse9",
        true,
    );
    let path = format!("/users/{}", target.id);
    let read_1 = call(&h, &first, Method::GET, &path, None, false, &[]).await;
    let read_2 = call(&h, &second, Method::GET, &path, None, false, &[]).await;
    let tag_1 = read_1.headers["etag"].to_str().unwrap().to_string();
    let tag_2 = read_2.headers["etag"].to_str().unwrap().to_string();
    assert_eq!(tag_1, tag_2);
    let edit = json!({"phone": "555-0111"});
    let ok = call(
        &h,
        &first,
        Method::PATCH,
        &path,
        Some(edit),
        true,
        &[("if-match", &tag_1)],
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_ne!(ok.headers["etag"].to_str().unwrap(), tag_1);
    let edit = json!({"phone": "555-0222"});
    let stale = call(
        &h,
        &second,
        Method::PATCH,
        &path,
        Some(edit),
        true,
        &[("if-match", &tag_2)],
    )
    .await;
    assert_eq!(
        stale.status,
        StatusCode::PRECONDITION_FAILED,
        "{}",
        stale.body
    );
    let now = call(&h, &second, Method::GET, &path, None, false, &[]).await;
    assert_eq!(now.json()["user"]["phone"], "555-0111");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_the_api_is_refused_on_its_next_request() {
    let h = Harness::start("api-keys", Setup::default()).await;
    let admin = h.key("provisioning", "System Admin", &["user_accounts"], None);
    let lab = h.key("lab", "Provider", &["*"], None);
    assert_eq!(h.get("/api/patients", &lab).await.status, StatusCode::OK);

    let listed = with_key(&h, &admin, Method::GET, "/keys", None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let keys = listed.json()["keys"].as_array().unwrap().clone();
    let lab_id = keys.iter().find(|k| k["account"] == "lab").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let revoked = with_key(&h, &admin, Method::DELETE, &format!("/keys/{lab_id}"), None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert_eq!(
        h.get("/api/patients", &lab).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The revocation names the key that made it.
    let admin_id = keys
        .iter()
        .find(|k| k["account"] == "provisioning")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(changes_by(&h, &admin_id).contains(&"key:revoke".to_string()));
    let record = h
        .audit_records()
        .into_iter()
        .find(|r| r["event"]["action"] == "key:revoke")
        .unwrap();
    assert_eq!(record["event"]["actor"]["kind"], "key");

    // A key without the scope is refused, whatever its role.
    let narrow = h.key("reports", "System Admin", &["patient_demographics"], None);
    let r = with_key(&h, &narrow, Method::GET, "/users", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_socket_administers_the_running_gateway_as_the_os_user() {
    let h = Harness::start("api-operator", Setup::default()).await;
    let socket = wardgate::api::socket::path_for(&h.dir.join("wardgate.db"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir = std::fs::metadata(socket.parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
    let client = OperatorClient::running(&socket).expect("the socket answers");
    let op = Op::AddUser(Box::new(wardgate::api::ops::NewUserBody {
        email: "first.admin@clinic.example".into(),
        first_name: "Ada".into(),
        last_name: "Admin".into(),
        password: Some("Correct#Horse9".into()),
        roles: vec!["System Admin".into()],
        practices: vec![PRACTICE.into()],
        ..Default::default()
    }));
    let (status, body) = tokio::task::spawn_blocking(move || client.call(&op).unwrap())
        .await
        .unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let client = OperatorClient::running(&socket).unwrap();
    let (status, body) = tokio::task::spawn_blocking(move || {
        client.call(&Op::ListUsers(ListQuery::default())).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["users"].as_array().unwrap().len(), 1);
    let record = h
        .audit_records()
        .into_iter()
        .find(|r| r["event"]["action"] == "user:create")
        .unwrap();
    assert_eq!(record["event"]["actor"]["kind"], "operator");
    assert!(record["event"]["actor"]["id"]
        .as_str()
        .unwrap()
        .starts_with("operator:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bootstrap_key_creates_the_first_administrator_only_and_is_alerted() {
    let h = Harness::start("api-bootstrap", Setup::default()).await;
    let first = json!({
        "email": "owner@clinic.example", "first_name": "Olga", "last_name": "Owner",
        "password": "Correct#Horse9", "roles": ["System Admin"], "practices": [PRACTICE]
    });
    let staff = json!({
        "email": "staff@clinic.example", "first_name": "Sam", "last_name": "Staff",
        "roles": ["Office Staff"], "practices": [PRACTICE]
    });
    let body = |v: &Value| Some(v.to_string().into_bytes());
    // Not for anything but an administrator ...
    let r = h.admin(Method::POST, "/v1/users", body(&staff)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = h.admin(Method::GET, "/v1/users", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // ... the first one ...
    let r = h.admin(Method::POST, "/v1/users", body(&first)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // ... and only the first.
    let mut second = first.clone();
    second["email"] = json!("another@clinic.example");
    let r = h.admin(Method::POST, "/v1/users", body(&second)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The first administrator signs in and takes over.
    let b = h.api_browser();
    b.login("owner@clinic.example", "Correct#Horse9").await;
    let records = h.audit_records();
    let uses = records
        .iter()
        .filter(|r| r["event"]["action"] == "admin:bootstrap")
        .count();
    assert_eq!(uses, 4, "every use is on record");
    let created = records
        .iter()
        .find(|r| r["event"]["action"] == "user:create")
        .unwrap();
    assert_eq!(created["event"]["actor"]["id"], "bootstrap");
    let metrics = h.gw.metrics().render();
    assert!(
        metrics.contains("result=\"bootstrap\"} 4"),
        "{}",
        metrics
            .lines()
            .filter(|l| l.contains("alert"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// What a security review of the first version found, each now refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_identity_is_minted_past_its_maker_and_no_practice_reached_past_its_own() {
    let h = Harness::start("api-escalation", Setup::default()).await;
    let store = h.gw.store().clone();
    store
        .add_practice(
            &wardgate_identity::Actor::system(),
            "p2",
            "Uptown",
            "America/Chicago",
            &[],
        )
        .unwrap();
    let (admin, admin_id) = signed_in(&h, "admin@clinic.example", &["System Admin"]).await;

    // A narrow key does not make a wide one, nor accounts.
    let narrow = h.key("ua-bot", "System Admin", &["user_accounts"], None);
    let wide = json!({"account": "ua-bot", "scopes": ["*"]});
    let r = with_key(&h, &narrow, Method::POST, "/keys", Some(wide)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let account = json!({"id": "shadow", "practice": PRACTICE, "roles": ["System Admin"]});
    let r = with_key(&h, &narrow, Method::POST, "/accounts", Some(account)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Someone who also works at another practice: seen here only, changed there by nobody here.
    let dual = store
        .add_user(
            &wardgate_identity::Actor::system(),
            wardgate_identity::NewUser {
                email: "dual@clinic.example".into(),
                first_name: "Dee".into(),
                last_name: "Dual".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Office Staff".into()],
                practices: vec![PRACTICE.into()],
                ..Default::default()
            },
        )
        .unwrap();
    store
        .grant(
            &wardgate_identity::Actor::system(),
            &dual.id,
            "System Admin",
            "p2",
            None,
            None,
        )
        .unwrap();
    let path = format!("/users/{}", dual.id);
    let seen = call(&h, &admin, Method::GET, &path, None, false, &[]).await;
    let seen_json = seen.json();
    let places: Vec<&str> = seen_json["user"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["practice_id"].as_str().unwrap())
        .collect();
    assert_eq!(places, vec![PRACTICE], "{}", seen.body);
    for (method, what, body) in [
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"email": "attacker@evil.example"})),
        ),
        (Method::POST, format!("{path}/disable"), None),
        (Method::POST, format!("{path}/unassign"), None),
        (Method::POST, format!("{path}/reset"), None),
        (Method::DELETE, path.clone(), None),
    ] {
        let r = call(&h, &admin, method.clone(), &what, body, true, &[]).await;
        assert_eq!(
            r.status,
            StatusCode::FORBIDDEN,
            "{method} {what}: {}",
            r.body
        );
    }
    assert_eq!(store.user(&dual.id).unwrap().email, "dual@clinic.example");
    // Their role here is the administrator's to revoke.
    let revoke = format!("{path}/roles/Office%20Staff?practice={PRACTICE}");
    let r = call(&h, &admin, Method::DELETE, &revoke, None, true, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The last administrator stays one.
    let own = format!("/users/{admin_id}/roles/System%20Admin?practice={PRACTICE}");
    let r = call(&h, &admin, Method::DELETE, &own, None, true, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.json()["error"], "last_administrator");
    let r = with_key(
        &h,
        &narrow,
        Method::POST,
        &format!("/users/{admin_id}/lock"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // A duplicate account is a conflict, not a fault.
    let twice = json!({"id": "lab", "practice": PRACTICE, "roles": ["Provider"]});
    let first = call(
        &h,
        &admin,
        Method::POST,
        "/accounts",
        Some(twice.clone()),
        true,
        &[],
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = call(
        &h,
        &admin,
        Method::POST,
        "/accounts",
        Some(twice),
        true,
        &[],
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // Another practice's user is not found, even behind If-Match.
    let elsewhere = store
        .add_user(
            &wardgate_identity::Actor::system(),
            wardgate_identity::NewUser {
                email: "boss@uptown.example".into(),
                first_name: "Bo".into(),
                last_name: "Boss".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["System Admin".into()],
                practices: vec!["p2".into()],
                ..Default::default()
            },
        )
        .unwrap();
    let there = format!("/users/{}", elsewhere.id);
    let r = call(
        &h,
        &admin,
        Method::PATCH,
        &there,
        Some(json!({"phone": "1"})),
        true,
        &[("if-match", "\"x\"")],
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_does_not_open_administration() {
    let h = Harness::start("api-break-glass", Setup::default()).await;
    let (provider, _) = signed_in(&h, "doc@clinic.example", &["Provider"]).await;
    let r = provider
        .post(
            "/.wardgate/emergency",
            &[("reason", "patient coding in ER")],
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let r = call(&h, &provider, Method::GET, "/users", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"], "emergency_not_allowed", "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_password_change_needs_the_new_password_twice() {
    let h = Harness::start("api-confirm", Setup::default()).await;
    h.user(
        "new@clinic.example",
        &["Office Staff"],
        "Temporary#Pass1",
        false,
    );
    let b = h.api_browser();
    let r = b.login("new@clinic.example", "Temporary#Pass1").await;
    assert_eq!(r.json()["step"], "change_password", "{}", r.body);
    let differ = [
        ("current", "Temporary#Pass1"),
        ("new", "Correct#Horse9"),
        ("confirm", "Correct#Horse8"),
    ];
    let r = b.post("/.wardgate/password", &differ).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.json()["error"], "passwords_differ");
    let same = [
        ("current", "Temporary#Pass1"),
        ("new", "Correct#Horse9"),
        ("confirm", "Correct#Horse9"),
    ];
    let r = b.post("/.wardgate/password", &same).await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_that_drops_a_module_loses_its_actions_at_once() {
    let h = Harness::start("api-modules", Setup::default()).await;
    let admin = h.key(
        "provisioning",
        "System Admin",
        &["user_accounts", "practice_information"],
        None,
    );
    let biller = h.key("billing-sync", "Biller", &["*"], None);
    assert_eq!(h.get("/api/charges", &biller).await.status, StatusCode::OK);
    let modules = json!({"modules": ["clinical", "engage"]});
    let path = format!("/practices/{PRACTICE}/modules");
    let r = with_key(&h, &admin, Method::PUT, &path, Some(modules)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["practice"]["modules"],
        json!(["clinical", "engage"])
    );
    let refused = h.get("/api/charges", &biller).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(refused.json()["reason"], "module_not_subscribed");
    // The name and time zone are practice information.
    let edit = json!({"name": "Main Street Family Clinic", "timezone": "Mars/Olympus"});
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("/practices/{PRACTICE}"),
        Some(edit),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let edit = json!({"name": "Main Street Family Clinic"});
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("/practices/{PRACTICE}"),
        Some(edit),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.gw.practice(PRACTICE).unwrap().name,
        "Main Street Family Clinic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_ends_one_session_and_resets_a_lost_second_factor() {
    let h = Harness::start("api-sessions", Setup::default()).await;
    let admin = h.key("provisioning", "System Admin", &["user_accounts"], None);
    let (nurse, nurse_id) = signed_in(&h, "nurse@clinic.example", &["Office Staff"]).await;
    let listed = with_key(
        &h,
        &admin,
        Method::GET,
        &format!("/users/{nurse_id}/sessions"),
        None,
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let session = listed.json()["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let end = format!("/users/{nurse_id}/sessions/{session}");
    let r = with_key(&h, &admin, Method::DELETE, &end, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        nurse.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
    let again = with_key(&h, &admin, Method::DELETE, &end, None).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "{}", again.body);

    let store = h.gw.store();
    let enrolled = store.enroll_totp(&nurse_id, "Wardgate").unwrap();
    let secret = wardgate_tests::gateway::base32(&enrolled.secret);
    let now = h.clock.utc().timestamp();
    store
        .confirm_totp(&nurse_id, &wardgate_identity::totp(&secret, now))
        .unwrap();
    assert!(store.has_second_factor(&nurse_id).unwrap());
    let reset = format!("/users/{nurse_id}/reset-second-factor");
    let r = with_key(&h, &admin, Method::POST, &reset, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!store.has_second_factor(&nurse_id).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_activity_log_is_searched_exported_and_verified_over_the_api() {
    let h = Harness::start("api-audit", Setup::default()).await;
    let admin = h.key("security", "System Admin", &["*"], None);
    let lab = h.key("lab", "Provider", &["*"], None);
    for _ in 0..3 {
        assert_eq!(h.get("/api/patients", &lab).await.status, StatusCode::OK);
    }
    let r = with_key(
        &h,
        &admin,
        Method::GET,
        "/audit?action=patient_demographics:*&limit=2",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let page = r.json();
    assert_eq!(page["records"].as_array().unwrap().len(), 2, "{}", r.body);
    assert_eq!(page["truncated"], true);
    assert!(page["records"]
        .as_array()
        .unwrap()
        .iter()
        .all(|rec| rec["event"]["resource"]["practice"] == PRACTICE));
    // Another practice's records are not the caller's to read.
    let r = with_key(&h, &admin, Method::GET, "/audit?practice=p2", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let r = with_key(
        &h,
        &admin,
        Method::GET,
        "/audit/export?action=patient_demographics:*",
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let lines: Vec<&str> = r.body.lines().collect();
    assert!(lines[0].starts_with("seq,"), "{}", r.body);
    assert_eq!(lines.len(), 4, "a header and three records: {}", r.body);

    let r = with_key(&h, &admin, Method::GET, "/audit/verify", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["ok"], true, "{}", r.body);

    let biller = h.key("billing", "Biller", &["*"], None);
    let r = with_key(&h, &biller, Method::GET, "/audit", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_is_read_explained_swapped_and_rolled_back_over_the_api() {
    let h = Harness::start("api-policy", Setup::default()).await;
    let admin = h.key("security", "System Admin", &["*"], None);
    let r = with_key(&h, &admin, Method::GET, "/policy", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let before = r.json()["module_hash"].as_str().unwrap().to_string();
    let request = json!({
        "principal": {"id": "u-9", "roles": ["Biller"]},
        "action": "user_accounts:manage",
        "resource": {},
        "context": {"time": "2026-11-23T10:15:00-05:00"}
    });
    let r = with_key(&h, &admin, Method::POST, "/policy/explain", Some(request)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["decision"]["decision"], "deny", "{}", r.body);
    assert_eq!(r.json()["decision"]["reasons"][0]["code"], "no_grant");

    let broken = json!({"name": "broken.policy", "text": "policy \"x\" version"});
    let r = with_key(&h, &admin, Method::PUT, "/policy", Some(broken)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    let text = std::fs::read_to_string(&h.policy_path).unwrap();
    let changed = text.replace("version \"", "version \"2-");
    let candidate = json!({"name": "kareo.policy", "text": changed});
    let r = with_key(&h, &admin, Method::PUT, "/policy", Some(candidate)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["swapped"]["previous"], before.as_str());
    let r = with_key(&h, &admin, Method::POST, "/policy/rollback", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["rolled_back"]["module_hash"], before.as_str());
    let swap = h
        .audit_records()
        .into_iter()
        .find(|r| r["event"]["action"] == "policy:swap")
        .unwrap();
    assert_eq!(swap["event"]["actor"]["kind"], "key", "{swap}");

    let biller = h.key("billing", "Biller", &["*"], None);
    let r = with_key(&h, &biller, Method::POST, "/policy/rollback", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practices_inactivity_setting_is_applied_by_the_gateway_itself() {
    let h = Harness::start("api-inactivity", Setup::default()).await;
    let admin = h.user(
        "boss@clinic.example",
        &["System Admin"],
        "Correct#Horse9",
        true,
    );
    let idle = h.user(
        "idle@clinic.example",
        &["Office Staff"],
        "Correct#Horse9",
        true,
    );
    let key = h.key("security", "System Admin", &["*"], None);
    let settings = json!({"inactivity_days": 30});
    let path = format!("/practices/{PRACTICE}/security");
    let r = with_key(&h, &key, Method::PUT, &path, Some(settings)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    h.gw.expire_inactive();
    assert_eq!(
        h.gw.store().user(&idle.id).unwrap().status,
        wardgate_identity::UserStatus::Active
    );
    h.clock.advance(std::time::Duration::from_secs(31 * 86_400));
    h.gw.expire_inactive();
    let store = h.gw.store();
    assert_eq!(
        store.user(&idle.id).unwrap().status,
        wardgate_identity::UserStatus::Disabled
    );
    assert_eq!(
        store.user(&admin.id).unwrap().status,
        wardgate_identity::UserStatus::Active,
        "the last administrator stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_cursors_that_neither_repeat_nor_skip() {
    let h = Harness::start("api-pages", Setup::default()).await;
    let admin = h.key("provisioning", "System Admin", &["*"], None);
    for n in 0..4 {
        h.key(&format!("bot-{n}"), "Provider", &["*"], None);
    }
    let mut seen = Vec::new();
    let mut path = "/keys?limit=2".to_string();
    loop {
        let r = with_key(&h, &admin, Method::GET, &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let page = r.json();
        let ids: Vec<String> = page["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["id"].as_str().unwrap().to_string())
            .collect();
        assert!(ids.len() <= 2);
        seen.extend(ids);
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("/keys?limit=2&cursor={next}"),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (5, 5), "{seen:?}");
    let r = with_key(&h, &admin, Method::GET, "/keys?cursor=nope", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locations_and_patient_relations_are_listed_changed_and_removed() {
    let h = Harness::start("api-locations", Setup::default()).await;
    let admin = h.key("provisioning", "System Admin", &["*"], None);
    let base = format!("/practices/{PRACTICE}/locations");
    let add = json!({"id": "north", "name": "North Office"});
    let r = with_key(&h, &admin, Method::POST, &base, Some(add)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("{base}/north"),
        Some(json!({"name": "North Clinic"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = with_key(&h, &admin, Method::GET, &base, None).await;
    assert_eq!(
        r.json()["locations"][0]["name"],
        "North Clinic",
        "{}",
        r.body
    );
    // A location a role grant names stays until the grant goes.
    let staff = h.user(
        "front@clinic.example",
        &["Office Staff"],
        "Correct#Horse9",
        true,
    );
    let grant = json!({"role": "Office Staff", "practice": PRACTICE, "location": "north"});
    let r = with_key(
        &h,
        &admin,
        Method::POST,
        &format!("/users/{}/roles", staff.id),
        Some(grant),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = with_key(&h, &admin, Method::DELETE, &format!("{base}/north"), None).await;
    assert!(r.status.is_client_error(), "{}", r.body);
    let r = with_key(&h, &admin, Method::DELETE, &format!("{base}/nowhere"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    let provider = h.user("doc@clinic.example", &["Provider"], "Correct#Horse9", true);
    let rel = format!("/users/{}/relations", provider.id);
    let body = json!({"patient": "pt-1001", "relation": "assigned"});
    let r = with_key(&h, &admin, Method::POST, &rel, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = with_key(&h, &admin, Method::GET, &rel, None).await;
    assert_eq!(
        r.json()["relations"],
        json!([{"patient": "pt-1001", "relation": "assigned"}])
    );
    let r = with_key(
        &h,
        &admin,
        Method::DELETE,
        &format!("{rel}/pt-1001?relation=assigned"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(h
        .gw
        .store()
        .relations(&provider.id, "pt-1001")
        .unwrap()
        .is_empty());
    let r = with_key(
        &h,
        &admin,
        Method::DELETE,
        &format!("{rel}/pt-1001?relation=assigned"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}
