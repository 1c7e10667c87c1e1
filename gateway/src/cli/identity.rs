//! `wardgate practice|location|user|key ...`: user management against the identity store.
//! Human output by default, `--json` for scripts; every change prints what it changed and is
//! recorded in the audit log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use wardgate_identity::{Actor, Store};

use crate::api::client::Client;
use crate::api::ops::Op;
use crate::api::run::Caller;

mod key;
mod practice;
mod user;

pub use key::{key, KeyCommand};
pub use practice::{practice, PracticeCommand};
pub use user::{user, UserCommand};

#[derive(Debug, Args)]
pub struct Common {
    /// The identity database (SQLite).
    #[arg(long, global = true, default_value = "wardgate.db")]
    db: PathBuf,
    /// The audit log folder (default: `audit/` beside the database).
    #[arg(long, global = true)]
    audit: Option<PathBuf>,
    /// Check role names against this policy's roles.
    #[arg(long, global = true)]
    policy: Option<PathBuf>,
    /// The gateway's configuration: its identity database and audit log, and the socket of
    /// the gateway when it runs.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(flatten)]
    remote: super::remote::Remote,
    /// Print JSON instead of words.
    #[arg(long, global = true)]
    json: bool,
}

pub(super) fn duration(s: &str) -> anyhow::Result<chrono::Duration> {
    let d = wardgate_policy::duration::parse(s)?;
    // Ten years at most: longer is a mistake, and would overflow date arithmetic.
    match chrono::Duration::from_std(d) {
        Ok(d) if d > chrono::Duration::zero() && d <= chrono::Duration::days(3650) => Ok(d),
        _ => bail!("`{s}` must be more than zero and at most ten years"),
    }
}

pub(super) fn rate(s: &str) -> anyhow::Result<u32> {
    let n = s.strip_suffix("/min").unwrap_or(s);
    n.parse()
        .with_context(|| format!("`{s}` is not a rate such as 100/min"))
}

pub(super) fn open(c: &Common) -> anyhow::Result<Store> {
    let (db, audit_dir) = paths(c)?;
    let (log, _) = wardgate_audit::AuditLog::open(&audit_dir, wardgate_audit::Options::default())
        .with_context(|| format!("cannot open the audit log {}", audit_dir.display()))?;
    let mut store =
        Store::open(&db, Box::new(log)).with_context(|| format!("cannot open {}", db.display()))?;
    if let Some(p) = &c.policy {
        let compiled = wardgate_policy::compile_file(p).map_err(|e| anyhow::anyhow!("{e}"))?;
        store = store.with_roles(
            compiled
                .policy
                .roles
                .iter()
                .map(|r| r.name.clone())
                .collect(),
        );
    }
    Ok(store)
}

/// The identity database and the audit folder: the configuration's, or the flags'.
fn paths(c: &Common) -> anyhow::Result<(PathBuf, PathBuf)> {
    if let Some(path) = &c.config {
        let config = crate::config::Config::load(path).map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok((config.identity.database, config.audit.dir));
    }
    let audit = c
        .audit
        .clone()
        .unwrap_or_else(|| c.db.parent().unwrap_or(Path::new(".")).join("audit"));
    Ok((c.db.clone(), audit))
}

/// Where administrative operations go: to the running gateway, or, when none runs, to the
/// store directly. Either way the operator on this host is who makes them.
pub(super) enum Backend {
    Live(Client),
    Direct(Box<Store>),
}

impl Backend {
    pub(super) fn connect(c: &Common) -> anyhow::Result<Backend> {
        if let Some(client) = c.remote.client()? {
            return Ok(Backend::Live(client));
        }
        let (db, _) = paths(c)?;
        if let Some(client) = Client::for_database(&db) {
            return Ok(Backend::Live(client));
        }
        Ok(Backend::Direct(Box::new(open(c)?)))
    }

    /// Runs `op`; its JSON result, or the API's error as the command's.
    pub(super) fn run(&self, op: Op) -> anyhow::Result<serde_json::Value> {
        match self {
            Backend::Live(client) => {
                let (status, body) = client.call(&op)?;
                if status.is_success() {
                    Ok(body)
                } else {
                    let text = |v: Option<&serde_json::Value>| {
                        v.and_then(|x| x.as_str()).unwrap_or("").to_string()
                    };
                    let message = text(body.get("message"));
                    let problems: Vec<String> = body
                        .get("problems")
                        .and_then(|p| p.as_array())
                        .into_iter()
                        .flatten()
                        .map(|p| {
                            format!(
                                "\n  {}: {}",
                                p["field"].as_str().unwrap_or("?"),
                                p["message"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    bail!("{message}{} ({status})", problems.concat())
                }
            }
            Backend::Direct(store) => {
                let caller = Caller::operator(Actor::operator(&os_user()));
                Ok(crate::api::run::run(store, &caller, op)?.body)
            }
        }
    }

    /// Every item of a paged list: `make` asks for one page, `name` is the items' field.
    pub(super) fn all<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        make: impl Fn(crate::api::ops::Page) -> Op,
    ) -> anyhow::Result<Vec<T>> {
        let mut page = crate::api::ops::Page {
            limit: Some(crate::api::run::MAX_PAGE),
            cursor: None,
        };
        let mut out = Vec::new();
        loop {
            let v = self.run(make(page.clone()))?;
            out.extend(field::<Vec<T>>(&v, name)?);
            match v.get("next_cursor").and_then(|n| n.as_str()) {
                Some(next) => page.cursor = Some(next.to_string()),
                None => return Ok(out),
            }
        }
    }

    /// The store itself, for what only the host can do (setting a password with a token).
    pub(super) fn store(&self) -> anyhow::Result<&Store> {
        match self {
            Backend::Direct(s) => Ok(s),
            Backend::Live(client) => bail!(
                "this command works on the store itself, and a gateway is in the way ({}); stop it, or run it on the gateway's host without --server",
                client.place()
            ),
        }
    }
}

/// Who runs this command, as the operating system says (not the environment, which the
/// caller sets).
pub(super) fn os_user() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|euid| euid.parse::<u32>().ok())
        });
    match uid {
        Some(uid) => crate::api::socket::user_name(uid),
        None => "unknown".into(),
    }
}

/// A field of a result as its type.
pub(super) fn field<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    name: &str,
) -> anyhow::Result<T> {
    serde_json::from_value(value.get(name).cloned().unwrap_or_default())
        .with_context(|| format!("the gateway's answer has no usable `{name}`"))
}

pub(super) fn show<T: Serialize>(
    c: &Common,
    value: &T,
    words: impl FnOnce() -> String,
) -> anyhow::Result<ExitCode> {
    if c.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", words());
    }
    Ok(ExitCode::SUCCESS)
}

pub(super) fn user_line(u: &wardgate_identity::User) -> String {
    let roles: Vec<String> = u
        .assignments
        .iter()
        .map(|a| format!("{}@{}", a.role, a.practice_id))
        .collect();
    format!(
        "{}  {} {} <{}>  {:?} {}  {}{}",
        u.id,
        u.first_name,
        u.last_name,
        u.email,
        u.kind,
        u.status.as_str(),
        roles.join(", "),
        if u.must_change_password {
            "  (must change password)"
        } else {
            ""
        }
    )
}
