//! `wardgate key ...`: service accounts and their API keys.

use std::process::ExitCode;

use clap::Subcommand;
use wardgate_identity::{IssuedKey, KeyInfo};

use super::{duration, field, rate, show, Backend, Common};
use crate::api::ops::{AccountBody, KeyBody, Op, Page, RotateBody};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a service account for an integration.
    Account {
        id: String,
        #[arg(long)]
        practice: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Issue a key; it is shown once.
    Issue {
        #[arg(long)]
        account: String,
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// e.g. 100/min
        #[arg(long)]
        rate: Option<String>,
        /// e.g. 90d, 12h
        #[arg(long)]
        expires: Option<String>,
        /// A client network the key may be used from (CIDR or address; repeat for more)
        #[arg(long = "network")]
        networks: Vec<crate::config::Net>,
    },
    List {
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key at once.
    Revoke { id: String },
    /// Replace a key; the old one keeps working for the overlap.
    Rotate {
        id: String,
        #[arg(long, default_value = "24h")]
        overlap: String,
    },
    /// Check a key as the gateway would.
    Verify { key: String },
}

pub fn key(c: Common, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let b = Backend::connect(&c)?;
    match cmd {
        KeyCommand::Account {
            id,
            practice,
            roles,
        } => {
            let body = AccountBody {
                id: id.clone(),
                practice: practice.clone(),
                roles: roles.clone(),
            };
            b.run(Op::AddAccount(body))?;
            show(
                &c,
                &serde_json::json!({"id": id, "practice": practice, "roles": roles}),
                || {
                    format!(
                        "added service account {id} at {practice} ({})",
                        roles.join(", ")
                    )
                },
            )
        }
        KeyCommand::Issue {
            account,
            scopes,
            rate: r,
            expires,
            networks,
        } => {
            if let Some(e) = &expires {
                duration(e)?;
            }
            let body = KeyBody {
                account,
                scopes,
                networks: networks.iter().map(|n| n.0.to_string()).collect(),
                rate_per_minute: r.as_deref().map(rate).transpose()?,
                expires_in: expires,
            };
            let issued: IssuedKey = field(&b.run(Op::IssueKey(body))?, "key")?;
            show(&c, &issued, || {
                format!(
                    "issued key {} for {} (scopes: {}; expires: {})\n{}\nThis is the only time the key is shown.",
                    issued.id,
                    issued.account,
                    issued.scopes.join(", "),
                    issued.expires_at.as_deref().unwrap_or("never"),
                    issued.key
                )
            })
        }
        KeyCommand::List { account } => list(&c, &b, account),
        KeyCommand::Revoke { id } => {
            b.run(Op::RevokeKey(id.clone()))?;
            show(&c, &serde_json::json!({"revoked": id}), || {
                format!("revoked key {id}")
            })
        }
        KeyCommand::Rotate { id, overlap } => {
            duration(&overlap)?;
            let body = RotateBody {
                overlap: Some(overlap.clone()),
            };
            let issued: IssuedKey = field(&b.run(Op::RotateKey(id.clone(), body))?, "key")?;
            show(&c, &issued, || {
                format!("rotated {id}: the old key works for {overlap} more\n{}\nThis is the only time the key is shown.", issued.key)
            })
        }
        KeyCommand::Verify { key } => match b.store()?.verify_key(&key) {
            Ok(info) => show(&c, &info, || {
                format!(
                    "valid: key {} of {} at {} (roles: {}; scopes: {})",
                    info.id,
                    info.account,
                    info.practice,
                    info.roles.join(", "),
                    info.scopes.join(", ")
                )
            }),
            Err(e) => {
                println!("invalid: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
    }
}

/// Every key (of an account), page by page.
fn list(c: &Common, b: &Backend, account: Option<String>) -> anyhow::Result<ExitCode> {
    let mut keys: Vec<KeyInfo> = Vec::new();
    let mut page = Page {
        limit: Some(crate::api::run::MAX_PAGE),
        cursor: None,
    };
    loop {
        let op = Op::ListKeys {
            account: account.clone(),
            page: page.clone(),
        };
        let v = b.run(op)?;
        keys.extend(field::<Vec<KeyInfo>>(&v, "keys")?);
        match v.get("next_cursor").and_then(|n| n.as_str()) {
            Some(next) => page.cursor = Some(next.to_string()),
            None => break,
        }
    }
    show(c, &keys, || {
        keys.iter()
            .map(|k| {
                format!(
                    "{}  {}  [{}]  uses {}  last used {}  {}",
                    k.id,
                    k.account,
                    k.scopes.join(", "),
                    k.uses,
                    k.last_used_at.as_deref().unwrap_or("never"),
                    if k.revoked { "REVOKED" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}
