//! `wardgate practice|location|user|key ...`: user management against the identity store.
//! Human output by default, `--json` for scripts; every change prints what it changed and is
//! recorded in the audit log.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::Args;
use serde::Serialize;
use wardgate_identity::Store;

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
    /// Who is making the change (a user id; `system` to bootstrap).
    #[arg(long = "as", global = true, default_value = "system")]
    actor: String,
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
    let audit_dir = c
        .audit
        .clone()
        .unwrap_or_else(|| c.db.parent().unwrap_or(Path::new(".")).join("audit"));
    let (log, _) = wardgate_audit::AuditLog::open(&audit_dir, wardgate_audit::Options::default())
        .with_context(|| format!("cannot open the audit log {}", audit_dir.display()))?;
    let mut store = Store::open(&c.db, Box::new(log))
        .with_context(|| format!("cannot open {}", c.db.display()))?;
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
