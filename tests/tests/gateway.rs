//! The gateway end to end, over real sockets: TLS, every rejection and its status, geo rules
//! through a trusted proxy, per-key rate limits, revoked and expired keys, identity headers,
//! redaction, policy swaps under load, a trapping module, a dead and a slow upstream, and the
//! audit log holding a decision for every request that reached the app.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wardgate::api::ops::Op;
use wardgate_tests::gateway::{Harness, Setup};

/// Every swap and rollback in the log names the operator who made it.
fn records_name_the_operator(h: &Harness) -> bool {
    let swaps: Vec<_> = h
        .audit_records()
        .into_iter()
        .filter(|r| {
            r["event"]["action"] == "policy:swap" && r["event"]["detail"]["origin"] == "api"
        })
        .collect();
    !swaps.is_empty()
        && swaps.iter().all(|r| {
            r["event"]["actor"]["id"]
                .as_str()
                .is_some_and(|a| a.starts_with("operator:"))
        })
}

/// A rejection case: name, method, URL, headers, body, status, error code.
type Case<'a> = (
    &'a str,
    Method,
    String,
    Vec<(&'a str, String)>,
    Option<String>,
    StatusCode,
    &'a str,
);

fn bearer(key: &str) -> String {
    format!("Bearer {key}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_reaches_the_app_with_identity_headers_and_nothing_spoofed() {
    let h = Harness::start("allowed", Setup::default()).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let r = h
        .client()
        .send(
            Method::GET,
            &format!("{}/api/patients", h.base),
            &[
                ("authorization", &bearer(&key)),
                ("x-wardgate-principal", "someone-else"),
                ("x-wardgate-roles", "System Admin"),
                ("x-forwarded-for", "216.160.83.56"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.headers.contains_key("x-request-id"));
    assert!(r.headers.contains_key("ratelimit-remaining"));
    let seen = h.upstream.last();
    let hv = |n: &str| seen.headers.get(n).map(|v| v.to_str().unwrap().to_string());
    assert_eq!(hv("x-wardgate-principal").as_deref(), Some("front-desk"));
    assert_eq!(hv("x-wardgate-roles").as_deref(), Some("Office Staff"));
    assert_eq!(hv("x-wardgate-principal-type").as_deref(), Some("service"));
    assert_eq!(
        hv("x-wardgate-action").as_deref(),
        Some("patient_demographics:manage")
    );
    assert_eq!(hv("x-wardgate-practice").as_deref(), Some("p1"));
    // The client is not a trusted proxy: its X-Forwarded-For is replaced by its address.
    assert_eq!(hv("x-forwarded-for").as_deref(), Some("127.0.0.1"));
    assert_eq!(
        hv("authorization"),
        None,
        "the gateway credential stays at the gateway"
    );
    assert_eq!(
        hv("x-wardgate-request-id").as_deref(),
        r.headers.get("x-request-id").map(|v| v.to_str().unwrap())
    );
    // HTTP/2 over TLS works too.
    let r = h
        .h2_client()
        .send(
            Method::GET,
            &format!("{}/api/patients", h.base),
            &[("x-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.version),
        (StatusCode::OK, http::Version::HTTP_2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_has_its_status_and_none_reaches_the_app() {
    let setup = Setup {
        network: "deny = [\"127.0.0.9\"]".into(),
        server: "max_body_bytes = 1000\nmax_json_body_bytes = 100".into(),
        ..Setup::default()
    };
    let h = Harness::start("rejections", setup).await;
    let staff = h.key("front-desk", "Office Staff", &["*"], None);
    let narrow = h.key("biller", "Biller", &["patient_demographics:*"], None);
    let revoked_id = {
        let k = h.key("old-sync", "Office Staff", &["*"], None);
        let id = k.split('_').nth(1).unwrap().to_string();
        h.gw.store()
            .revoke_key(&wardgate_identity::Actor::system(), &id)
            .unwrap();
        k
    };
    let c = h.client();
    let url = |p: &str| format!("{}{p}", h.base);
    let cases: Vec<Case> = vec![
        (
            "no key",
            Method::GET,
            url("/api/patients"),
            vec![],
            None,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        ),
        (
            "malformed key",
            Method::GET,
            url("/api/patients"),
            vec![("authorization", "Bearer wg_nonsense".into())],
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "unknown key",
            Method::GET,
            url("/api/patients"),
            vec![("x-api-key", format!("wg_000000000000_{}", "0".repeat(64)))],
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "revoked key",
            Method::GET,
            url("/api/patients"),
            vec![("authorization", bearer(&revoked_id))],
            None,
            StatusCode::UNAUTHORIZED,
            "invalid_credentials",
        ),
        (
            "no grant",
            Method::GET,
            url("/api/reports/payout"),
            vec![("authorization", bearer(&staff))],
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "outside scope",
            Method::GET,
            url("/api/charges"),
            vec![("authorization", bearer(&narrow))],
            None,
            StatusCode::FORBIDDEN,
            "forbidden",
        ),
        (
            "unknown route",
            Method::GET,
            url("/api/secret-export"),
            vec![("authorization", bearer(&staff))],
            None,
            StatusCode::NOT_FOUND,
            "no_route",
        ),
        (
            "unknown method",
            Method::DELETE,
            url("/api/patients"),
            vec![("authorization", bearer(&staff))],
            None,
            StatusCode::NOT_FOUND,
            "no_route",
        ),
        (
            "declared body too large",
            Method::PUT,
            url("/api/patients/pt-1"),
            vec![("authorization", bearer(&staff))],
            Some("x".repeat(2000)),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
        (
            "JSON body too large to read",
            Method::POST,
            url("/api/appointments"),
            vec![("authorization", bearer(&staff))],
            Some(format!("{{\"patient\": \"{}\"}}", "p".repeat(200))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
        ),
    ];
    for (name, method, url, headers, body, status, code) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = c.send(method, &url, &headers, body.as_deref()).await;
        assert_eq!(r.status, status, "{name}: {}", r.body);
        let j = r.json();
        assert_eq!(j["error"], code, "{name}: {}", r.body);
        assert!(j["request_id"].is_string(), "{name}");
        assert!(
            !r.body.contains("line") && !r.body.contains("role"),
            "{name} leaks: {}",
            r.body
        );
    }
    let deny_reason = |path: &str, key: &str| {
        let c = h.client();
        let url = url(path);
        let key = key.to_string();
        async move {
            c.send(Method::GET, &url, &[("authorization", &bearer(&key))], None)
                .await
                .json()["reason"]
                .clone()
        }
    };
    assert_eq!(deny_reason("/api/reports/payout", &staff).await, "no_grant");
    assert_eq!(deny_reason("/api/charges", &narrow).await, "scope");
    // A network on the deny list.
    let r = h
        .client_from("127.0.0.9")
        .send(
            Method::GET,
            &url("/api/patients"),
            &[("authorization", &bearer(&staff))],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("network_blocked"))
    );
    assert_eq!(h.upstream.count(), 0, "a rejected request reached the app");
    // Every refusal is in the audit log as a deny.
    let denies = h
        .audit_records()
        .into_iter()
        .filter(|r| r["event"]["decision"]["verdict"] == "deny")
        .count();
    assert_eq!(denies, 13);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn countries_are_blocked_through_a_trusted_proxy_and_forwarded_for_is_ignored_from_others() {
    let setup = Setup {
        network: "trusted_proxies = [\"127.0.0.2\"]".into(),
        geo: Some("allow_countries = [\"US\"]\nunknown = \"allow\"".into()),
        ..Setup::default()
    };
    let h = Harness::start("geo", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let auth = bearer(&key);
    let url = format!("{}/api/patients", h.base);
    let proxy = h.client_from("127.0.0.2");
    let r = proxy
        .send(
            Method::GET,
            &url,
            &[("authorization", &auth), ("x-forwarded-for", "81.2.69.142")],
            None,
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("country_blocked"))
    );
    let r = proxy
        .send(
            Method::GET,
            &url,
            &[
                ("authorization", &auth),
                ("x-forwarded-for", "216.160.83.56"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.upstream.last().headers["x-forwarded-for"],
        "216.160.83.56"
    );
    // A client prepending a US address behind the proxy does not hide where it is.
    let r = proxy
        .send(
            Method::GET,
            &url,
            &[
                ("authorization", &auth),
                ("x-forwarded-for", "216.160.83.56, 81.2.69.142"),
            ],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // From an untrusted address the header means nothing: the socket's address counts.
    let r = h
        .client()
        .send(
            Method::GET,
            &url,
            &[("authorization", &auth), ("x-forwarded-for", "81.2.69.142")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.upstream.last().headers["x-forwarded-for"], "127.0.0.1");
    let records = h.audit_records();
    let blocked: Vec<_> = records
        .iter()
        .filter(|r| r["event"]["decision"]["reasons"][0] == "country_blocked")
        .collect();
    assert_eq!(blocked.len(), 2);
    assert_eq!(blocked[0]["event"]["client"], "81.2.69.142");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_limited_to_their_rate_until_the_window_passes() {
    let h = Harness::start("ratelimit", Setup::default()).await;
    let slow = h.key("slow-sync", "Office Staff", &["*"], Some(3));
    let other = h.key("other-sync", "Office Staff", &["*"], Some(3));
    for i in 0..3 {
        let r = h.get("/api/patients", &slow).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
        assert_eq!(r.headers["ratelimit-limit"], "3");
        assert_eq!(
            r.headers["ratelimit-remaining"],
            (2 - i).to_string().as_str()
        );
    }
    let r = h.get("/api/patients", &slow).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((19..=20).contains(&retry), "retry-after {retry}");
    assert_eq!(
        h.get("/api/patients", &other).await.status,
        StatusCode::OK,
        "keys share no bucket"
    );
    h.clock.advance(Duration::from_secs(20));
    assert_eq!(h.get("/api/patients", &slow).await.status, StatusCode::OK);
    assert_eq!(
        h.get("/api/patients", &slow).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    h.clock.advance(Duration::from_secs(60));
    for _ in 0..3 {
        assert_eq!(h.get("/api/patients", &slow).await.status, StatusCode::OK);
    }
    let metrics = h.admin(Method::GET, "/metrics", None).await;
    assert!(
        metrics.body.contains("wardgate_rate_limited_total 2"),
        "{}",
        metrics.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_expired_and_misplaced_keys_stop_working_at_once() {
    let h = Harness::start("keys", Setup::default()).await;
    let key = h.key("sync", "Office Staff", &["*"], None);
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);
    let id = key.split('_').nth(1).unwrap();
    h.gw.store()
        .revoke_key(&wardgate_identity::Actor::system(), id)
        .unwrap();
    assert_eq!(
        h.get("/api/patients", &key).await.status,
        StatusCode::UNAUTHORIZED
    );

    let short = h.key_with(
        "temp",
        "Office Staff",
        &["*"],
        None,
        &[],
        Some(chrono::Duration::minutes(5)),
    );
    assert_eq!(h.get("/api/patients", &short).await.status, StatusCode::OK);
    h.clock.advance(Duration::from_secs(6 * 60));
    assert_eq!(
        h.get("/api/patients", &short).await.status,
        StatusCode::UNAUTHORIZED
    );

    let fenced = h.key_with(
        "fenced",
        "Office Staff",
        &["*"],
        None,
        &["127.0.0.2/32"],
        None,
    );
    assert_eq!(
        h.get("/api/patients", &fenced).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = h
        .client_from("127.0.0.2")
        .send(
            Method::GET,
            &format!("{}/api/patients", h.base),
            &[("authorization", &bearer(&fenced))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redaction_obligations_remove_fields_from_json_responses() {
    let setup = Setup {
        policy: "clinic.policy",
        ..Setup::default()
    };
    let h = Harness::start("redact", setup).await;
    let desk = h.key("desk", "Front Desk", &["*"], None);
    let owner = h.key("owner", "Owner", &["*"], None);
    let r = h.get("/api/patients", &desk).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = &r.json()["patients"][0];
    assert_eq!(p["name"], "Maria Lopez");
    assert!(
        p.get("ssn").is_none() && p.get("insurance_id").is_none(),
        "{}",
        r.body
    );
    let r = h.get("/api/patients", &owner).await;
    assert_eq!(r.json()["patients"][0]["ssn"], "123-45-6789");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_attribute_is_read_for_the_decision_and_still_forwarded() {
    let h = Harness::start("json-body", Setup::default()).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let body = r#"{"patient": "pt-42", "at": "2026-12-01T09:00:00-05:00"}"#;
    let r = h
        .client()
        .send(
            Method::POST,
            &format!("{}/api/appointments", h.base),
            &[
                ("authorization", &bearer(&key)),
                ("content-type", "application/json"),
            ],
            Some(body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.upstream.last().body, body.as_bytes());
    let records = h.audit_records();
    let last = records.last().unwrap();
    assert_eq!(last["event"]["resource"]["patient"], "pt-42");
    assert_eq!(last["event"]["action"], "patient_appointments:manage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_upstream_is_a_502_and_the_gateway_stays_up() {
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let setup = Setup {
        upstreams: None,
        extra: format!(
            "[[upstream]]\nname = \"gone\"\nurl = \"http://{dead}\"\nprefix = \"/api/claims\"\nconnect_timeout = \"300ms\"\n"
        ),
        ..Setup::default()
    };
    let h = Harness::start("upstream", setup).await;
    let key = h.key("biller", "Biller", &["*"], None);
    let r = h.get("/api/claims", &key).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::BAD_GATEWAY, Some("upstream_failed"))
    );
    assert!(
        !r.body.contains(&dead.to_string()),
        "the upstream's address leaked: {}",
        r.body
    );
    let health = h.admin(Method::GET, "/healthz", None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upstream_times_out_with_504() {
    let policy =
        std::fs::read_to_string(wardgate_tests::root().join("policies/kareo.policy")).unwrap();
    let h = Harness::start("slow", Setup::default()).await;
    // A route to the upstream's slow path, swapped in through the admin API.
    let with_slow = format!("{policy}\nroute GET /api/slow -> patient_demographics:manage\n");
    let r = h.swap(with_slow.into_bytes()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let started = std::time::Instant::now();
    let r = h.get("/api/slow", &key).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::GATEWAY_TIMEOUT, Some("upstream_timeout"))
    );
    assert!(
        started.elapsed() < Duration::from_millis(1900),
        "the 500 ms timeout did not apply"
    );
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trapping_module_fails_closed_and_rollback_restores_service() {
    let h = Harness::start("trap", Setup::default()).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);
    let policy =
        wardgate_policy::compile_file(&wardgate_tests::root().join("policies/kareo.policy"))
            .unwrap();
    let trap =
        wardgate_compiler::compile_sabotaged(&policy.policy, wardgate_compiler::Sabotage::Trap)
            .unwrap();
    let r = h.swap(trap).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "without policy tests configured the module is accepted: {}",
        r.body
    );
    let before = h.upstream.count();
    let r = h.get("/api/patients", &key).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("policy_unavailable"))
    );
    assert!(
        !r.body.contains("trap") && !r.body.contains("wasm"),
        "{}",
        r.body
    );
    assert_eq!(
        h.upstream.count(),
        before,
        "an undecided request was forwarded"
    );
    let r = h.operator(Op::RollbackPolicy).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);
    let records = h.audit_records();
    assert!(records
        .iter()
        .any(|r| r["event"]["decision"]["reasons"][1] == "engine_fault"));
    assert!(records
        .iter()
        .any(|r| r["event"]["action"] == "policy:rollback"));
    assert!(records_name_the_operator(&h), "the swap was not named");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidates_that_fail_their_tests_or_drop_held_roles_are_refused_and_file_edits_swap() {
    let setup = Setup {
        tests: true,
        ..Setup::default()
    };
    let h = Harness::start("candidates", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let policy = std::fs::read_to_string(&h.policy_path).unwrap();
    let hash =
        |r: &wardgate_tests::gateway::Reply| r.json()["module_hash"].as_str().unwrap().to_string();
    let first = hash(&h.operator(Op::Policy).await);

    let compiled = wardgate_policy::compile_str("kareo", &policy).unwrap();
    let trap =
        wardgate_compiler::compile_sabotaged(&compiled.policy, wardgate_compiler::Sabotage::Trap)
            .unwrap();
    let r = h.swap(trap).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("policy tests fail"),
        "{}",
        r.body
    );

    let no_office_staff = policy.replace("role \"Office Staff\" {", "role \"Front Office\" {");
    assert_ne!(no_office_staff, policy);
    let r = h.swap(no_office_staff.into_bytes()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = r.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("Office Staff (1 holders)") || message.contains("policy tests fail"),
        "{message}"
    );

    let r = h.swap(b"role {".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("does not compile"));
    assert_eq!(
        hash(&h.operator(Op::Policy).await),
        first,
        "a refused candidate changed the module"
    );
    assert_eq!(h.get("/api/patients", &key).await.status, StatusCode::OK);

    // Editing the file swaps the policy in (the watcher checks every 100 ms).
    std::fs::write(&h.policy_path, format!("{policy}\n# edited\n")).unwrap();
    let mut swapped = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if hash(&h.operator(Op::Policy).await) != first {
            swapped = true;
            break;
        }
    }
    assert!(swapped, "the edited policy file was not swapped in");
    let metrics = h.metrics().await;
    assert!(
        metrics.contains("wardgate_policy_swaps_total{result=\"refused\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("wardgate_policy_swaps_total{result=\"swapped\"} 1"),
        "{metrics}"
    );
    // The bootstrap key swaps nothing: the admin listener has no policy endpoint any more;
    // swaps are made by people, keys and the operator through the API, named.
    let r = h
        .admin(Method::PUT, "/policy", Some(policy.clone().into_bytes()))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_swaps_under_load_fail_no_request() {
    let h = Arc::new(Harness::start("swap-load", Setup::default()).await);
    // A rate no load loop reaches: this test is about swaps, not limits.
    let key = h.key("front-desk", "Office Staff", &["*"], Some(100_000_000));
    let policy = std::fs::read_to_string(&h.policy_path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..3 {
        let (h, key, stop, ok, failed) = (
            h.clone(),
            key.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        load.push(tokio::spawn(async move {
            let client = h.client();
            let url = format!("{}/api/patients", h.base);
            let auth = bearer(&key);
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .send(Method::GET, &url, &[("authorization", &auth)], None)
                    .await;
                if r.status == StatusCode::OK {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    // What failed, for the message below.
                    eprintln!("failed during swaps: {} {}", r.status, r.body);
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let mut hashes = HashSet::new();
    for i in 0..100 {
        let candidate = format!("{policy}\n# revision {}\n", i % 2);
        let r = h.swap(candidate.into_bytes()).await;
        assert_eq!(r.status, StatusCode::OK, "swap {i}: {}", r.body);
        hashes.insert(
            r.json()["swapped"]["module_hash"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during swaps"
    );
    assert!(
        ok.load(Ordering::Relaxed) >= 100,
        "too little load: {}",
        ok.load(Ordering::Relaxed)
    );
    assert_eq!(hashes.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_reaches_the_app_without_an_allow_in_the_audit_log() {
    let h = Harness::start("audit", Setup::default()).await;
    let staff = h.key("front-desk", "Office Staff", &["*"], Some(5));
    for path in [
        "/api/patients",
        "/api/patients/pt-1",
        "/api/reports/payout",
        "/api/appointments",
        "/api/users",
        "/nope",
    ] {
        for _ in 0..2 {
            let _ = h.get(path, &staff).await;
        }
    }
    let records = h.audit_records();
    let allowed: HashSet<String> = records
        .iter()
        .filter(|r| {
            r["event"]["kind"] == "decision" && r["event"]["decision"]["verdict"] == "allow"
        })
        .map(|r| r["event"]["request_id"].as_str().unwrap().to_string())
        .collect();
    let seen = h.upstream.seen.lock().unwrap().clone();
    assert!(!seen.is_empty());
    for s in &seen {
        let id = s.headers["x-wardgate-request-id"].to_str().unwrap();
        assert!(
            allowed.contains(id),
            "request {id} reached the app without an audited allow"
        );
    }
    assert_eq!(allowed.len(), seen.len());
    let decisions = records
        .iter()
        .filter(|r| r["event"]["kind"] == "decision")
        .count();
    assert_eq!(decisions, 12, "one decision per request");
    let report = wardgate_audit::verify(&h.dir.join("audit"), None).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_headers_too_slowly_is_cut_off() {
    let setup = Setup {
        tls: false,
        server: "header_timeout = \"300ms\"".into(),
        ..Setup::default()
    };
    let h = Harness::start("slowloris", setup).await;
    let mut s = tokio::net::TcpStream::connect(h.running.addr)
        .await
        .unwrap();
    s.write_all(b"GET /api/patients HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "the connection was still open after 5 s");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(h.upstream.count(), 0);
    // Headers over the limit are refused by the listener.
    let mut s = tokio::net::TcpStream::connect(h.running.addr)
        .await
        .unwrap();
    let big = format!(
        "GET /api/patients HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(40_000)
    );
    let _ = s.write_all(big.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 431"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_comes_from_a_header_and_has_its_own_networks() {
    let setup = Setup {
        practice: Some("from = \"header\"\nheader = \"x-practice\"".into()),
        extra: "[practices.p1]\ndeny = [\"127.0.0.3\"]\n".into(),
        ..Setup::default()
    };
    let h = Harness::start("practice-header", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let url = format!("{}/api/patients", h.base);
    let send = |client: wardgate_tests::gateway::TestClient, practice: Option<&'static str>| {
        let (url, auth) = (url.clone(), bearer(&key));
        async move {
            let mut headers = vec![("authorization", auth.as_str())];
            if let Some(p) = practice {
                headers.push(("x-practice", p));
            }
            client.send(Method::GET, &url, &headers, None).await
        }
    };
    let r = send(h.client(), None).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("unknown_practice"))
    );
    assert_eq!(
        send(h.client(), Some("elsewhere")).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(send(h.client(), Some("p1")).await.status, StatusCode::OK);
    let r = send(h.client_from("127.0.0.3"), Some("p1")).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("network_blocked"))
    );
    // A key of one practice holds no roles at another.
    h.gw.store()
        .add_practice(
            &wardgate_identity::Actor::system(),
            "p2",
            "Other Clinic",
            "America/Chicago",
            &[],
        )
        .unwrap();
    h.gw.refresh_practices().unwrap();
    let r = send(h.client(), Some("p2")).await;
    assert_eq!(
        (r.status, r.json()["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("no_grant"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_comes_from_the_host_name() {
    let setup = Setup {
        practice: Some("from = \"host\"\ndomain = \"clinic.test\"".into()),
        ..Setup::default()
    };
    let h = Harness::start("practice-host", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let url = format!("{}/api/patients", h.base);
    let auth = bearer(&key);
    let r = h
        .client()
        .send(
            Method::GET,
            &url,
            &[("authorization", &auth), ("host", "p1.clinic.test")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        h.upstream.last().headers["x-forwarded-host"],
        "p1.clinic.test"
    );
    let r = h
        .client()
        .send(
            Method::GET,
            &url,
            &[("authorization", &auth), ("host", "p1.evil.test")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_upstream_is_reached_with_its_own_ca() {
    let h = Harness::start("tls-upstream-probe", Setup::default()).await;
    // A TLS upstream with the harness's certificate (for localhost), trusted through its CA.
    let tls = wardgate::tls::server_config(&h.dir.join("cert.pem"), &h.dir.join("key.pem"), false)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = hyper::service::service_fn(|_req| async {
                    let mut res = http::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from_static(br#"{"over":"tls"}"#),
                    ));
                    res.headers_mut()
                        .insert("content-type", "application/json".parse().unwrap());
                    Ok::<_, std::convert::Infallible>(res)
                });
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
            });
        }
    });
    let ca = h.dir.join("ca.pem");
    drop(h);
    let setup = Setup {
        upstreams: Some(format!(
            "[[upstream]]\nname = \"secure\"\nurl = \"https://localhost:{port}\"\nprefix = \"/\"\nca = {:?}\n",
            ca.display().to_string()
        )),
        ..Setup::default()
    };
    let h = Harness::start("tls-upstream", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    let r = h.get("/api/patients", &key).await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, r#"{"over":"tls"}"#)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_practice_comes_from_a_path_segment() {
    let setup = Setup {
        practice: Some("from = \"path\"\nsegment = 2".into()),
        policy_extra: "route GET /p/{practice}/api/patients -> patient_demographics:manage practice = path practice".into(),
        ..Setup::default()
    };
    let h = Harness::start("practice-path", setup).await;
    let key = h.key("front-desk", "Office Staff", &["*"], None);
    assert_eq!(
        h.get("/p/p1/api/patients", &key).await.status,
        StatusCode::OK
    );
    assert_eq!(h.upstream.last().path, "/p/p1/api/patients");
    let r = h.get("/p/p9/api/patients", &key).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("unknown_practice"))
    );
}
