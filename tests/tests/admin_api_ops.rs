//! More of the administration API while the gateway serves: what a person does for themselves,
//! retried creations, the bootstrap under a race, replayed sessions, the policy's matrix and
//! tests, per-location revocation, a provider's fields, the practice's password rules, and the
//! command line reaching a gateway by URL with a key.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{json, Value};
use wardgate::api::client::Client;
use wardgate::api::ops::{ListQuery, Op};
use wardgate_identity::Actor;
use wardgate_tests::api::{call, changes_by, signed_in, with_key, with_key_and, API};
use wardgate_tests::gateway::{Harness, Setup, CSRF_COOKIE, PRACTICE};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sees_who_they_are_and_changes_their_own_password() {
    let h = Harness::start("api-me", Setup::default()).await;
    // Office Staff administer nothing, and still look after their own account.
    let (b, id) = signed_in(&h, "desk@clinic.example", &["Office Staff"]).await;
    let r = call(&h, &b, Method::GET, "/me", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let me = r.json();
    assert_eq!(
        (me["kind"].as_str(), me["id"].as_str()),
        (Some("user"), Some(id.as_str()))
    );
    assert_eq!(me["roles"], json!(["Office Staff"]));
    assert!(
        me["policy_roles"].as_array().is_some_and(
            |r| r.contains(&json!("Office Staff")) && r.contains(&json!("System Admin"))
        ),
        "{me}"
    );
    assert_eq!(me["user"]["email"], "desk@clinic.example");
    let r = call(&h, &b, Method::GET, "/users", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    let change = |current: &str, new: &str, confirm: &str| json!({"current": current, "new": new, "confirm": confirm});
    let good = change("Correct#Horse9", "Battery#Staple42", "Battery#Staple42");
    // A cross-site form cannot change it.
    let r = call(
        &h,
        &b,
        Method::POST,
        "/me/password",
        Some(good.clone()),
        false,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Every problem named by its field: missing, mismatched, wrong, weak.
    for (body, fields) in [
        (
            change("", "Battery#Staple42", "Battery#Staple43"),
            vec!["current", "confirm"],
        ),
        (
            change("Wrong#Horse9", "Battery#Staple42", "Battery#Staple42"),
            vec!["current"],
        ),
        (change("Correct#Horse9", "short", "short"), vec!["new"]),
    ] {
        let r = call(&h, &b, Method::POST, "/me/password", Some(body), true, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        let problems = r.json();
        let named: Vec<&str> = problems["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{}", r.body);
    }
    let r = call(&h, &b, Method::POST, "/me/password", Some(good), true, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The old password is gone, the new one signs in.
    let again = h.api_browser();
    let r = again.login("desk@clinic.example", "Correct#Horse9").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = again.login("desk@clinic.example", "Battery#Staple42").await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(changes_by(&h, &id).contains(&"user:password-change".to_string()));

    // A key is who it is, and has no password to change.
    let key = h.key("lab-feed", "Office Staff", &["*"], None);
    let r = with_key(&h, &key, Method::GET, "/me", None).await;
    assert_eq!(r.json()["kind"], "key", "{}", r.body);
    let body = json!({"current": "x", "new": "Battery#Staple42", "confirm": "Battery#Staple42"});
    let r = with_key(&h, &key, Method::POST, "/me/password", Some(body)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_current_passwords_throttle_the_account_like_failed_sign_ins() {
    let h = Harness::start("api-me-lockout", Setup::default()).await;
    let mut settings = h.gw.store().security(PRACTICE).unwrap();
    settings.lockout_after = 3;
    h.gw.store()
        .set_security(&Actor::system(), PRACTICE, &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    let (b, id) = signed_in(&h, "desk@clinic.example", &["Office Staff"]).await;
    // Setting up the account changed its temporary password once.
    let changed_before = changes_by(&h, &id)
        .iter()
        .filter(|a| *a == "user:password-change")
        .count();
    let change = |current: &str| json!({"current": current, "new": "Battery#Staple42", "confirm": "Battery#Staple42"});
    for _ in 0..2 {
        let body = change("Wrong#Horse9");
        let r = call(&h, &b, Method::POST, "/me/password", Some(body), true, &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.json()["problems"][0]["field"], "current", "{}", r.body);
    }
    // The third wrong one throttles the account, as a third failed sign-in would.
    let body = change("Wrong#Horse9");
    let r = call(&h, &b, Method::POST, "/me/password", Some(body), true, &[]).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("locked_out")),
        "{}",
        r.body
    );
    assert!(h.gw.store().user(&id).unwrap().locked_until.is_some());
    // While throttled, even the right current password is refused, and nothing changes.
    let body = change("Correct#Horse9");
    let r = call(&h, &b, Method::POST, "/me/password", Some(body), true, &[]).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("locked_out")),
        "{}",
        r.body
    );
    let changes = |h: &Harness| {
        changes_by(h, &id)
            .iter()
            .filter(|a| *a == "user:password-change")
            .count()
    };
    assert_eq!(changes(&h), changed_before, "nothing changed");
    assert!(h
        .audit_records()
        .iter()
        .any(|r| r["event"]["action"] == "user:lockout"));
    // Guessing does not sign the person out.
    let r = call(&h, &b, Method::GET, "/me", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Unlocked, the old password is still the one that works.
    h.gw.store().unlock(&Actor::system(), &id).unwrap();
    let again = h.api_browser();
    let r = again.login("desk@clinic.example", "Correct#Horse9").await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_your_own_password_signs_out_your_other_sessions() {
    let h = Harness::start("api-me-sessions", Setup::default()).await;
    let (first, id) = signed_in(&h, "desk@clinic.example", &["Office Staff"]).await;
    let second = h.api_browser();
    let r = second.login("desk@clinic.example", "Correct#Horse9").await;
    assert!(
        r.status.is_success() || r.status.is_redirection(),
        "{}",
        r.body
    );
    let r = call(&h, &second, Method::GET, "/me", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let body = json!({"current": "Correct#Horse9", "new": "Battery#Staple42", "confirm": "Battery#Staple42"});
    let r = call(
        &h,
        &first,
        Method::POST,
        "/me/password",
        Some(body),
        true,
        &[],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["other_sessions_ended"], 1, "{}", r.body);
    // The other device is signed out; this one stays.
    let r = call(&h, &second, Method::GET, "/me", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    let r = call(&h, &first, Method::GET, "/me", None, false, &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.gw.store().sessions(&id).unwrap().len(), 1);
    assert!(changes_by(&h, &id).contains(&"session:end-all".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_creation_with_an_idempotency_key_makes_one_user() {
    let h = Harness::start("api-idempotent", Setup::default()).await;
    let admin = h.key("hr", "System Admin", &["*"], None);
    let new = json!({
        "email": "retry@clinic.example", "first_name": "Rita", "last_name": "Retry",
        "roles": ["Office Staff"], "practices": [PRACTICE]
    });
    let key = [("idempotency-key", "4f1c2a9e-hire-rita")];
    let first = with_key_and(&h, &admin, Method::POST, "/users", Some(new.clone()), &key).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert!(first.json()["temporary_password"].is_string());
    // The answer was lost; the client asks again and gets the same answer, not a 409 or a
    // second account - with the temporary password it never saw.
    let again = with_key_and(&h, &admin, Method::POST, "/users", Some(new.clone()), &key).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.json(), first.json());
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .map(|v| v.as_bytes()),
        Some(&b"true"[..])
    );
    let made = h
        .audit_records()
        .iter()
        .filter(|r| r["event"]["action"] == "user:create")
        .count();
    assert_eq!(made, 1, "the retry created again");
    // The practice's administrators find the change in their activity log.
    let r = with_key(&h, &admin, Method::GET, "/audit?action=user:create", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let found = r.json()["records"].as_array().unwrap().len();
    assert_eq!(found, 1, "{}", r.body);
    // The same key for another request is a client's mistake.
    let mut other = new.clone();
    other["email"] = json!("other@clinic.example");
    let r = with_key_and(
        &h,
        &admin,
        Method::POST,
        "/users",
        Some(other.clone()),
        &key,
    )
    .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        ),
        "{}",
        r.body
    );
    // Keys are the caller's own: another caller's same key is another request.
    let second = h.key("hr-2", "System Admin", &["*"], None);
    let r = with_key_and(&h, &second, Method::POST, "/users", Some(other), &key).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A key that is not a key.
    let r = with_key_and(
        &h,
        &admin,
        Method::POST,
        "/users",
        Some(new),
        &[("idempotency-key", "has spaces in it")],
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Nothing secret is kept in the clear.
    let raw = std::fs::read(h.dir.join("wardgate.db")).unwrap();
    let password = first.json()["temporary_password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        !raw.windows(password.len())
            .any(|w| w == password.as_bytes()),
        "the kept reply holds the temporary password in the clear"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstraps_at_once_make_one_administrator() {
    let h = Arc::new(Harness::start("api-bootstrap-race", Setup::default()).await);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let h = h.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({
                "email": format!("owner{i}@clinic.example"), "first_name": "Olga",
                "last_name": "Owner", "password": "Correct#Horse9",
                "roles": ["System Admin"], "practices": [PRACTICE]
            });
            h.admin(
                Method::POST,
                "/v1/users",
                Some(body.to_string().into_bytes()),
            )
            .await
            .status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{statuses:?}");
    assert!(statuses
        .iter()
        .all(|s| *s == StatusCode::CREATED || *s == StatusCode::FORBIDDEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_replayed_after_sign_out_administers_nothing() {
    let h = Harness::start("api-replay", Setup::default()).await;
    let (b, _) = signed_in(&h, "admin@clinic.example", &["System Admin"]).await;
    let cookies = b.cookie_header();
    let token = b.cookie(CSRF_COOKIE).unwrap();
    let replay = |method: Method, path: &str, body: Option<Value>| {
        let headers = [
            ("user-agent", "wardgate-test-client/1.0".to_string()),
            ("accept", "application/json".to_string()),
            ("content-type", "application/json".to_string()),
            ("cookie", cookies.clone()),
            ("x-csrf-token", token.clone()),
        ];
        let url = format!("{}{API}{path}", h.base);
        let body = body.map(|b| b.to_string());
        let client = h.client();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            client.send(method, &url, &headers, body.as_deref()).await
        }
    };
    assert_eq!(
        replay(Method::GET, "/users", None).await.status,
        StatusCode::OK
    );
    let r = b.post("/.wardgate/logout", &[]).await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.body
    );
    let new = json!({
        "email": "ghost@clinic.example", "first_name": "G", "last_name": "Host",
        "roles": ["System Admin"], "practices": [PRACTICE]
    });
    for (method, path, body) in [
        (Method::GET, "/users", None),
        (Method::POST, "/users", Some(new)),
        (Method::GET, "/me", None),
    ] {
        let r = replay(method.clone(), path, body).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            r.body
        );
    }
    assert!(h.gw.store().user("ghost@clinic.example").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_matrix_and_tests_are_read_over_the_api() {
    let h = Harness::start("api-matrix", Setup::default()).await;
    let admin = h.key("security", "System Admin", &["*"], None);
    let r = with_key(&h, &admin, Method::GET, "/policy/matrix", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = r.json();
    let roles: Vec<&str> = m["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let column = |role: &str| roles.iter().position(|r| *r == role).unwrap();
    let row = m["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "user_accounts:manage")
        .unwrap()
        .clone();
    assert_eq!(row["cells"][column("System Admin")], "Y", "{row}");
    assert_eq!(row["cells"][column("Biller")], "-", "{row}");
    // A Biller may not see who may administer.
    let biller = h.key("billing", "Biller", &["*"], None);
    let r = with_key(&h, &biller, Method::GET, "/policy/matrix", None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // Tests: the shipped suite passes against the policy in force; a wrong expectation fails.
    let root = wardgate_tests::root();
    let suite = std::fs::read_to_string(root.join("policies/kareo.tests.toml")).unwrap();
    let r = with_key(
        &h,
        &admin,
        Method::POST,
        "/policy/test",
        Some(json!({"suite": suite})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let run = r.json();
    assert!(run["total"].as_u64().unwrap() > 10, "{run}");
    assert_eq!(run["passed"], run["total"], "{run}");
    let wrong = "policy = \"kareo.policy\"\n[[case]]\nname = \"a biller manages users\"\nprincipal.id = \"u-1\"\nprincipal.roles = [\"Biller\"]\naction = \"user_accounts:manage\"\nexpect = \"allow\"\n";
    let r = with_key(
        &h,
        &admin,
        Method::POST,
        "/policy/test",
        Some(json!({"suite": wrong})),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.json()["failed"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
    let r = with_key(&h, &admin, Method::POST, "/policy/test", Some(json!({}))).await;
    assert_eq!(
        (r.status, r.json()["problems"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("suite")),
        "{}",
        r.body
    );
    // A module put in force compiled has no rules to show (unless it is one put in force
    // as text before: the same module, the same matrix).
    let text = std::fs::read_to_string(&h.policy_path).unwrap();
    let other = text.replace("version \"", "version \"3-");
    let compiled = wardgate_policy::compile_str("kareo.policy", &other).unwrap();
    let component = wardgate_compiler::compile(&compiled.policy).unwrap();
    let r = h.swap(component).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = with_key(&h, &admin, Method::GET, "/policy/matrix", None).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::CONFLICT, Some("no_source")),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_are_revoked_at_one_location_and_providers_fields_edited() {
    let h = Harness::start("api-locations-providers", Setup::default()).await;
    for (id, name) in [("north", "North Office"), ("south", "South Office")] {
        let r = h
            .operator(Op::AddLocation(
                PRACTICE.into(),
                wardgate::api::ops::LocationBody {
                    id: id.into(),
                    name: name.into(),
                },
            ))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let admin = h.key("hr", "System Admin", &["*"], None);
    let provider = json!({
        "email": "doc@clinic.example", "first_name": "Dana", "last_name": "Doc",
        "npi": "1234567893", "license_number": "MD-1001", "specialty": "Family Medicine",
        "roles": ["Provider"], "practices": [PRACTICE], "location": "north"
    });
    let r = with_key(&h, &admin, Method::POST, "/users", Some(provider)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["user"]["license_number"], "MD-1001");
    let grant = json!({"role": "Provider", "practice": PRACTICE, "location": "south"});
    let r = with_key(
        &h,
        &admin,
        Method::POST,
        &format!("/users/{id}/roles"),
        Some(grant),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = with_key(
        &h,
        &admin,
        Method::DELETE,
        &format!("/users/{id}/roles/Provider?practice={PRACTICE}&location=north"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let held: Vec<Value> = r.json()["user"]["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["location_id"].clone())
        .collect();
    assert_eq!(held, [json!("south")], "{}", r.body);
    // Revoking where nothing is held is not found.
    let r = with_key(
        &h,
        &admin,
        Method::DELETE,
        &format!("/users/{id}/roles/Provider?practice={PRACTICE}&location=north"),
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // "Edit User" for a provider: license, specialty, credentials; the NPI checked.
    let edit = json!({"license_number": "MD-2002", "specialty": "Pediatrics", "credentials": "MD", "middle_name": "Q"});
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("/users/{id}"),
        Some(edit),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let u = &r.json()["user"];
    assert_eq!(
        (
            u["license_number"].as_str(),
            u["specialty"].as_str(),
            u["middle_name"].as_str()
        ),
        (Some("MD-2002"), Some("Pediatrics"), Some("Q"))
    );
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("/users/{id}"),
        Some(json!({"npi": "1234567890"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Staff have no provider fields.
    let staff = h.user(
        "clerk@clinic.example",
        &["Office Staff"],
        "Correct#Horse9",
        true,
    );
    let r = with_key(
        &h,
        &admin,
        Method::PATCH,
        &format!("/users/{}", staff.id),
        Some(json!({"license_number": "X"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practices_password_rules_are_its_security_settings() {
    let h = Harness::start("api-password-rules", Setup::default()).await;
    let admin = h.key("security", "System Admin", &["*"], None);
    let path = format!("/practices/{PRACTICE}/security");
    let mut settings =
        with_key(&h, &admin, Method::GET, &path, None).await.json()["security"].clone();
    assert_eq!(settings["password"]["min_length"], 12, "{settings}");
    // Every problem at once.
    settings["password"]["min_length"] = json!(4);
    settings["lockout_after"] = json!(0);
    let r = with_key(&h, &admin, Method::PUT, &path, Some(settings.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(
        r.body.contains("password.min_length") && r.body.contains("lockout_after"),
        "{}",
        r.body
    );
    settings["password"]["min_length"] = json!(20);
    settings["lockout_after"] = json!(3);
    let r = with_key(&h, &admin, Method::PUT, &path, Some(settings)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = json!({
        "email": "long@clinic.example", "first_name": "L", "last_name": "Ong",
        "password": "Short#Pass123", "roles": ["Office Staff"], "practices": [PRACTICE]
    });
    let r = with_key(&h, &admin, Method::POST, "/users", Some(new.clone())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body.contains("at least 20 characters"), "{}", r.body);
    // A generated temporary password follows the rules.
    let mut generated = new;
    generated.as_object_mut().unwrap().remove("password");
    let r = with_key(&h, &admin, Method::POST, "/users", Some(generated)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let temporary = r.json()["temporary_password"].as_str().unwrap().to_string();
    assert!(temporary.chars().count() >= 20, "{temporary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_reaches_a_gateway_by_url_with_a_key() {
    let h = Harness::start("api-cli-server", Setup::default()).await;
    let admin = h.key("automation", "System Admin", &["*"], None);
    let client = Client::server(&h.base, &admin, Some(&h.ca)).unwrap();
    let (status, body) = client
        .send(&Op::ListUsers(ListQuery::default()))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    // Decided by the policy like any request.
    let biller = h.key("billing", "Biller", &["*"], None);
    let client = Client::server(&h.base, &biller, Some(&h.ca)).unwrap();
    let (status, body) = client
        .send(&Op::ListUsers(ListQuery::default()))
        .await
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let client = Client::server(&h.base, "wg_not_a_key", Some(&h.ca)).unwrap();
    let (status, _) = client.send(&Op::Me).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Without the gateway's certificate authority, no connection.
    let client = Client::server(&h.base, &admin, None).unwrap();
    assert!(client.send(&Op::Me).await.is_err());
    assert!(Client::server("gateway.example", &admin, None).is_err());
    assert!(Client::server(&h.base, " ", None).is_err());
}
