//! `wardgate user ...`: the seeds' user management, as an operator runs it.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;
use wardgate_identity::{SessionInfo, User};

mod add;

pub use add::{AddUser, EditUser};

use super::{field, show, user_line, Backend, Common};
use crate::api::ops::{GrantBody, ListQuery, NewUserBody, Op, RelateBody, UserAction};

#[derive(Debug, Subcommand)]
// Parsed once per run; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum UserCommand {
    /// Add a user (or, with --npi, a provider) with a temporary password.
    Add(AddUser),
    /// List users (providers first), optionally filtered.
    List {
        #[arg(long)]
        practice: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        status: Option<String>,
    },
    /// Find users by the first letters of a name or email.
    Search {
        prefix: String,
    },
    Show {
        user: String,
    },
    Lock {
        user: String,
    },
    Unlock {
        user: String,
    },
    /// Remove a non-provider from the account; the email becomes archived_<email>.
    Unassign {
        user: String,
    },
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    /// Permanently delete (Owner or System Admin only).
    Delete {
        user: String,
    },
    /// "Send Invite": an account without a password and a one-time activation token (7 days).
    Invite {
        #[arg(long)]
        email: String,
        #[arg(long)]
        first: String,
        #[arg(long)]
        last: String,
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long = "practice", required = true)]
        practices: Vec<String>,
    },
    /// "Edit User": names, email, phone, a provider's fields and modules, the emergency flag.
    Edit(EditUser),
    /// Roles, sessions, tokens and relations.
    #[command(flatten)]
    Access(AccessCommand),
}

/// A user's roles, sessions, tokens and relations.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Take a role away at a practice, or at one of its locations.
    Revoke {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        practice: String,
        #[arg(long)]
        location: Option<String>,
    },
    /// A user's live sessions.
    Sessions { user: String },
    /// Remote logout: end every session of a user.
    Logout { user: String },
    /// End one session (its id from `user sessions`).
    EndSession { user: String, session: String },
    /// "Lost my phone": remove the second factor; the user enrolls again at sign-in.
    ResetSecondFactor { user: String },
    /// "Reset Password": print a one-time link token (24 h).
    ResetToken { user: String },
    /// Set a password with a reset or activation token.
    SetPassword {
        #[arg(long)]
        token: String,
        #[arg(long)]
        password: String,
    },
    /// Relate a user to a patient (`assigned` or `shared`).
    Relate {
        user: String,
        #[arg(long)]
        patient: String,
        #[arg(long, default_value = "assigned")]
        relation: String,
    },
    /// A user's patients and how they are related.
    Relations { user: String },
    /// End a relation to a patient.
    Unrelate {
        user: String,
        #[arg(long)]
        patient: String,
        #[arg(long, default_value = "assigned")]
        relation: String,
    },
    /// Disable accounts with no sign-in for this many days.
    ExpireInactive {
        #[arg(long, default_value_t = 90)]
        days: i64,
    },
    /// Grant a role at a practice, optionally until a date.
    Grant {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        practice: String,
        #[arg(long)]
        location: Option<String>,
        #[arg(long)]
        expires: Option<String>,
    },
}

