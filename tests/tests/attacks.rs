//! The attacks that a run against the live gateway found working, each reproduced over real
//! sockets and now refused: break-glass and sessions across practices, reused and guessed
//! second-factor codes, open redirects, cross-site forms, lockout as a weapon, a timing
//! oracle (in `timing.rs`, alone in its process), spoofed identity headers, slow clients, forged log lines, unaudited refusals, the
//! lower findings, and paths forwarded otherwise than decided.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wardgate_identity::Actor;
use wardgate_tests::gateway::{base32, Browser, Harness, Setup, TestClient, CSRF_COOKIE};

const PASSWORD: &str = "Correct#Horse9battery";

/// Two practices served by one gateway, named by the `x-practice` header.
fn two_practices() -> Setup {
    Setup {
        practice: Some("from = \"header\"\nheader = \"x-practice\"".into()),
        sessions: "login_per_minute = 1000".into(),
        ..Setup::default()
    }
}

async fn add_p2(h: &Harness) {
    h.gw.store()
        .add_practice(
            &Actor::system(),
            "p2",
            "Second Clinic",
            "America/Chicago",
            &["clinical".into(), "billing".into(), "engage".into()],
        )
        .unwrap();
    h.gw.refresh_practices().unwrap();
}

fn at(b: &Browser, practice: &str) -> Browser {
    b.clone().with_header("x-practice", practice)
}

fn records_with(h: &Harness, f: impl Fn(&serde_json::Value) -> bool) -> Vec<serde_json::Value> {
    h.audit_records().into_iter().filter(|r| f(r)).collect()
}

fn denied_with(h: &Harness, action: &str, reason: &str) -> Vec<serde_json::Value> {
    records_with(h, |r| {
        r["event"]["action"] == action
            && r["event"]["decision"]["verdict"] == "deny"
            && r["event"]["decision"]["reasons"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == reason))
    })
}

fn location(r: &wardgate_tests::gateway::Reply) -> String {
    r.headers
        .get("location")
        .map(|l| l.to_str().unwrap().to_string())
        .unwrap_or_else(|| r.json()["next"].as_str().unwrap_or("").to_string())
}

