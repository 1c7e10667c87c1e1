//! `wardgate serve --demo` as a user runs it: the real binary, a fresh data folder, then the
//! requests the banner suggests: 200, 403, 401, a blocked country, 429; and `demo.json`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(path: &Path) -> serde_json::Value {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(v) = serde_json::from_str(&text) {
                return v;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{} did not appear", path.display());
}

/// An HTTPS client that trusts the demo's CA.
fn client_for(
    info: &serde_json::Value,
) -> Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>> {
    let tls =
        wardgate::tls::client_config(Some(Path::new(info["ca_cert"].as_str().unwrap()))).unwrap();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new()).build(https)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_protects_its_app_as_the_banner_says() {
    let dir = std::env::temp_dir().join(format!("wardgate-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let _demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_wardgate"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let info = wait_for(&dir.join("demo.json"));
    for field in ["url", "admin_url", "ca_cert", "users", "api_keys", "routes"] {
        assert!(info.get(field).is_some(), "demo.json lacks {field}: {info}");
    }
    assert_eq!(
        info["users"].as_array().unwrap().len(),
        6,
        "one user per role"
    );
    assert!(info["users"][0]["password"].is_string() && info["users"][0]["roles"].is_array());
    assert_eq!(info["api_keys"][0]["rate"], "20/min");
    assert!(info["routes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["path"] == "/api/patients"));

    let client = client_for(&info);
    let url = info["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://localhost:"), "{url}");
    let key = info["api_keys"][0]["key"].as_str().unwrap().to_string();
    let get = |path: &str, headers: Vec<(&'static str, String)>| {
        let mut req = http::Request::get(format!("{url}{path}"));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let req = req.body(Full::new(Bytes::new())).unwrap();
        let client = client.clone();
        async move {
            let res = client.request(req).await.unwrap();
            let status = res.status().as_u16();
            let body = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    let auth = || ("authorization", format!("Bearer {key}"));
    let (status, body) = get("/api/patients", vec![auth()]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Maria Lopez") && body.contains("front-desk-sync"),
        "{body}"
    );
    assert_eq!(get("/api/reports/payout", vec![auth()]).await.0, 403);
    assert_eq!(get("/api/patients", vec![]).await.0, 401);
    let (status, body) = get(
        "/api/patients",
        vec![auth(), ("x-forwarded-for", "81.2.69.142".into())],
    )
    .await;
    assert_eq!(
        (status, body.contains("country_blocked")),
        (403, true),
        "{body}"
    );
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(get("/api/patients", vec![auth()]).await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

/// A JSON answer from the demo, with the cookies it set.
struct Answer {
    status: u16,
    cookies: Vec<String>,
    json: serde_json::Value,
}

/// The demo's files that hold secrets are its owner's only, and a value a user types (here the
/// reason for break-glass, which the alert repeats) cannot forge a line of the text log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_private_and_typed_values_cannot_forge_log_lines() {
    let dir = std::env::temp_dir().join(format!("wardgate-demo-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log_path = dir.join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.join("data");
    let demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_wardgate"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    );
    let info = wait_for(&data.join("demo.json"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        for f in [
            "demo.json",
            "wardgate.toml",
            "key.pem",
            "wardgate.db",
            "wardgate.db.key",
            "audit/anchor.key",
        ] {
            assert_eq!(mode(&data.join(f)), 0o600, "{f}");
        }
        assert_eq!(mode(&data.join("audit")), 0o700);
    }
    let provider = info["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["roles"][0] == "Provider")
        .unwrap()
        .clone();
    let client = client_for(&info);
    let url = info["url"].as_str().unwrap().to_string();
    let jar = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let post = |path: &str, body: serde_json::Value| {
        let cookie = jar.lock().unwrap().join("; ");
        let req = http::Request::post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("cookie", cookie)
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let (client, jar) = (client.clone(), jar.clone());
        async move {
            let res = client.request(req).await.unwrap();
            let status = res.status().as_u16();
            let cookies: Vec<String> = res
                .headers()
                .get_all("set-cookie")
                .iter()
                .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
                .collect();
            for c in &cookies {
                let name = c.split('=').next().unwrap().to_string();
                let mut j = jar.lock().unwrap();
                j.retain(|x| !x.starts_with(&format!("{name}=")));
                if !c.ends_with('=') {
                    j.push(c.clone());
                }
            }
            let body = res.into_body().collect().await.unwrap().to_bytes();
            Answer {
                status,
                cookies,
                json: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            }
        }
    };
    let email = provider["email"].as_str().unwrap();
    let password = provider["password"].as_str().unwrap();
    let a = post(
        "/.wardgate/login",
        serde_json::json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.json);
    if a.json["step"] == "change_password" {
        let new = "Another#Strong9pass";
        let a = post(
            "/.wardgate/password",
            serde_json::json!({"current": password, "new": new, "confirm": new}),
        )
        .await;
        assert_eq!(a.json["signed_in"], true, "{}", a.json);
    }
    assert!(jar
        .lock()
        .unwrap()
        .iter()
        .any(|c| c.starts_with("__Host-wardgate=")));
    let forged =
        "broken leg\nINFO wardgate::admin: FORGED admin@clinic granted System Admin\r\u{1b}[2K";
    let a = post(
        "/.wardgate/emergency",
        serde_json::json!({"reason": forged}),
    )
    .await;
    assert_eq!(a.json["emergency"], true, "{}", a.json);
    assert!(a.cookies.is_empty() || a.status == 200);
    drop(demo);
    let text = std::fs::read_to_string(&log_path).unwrap();
    let alert = text
        .lines()
        .find(|l| l.contains("opened emergency access"))
        .unwrap_or_else(|| panic!("no alert in the log:\n{text}"));
    // The alert puts what was typed on one line (control characters as spaces) before the
    // log escapes anything left.
    assert!(
        alert.contains("broken leg INFO wardgate::admin: FORGED"),
        "{alert}"
    );
    assert!(
        !alert.contains('\u{1b}') && !alert.contains('\r'),
        "{alert}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("INFO wardgate::admin: FORGED")),
        "{text}"
    );
}

/// The command line administers the running demo (no "the audit log is open in another
/// process"): a user added, found, locked; each change in the gateway's own chain, named by
/// the operator who ran the command.
#[test]
fn the_command_line_administers_the_running_demo() {
    let dir = std::env::temp_dir().join(format!("wardgate-demo-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let demo = Demo(
        Command::new(env!("CARGO_BIN_EXE_wardgate"))
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(&dir.join("demo.json"));
    let config = dir.join("wardgate.toml");
    let cli = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wardgate"));
        cmd.args(args);
        if args[0] != "audit" {
            cmd.arg("--config").arg(&config);
        }
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{args:?}: {text}{err}");
        text
    };
    let added = cli(&[
        "user",
        "add",
        "--email",
        "rosa@demo.example",
        "--first",
        "Rosa",
        "--last",
        "Diaz",
        "--role",
        "Office Staff",
        "--practice",
        "demo",
    ]);
    assert!(
        added.contains("added:") && added.contains("temporary password"),
        "{added}"
    );
    let listed = cli(&["user", "search", "ros", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(users.as_array().unwrap().len(), 1, "{listed}");
    let locked = cli(&["user", "lock", "rosa@demo.example"]);
    assert!(locked.contains("locked:"), "{locked}");
    let records = cli(&[
        "audit",
        "search",
        "--dir",
        dir.join("audit").to_str().unwrap(),
        "--action",
        "user:*",
    ]);
    let changes: Vec<serde_json::Value> = records
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        // The operator is whoever the socket's peer is, as the operating system says.
        .filter(|r: &serde_json::Value| {
            r["event"]["actor"]["kind"] == "operator"
                && r["event"]["actor"]["id"]
                    .as_str()
                    .unwrap()
                    .starts_with("operator:")
        })
        .collect();
    let actions: Vec<&str> = changes
        .iter()
        .filter_map(|r| r["event"]["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"user:create") && actions.contains(&"user:lock"),
        "{records}"
    );
    // By URL with a key, as an integration or an administrator elsewhere would.
    cli(&[
        "key",
        "account",
        "hr-sync",
        "--practice",
        "demo",
        "--role",
        "System Admin",
    ]);
    let issued: serde_json::Value = serde_json::from_str(&cli(&[
        "key",
        "issue",
        "--account",
        "hr-sync",
        "--scope",
        "*",
        "--json",
    ]))
    .unwrap();
    let token = dir.join("hr-sync.token");
    std::fs::write(&token, issued["key"].as_str().unwrap()).unwrap();
    let info = wait_for(&dir.join("demo.json"));
    let url = info["url"].as_str().unwrap().to_string();
    let remote = |args: &[&str]| {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        full.extend([
            "--server".to_string(),
            url.clone(),
            "--token-file".to_string(),
            token.display().to_string(),
            "--ca".to_string(),
            dir.join("ca.pem").display().to_string(),
        ]);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let listed = remote(&["user", "search", "ros", "--json"]);
    assert!(listed.contains("rosa@demo.example"), "{listed}");
    let unlocked = remote(&["user", "unlock", "rosa@demo.example"]);
    assert!(unlocked.contains("unlocked:"), "{unlocked}");
    let found = remote(&["audit", "search", "--action", "user:unlock"]);
    let by: Vec<serde_json::Value> = found
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(by.len(), 1, "{found}");
    assert_eq!(by[0]["event"]["actor"]["kind"], "key", "{found}");
    drop(demo);
    let verified = Command::new(env!("CARGO_BIN_EXE_wardgate"))
        .args(["audit", "verify", "--dir"])
        .arg(dir.join("audit"))
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
}
