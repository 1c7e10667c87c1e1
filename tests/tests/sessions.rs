//! Browser sessions at the gateway, over real sockets with a cookie jar: sign-in with a
//! temporary password's forced change, second factors, lockout and the per-address limit,
//! idle and absolute timeouts on the gateway's clock, binding to network and device, the
//! concurrent-session limit, remote and self-service sign-out, step-up, and break-glass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use http::StatusCode;
use wardgate::api::ops::{Op, UserAction};
use wardgate_identity::Actor;
use wardgate_tests::gateway::{base32, Harness, Setup};

const PASSWORD: &str = "Correct#Horse9battery";

fn location(r: &wardgate_tests::gateway::Reply) -> String {
    r.headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sign_in_changes_the_temporary_password_then_reaches_the_app() {
    let h = Harness::start("login-flow", Setup::default()).await;
    let temp = "Temporary#Pass1";
    let user = h.user("olivia@clinic.test", &["Office Staff"], temp, false);
    let b = h.browser();
    // Not signed in: sent to the sign-in page, with the way back.
    let r = b.get("/api/patients").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&r), "/.wardgate/login?next=/api/patients");
    let page = b.get("/.wardgate/login?next=/api/patients").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<label for=\"email\">") && page.body.contains("type=\"password\""));
    assert!(page.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));
    // The temporary password works once, and only to change it.
    let r = b.login("olivia@clinic.test", temp).await;
    assert_eq!(
        (r.status, location(&r)),
        (StatusCode::SEE_OTHER, "/.wardgate/password".to_string())
    );
    assert!(
        b.cookie("__Host-wardgate").is_none(),
        "no session before the change"
    );
    assert_eq!(b.get("/api/patients").await.status, StatusCode::SEE_OTHER);
    let r = b
        .post(
            "/.wardgate/password",
            &[("current", temp), ("new", "short"), ("confirm", "short")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("too weak"), "{}", r.body);
    let r = b
        .post(
            "/.wardgate/password",
            &[("current", temp), ("new", PASSWORD), ("confirm", PASSWORD)],
        )
        .await;
    assert_eq!(
        (r.status, location(&r)),
        (StatusCode::SEE_OTHER, "/api/patients".to_string())
    );
    let set = b.set_cookies.lock().unwrap().clone();
    let session_cookie = set
        .iter()
        .find(|c| c.starts_with("__Host-wardgate="))
        .expect("a session cookie");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session_cookie.contains(attr), "{session_cookie}");
    }
    assert_eq!(
        b.cookie("__Host-wardgate").unwrap().len(),
        64,
        "256 random bits in hex"
    );
    let r = b.get("/api/patients").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = h.upstream.last();
    assert_eq!(seen.headers["x-wardgate-principal"], user.id.as_str());
    assert_eq!(seen.headers["x-wardgate-principal-type"], "user");
    assert_eq!(seen.headers["x-wardgate-roles"], "Office Staff");
    assert!(
        seen.headers.get("cookie").is_none(),
        "the gateway's cookies stay at the gateway"
    );
    // The token is stored hashed only.
    let token = b.cookie("__Host-wardgate").unwrap();
    let db = std::fs::read(h.dir.join("wardgate.db")).unwrap();
    assert!(!db.windows(token.len()).any(|w| w == token.as_bytes()));
    // Sign out.
    let r = b.post("/.wardgate/logout", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(b.get("/api/patients").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_do_not_tell_accounts_apart_lockout_holds_until_unlocked_and_addresses_are_limited(
) {
    let setup = Setup {
        sessions: "login_per_minute = 7".into(),
        ..Setup::default()
    };
    let h = Harness::start("lockout", setup).await;
    let user = h.user("ben@clinic.test", &["Biller"], PASSWORD, true);
    let b = h.api_browser();
    let wrong = b.login("ben@clinic.test", "Wrong#Password1").await;
    let nobody = b.login("nobody@clinic.test", "Wrong#Password1").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (wrong.status, wrong.json()["message"].clone()),
        (nobody.status, nobody.json()["message"].clone())
    );
    for _ in 0..4 {
        b.login("ben@clinic.test", "Wrong#Password1").await;
    }
    // Five failures: locked; the right password is refused with the same words.
    let r = b.login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.json()["message"], wrong.json()["message"]);
    // Seven attempts from this address within the minute: the next is refused outright.
    let r = b.login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    h.clock.advance(Duration::from_secs(61));
    h.gw.store().unlock(&Actor::system(), &user.id).unwrap();
    let r = b.login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["signed_in"], true);
    let records = h.audit_records();
    assert!(records
        .iter()
        .any(|r| r["event"]["action"] == "user:lockout"));
    assert!(
        records
            .iter()
            .filter(|r| r["event"]["action"] == "login:failure")
            .count()
            >= 5
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_practice_that_requires_a_second_factor_enrolls_then_asks_for_it() {
    let h = Harness::start("totp", Setup::default()).await;
    let mut settings = h.gw.store().security("p1").unwrap();
    settings.require_mfa = true;
    h.gw.store()
        .set_security(&Actor::system(), "p1", &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    h.user("ann@clinic.test", &["Office Staff"], PASSWORD, true);
    let b = h.api_browser();
    let r = b.login("ann@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["step"], "second_factor", "{}", r.body);
    let r = b.get("/.wardgate/second-factor").await;
    let secret = base32(r.json()["secret"].as_str().unwrap());
    assert!(r.json()["uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let r = b
        .post("/.wardgate/second-factor", &[("code", "000000")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b.post("/.wardgate/second-factor", &[("code", &code)]).await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    let me = b.get("/.wardgate/whoami").await.json();
    assert_eq!(me["mfa"], true);
    // Next time: the enrolled factor is asked for.
    let b2 = h.api_browser();
    let r = b2.login("ann@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["step"], "second_factor");
    h.clock.advance(Duration::from_secs(30));
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b2
        .post("/.wardgate/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_absolute_timeouts_end_sessions_by_the_clock() {
    let setup = Setup {
        sessions: "idle = \"10m\"\nabsolute = \"1h\"\nidle_by_role = { \"Biller\" = \"3m\" }"
            .into(),
        ..Setup::default()
    };
    let h = Harness::start("timeouts", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    h.user("ben@clinic.test", &["Biller"], PASSWORD, true);
    let olivia = h.browser();
    olivia.login("olivia@clinic.test", PASSWORD).await;
    let ben = h.browser();
    ben.login("ben@clinic.test", PASSWORD).await;
    assert_eq!(olivia.get("/api/patients").await.status, StatusCode::OK);
    assert_eq!(ben.get("/api/patients").await.status, StatusCode::OK);
    h.clock.advance(Duration::from_secs(4 * 60));
    assert_eq!(
        olivia.get("/api/patients").await.status,
        StatusCode::OK,
        "10 minutes idle allowed"
    );
    let r = ben.get("/api/patients").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the Biller role's 3 minutes"
    );
    assert!(location(&r).starts_with("/.wardgate/login"));
    // Active every 9 minutes, yet out after the hour.
    for _ in 0..6 {
        h.clock.advance(Duration::from_secs(9 * 60));
        assert_eq!(olivia.get("/api/patients").await.status, StatusCode::OK);
    }
    h.clock.advance(Duration::from_secs(9 * 60));
    assert_eq!(
        olivia.get("/api/patients").await.status,
        StatusCode::SEE_OTHER
    );
    let ends: Vec<String> = h
        .audit_records()
        .iter()
        .map(|r| r["event"]["action"].as_str().unwrap_or("").to_string())
        .filter(|a| a.starts_with("session:") && a.contains("timeout"))
        .collect();
    assert_eq!(ends, ["session:idle-timeout", "session:absolute-timeout"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_used_from_another_network_or_device_ends_with_an_alert() {
    let setup = Setup {
        sessions: "bind_ipv4_prefix = 32".into(),
        ..Setup::default()
    };
    let h = Harness::start("binding", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let b = h.browser();
    b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);
    // The cookie, stolen and replayed from 127.0.0.2.
    let thief = b.moved(&h, Some("127.0.0.2"), &b.user_agent);
    assert_eq!(
        thief.get("/api/patients").await.status,
        StatusCode::SEE_OTHER
    );
    // Ended for the owner too.
    assert_eq!(b.get("/api/patients").await.status, StatusCode::SEE_OTHER);
    // Another browser on the same address.
    b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);
    let other = b.moved(&h, None, "Mozilla/5.0 (Windows NT 10.0) Other/2.0");
    assert_eq!(
        other.get("/api/patients").await.status,
        StatusCode::SEE_OTHER
    );
    let records = h.audit_records();
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["event"]["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"session:network-mismatch")
            && actions.contains(&"session:device-mismatch"),
        "{actions:?}"
    );
    let needle = "wardgate_alerts_total{result=\"binding_mismatch\"} 2";
    let metrics = h.metrics_with(needle).await;
    assert!(metrics.contains(needle), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrent_session_limit_refuses_or_ends_the_oldest() {
    let setup = Setup {
        sessions: "max_per_user = 2".into(),
        ..Setup::default()
    };
    let h = Harness::start("concurrent", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let (a, b, c) = (h.api_browser(), h.api_browser(), h.api_browser());
    assert_eq!(
        a.login("olivia@clinic.test", PASSWORD).await.json()["signed_in"],
        true
    );
    assert_eq!(
        b.login("olivia@clinic.test", PASSWORD).await.json()["signed_in"],
        true
    );
    let r = c.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::CONFLICT, Some("session_limit"))
    );
    // List my sessions, end the other one, then the third device may sign in.
    let list = a.get("/.wardgate/sessions").await.json();
    let sessions = list["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a.post("/.wardgate/sessions", &[("id", &other)]).await;
    assert_eq!(r.json()["ended"], true);
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.login("olivia@clinic.test", PASSWORD).await.json()["signed_in"],
        true
    );

    let setup = Setup {
        sessions: "max_per_user = 1\nwhen_full = \"end_oldest\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("concurrent-oldest", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let (a, b) = (h.api_browser(), h.api_browser());
    a.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(a.get("/api/patients").await.status, StatusCode::OK);
    b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);
    let r = a.get("/api/patients").await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("session_ended"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_ends_sessions_remotely_and_locking_ends_them_at_once() {
    let h = Harness::start("remote", Setup::default()).await;
    let user = h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let (a, b) = (h.api_browser(), h.api_browser());
    a.login("olivia@clinic.test", PASSWORD).await;
    b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(a.get("/api/patients").await.status, StatusCode::OK);
    let n =
        h.gw.store()
            .end_sessions(&Actor::system(), &user.id, "remote-logout")
            .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        a.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED,
        "ended mid-use"
    );
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
    a.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(a.get("/api/patients").await.status, StatusCode::OK);
    h.gw.store().lock(&Actor::system(), &user.id).unwrap();
    assert_eq!(
        a.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
    // Sign out everywhere.
    h.gw.store().unlock(&Actor::system(), &user.id).unwrap();
    a.login("olivia@clinic.test", PASSWORD).await;
    b.login("olivia@clinic.test", PASSWORD).await;
    a.post("/.wardgate/logout", &[("all", "true")]).await;
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_sign_in_must_step_up_before_exporting_records_then_the_retry_passes() {
    let setup = Setup {
        policy: "clinic.policy",
        policy_extra: "route GET /api/patients/{patient}/records/export -> medical_records:export patient = path patient".into(),
        sessions: "idle = \"2h\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("step-up", setup).await;
    h.user("owen@clinic.test", &["Owner"], PASSWORD, true);
    let b = h.browser();
    b.login("owen@clinic.test", PASSWORD).await;
    let path = "/api/patients/pt-1/records/export";
    assert_eq!(
        b.get(path).await.status,
        StatusCode::OK,
        "a fresh sign-in may export"
    );
    h.clock.advance(Duration::from_secs(20 * 60));
    let r = b.get(path).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body.contains("action=\"/.wardgate/reauth\"") && r.body.contains(path),
        "{}",
        r.body
    );
    // An API client gets the machine-readable reason.
    let api = b.moved(&h, None, &b.user_agent);
    let api = wardgate_tests::gateway::Browser { json: true, ..api };
    let r = api.get(path).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("step_up_required"))
    );
    assert_eq!(r.json()["max_auth_age_seconds"], 900);
    let r = b
        .post(
            "/.wardgate/reauth",
            &[("password", "Wrong#Password1"), ("next", path)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = b
        .post(
            "/.wardgate/reauth",
            &[("password", PASSWORD), ("next", path)],
        )
        .await;
    assert_eq!(
        (r.status, location(&r)),
        (StatusCode::SEE_OTHER, path.to_string())
    );
    assert_eq!(b.get(path).await.status, StatusCode::OK, "the retry passes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_sees_relations_to_the_patient() {
    let setup = Setup {
        policy: "clinic.policy",
        ..Setup::default()
    };
    let h = Harness::start("relations", setup).await;
    let doc = h.user("dana@clinic.test", &["Provider"], PASSWORD, true);
    let b = h.api_browser();
    b.login("dana@clinic.test", PASSWORD).await;
    let r = b.get("/api/patients/pt-7/records").await;
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_grant"))
    );
    h.gw.store()
        .relate(&Actor::system(), &doc.id, "pt-7", "assigned")
        .unwrap();
    assert_eq!(
        b.get("/api/patients/pt-7/records").await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/api/patients/pt-8/records").await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_is_reasoned_time_boxed_marked_alerted_and_audited() {
    let h = Harness::start("break-glass", Setup::default()).await;
    h.user("priya@clinic.test", &["Provider"], PASSWORD, true);
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let b = h.api_browser();
    b.login("priya@clinic.test", PASSWORD).await;
    assert_eq!(b.get("/api/users").await.status, StatusCode::FORBIDDEN);
    let r = b.post("/.wardgate/emergency", &[("reason", "  ")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = b
        .post(
            "/.wardgate/emergency",
            &[("reason", "patient coding in exam room 2; admin unreachable")],
        )
        .await;
    assert_eq!(r.json()["emergency"], true, "{}", r.body);
    let r = b.get("/api/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["wardgate-emergency"], "active");
    assert!(h
        .upstream
        .last()
        .headers
        .contains_key("x-wardgate-emergency"));
    // Audited as emergency, with an alert.
    let records = h.audit_records();
    let last = records
        .iter()
        .rev()
        .find(|r| r["event"]["kind"] == "decision")
        .unwrap();
    assert!(
        last["event"]["obligations"]
            .to_string()
            .contains("emergency"),
        "{last}"
    );
    assert!(records
        .iter()
        .any(|r| r["event"]["action"] == "emergency:open"));
    let needle = "wardgate_alerts_total{result=\"break_glass\"} 1";
    let metrics = h.metrics_with(needle).await;
    assert!(metrics.contains(needle), "{metrics}");
    // Time-boxed: the kareo policy allows one hour.
    h.clock.advance(Duration::from_secs(61 * 60));
    let b2 = h.api_browser();
    b2.login("priya@clinic.test", PASSWORD).await;
    assert_eq!(b2.get("/api/users").await.status, StatusCode::FORBIDDEN);
    // Someone without the emergency flag cannot open it.
    let o = h.api_browser();
    o.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(
        o.post("/.wardgate/emergency", &[("reason", "x")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_restart_and_the_admin_api_ends_them() {
    let h = Harness::start("restart", Setup::default()).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let b = h.api_browser();
    b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);
    let h = h.restart().await;
    let b = b.moved(&h, None, &b.user_agent.clone());
    let b = wardgate_tests::gateway::Browser { json: true, ..b };
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::OK,
        "the session outlived the restart"
    );
    let r = h
        .operator(Op::User("olivia@clinic.test".into(), UserAction::Logout))
        .await;
    assert_eq!(
        (r.status, r.json()["ended"].as_u64()),
        (StatusCode::OK, Some(1)),
        "{}",
        r.body
    );
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = h
        .operator(Op::User("olivia@clinic.test".into(), UserAction::Lock))
        .await;
    assert_eq!(r.json()["user"]["status"], "locked", "{}", r.body);
    let r = b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_post_that_asks_for_json_answers_is_read_as_a_form() {
    let h = Harness::start("form-json", Setup::default()).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    // A form from the gateway's own sign-in page: its origin, and its form token.
    let page = h.browser();
    page.get("/.wardgate/login").await;
    let token = page.cookie(wardgate_tests::gateway::CSRF_COOKIE).unwrap();
    let cookie = format!("{}={token}", wardgate_tests::gateway::CSRF_COOKIE);
    let r = h
        .client()
        .send(
            http::Method::POST,
            &format!("{}/.wardgate/login", h.base),
            &[
                ("accept", "application/json"),
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", &h.base),
                ("cookie", &cookie),
            ],
            Some(&format!(
                "email=olivia%40clinic.test&password=Correct%23Horse9battery&csrf={token}"
            )),
        )
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_held_at_one_location_counts_only_there() {
    let setup = Setup {
        policy_extra: "route GET /api/locations/{location}/schedule -> patient_appointments:manage location = path location".into(),
        ..Setup::default()
    };
    let h = Harness::start("location", setup).await;
    let store = &h.gw.store();
    store
        .add_location(&Actor::system(), "east", "p1", "East Clinic")
        .unwrap();
    store
        .add_location(&Actor::system(), "west", "p1", "West Clinic")
        .unwrap();
    store
        .add_user(
            &Actor::system(),
            wardgate_identity::NewUser {
                email: "lee@clinic.test".into(),
                first_name: "Lee".into(),
                last_name: "East".into(),
                password: "Temporary#Pass1".into(),
                roles: vec!["Office Staff".into()],
                practices: vec!["p1".into()],
                location: Some("east".into()),
                ..wardgate_identity::NewUser::default()
            },
        )
        .unwrap();
    let b = h.api_browser();
    b.login("lee@clinic.test", "Temporary#Pass1").await;
    let r = b
        .post(
            "/.wardgate/password",
            &[
                ("current", "Temporary#Pass1"),
                ("new", PASSWORD),
                ("confirm", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    assert_eq!(
        b.get("/api/locations/east/schedule").await.status,
        StatusCode::OK
    );
    assert_eq!(
        b.get("/api/locations/west/schedule").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::FORBIDDEN,
        "no practice-wide role"
    );
}
