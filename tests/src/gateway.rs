//! A gateway under test: an in-process upstream on 127.0.0.1 that records what reaches it,
//! the gateway built from a real configuration file on real sockets, and an HTTP client
//! (TLS, HTTP/1.1 or h2, optionally from another loopback address).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use wardgate::config::SecretHash;
use wardgate::{Clock, Config, Gateway, Running};
use wardgate_identity::{Actor, NewKey};

/// A request the upstream received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The practice app behind the gateway: answers JSON with sensitive fields, records every
/// request; `/api/slow...` answers after two seconds.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let log = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let log = log.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let log = log.clone();
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let path = parts.uri.path().to_string();
                            log.lock().unwrap().push(Seen {
                                method: parts.method.to_string(),
                                path: path.clone(),
                                headers: parts.headers.clone(),
                                body,
                            });
                            if path.starts_with("/api/slow") {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                            }
                            let json = serde_json::json!({
                                "patients": [{"id": "pt-1", "name": "Maria Lopez", "ssn": "123-45-6789", "insurance_id": "W1"}],
                                "path": path,
                            });
                            let mut res =
                                http::Response::new(Full::new(Bytes::from(json.to_string())));
                            res.headers_mut()
                                .insert("content-type", "application/json".parse().unwrap());
                            Ok::<_, std::convert::Infallible>(res)
                        }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        Upstream { addr, seen }
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("the upstream saw nothing")
    }
}

/// What a test changes in the configuration.
#[derive(Debug, Clone)]
pub struct Setup {
    /// A file under `policies/`.
    pub policy: &'static str,
    /// Check candidates against the policy's `*.tests.toml`.
    pub tests: bool,
    pub tls: bool,
    /// Lines of `[server]` beyond listen and TLS.
    pub server: String,
    /// Lines of `[network]`.
    pub network: String,
    /// Lines of `[geo]` (the MaxMind test database is set); none: no geo rules.
    pub geo: Option<String>,
    /// Sections appended as they are.
    pub extra: String,
    /// Replaces the `[[upstream]]` pointing at the test upstream.
    pub upstreams: Option<String>,
    /// Lines of `[practice]`; the fixed practice `p1` by default.
    pub practice: Option<String>,
    /// Lines of `[sessions]`.
    pub sessions: String,
    /// Appended to the policy file.
    pub policy_extra: String,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            policy: "kareo.policy",
            tests: false,
            tls: true,
            server: String::new(),
            network: String::new(),
            geo: None,
            extra: String::new(),
            upstreams: None,
            practice: None,
            sessions: String::new(),
            policy_extra: String::new(),
        }
    }
}

pub const ADMIN_KEY: &str = "wga_test_admin_key";
pub const PRACTICE: &str = "p1";

#[derive(Debug)]
pub struct Harness {
    pub dir: PathBuf,
    pub running: Running,
    pub gw: Arc<Gateway>,
    pub upstream: Upstream,
    pub clock: Clock,
    pub base: String,
    pub admin: String,
    pub ca: PathBuf,
    pub policy_path: PathBuf,
}

