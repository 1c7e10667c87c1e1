//! `wardgate key ...`: service accounts and their API keys.

use std::process::ExitCode;

use clap::Subcommand;
use wardgate_identity::{Actor, NewKey};

use super::{duration, open, rate, show, Common};

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
    let s = open(&c)?;
    let actor = Actor::user(&c.actor);
    match cmd {
        KeyCommand::Account {
            id,
            practice,
            roles,
        } => {
            s.add_service_account(&actor, &id, &practice, &roles)?;
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
            let issued = s.issue_key(
                &actor,
                &NewKey {
                    account,
                    scopes,
                    networks: networks.into_iter().map(|n| n.0).collect(),
                    rate_per_minute: r.as_deref().map(rate).transpose()?,
                    expires_in: expires.as_deref().map(duration).transpose()?,
                },
            )?;
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
        KeyCommand::List { account } => {
            let keys = s.keys(account.as_deref())?;
            show(&c, &keys, || {
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
        KeyCommand::Revoke { id } => {
            s.revoke_key(&actor, &id)?;
            show(&c, &serde_json::json!({"revoked": id}), || {
                format!("revoked key {id}")
            })
        }
        KeyCommand::Rotate { id, overlap } => {
            let issued = s.rotate_key(&actor, &id, duration(&overlap)?)?;
            show(&c, &issued, || {
                format!("rotated {id}: the old key works for {overlap} more\n{}\nThis is the only time the key is shown.", issued.key)
            })
        }
        KeyCommand::Verify { key } => match s.verify_key(&key) {
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
