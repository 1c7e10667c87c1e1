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

    let tls =
        wardgate::tls::client_config(Some(Path::new(info["ca_cert"].as_str().unwrap()))).unwrap();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
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