/// 1. A user allowed break-glass at one practice cannot open it, or use its roles, at another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_opens_only_where_the_user_holds_a_role_and_is_allowed() {
    let h = Harness::start("atk-break-glass", two_practices()).await;
    add_p2(&h).await;
    // Priya: Provider at p1 with emergency access there; nothing at p2.
    h.user("priya@clinic.test", &["Provider"], PASSWORD, true);
    let p1 = at(&h.api_browser(), "p1");
    p1.login("priya@clinic.test", PASSWORD).await;
    // The p1 session, sent to p2, opens nothing there ...
    let p2 = at(&p1, "p2");
    let r = p2
        .post("/.wardgate/emergency", &[("reason", "patient unconscious")])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // ... and lends no System Admin at p2 (the kareo break-glass grants it).
    let r = p2.get("/api/users").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(h
        .gw
        .store()
        .emergency(&h.gw.store().user("priya@clinic.test").unwrap().id, "p2")
        .unwrap()
        .is_none());
    // Omar holds a role at both practices but is allowed emergency access at p1 only.
    let omar = h.user("omar@clinic.test", &["Provider"], PASSWORD, true);
    h.gw.store()
        .grant(&Actor::system(), &omar.id, "Provider", "p2", None, None)
        .unwrap();
    let o2 = at(&h.api_browser(), "p2");
    o2.login("omar@clinic.test", PASSWORD).await;
    let r = o2
        .post("/.wardgate/emergency", &[("reason", "patient unconscious")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(o2.get("/api/users").await.status, StatusCode::FORBIDDEN);
    // The refusal is audited with its user, and alerted.
    let refused = denied_with(&h, "gateway:emergency", "emergency_not_allowed");
    assert!(
        refused
            .iter()
            .any(|r| r["event"]["actor"]["id"] == omar.id.as_str()),
        "{refused:?}"
    );
    let needle = "wardgate_alerts_total{result=\"emergency_refused\"} 1";
    let metrics = h.metrics_with(needle).await;
    assert!(metrics.contains(needle), "{metrics}");
    // At p1, where both hold it, break-glass works as before.
    let o1 = at(&h.api_browser(), "p1");
    o1.login("omar@clinic.test", PASSWORD).await;
    let r = o1
        .post("/.wardgate/emergency", &[("reason", "patient unconscious")])
        .await;
    assert_eq!(r.json()["emergency"], true, "{}", r.body);
    assert_eq!(o1.get("/api/users").await.status, StatusCode::OK);
}

/// 2. A session opened at one practice is refused at another, whose rules it never met.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_opened_at_one_practice_is_refused_at_another() {
    let h = Harness::start("atk-session-practice", two_practices()).await;
    add_p2(&h).await;
    let mut strict = h.gw.store().security("p2").unwrap();
    strict.require_mfa = true;
    h.gw.store()
        .set_security(&Actor::system(), "p2", &strict)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    let user = h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    h.gw.store()
        .grant(&Actor::system(), &user.id, "Office Staff", "p2", None, None)
        .unwrap();
    let b = at(&h.api_browser(), "p1");
    let r = b.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    assert_eq!(b.get("/api/patients").await.status, StatusCode::OK);
    // p2 requires a second factor this session never gave.
    let r = at(&b, "p2").get("/api/patients").await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (
            StatusCode::UNAUTHORIZED,
            Some("session_for_another_practice")
        )
    );
    let r = at(&b, "p2").get("/.wardgate/whoami").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.upstream.count(), 1);
    let refused = records_with(&h, |r| {
        r["event"]["decision"]["reasons"][0] == "session_for_another_practice"
            && r["event"]["resource"]["practice"] == "p2"
    });
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0]["event"]["actor"]["id"], user.id.as_str());
    // A browser is sent to sign in at p2, where p2's rules apply.
    let page = at(&h.browser(), "p1");
    page.login("olivia@clinic.test", PASSWORD).await;
    let r = at(&page, "p2").get("/api/patients").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(location(&r).starts_with("/.wardgate/login"));
}

/// Enrolls a TOTP factor for a user through the store; returns the seed.
fn enroll(h: &Harness, user: &str) -> Vec<u8> {
    let e = h.gw.store().enroll_totp(user, "Wardgate").unwrap();
    let secret = base32(&e.secret);
    h.gw.store()
        .confirm_totp(
            user,
            &wardgate_identity::totp(&secret, h.clock.utc().timestamp()),
        )
        .unwrap();
    // The next step, so sign-ins below have a fresh code.
    h.clock.advance(Duration::from_secs(30));
    secret
}

