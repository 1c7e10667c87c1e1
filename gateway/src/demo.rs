//! `wardgate serve --demo`: the gateway with a self-signed certificate in front of a built-in
//! practice app, the kareo policy compiled at start, and a store seeded with a practice, one
//! user per role and two API keys. Everything lives in one data folder; `demo.json` there
//! tells scripts how to drive it.

mod app;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use wardgate_identity::{Actor, NewKey, NewUser};

use crate::clock::Clock;
use crate::config::{Config, SecretHash};
use crate::server::{self, Running};
use crate::state::Gateway;

const KAREO_POLICY: &str = include_str!("../../policies/kareo.policy");
const KAREO_TESTS: &str = include_str!("../../policies/kareo.tests.toml");
const PRACTICE: &str = "demo";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Defaults to the next port on the same address.
    pub admin_listen: Option<SocketAddr>,
    /// Browser sessions end after this long idle (default 15 minutes).
    pub session_idle: Option<crate::config::Span>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoUser {
    pub email: String,
    pub password: String,
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoKey {
    pub key: String,
    pub account: String,
    pub roles: Vec<String>,
    pub scopes: Vec<String>,
    pub rate: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoRoute {
    pub method: String,
    pub path: String,
    pub action: String,
}

/// What `demo.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoInfo {
    pub url: String,
    pub admin_url: String,
    pub admin_key: String,
    pub ca_cert: PathBuf,
    pub config: PathBuf,
    pub practice: String,
    pub users: Vec<DemoUser>,
    pub api_keys: Vec<DemoKey>,
    pub routes: Vec<DemoRoute>,
}

fn random_hex(bytes: usize) -> anyhow::Result<String> {
    crate::signins::random_hex(bytes).context("the system gives no randomness")
}

fn write_if_absent(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    if !path.exists() {
        std::fs::write(path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn toml_str(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// The demo's configuration file.
fn config_text(
    dir: &Path,
    listen: SocketAddr,
    admin: SocketAddr,
    app: SocketAddr,
    admin_key: &str,
    idle: &str,
) -> String {
    format!(
        r#"# Written by `wardgate serve --demo` at every start; copy it to make your own.
[server]
listen = "{listen}"
tls_cert = {cert}
tls_key = {key}

[admin]
listen = "{admin}"
api_key_sha256 = "{admin_hash}"

[policy]
module = {policy}
tests = {tests}
watch = "1s"

[identity]
database = {db}

[audit]
dir = {audit}
retain = "6y"

[mail]
# No relay: each message (invitations, reset links, sign-in codes, alerts) is one .eml file here.
dir = {mail}
from = "Wardgate demo <noreply@demo.wardgate.test>"
public_url = "https://localhost:{port}"

[alerts]
email = ["security@demo.wardgate.test"]

[practice]
from = "fixed"
id = "{PRACTICE}"

[network]
# curl from this machine may say where it is from: -H 'X-Forwarded-For: 81.2.69.142'
trusted_proxies = ["127.0.0.1", "::1"]

[geo]
database = {geo}
allow_countries = ["US"]
unknown = "allow"

[rate_limit]
per_minute = 600

[sessions]
home = "/api/patients"
idle = "{idle}"

[[upstream]]
name = "demo-practice-app"
url = "http://{app}"
prefix = "/"
"#,
        cert = toml_str(&dir.join("cert.pem")),
        key = toml_str(&dir.join("key.pem")),
        admin_hash = SecretHash::of(admin_key).hex(),
        policy = toml_str(&dir.join("kareo.policy")),
        tests = toml_str(&dir.join("kareo.tests.toml")),
        db = toml_str(&dir.join("wardgate.db")),
        audit = toml_str(&dir.join("audit")),
        mail = toml_str(&dir.join("mail")),
        port = listen.port(),
        geo = toml_str(&dir.join("GeoIP2-Country-Test.mmdb")),
    )
}

/// Seeds the store on first start; later starts reuse what `demo.json` recorded.
fn seed(
    gw: &Gateway,
    previous: Option<&DemoInfo>,
) -> anyhow::Result<(Vec<DemoUser>, Vec<DemoKey>)> {
    let store = &gw.store();
    let system = Actor::system();
    let seeded = store.practices()?.iter().any(|p| p.id == PRACTICE);
    if let (true, Some(prev)) = (seeded, previous) {
        return Ok((prev.users.clone(), prev.api_keys.clone()));
    }
    if !seeded {
        store.add_practice(
            &system,
            PRACTICE,
            "Demo Family Practice",
            "America/New_York",
            &["clinical".into(), "billing".into(), "engage".into()],
        )?;
        store.add_location(&system, "main", PRACTICE, "Main Street Clinic")?;
        store.add_location(&system, "north", PRACTICE, "Northside Clinic")?;
    }
    let mut users = Vec::new();
    if !seeded {
        let people = [
            ("admin", "Alex", "Admin", "System Admin"),
            ("provider", "Priya", "Provider", "Provider"),
            ("assistant", "Casey", "Assistant", "Clinical Assistant"),
            ("frontdesk", "Olivia", "Office", "Office Staff"),
            ("biller", "Ben", "Biller", "Biller"),
            ("manager", "Morgan", "Manager", "Business Manager"),
        ];
        for (slug, first, last, role) in people {
            let password = format!("Demo-{}-Pass1!", random_hex(4)?);
            let provider = role == "Provider";
            store.add_user(
                &system,
                NewUser {
                    email: format!("{slug}@demo.wardgate.test"),
                    first_name: first.into(),
                    last_name: last.into(),
                    provider,
                    npi: provider.then(|| "1234567893".to_string()),
                    modules: if provider {
                        vec!["clinical".into()]
                    } else {
                        Vec::new()
                    },
                    password: password.clone(),
                    roles: vec![role.into()],
                    practices: vec![PRACTICE.into()],
                    emergency_access: if role == "Provider" {
                        vec![PRACTICE.into()]
                    } else {
                        Vec::new()
                    },
                    ..NewUser::default()
                },
            )?;
            users.push(DemoUser {
                email: format!("{slug}@demo.wardgate.test"),
                password,
                roles: vec![role.into()],
            });
        }
    } else if let Some(prev) = previous {
        users = prev.users.clone();
    }
    let specs = [
        (
            "front-desk-sync",
            "Office Staff",
            vec!["patient_demographics:*", "patient_appointments:*"],
            20u32,
        ),
        ("billing-export", "Biller", vec!["billing:*"], 60),
    ];
    let mut keys = Vec::new();
    for (account, role, scopes, rate) in specs {
        if store.keys(Some(account)).is_err() || !seeded {
            let _ = store.add_service_account(&system, account, PRACTICE, &[role.into()]);
        }
        let scopes: Vec<String> = scopes.into_iter().map(str::to_string).collect();
        let issued = store.issue_key(
            &system,
            &NewKey {
                account: account.into(),
                scopes: scopes.clone(),
                networks: Vec::new(),
                rate_per_minute: Some(rate),
                expires_in: None,
            },
        )?;
        keys.push(DemoKey {
            key: issued.key,
            account: account.into(),
            roles: vec![role.into()],
            scopes,
            rate: format!("{rate}/min"),
        });
    }
    Ok((users, keys))
}

/// Prepares the data folder, starts the demo app and the gateway, writes `demo.json`.
pub async fn start(opts: DemoOptions) -> anyhow::Result<(Running, DemoInfo)> {
    let dir = &opts.data_dir;
    // The demo's folder holds its keys, store and audit log: its owner's only.
    wardgate_audit::private::create_dir(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("reading {}", dir.display()))?;
    let tls = crate::tls::self_signed(&dir).map_err(|e| anyhow::anyhow!(e))?;
    write_if_absent(&dir.join("kareo.policy"), KAREO_POLICY.as_bytes())?;
    write_if_absent(&dir.join("kareo.tests.toml"), KAREO_TESTS.as_bytes())?;
    write_if_absent(
        &dir.join("GeoIP2-Country-Test.mmdb"),
        crate::geo::TEST_DATABASE,
    )?;
    let info_path = dir.join("demo.json");
    let previous: Option<DemoInfo> = std::fs::read_to_string(&info_path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let app = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("starting the demo app")?;
    let app_addr = app::spawn(app);
    let admin_key = match &previous {
        Some(p) => p.admin_key.clone(),
        None => format!("wga_{}", random_hex(24)?),
    };
    // The links mailed need the gateway's port: one picked now when asked for any.
    let mut listen = opts.listen;
    let any_port = listen.port() == 0;
    if any_port {
        let probe = std::net::TcpListener::bind(listen).context("picking a port")?;
        listen.set_port(probe.local_addr()?.port());
    }
    let opts = DemoOptions { listen, ..opts };
    let admin = opts.admin_listen.unwrap_or_else(|| {
        let port = if any_port {
            0
        } else {
            opts.listen.port().wrapping_add(1)
        };
        SocketAddr::new(opts.listen.ip(), port)
    });
    let idle = match opts.session_idle {
        Some(span) => format!("{}ms", span.0.as_millis()),
        None => "15m".to_string(),
    };
    let config_path = dir.join("wardgate.toml");
    // It holds the admin key's hash.
    wardgate_audit::private::write_file(
        &config_path,
        config_text(&dir, opts.listen, admin, app_addr, &admin_key, &idle).as_bytes(),
    )
    .with_context(|| format!("writing {}", config_path.display()))?;
    let config = Config::load(&config_path)?;
    let gw = Gateway::build(config, Clock::new())?;
    let (users, api_keys) = seed(&gw, previous.as_ref())?;
    gw.refresh_practices()?;
    let manifest_routes = {
        use wardgate_policy::Engine;
        let m = gw.policy().current();
        let m = m.manifest();
        m.routes
            .iter()
            .map(|r| DemoRoute {
                method: r.method.clone(),
                path: r.pattern.clone(),
                action: m.action_name(r.action).to_string(),
            })
            .collect()
    };
    let running = server::start(gw).await?;
    let host = |a: SocketAddr| match a.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() || v4.is_loopback() => {
            format!("localhost:{}", a.port())
        }
        ip if ip.is_loopback() => format!("localhost:{}", a.port()),
        _ => a.to_string(),
    };
    let info = DemoInfo {
        url: format!("https://{}", host(running.addr)),
        admin_url: running
            .admin_addr
            .map(|a| format!("http://{}", host(a)))
            .unwrap_or_default(),
        admin_key,
        ca_cert: tls.ca_cert.clone(),
        config: config_path,
        practice: PRACTICE.into(),
        users,
        api_keys,
        routes: manifest_routes,
    };
    // Passwords and keys of the demo's users: its owner's only.
    wardgate_audit::private::write_file(
        &info_path,
        serde_json::to_string_pretty(&info)?.as_bytes(),
    )
    .with_context(|| format!("writing {}", info_path.display()))?;
    Ok((running, info))
}

/// What the demo prints once it is up.
pub fn banner(info: &DemoInfo, dir: &Path) -> String {
    let key = info.api_keys.first().map(|k| k.key.as_str()).unwrap_or("");
    let ca = info.ca_cert.display();
    let url = &info.url;
    let (admin_email, admin_password) = info
        .users
        .iter()
        .find(|u| u.roles.iter().any(|r| r == "System Admin"))
        .map(|u| (u.email.as_str(), u.password.as_str()))
        .unwrap_or(("", ""));
    format!(
        r#"Wardgate demo is running.
  console    {url}/.wardgate/console/   sign in as {admin_email} with {admin_password}
             (a temporary password: the first sign-in asks for a new one)
  gateway    {url}   (self-signed; CA at {ca})
  admin      {admin}   (health, metrics; the bootstrap key is in {dir}/demo.json)
  admin API  {url}/.wardgate/v1/   (people signed in, wg_ keys; decided by the policy)
  app        the built-in demo practice app, only reachable through the gateway
  policy     {dir}/kareo.policy (edit it: the gateway re-checks and swaps it in)
  mail       {dir}/mail/   (no relay here: each invitation, reset link, code and alert is one .eml file)

Try it (the key is front-desk-sync: Office Staff, patient scopes, 20 requests/min):
  curl --cacert {ca} -H 'Authorization: Bearer {key}' {url}/api/patients           # 200
  curl --cacert {ca} -H 'Authorization: Bearer {key}' {url}/api/reports/payout      # 403 forbidden
  curl --cacert {ca} {url}/api/patients                                             # 401
  curl --cacert {ca} -H 'X-Forwarded-For: 81.2.69.142' -H 'Authorization: Bearer {key}' {url}/api/patients   # 403 country (GB)
  for i in $(seq 25); do curl -s -o /dev/null -w '%{{http_code}} ' --cacert {ca} -H 'Authorization: Bearer {key}' {url}/api/patients; done; echo   # ... 429
  curl {admin}/metrics
  wardgate audit search --dir {dir}/audit --decision deny
  wardgate user list --config {dir}/wardgate.toml          # administers the running gateway

In a browser: {url}/.wardgate/console/ or {url}/api/patients signs you in first (trust the CA above, or accept the warning);
users and their temporary passwords are in demo.json (the first sign-in changes the password).

Users, passwords, keys and routes: {dir}/demo.json. Ctrl-C stops."#,
        admin = info.admin_url,
        dir = dir.display(),
    )
}