pub fn user(c: Common, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let b = Backend::connect(&c)?;
    let changed = |v: serde_json::Value, what: &str| -> anyhow::Result<ExitCode> {
        let u: User = field(&v, "user")?;
        show(&c, &u, || format!("{what}: {}", user_line(&u)))
    };
    let act = |user: String, action: UserAction| b.run(Op::User(user, action));
    match cmd {
        UserCommand::Add(add) => {
            let v = b.run(Op::AddUser(Box::new(add.into())))?;
            match v.get("temporary_password").and_then(|t| t.as_str()) {
                Some(temporary) => {
                    let u: User = field(&v, "user")?;
                    show(&c, &v, || {
                        format!(
                            "added: {}\ntemporary password (shown once; changed at first sign-in): {temporary}",
                            user_line(&u)
                        )
                    })
                }
                None => changed(v, "added"),
            }
        }
        UserCommand::List {
            practice,
            role,
            status,
        } => list(
            &c,
            &b,
            ListQuery {
                practice,
                role,
                status,
                ..ListQuery::default()
            },
        ),
        UserCommand::Search { prefix } => list(
            &c,
            &b,
            ListQuery {
                prefix: Some(prefix),
                ..ListQuery::default()
            },
        ),
        UserCommand::Show { user } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            show(&c, &u, || user_line(&u))
        }
        UserCommand::Lock { user } => changed(act(user, UserAction::Lock)?, "locked"),
        UserCommand::Unlock { user } => changed(act(user, UserAction::Unlock)?, "unlocked"),
        UserCommand::Unassign { user } => changed(act(user, UserAction::Unassign)?, "unassigned"),
        UserCommand::Disable { user } => changed(act(user, UserAction::Disable)?, "disabled"),
        UserCommand::Enable { user } => changed(act(user, UserAction::Enable)?, "enabled"),
        UserCommand::Delete { user } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            b.run(Op::DeleteUser(u.id.clone()))?;
            show(&c, &u, || format!("deleted: {}", user_line(&u)))
        }
        UserCommand::Invite {
            email,
            first,
            last,
            roles,
            practices,
        } => {
            let new = NewUserBody {
                email,
                first_name: first,
                last_name: last,
                roles,
                practices,
                ..NewUserBody::default()
            };
            let v = b.run(Op::InviteUser(Box::new(new)))?;
            let u: User = field(&v, "user")?;
            if let Ok(to) = field::<String>(&v, "mailed_to") {
                let json = serde_json::json!({"user": u, "mailed_to": to});
                return show(&c, &json, || {
                    format!(
                        "invited: {}\nthe invitation was mailed to {to}",
                        user_line(&u)
                    )
                });
            }
            let token: String = field(&v, "activation_token")?;
            let json = serde_json::json!({"user": u, "activation_token": token});
            show(&c, &json, || {
                let line = user_line(&u);
                format!("invited: {line}\nactivation token (valid 7 days, once):\n{token}")
            })
        }
        UserCommand::Edit(edit) => {
            let user = edit.user.clone();
            changed(b.run(Op::EditUser(user, Box::new(edit.into())))?, "edited")
        }
        UserCommand::Access(cmd) => access(&c, &b, cmd),
    }
}