/// 3. A TOTP code is good once: not for a second sign-in, not for step-up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_refused_the_second_time() {
    let setup = Setup {
        sessions: "login_per_minute = 1000\nwhen_full = \"end_oldest\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-totp-replay", setup).await;
    let user = h.user("ann@clinic.test", &["Office Staff"], PASSWORD, true);
    let secret = enroll(&h, &user.id);
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let first = h.api_browser();
    let r = first.login("ann@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["step"], "second_factor", "{}", r.body);
    let r = first
        .post("/.wardgate/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    // An onlooker with the password and the same code, within its 30 seconds.
    let replay = h.api_browser();
    replay.login("ann@clinic.test", PASSWORD).await;
    let r = replay
        .post("/.wardgate/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // Nor for step-up.
    let r = first
        .post(
            "/.wardgate/reauth",
            &[("password", PASSWORD), ("code", &code)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    // The next step's code works, once.
    h.clock.advance(Duration::from_secs(30));
    let next = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = first
        .post(
            "/.wardgate/reauth",
            &[("password", PASSWORD), ("code", &next)],
        )
        .await;
    assert_eq!(r.json()["reauthenticated"], true, "{}", r.body);
}

/// 4. Guessing second-factor codes ends the sign-in and throttles the account; starting the
/// sign-in again does not reset the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_factor_guessing_is_bounded_across_restarted_sign_ins() {
    let setup = Setup {
        sessions: "login_per_minute = 1000".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-totp-guess", setup).await;
    let user = h.user("ann@clinic.test", &["Office Staff"], PASSWORD, true);
    let secret = enroll(&h, &user.id);
    let mut guesses = 0;
    let mut ended = false;
    // The attacker knows the password and restarts the sign-in every two guesses.
    'outer: for _ in 0..5 {
        let b = h.api_browser();
        let r = b.login("ann@clinic.test", PASSWORD).await;
        if r.json()["step"] != "second_factor" {
            ended = true;
            break;
        }
        for _ in 0..2 {
            let r = b
                .post("/.wardgate/second-factor", &[("code", "000001")])
                .await;
            guesses += 1;
            if r.json()["error"] == "invalid_credentials" {
                // The sign-in in progress is over.
                let again = b
                    .post("/.wardgate/second-factor", &[("code", "000002")])
                    .await;
                assert_eq!(
                    again.json()["error"],
                    "no_sign_in_in_progress",
                    "{}",
                    again.body
                );
                ended = true;
                break 'outer;
            }
        }
    }
    assert!(ended && guesses <= 5, "{guesses} guesses");
    // Now even the password and the right code do not get in ...
    let b = h.api_browser();
    let r = b.login("ann@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.body);
    assert!(records_with(&h, |r| r["event"]["action"] == "user:lockout").len() == 1);
    // ... until the throttle ends by itself.
    h.clock.advance(Duration::from_secs(16 * 60));
    let r = b.login("ann@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["step"], "second_factor", "{}", r.body);
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b.post("/.wardgate/second-factor", &[("code", &code)]).await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
}

/// 5. `next` leads to a path on this site, nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_never_leads_off_the_site() {
    let setup = Setup {
        sessions: "login_per_minute = 1000\nwhen_full = \"end_oldest\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-next", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    for (sent, decoded) in [
        ("/%09/evil.example/", "/\t/evil.example/"),
        ("/%5Cevil", "/\\evil"),
        ("%2F%2Fevil", "//evil"),
        ("https:evil", "https:evil"),
        ("/%0D%0A/evil", "/\r\n/evil"),
        ("/%252F%252Fevil", "/%2F%2Fevil"),
    ] {
        // In the form of the sign-in page (already decoded once by the form) ...
        let b = h.browser();
        b.get("/.wardgate/login").await;
        let r = b
            .post(
                "/.wardgate/login",
                &[
                    ("email", "olivia@clinic.test"),
                    ("password", PASSWORD),
                    ("next", decoded),
                ],
            )
            .await;
        assert_eq!(
            (r.status, location(&r)),
            (StatusCode::SEE_OTHER, "/".to_string()),
            "{sent}"
        );
        // ... and in the query of the sign-in page.
        let r = h
            .browser()
            .get(&format!("/.wardgate/login?next={sent}"))
            .await;
        assert!(
            r.body.contains("name=\"next\" value=\"/\""),
            "{sent}: {}",
            r.body
        );
    }
    // A path on this site is kept.
    let b = h.browser();
    b.get("/.wardgate/login").await;
    let r = b
        .post(
            "/.wardgate/login",
            &[
                ("email", "olivia@clinic.test"),
                ("password", PASSWORD),
                ("next", "/api/patients?page=2"),
            ],
        )
        .await;
    assert_eq!(location(&r), "/api/patients?page=2");
}

async fn raw_post(
    h: &Harness,
    client: &TestClient,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> wardgate_tests::gateway::Reply {
    let mut all = vec![
        ("content-type", "application/x-www-form-urlencoded"),
        ("accept", "text/html"),
    ];
    all.extend_from_slice(headers);
    client
        .send(Method::POST, &format!("{}{path}", h.base), &all, Some(body))
        .await
}

/// 6. Forms post only from the gateway's own pages: same origin and the form's token; and a
/// same-origin sign-in over h2 works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_form_posts_are_refused_and_h2_sign_in_works() {
    let setup = Setup {
        sessions: "login_per_minute = 1000\nwhen_full = \"end_oldest\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-csrf", setup).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let page = h.browser();
    page.get("/.wardgate/login").await;
    let token = page
        .cookie(CSRF_COOKIE)
        .expect("the sign-in page sets a form token");
    let jar = format!("{CSRF_COOKIE}={token}");
    let good = format!("email=olivia%40clinic.test&password=Correct%23Horse9battery&csrf={token}");
    let no_token = "email=olivia%40clinic.test&password=Correct%23Horse9battery";
    let http_origin = h.base.replace("https://", "http://");
    let c = h.client();
    for (why, headers, body) in [
        (
            "another site",
            vec![("origin", "https://evil.example"), ("cookie", jar.as_str())],
            good.as_str(),
        ),
        (
            "Origin: null",
            vec![("origin", "null"), ("cookie", jar.as_str())],
            good.as_str(),
        ),
        (
            "no origin on a form",
            vec![("cookie", jar.as_str())],
            good.as_str(),
        ),
        (
            "an http origin",
            vec![("origin", http_origin.as_str()), ("cookie", jar.as_str())],
            good.as_str(),
        ),
        (
            "a referer elsewhere",
            vec![
                ("referer", "https://evil.example/x"),
                ("cookie", jar.as_str()),
            ],
            good.as_str(),
        ),
        (
            "no token",
            vec![("origin", h.base.as_str()), ("cookie", jar.as_str())],
            no_token,
        ),
        (
            "no cookie",
            vec![("origin", h.base.as_str())],
            good.as_str(),
        ),
        (
            "a wrong token",
            vec![
                ("origin", h.base.as_str()),
                ("cookie", "__Host-wardgate-csrf=abc"),
            ],
            good.as_str(),
        ),
    ] {
        let r = raw_post(&h, &c, "/.wardgate/login", &headers, body).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{why}: {}", r.body);
        assert!(
            r.headers
                .get("set-cookie")
                .is_none_or(|v| !v.to_str().unwrap().starts_with("__Host-wardgate=")),
            "{why}"
        );
    }
    assert_eq!(denied_with(&h, "gateway:login", "cross_site").len(), 8);
    // The same form from the page itself signs in, by Origin or by Referer.
    let r = raw_post(
        &h,
        &c,
        "/.wardgate/login",
        &[("origin", &h.base), ("cookie", &jar)],
        &good,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let referer = format!("{}/.wardgate/login", h.base);
    let r = raw_post(
        &h,
        &c,
        "/.wardgate/login",
        &[("referer", &referer), ("cookie", &jar)],
        &good,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A browser over h2: the authority is `:authority`, there is no Host header.
    let h2 = Browser::over(
        &h,
        h.h2_client(),
        "Mozilla/5.0 (h2) WardgateTest/1.0",
        false,
    );
    let r = h2.login("olivia@clinic.test", PASSWORD).await;
    assert_eq!(r.version, http::Version::HTTP_2);
    assert_eq!(
        (r.status, location(&r)),
        (StatusCode::SEE_OTHER, "/api/patients".to_string()),
        "{}",
        r.body
    );
    assert_eq!(h2.get("/api/patients").await.status, StatusCode::OK);
}

/// 7. Failed sign-ins throttle the account for a while; they do not sign its user out, the
/// throttle ends by itself, and an administrator can end it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_cannot_be_used_as_a_weapon() {
    let setup = Setup {
        sessions: "login_per_minute = 1000".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-lockout", setup).await;
    let mut settings = h.gw.store().security("p1").unwrap();
    settings.lockout_after = 3;
    settings.lockout_minutes = 10;
    h.gw.store()
        .set_security(&Actor::system(), "p1", &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    let user = h.user("ben@clinic.test", &["Biller"], PASSWORD, true);
    let victim = h.api_browser();
    victim.login("ben@clinic.test", PASSWORD).await;
    let attacker = h.api_browser();
    for _ in 0..6 {
        attacker.login("ben@clinic.test", "Wrong#Password1").await;
    }
    // The victim keeps working.
    assert_eq!(victim.get("/api/charges").await.status, StatusCode::OK);
    // A new sign-in waits out the throttle (3 failures: 10 minutes, doubling with each
    // further failure), with the same words as a wrong password.
    let r = h.api_browser().login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        h.gw.store().user(&user.id).unwrap().status,
        wardgate_identity::UserStatus::Active
    );
    h.clock.advance(Duration::from_secs(81 * 60));
    let r = h.api_browser().login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    // "Unlock Account" ends a throttle at once.
    for _ in 0..3 {
        attacker.login("ben@clinic.test", "Wrong#Password1").await;
    }
    assert_eq!(
        h.api_browser()
            .login("ben@clinic.test", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    h.gw.store().unlock(&Actor::system(), &user.id).unwrap();
    let r = h.api_browser().login("ben@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
}

/// 9. No header a client sends can tell the app who it is or where it comes from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_client_address_headers_never_reach_the_app_from_the_client() {
    let h = Harness::start("atk-headers", Setup::default()).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let spoofed = [
        "X_Wardgate_Roles",
        "x-wardgate_principal",
        "X-WARDGATE-PRINCIPAL-TYPE",
        "x-wardgateadmin",
        "X_Forwarded_For",
        "x-forwarded_proto",
        "Forwarded",
        "X-Real-IP",
        "X_Real_IP",
        "True-Client-IP",
        "X-Client-IP",
        "CF-Connecting-IP",
        "X-Cluster-Client-IP",
        "Fastly-Client-IP",
        "X-Original-Forwarded-For",
    ];
    let auth = format!("Bearer {key}");
    let mut headers = vec![("authorization", auth.as_str())];
    for name in spoofed {
        headers.push((name, "6.6.6.6 System Admin"));
    }
    let r = h
        .client()
        .send(
            Method::GET,
            &format!("{}/api/patients", h.base),
            &headers,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let seen = h.upstream.last();
    for (name, value) in &seen.headers {
        assert!(
            !value.to_str().unwrap_or("").contains("6.6.6.6"),
            "{name} reached the app from the client"
        );
    }
    // The gateway's own say-so is there instead.
    assert_eq!(seen.headers["x-wardgate-roles"], "Office Staff");
    assert_eq!(seen.headers["x-forwarded-for"], "127.0.0.1");
    // The list is the operator's to extend.
    let setup = Setup {
        extra: "[proxy]\nstrip_headers = [\"x-wardgate*\", \"x-forwarded*\", \"x-tenant-*\"]\n"
            .into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-headers-config", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let auth = format!("Bearer {key}");
    let r = h
        .client()
        .send(
            Method::GET,
            &format!("{}/api/patients", h.base),
            &[
                ("authorization", &auth),
                ("x_tenant_admin", "1"),
                ("x-trace", "kept"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = h.upstream.last();
    assert!(!seen.headers.contains_key("x_tenant_admin"));
    assert_eq!(seen.headers["x-trace"], "kept");
}

/// Reads from a raw connection until it closes (or `limit` passes); how long that took.
async fn closed_within(
    s: &mut tokio::net::TcpStream,
    limit: Duration,
) -> Option<(Duration, String)> {
    let started = Instant::now();
    let mut buf = Vec::new();
    match tokio::time::timeout(limit, s.read_to_end(&mut buf)).await {
        Ok(_) => Some((
            started.elapsed(),
            String::from_utf8_lossy(&buf).into_owned(),
        )),
        Err(_) => None,
    }
}

/// 10. Slow clients cannot hold connections: a body that stalls, an idle keep-alive, too many
/// connections from one address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_hold_connections() {
    let setup = Setup {
        tls: false,
        server: "body_gap_timeout = \"1s\"\npage_body_timeout = \"2s\"\nidle_timeout = \"3s\"\nanonymous_idle_timeout = \"1s\"\nmax_connections_per_address = 4".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-slow", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let addr = h.running.addr;
    // A sign-in form whose body never finishes.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /.wardgate/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":")
        .await
        .unwrap();
    let (took, text) = closed_within(&mut s, Duration::from_secs(6))
        .await
        .expect("the stalled sign-in held its connection");
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 4"), "{text}");
    // A request whose route reads the JSON body, trickling then stalling.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("POST /api/appointments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"pat");
    s.write_all(head.as_bytes()).await.unwrap();
    let (took, text) = closed_within(&mut s, Duration::from_secs(6))
        .await
        .expect("the stalled body held its connection");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert_eq!(h.upstream.count(), 0);
    // An anonymous keep-alive connection that goes quiet is closed soon ...
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /.wardgate/login HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (took, text) = closed_within(&mut s, Duration::from_secs(5))
        .await
        .expect("an idle anonymous connection stayed open");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    // ... one that carried a credential a little later.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let get =
        format!("GET /api/patients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n\r\n");
    s.write_all(get.as_bytes()).await.unwrap();
    let (took, text) = closed_within(&mut s, Duration::from_secs(8))
        .await
        .expect("an idle connection stayed open");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // No more than four connections from one address.
    let mut open = Vec::new();
    for _ in 0..4 {
        let s = tokio::net::TcpStream::connect(addr).await.unwrap();
        open.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut fifth = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /.wardgate/login HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (_, text) = closed_within(&mut fifth, Duration::from_secs(2))
        .await
        .expect("the fifth connection was served");
    assert!(text.is_empty(), "{text}");
    // Another address is not affected.
    let r = h
        .client_from("127.0.0.2")
        .send(
            Method::GET,
            &format!("{}/.wardgate/login", h.base),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    drop(open);
}

/// 12. Every refusal of the gateway's own pages is in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_the_gateways_own_pages_are_audited() {
    let h = Harness::start("atk-audit-pages", Setup::default()).await;
    let nobody = h.api_browser();
    for page in ["whoami", "sessions", "reauth", "emergency"] {
        let r = nobody.get(&format!("/.wardgate/{page}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{page}");
        assert_eq!(
            denied_with(&h, &format!("gateway:{page}"), "unauthenticated").len(),
            1,
            "{page}"
        );
    }
    let forged = nobody
        .clone()
        .with_header("cookie", "__Host-wardgate=not-a-session");
    let r = forged.get("/.wardgate/whoami").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(denied_with(&h, "gateway:whoami", "session_ended").len(), 1);
    // Break-glass by someone who may not.
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let o = h.api_browser();
    o.login("olivia@clinic.test", PASSWORD).await;
    let r = o
        .post("/.wardgate/emergency", &[("reason", "curious")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let refused = denied_with(&h, "gateway:emergency", "emergency_not_allowed");
    assert_eq!(refused.len(), 1);
    assert!(refused[0]["event"]["session_id"].is_string());
}

/// 13. HSTS on every TLS answer; secrets in files only their owner reads; TOTP seeds sealed;
/// exported cells that a spreadsheet would run, defused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lower_findings_hsts_file_modes_sealed_seeds_and_csv_cells() {
    let h = Harness::start("atk-lower", Setup::default()).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    for (path, auth) in [
        ("/.wardgate/login", None),
        ("/api/patients", Some(key.as_str())),
        ("/api/nothing-here", Some(key.as_str())),
        ("/api/patients", None),
    ] {
        let bearer = auth.map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("authorization", b.as_str()))
            .collect();
        let r = h
            .client()
            .send(Method::GET, &format!("{}{path}", h.base), &headers, None)
            .await;
        assert_eq!(
            r.headers
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "{path} {}",
            r.status
        );
    }
    // Second-factor seeds enrolled through the gateway are sealed in the database.
    let user = h.user("ann@clinic.test", &["Office Staff"], PASSWORD, true);
    let secret = enroll(&h, &user.id);
    let raw: String = {
        let conn = rusqlite_conn(&h.dir.join("wardgate.db"));
        conn.query_row(
            "SELECT totp_secret FROM users WHERE id = ?1",
            [&user.id],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(
        raw.starts_with("sealed1:") && !raw.contains(&hex(&secret)),
        "{raw}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for f in [
            "wardgate.db",
            "wardgate.db-wal",
            "wardgate.db-shm",
            "wardgate.db.key",
            "audit/anchor.key",
            "key.pem",
        ] {
            let p = h.dir.join(f);
            if p.exists() {
                assert_eq!(mode(&p), 0o600, "{f}");
            } else {
                assert!(
                    f.ends_with("-shm") || f.ends_with("-wal") || f == "key.pem",
                    "{f} is missing"
                );
            }
        }
        assert_eq!(mode(&h.dir.join("audit")), 0o700);
    }
    // A patient id that a spreadsheet would run as a formula is defused in the CSV export.
    let r = h.get("/api/patients/%20%3D1%2B1", &key).await;
    assert_eq!(r.status, StatusCode::OK);
    h.gw.audit().flush().unwrap();
    let mut out = Vec::new();
    wardgate_audit::Search {
        filter: wardgate_audit::Filter::default(),
        format: wardgate_audit::Format::Csv,
    }
    .run(&h.dir.join("audit"), &mut out)
    .unwrap();
    let csv = String::from_utf8(out).unwrap();
    assert!(csv.contains(",' =1+1,"), "{csv}");
    assert!(!csv.contains(", =1+1,"));
}

fn rusqlite_conn(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// 14. The path the policy decides is the path the app gets: dot segments removed first,
/// encoded separators and dot segments refused (or passed when configured).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_forwarded_as_decided() {
    let h = Harness::start("atk-paths", Setup::default()).await;
    let key = h.key("biller", "Biller", &["*"], None);
    // `..%2F..%2Fusers` was decided as a patient record and forwarded raw.
    for bad in [
        "/api/patients/..%2F..%2Fusers",
        "/api/patients/..%2f..%2fusers",
        "/api/patients/%2e%2e/%2e%2e/users",
        "/api/patients/.%2E/.%2E/users",
        "/api/patients/x%5C..%5C..%5Cusers",
        "/api/patients/%252F",
        "/api/patients/a%00",
        "/api/patients/..%25%32%46users",
        "/api/patients/..%252%46users",
        "/api/patients/%25%32%65%25%32%65/users",
        "/api/patients/a%25%30%30",
    ] {
        let r = h.get(bad, &key).await;
        assert_eq!(
            (r.status, r.json()["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_request")),
            "{bad}"
        );
    }
    assert_eq!(h.upstream.count(), 0);
    assert_eq!(denied_with(&h, "unrouted", "bad_request").len(), 11);
    // Plain dot segments are removed before the decision, and the app gets that path: the
    // Biller may list patients, not users.
    let r = h.get("/api/charges/../patients", &key).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.upstream.last().path, "/api/patients");
    let r = h.get("/api/patients/../users", &key).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(h.upstream.count(), 1);
    // The gateway's pages are found after normalising too.
    let r = h
        .client()
        .send(
            Method::GET,
            &format!("{}/api/x/../../.wardgate/login", h.base),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Sign in"));
    // `pass` forwards encoded slashes as sent, for apps that need them in a segment.
    let setup = Setup {
        extra: "[proxy]\nencoded_slashes = \"pass\"\n".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-paths-pass", setup).await;
    let key = h.key("biller", "Biller", &["*"], None);
    let r = h.get("/api/patients/a%2Fb", &key).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.upstream.last().path, "/api/patients/a%2Fb");
}

/// A sign-in begun before the user set up a second factor cannot, later, replace the factor
/// the user confirmed (an attacker with the password would own it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_sign_in_cannot_replace_a_confirmed_second_factor() {
    let setup = Setup {
        sessions: "login_per_minute = 1000".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-totp-replace", setup).await;
    let mut settings = h.gw.store().security("p1").unwrap();
    settings.require_mfa = true;
    h.gw.store()
        .set_security(&Actor::system(), "p1", &settings)
        .unwrap();
    h.gw.refresh_practices().unwrap();
    h.user("bob@clinic.test", &["Office Staff"], PASSWORD, true);
    // The attacker starts a sign-in while Bob has no factor yet ...
    let attacker = h.api_browser();
    let r = attacker.login("bob@clinic.test", PASSWORD).await;
    assert_eq!(r.json()["step"], "second_factor", "{}", r.body);
    // ... Bob enrols and confirms his ...
    let bob = h.api_browser();
    bob.login("bob@clinic.test", PASSWORD).await;
    let r = bob.get("/.wardgate/second-factor").await;
    let secret = base32(r.json()["secret"].as_str().unwrap());
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = bob
        .post("/.wardgate/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
    // ... and the attacker's sign-in now asks for Bob's factor, showing no new one.
    let r = attacker.get("/.wardgate/second-factor").await;
    assert_eq!(r.json()["step"], "second_factor", "{}", r.body);
    assert!(r.json().get("secret").is_none(), "{}", r.body);
    assert!(h
        .gw
        .store()
        .enroll_totp(&h.gw.store().user("bob@clinic.test").unwrap().id, "x")
        .is_err());
    // Bob's factor still works.
    h.clock.advance(Duration::from_secs(30));
    let b2 = h.api_browser();
    b2.login("bob@clinic.test", PASSWORD).await;
    let code = wardgate_identity::totp(&secret, h.clock.utc().timestamp());
    let r = b2
        .post("/.wardgate/second-factor", &[("code", &code)])
        .await;
    assert_eq!(r.json()["signed_in"], true, "{}", r.body);
}

/// Only a POST from the gateway's own origin signs out; a GET (a link, an image) shows the
/// form. A page that does not exist is a refusal like any other, audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_is_a_post_and_unknown_pages_are_audited() {
    let h = Harness::start("atk-logout", Setup::default()).await;
    h.user("olivia@clinic.test", &["Office Staff"], PASSWORD, true);
    let b = h.browser();
    b.login("olivia@clinic.test", PASSWORD).await;
    let r = b.get("/.wardgate/logout").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("method=\"post\" action=\"/.wardgate/logout\""),
        "{}",
        r.body
    );
    assert_eq!(
        b.get("/api/patients").await.status,
        StatusCode::OK,
        "still signed in"
    );
    let r = b.post("/.wardgate/logout", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(b.get("/api/patients").await.status, StatusCode::SEE_OTHER);
    let r = h.api_browser().get("/.wardgate/nothing-here").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(denied_with(&h, "unrouted", "no_route").len(), 1);
}

/// An h2 client that never opens its flow-control window cannot keep a connection (nor the
/// upstream connections behind its streams) once it is idle.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_h2_client_that_never_reads_is_cut_off() {
    let setup = Setup {
        tls: false,
        server: "anonymous_idle_timeout = \"1s\"\nidle_timeout = \"1s\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("atk-h2-window", setup).await;
    let tcp = tokio::net::TcpStream::connect(h.running.addr)
        .await
        .unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::Builder::new(hyper_util::rt::TokioExecutor::new())
            .initial_stream_window_size(0)
            .initial_connection_window_size(0)
            .handshake::<_, http_body_util::Full<bytes::Bytes>>(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    let driver = tokio::spawn(conn);
    let req = http::Request::get(format!(
        "http://127.0.0.1:{}/.wardgate/login",
        h.running.addr.port()
    ))
    .body(http_body_util::Full::new(bytes::Bytes::new()))
    .unwrap();
    let res = send.send_request(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // The body can never arrive through a window of zero; the connection must still end.
    let started = Instant::now();
    let ended = tokio::time::timeout(Duration::from_secs(15), driver).await;
    assert!(ended.is_ok(), "the connection was still open after 15 s");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}