fn q(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

impl Harness {
    pub async fn start(name: &str, setup: Setup) -> Harness {
        let dir = std::env::temp_dir().join(format!("wardgate-e2e-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tls = wardgate::tls::self_signed(&dir).unwrap();
        let root = crate::root();
        let policy_path = dir.join(setup.policy);
        let policy_text =
            std::fs::read_to_string(root.join("policies").join(setup.policy)).unwrap();
        std::fs::write(
            &policy_path,
            format!("{policy_text}\n{}\n", setup.policy_extra),
        )
        .unwrap();
        let tests_line = if setup.tests {
            let tests = setup.policy.replace(".policy", ".tests.toml");
            std::fs::copy(root.join("policies").join(&tests), dir.join(&tests)).unwrap();
            format!("tests = {}", q(&dir.join(tests)))
        } else {
            String::new()
        };
        let upstream = Upstream::start().await;
        let geo = match &setup.geo {
            Some(lines) => {
                let db = dir.join("geo.mmdb");
                std::fs::write(&db, wardgate::geo::TEST_DATABASE).unwrap();
                format!("[geo]\ndatabase = {}\n{lines}\n", q(&db))
            }
            None => String::new(),
        };
        let tls_lines = if setup.tls {
            format!("tls_cert = {}\ntls_key = {}", q(&tls.cert), q(&tls.key))
        } else {
            String::new()
        };
        let upstreams = setup.upstreams.clone().unwrap_or_else(|| {
            format!("[[upstream]]\nname = \"app\"\nurl = \"http://{}\"\nprefix = \"/\"\ntimeout = \"500ms\"\n", upstream.addr)
        });
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n{tls_lines}\n{server}\n\n[admin]\nlisten = \"127.0.0.1:0\"\napi_key_sha256 = \"{admin}\"\n\n\
             [policy]\nmodule = {policy}\n{tests_line}\nwatch = \"100ms\"\n\n[identity]\ndatabase = {db}\n\n[audit]\ndir = {audit}\n\n\
             [practice]\n{practice}\n\n[network]\n{network}\n\n{geo}\n{upstreams}\n[sessions]\n{sessions}\n{extra}\n",
            server = setup.server,
            admin = SecretHash::of(ADMIN_KEY).hex(),
            policy = q(&policy_path),
            db = q(&dir.join("wardgate.db")),
            audit = q(&dir.join("audit")),
            network = setup.network,
            practice = setup
                .practice
                .clone()
                .unwrap_or_else(|| format!("from = \"fixed\"\nid = \"{PRACTICE}\"")),
            extra = setup.extra,
            sessions = setup.sessions,
        );
        let config_path = dir.join("wardgate.toml");
        std::fs::write(&config_path, &text).unwrap();
        let config = Config::load(&config_path).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let clock = Clock::new();
        let gw = Gateway::build(config, clock.clone()).unwrap();
        gw.store()
            .add_practice(
                &Actor::system(),
                PRACTICE,
                "Test Clinic",
                "America/New_York",
                &["clinical".into(), "billing".into(), "engage".into()],
            )
            .unwrap();
        gw.refresh_practices().unwrap();
        Harness::assemble(
            dir,
            gw,
            upstream,
            clock,
            tls.ca_cert,
            policy_path,
            setup.tls,
        )
        .await
    }

    /// Starts the listeners of a built gateway and wraps it up.
    async fn assemble(
        dir: PathBuf,
        gw: Arc<Gateway>,
        upstream: Upstream,
        clock: Clock,
        ca: PathBuf,
        policy_path: PathBuf,
        tls: bool,
    ) -> Harness {
        let running = wardgate::start(gw.clone()).await.unwrap();
        let scheme = if tls { "https" } else { "http" };
        Harness {
            base: format!("{scheme}://127.0.0.1:{}", running.addr.port()),
            admin: format!("http://127.0.0.1:{}", running.admin_addr.unwrap().port()),
            dir,
            gw,
            running,
            upstream,
            clock,
            ca,
            policy_path,
        }
    }

    /// Stops the gateway and starts it again from the same folder and configuration, as a
    /// restart of the process would (the upstream and the clock stay).
    pub async fn restart(self) -> Harness {
        let Harness {
            dir,
            running,
            gw,
            upstream,
            clock,
            ca,
            policy_path,
            base,
            ..
        } = self;
        drop(gw);
        running.shutdown(Duration::from_secs(5)).await;
        let config = Config::load(&dir.join("wardgate.toml")).unwrap();
        let mut last = None;
        let mut gw = None;
        for _ in 0..100 {
            match Gateway::build(config.clone(), clock.clone()) {
                Ok(g) => {
                    gw = Some(g);
                    break;
                }
                Err(e) => {
                    // The old gateway's last references are still going away.
                    last = Some(e.to_string());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        let gw = gw.unwrap_or_else(|| panic!("the gateway did not start again: {last:?}"));
        Harness::assemble(
            dir,
            gw,
            upstream,
            clock,
            ca,
            policy_path,
            base.starts_with("https"),
        )
        .await
    }

    /// A service account with one role and a key for it.
    pub fn key(&self, account: &str, role: &str, scopes: &[&str], rate: Option<u32>) -> String {
        self.key_with(account, role, scopes, rate, &[], None)
    }

    pub fn key_with(
        &self,
        account: &str,
        role: &str,
        scopes: &[&str],
        rate: Option<u32>,
        networks: &[&str],
        expires_in: Option<chrono::Duration>,
    ) -> String {
        let store = &self.gw.store();
        let _ = store.add_service_account(&Actor::system(), account, PRACTICE, &[role.to_string()]);
        store
            .issue_key(
                &Actor::system(),
                &NewKey {
                    account: account.into(),
                    scopes: scopes.iter().map(|s| s.to_string()).collect(),
                    networks: networks
                        .iter()
                        .map(|s| s.parse().expect("a CIDR"))
                        .collect(),
                    rate_per_minute: rate,
                    expires_in,
                },
            )
            .unwrap()
            .key
    }

    pub fn client(&self) -> TestClient {
        TestClient::new(&self.ca, None, false)
    }

    /// A client whose connections come from `from` (another loopback address).
    pub fn client_from(&self, from: &str) -> TestClient {
        TestClient::new(&self.ca, Some(from.parse().unwrap()), false)
    }

    pub fn h2_client(&self) -> TestClient {
        TestClient::new(&self.ca, None, true)
    }

    pub async fn get(&self, path: &str, key: &str) -> Reply {
        self.client()
            .send(
                Method::GET,
                &format!("{}{path}", self.base),
                &[("authorization", &format!("Bearer {key}"))],
                None,
            )
            .await
    }

    /// Calls the admin API with the admin key.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> Reply {
        let client = TestClient::new(&self.ca, None, false);
        client
            .send_bytes(
                method,
                &format!("{}{path}", self.admin),
                &[("authorization", &format!("Bearer {ADMIN_KEY}"))],
                body,
            )
            .await
    }

    /// Sends an operation as the host's operator, over the gateway's socket (as the command
    /// line does); the reply as a response.
    pub async fn operator(&self, op: wardgate::api::ops::Op) -> Reply {
        let client = wardgate::api::client::Client::for_database(&self.dir.join("wardgate.db"))
            .expect("the gateway's operator socket");
        let (status, body) = client.send(&op).await.unwrap();
        Reply {
            status,
            version: http::Version::HTTP_11,
            headers: HeaderMap::new(),
            body: body.to_string(),
        }
    }

    /// Puts a policy in force as the operator: text, or a compiled component.
    pub async fn swap(&self, bytes: Vec<u8>) -> Reply {
        let mut body = wardgate::api::ops::PolicyBody {
            name: "candidate.policy".into(),
            ..Default::default()
        };
        if bytes.starts_with(b"\0asm") {
            body.module_base64 = Some(data_encoding::BASE64.encode(&bytes));
        } else {
            body.text = Some(String::from_utf8(bytes).unwrap());
        }
        self.operator(wardgate::api::ops::Op::SwapPolicy(body))
            .await
    }

    /// The metrics, as a scraper on this machine reads them.
    /// The metrics once they contain `needle` (alerts are counted off the request path), or
    /// as they are after five seconds.
    pub async fn metrics_with(&self, needle: &str) -> String {
        let mut last = String::new();
        for _ in 0..50 {
            last = self.metrics().await;
            if last.contains(needle) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last
    }

    pub async fn metrics(&self) -> String {
        self.admin(Method::GET, "/metrics", None).await.body
    }

    /// Every record of the audit log, after making it durable.
    pub fn audit_records(&self) -> Vec<serde_json::Value> {
        self.gw.audit().flush().unwrap();
        let mut out = Vec::new();
        wardgate_audit::Search {
            filter: wardgate_audit::Filter::default(),
            format: wardgate_audit::Format::JsonLines,
        }
        .run(&self.dir.join("audit"), &mut out)
        .unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

#[derive(Debug, Clone)]
pub struct TestClient {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl TestClient {
    pub fn new(ca: &Path, local: Option<IpAddr>, h2: bool) -> TestClient {
        let tls = wardgate::tls::client_config(Some(ca)).unwrap();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_local_address(local);
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http();
        let https = if h2 {
            builder.enable_http2().wrap_connector(http)
        } else {
            builder.enable_http1().wrap_connector(http)
        };
        let mut b = Client::builder(TokioExecutor::new());
        if h2 {
            b.http2_only(true);
        }
        TestClient {
            client: b.build(https),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Reply {
        self.send_bytes(method, url, headers, body.map(|b| b.as_bytes().to_vec()))
            .await
    }

    pub async fn send_bytes(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .unwrap();
        let res = self
            .client
            .request(req)
            .await
            .unwrap_or_else(|e| panic!("{url}: {e:?}"));
        let status = res.status();
        let version = res.version();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            version,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }
}

impl Harness {
    /// A user with roles at the practice. With `permanent`, the temporary password is changed
    /// to `password` so sign-in goes straight through; otherwise `password` is the temporary one.
    pub fn user(
        &self,
        email: &str,
        roles: &[&str],
        password: &str,
        permanent: bool,
    ) -> wardgate_identity::User {
        let store = &self.gw.store();
        let temp = if permanent {
            "Temporary#Pass1"
        } else {
            password
        };
        let user = store
            .add_user(
                &Actor::system(),
                wardgate_identity::NewUser {
                    email: email.into(),
                    first_name: "Test".into(),
                    last_name: "User".into(),
                    password: temp.into(),
                    roles: roles.iter().map(|r| r.to_string()).collect(),
                    practices: vec![PRACTICE.into()],
                    emergency_access: if roles.contains(&"Provider") {
                        vec![PRACTICE.into()]
                    } else {
                        Vec::new()
                    },
                    ..wardgate_identity::NewUser::default()
                },
            )
            .unwrap();
        if permanent {
            store.change_password(&user.id, temp, password).unwrap();
        }
        user
    }

    /// A browser: cookies kept between requests, a fixed user agent, asks for pages.
    pub fn browser(&self) -> Browser {
        Browser::new(
            self,
            None,
            "Mozilla/5.0 (X11; Linux x86_64) WardgateTest/1.0",
            false,
        )
    }

    /// An API client with a cookie jar (JSON answers).
    pub fn api_browser(&self) -> Browser {
        Browser::new(self, None, "wardgate-test-client/1.0", true)
    }
}

/// The gateway's form-token cookie.
pub const CSRF_COOKIE: &str = "__Host-wardgate-csrf";

/// An HTTP client with a cookie jar. As a browser (`json: false`) it sends `Origin` with every
/// POST and puts its form token (the CSRF cookie) into every form it posts, as the gateway's
/// own pages do.
#[derive(Debug, Clone)]
pub struct Browser {
    pub client: TestClient,
    pub base: String,
    pub jar: Arc<Mutex<std::collections::BTreeMap<String, String>>>,
    pub user_agent: String,
    pub json: bool,
    /// Every Set-Cookie seen, as sent.
    pub set_cookies: Arc<Mutex<Vec<String>>>,
    /// Headers sent with every request (a practice header, say).
    pub extra: Vec<(String, String)>,
}

impl Browser {
    pub fn new(h: &Harness, from: Option<&str>, user_agent: &str, json: bool) -> Browser {
        Browser::over(
            h,
            TestClient::new(&h.ca, from.map(|f| f.parse().unwrap()), false),
            user_agent,
            json,
        )
    }

    /// A browser whose requests go over `client` (h2, say).
    pub fn over(h: &Harness, client: TestClient, user_agent: &str, json: bool) -> Browser {
        Browser {
            client,
            base: h.base.clone(),
            jar: Arc::default(),
            user_agent: user_agent.into(),
            json,
            set_cookies: Arc::default(),
            extra: Vec::new(),
        }
    }

    /// The same browser sending `name: value` with every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Browser {
        self.extra.retain(|(k, _)| k != name);
        self.extra.push((name.into(), value.into()));
        self
    }

    /// The same cookies, from another address or another browser.
    pub fn moved(&self, h: &Harness, from: Option<&str>, user_agent: &str) -> Browser {
        Browser {
            client: TestClient::new(&h.ca, from.map(|f| f.parse().unwrap()), false),
            base: h.base.clone(),
            jar: Arc::new(Mutex::new(self.jar.lock().unwrap().clone())),
            user_agent: user_agent.into(),
            set_cookies: Arc::default(),
            ..self.clone()
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.jar.lock().unwrap().get(name).cloned()
    }

    /// Every cookie it holds, as a `Cookie` header.
    pub fn cookie_header(&self) -> String {
        self.jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
    ) -> Reply {
        let cookies: Vec<String> = self
            .jar
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let cookie = cookies.join("; ");
        let accept = if self.json {
            "application/json"
        } else {
            "text/html,application/xhtml+xml"
        };
        let mut headers: Vec<(&str, &str)> =
            vec![("user-agent", &self.user_agent), ("accept", accept)];
        for (k, v) in &self.extra {
            headers.push((k, v));
        }
        if !cookie.is_empty() {
            headers.push(("cookie", &cookie));
        }
        let origin = self.base.clone();
        if method == Method::POST && !self.json {
            headers.push(("origin", &origin));
        }
        let token = self.cookie(CSRF_COOKIE);
        let mut form: Option<Vec<(&str, &str)>> = form.map(|f| f.to_vec());
        if let (Some(f), Some(t), false) = (&mut form, &token, self.json) {
            if !f.iter().any(|(k, _)| *k == "csrf") {
                f.push(("csrf", t));
            }
        }
        let body = form.map(|f| {
            if self.json {
                let map: serde_json::Map<String, serde_json::Value> = f
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                    .collect();
                serde_json::Value::Object(map).to_string()
            } else {
                f.iter()
                    .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
                    .collect::<Vec<_>>()
                    .join("&")
            }
        });
        if body.is_some() {
            headers.push((
                "content-type",
                if self.json {
                    "application/json"
                } else {
                    "application/x-www-form-urlencoded"
                },
            ));
        }
        let r = self
            .client
            .send(
                method,
                &format!("{}{path}", self.base),
                &headers,
                body.as_deref(),
            )
            .await;
        for c in r.headers.get_all("set-cookie") {
            let c = c.to_str().unwrap().to_string();
            self.set_cookies.lock().unwrap().push(c.clone());
            let (pair, attrs) = c.split_once(';').unwrap_or((&c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") || v.is_empty() {
                self.jar.lock().unwrap().remove(k);
            } else {
                self.jar
                    .lock()
                    .unwrap()
                    .insert(k.to_string(), v.to_string());
            }
        }
        r
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.request(Method::POST, path, Some(form)).await
    }

    /// Signs in with email and password; returns the last answer.
    pub async fn login(&self, email: &str, password: &str) -> Reply {
        let _ = self.get("/.wardgate/login").await;
        self.post(
            "/.wardgate/login",
            &[
                ("email", email),
                ("password", password),
                ("next", "/api/patients"),
            ],
        )
        .await
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// RFC 4648 base32 (authenticator keys).
pub fn base32(s: &str) -> Vec<u8> {
    data_encoding::BASE32_NOPAD
        .decode(s.trim_end_matches('=').as_bytes())
        .unwrap_or_default()
}