/// The commands about a user's roles, sessions, tokens and relations.
fn access(c: &Common, b: &Backend, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let changed = |v: serde_json::Value, what: &str| -> anyhow::Result<ExitCode> {
        let u: User = field(&v, "user")?;
        show(c, &u, || format!("{what}: {}", user_line(&u)))
    };
    match cmd {
        cmd @ (AccessCommand::Relate { .. }
        | AccessCommand::Relations { .. }
        | AccessCommand::Unrelate { .. }) => relations(c, b, cmd),
        AccessCommand::Revoke {
            user,
            role,
            practice,
            location,
        } => changed(
            b.run(Op::Revoke {
                user,
                role,
                practice,
                location,
            })?,
            "revoked",
        ),
        AccessCommand::Sessions { user } => {
            let sessions: Vec<SessionInfo> =
                b.all("sessions", |p| Op::Sessions(user.clone(), p))?;
            show(c, &sessions, || {
                sessions
                    .iter()
                    .map(session_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AccessCommand::Logout { user } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            let v = b.run(Op::User(u.id.clone(), UserAction::Logout))?;
            let n: u64 = field(&v, "ended")?;
            show(c, &serde_json::json!({"user": u.id, "ended": n}), || {
                format!("ended {n} session(s) of {}", u.email)
            })
        }
        AccessCommand::EndSession { user, session } => {
            let v = b.run(Op::EndSession {
                user,
                session: session.clone(),
            })?;
            show(c, &v, || format!("ended session {session}"))
        }
        AccessCommand::ResetSecondFactor { user } => changed(
            b.run(Op::User(user, UserAction::ResetSecondFactor))?,
            "second factor removed",
        ),
        AccessCommand::ResetToken { user } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            let v = b.run(Op::User(u.id.clone(), UserAction::Reset))?;
            if let Ok(to) = field::<String>(&v, "mailed_to") {
                let json = serde_json::json!({"user": u.id, "mailed_to": to});
                return show(c, &json, || format!("a reset link was mailed to {to}"));
            }
            let token: String = field(&v, "token")?;
            let json = serde_json::json!({"user": u.id, "token": token});
            show(c, &json, || {
                format!("reset token for {} (valid 24 h, once):\n{token}", u.email)
            })
        }
        AccessCommand::SetPassword { token, password } => {
            b.store()?.set_password_with_token(&token, &password)?;
            let json = serde_json::json!({"password": "set"});
            show(c, &json, || "password set".to_string())
        }
        AccessCommand::ExpireInactive { days } => {
            if days < 1 {
                bail!("--days must be at least 1 (0 would disable every account)");
            }
            let s = b.store()?;
            let actor = wardgate_identity::Actor::operator(&super::os_user());
            let ids = s.expire_inactive(&actor, chrono::Duration::days(days))?;
            show(c, &ids, || {
                format!(
                    "disabled {} inactive account(s): {}",
                    ids.len(),
                    ids.join(", ")
                )
            })
        }
        AccessCommand::Grant {
            user,
            role,
            practice,
            location,
            expires,
        } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            let grant = GrantBody {
                role,
                practice,
                location,
                expires_at: expires,
            };
            changed(b.run(Op::Grant(u.id, grant))?, "granted")
        }
    }
}

/// A user's patient relations.
fn relations(c: &Common, b: &Backend, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AccessCommand::Relate {
            user,
            patient,
            relation,
        } => {
            let u: User = field(&b.run(Op::ShowUser(user))?, "user")?;
            let body = RelateBody {
                patient: patient.clone(),
                relation: relation.clone(),
            };
            b.run(Op::Relate(u.id.clone(), body))?;
            let json = serde_json::json!({"user": u.id, "patient": patient, "relation": relation});
            show(c, &json, || {
                format!("{} is now {relation} to {patient}", u.email)
            })
        }
        AccessCommand::Relations { user } => {
            let shown = b.run(Op::ShowUser(user.clone()))?;
            let id = shown.pointer("/user/id").cloned().unwrap_or_default();
            let relations: Vec<serde_json::Value> =
                b.all("relations", |p| Op::Relations(user.clone(), p))?;
            let v = serde_json::json!({"user": id, "relations": relations});
            show(c, &v, || {
                relations
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AccessCommand::Unrelate {
            user,
            patient,
            relation,
        } => {
            let v = b.run(Op::Unrelate {
                user,
                patient: patient.clone(),
                relation: relation.clone(),
            })?;
            show(c, &v, || format!("no longer {relation} to {patient}"))
        }
        _ => bail!("not a relations command"),
    }
}

/// Every page of a listing, in order.
fn list(c: &Common, b: &Backend, mut q: ListQuery) -> anyhow::Result<ExitCode> {
    q.limit = Some(crate::api::run::MAX_PAGE);
    let mut users: Vec<User> = Vec::new();
    loop {
        let v = b.run(Op::ListUsers(q.clone()))?;
        users.extend(field::<Vec<User>>(&v, "users")?);
        match v.get("next_cursor").and_then(|n| n.as_str()) {
            Some(next) => q.cursor = Some(next.to_string()),
            None => break,
        }
    }
    show(c, &users, || {
        users.iter().map(user_line).collect::<Vec<_>>().join("\n")
    })
}

fn session_line(x: &wardgate_identity::SessionInfo) -> String {
    format!(
        "{}  {}  from {}  {}  since {}  last seen {}",
        x.id,
        x.practice_id,
        x.client.as_deref().unwrap_or("-"),
        x.device.as_deref().unwrap_or("-"),
        x.created_at,
        x.last_seen_at
    )
}
