//! `wardgate user ...`: the seeds' user management, as an operator runs it.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use wardgate_identity::{Actor, NewUser, Store, UserFilter, UserStatus};

use anyhow::bail;

use super::{open, show, user_line, Common};

/// What "Add User" / "Add Provider" takes.
#[derive(Debug, Args)]
pub struct AddUser {
    #[arg(long)]
    pub email: String,
    #[arg(long)]
    pub first: String,
    #[arg(long)]
    pub last: String,
    #[arg(long)]
    pub phone: Option<String>,
    /// One or more roles.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// One or more practices.
    #[arg(long = "practice", required = true)]
    pub practices: Vec<String>,
    /// A temporary password (changed at first sign-in).
    #[arg(long)]
    pub password: String,
    /// Makes the user a provider.
    #[arg(long)]
    pub npi: Option<String>,
    #[arg(long)]
    pub taxonomy: Option<String>,
    /// Provider type (e.g. "Physician").
    #[arg(long)]
    pub provider_type: Option<String>,
    #[arg(long)]
    pub specialty: Option<String>,
    #[arg(long)]
    pub credentials: Option<String>,
    /// Modules activated for a provider.
    #[arg(long = "module")]
    pub modules: Vec<String>,
    /// The roles lapse then (RFC 3339).
    #[arg(long)]
    pub expires: Option<String>,
    /// "Allow emergency access for (Practice)": a practice given with --practice (repeat
    /// for several).
    #[arg(long = "emergency-access", value_name = "PRACTICE")]
    pub emergency_access: Vec<String>,
}

impl From<AddUser> for NewUser {
    fn from(a: AddUser) -> NewUser {
        NewUser {
            email: a.email,
            first_name: a.first,
            last_name: a.last,
            phone: a.phone,
            provider: a.npi.is_some(),
            npi: a.npi,
            taxonomy: a.taxonomy,
            provider_type: a.provider_type,
            specialty: a.specialty,
            credentials: a.credentials,
            modules: a.modules,
            password: a.password,
            roles: a.roles,
            practices: a.practices,
            expires_at: a.expires,
            emergency_access: a.emergency_access,
            ..NewUser::default()
        }
    }
}

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
    /// "Edit User": name, email, phone, the emergency flag.
    Edit {
        user: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        first: Option<String>,
        #[arg(long)]
        last: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// "Allow emergency access for (Practice)" (repeat for several).
        #[arg(long = "allow-emergency", value_name = "PRACTICE")]
        allow_emergency: Vec<String>,
        /// No more emergency access at this practice (repeat for several).
        #[arg(long = "deny-emergency", value_name = "PRACTICE")]
        deny_emergency: Vec<String>,
    },
    /// Roles, sessions, tokens and relations.
    #[command(flatten)]
    Access(AccessCommand),
}

/// A user's roles, sessions, tokens and relations.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Take a role away at a practice.
    Revoke {
        user: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        practice: String,
    },
    /// A user's live sessions.
    Sessions { user: String },
    /// Remote logout: end every session of a user.
    Logout { user: String },
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
    let s = open(&c)?;
    let actor = Actor::user(&c.actor);
    let changed = |u: wardgate_identity::User, what: &str| {
        show(&c, &u, || format!("{what}: {}", user_line(&u)))
    };
    match cmd {
        UserCommand::Add(add) => changed(s.add_user(&actor, add.into())?, "added"),
        UserCommand::List {
            practice,
            role,
            status,
        } => {
            let filter = UserFilter {
                practice,
                role,
                status: status.as_deref().map(parse_status).transpose()?,
                prefix: None,
            };
            list(&c, &s.users(&filter)?)
        }
        UserCommand::Search { prefix } => {
            let filter = UserFilter {
                prefix: Some(prefix),
                ..UserFilter::default()
            };
            list(&c, &s.users(&filter)?)
        }
        UserCommand::Show { user } => {
            let u = s.user(&user)?;
            show(&c, &u, || user_line(&u))
        }
        UserCommand::Lock { user } => changed(s.lock(&actor, &s.user(&user)?.id)?, "locked"),
        UserCommand::Unlock { user } => changed(s.unlock(&actor, &s.user(&user)?.id)?, "unlocked"),
        UserCommand::Unassign { user } => {
            changed(s.unassign(&actor, &s.user(&user)?.id)?, "unassigned")
        }
        UserCommand::Disable { user } => {
            changed(s.disable(&actor, &s.user(&user)?.id)?, "disabled")
        }
        UserCommand::Enable { user } => changed(s.enable(&actor, &s.user(&user)?.id)?, "enabled"),
        UserCommand::Delete { user } => {
            let u = s.user(&user)?;
            s.delete(&actor, &u.id)?;
            show(&c, &u, || format!("deleted: {}", user_line(&u)))
        }
        UserCommand::Invite {
            email,
            first,
            last,
            roles,
            practices,
        } => {
            let new = NewUser {
                email,
                first_name: first,
                last_name: last,
                roles,
                practices,
                ..NewUser::default()
            };
            let (u, token) = s.invite(&actor, new, chrono::Duration::days(7))?;
            let json = serde_json::json!({"user": u, "activation_token": token});
            show(&c, &json, || {
                let line = user_line(&u);
                format!("invited: {line}\nactivation token (valid 7 days, once):\n{token}")
            })
        }
        UserCommand::Edit {
            user,
            email,
            first,
            last,
            phone,
            allow_emergency,
            deny_emergency,
        } => {
            let id = s.user(&user)?.id;
            let edit = wardgate_identity::UserEdit {
                email,
                first_name: first,
                last_name: last,
                phone,
                emergency_access: emergency_changes(allow_emergency, deny_emergency),
                ..Default::default()
            };
            changed(s.edit(&actor, &id, &edit)?, "edited")
        }
        UserCommand::Access(cmd) => access(&c, &s, &actor, cmd),
    }
}

/// The commands about a user's roles, sessions, tokens and relations.
fn access(c: &Common, s: &Store, actor: &Actor, cmd: AccessCommand) -> anyhow::Result<ExitCode> {
    let changed = |u: wardgate_identity::User, what: &str| {
        show(c, &u, || format!("{what}: {}", user_line(&u)))
    };
    match cmd {
        AccessCommand::Revoke {
            user,
            role,
            practice,
        } => {
            let id = s.user(&user)?.id;
            changed(s.revoke(actor, &id, &role, &practice)?, "revoked")
        }
        AccessCommand::Sessions { user } => {
            let sessions = s.sessions(&s.user(&user)?.id)?;
            show(c, &sessions, || {
                sessions
                    .iter()
                    .map(session_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        AccessCommand::Logout { user } => {
            let u = s.user(&user)?;
            let n = s.end_sessions(actor, &u.id, "remote logout")?;
            show(c, &serde_json::json!({"user": u.id, "ended": n}), || {
                format!("ended {n} session(s) of {}", u.email)
            })
        }
        AccessCommand::ResetToken { user } => {
            let u = s.user(&user)?;
            let token = s.reset_token(actor, &u.id, chrono::Duration::hours(24))?;
            let json = serde_json::json!({"user": u.id, "token": token});
            show(c, &json, || {
                format!("reset token for {} (valid 24 h, once):\n{token}", u.email)
            })
        }
        AccessCommand::SetPassword { token, password } => {
            s.set_password_with_token(&token, &password)?;
            let json = serde_json::json!({"password": "set"});
            show(c, &json, || "password set".to_string())
        }
        AccessCommand::Relate {
            user,
            patient,
            relation,
        } => {
            let u = s.user(&user)?;
            s.relate(actor, &u.id, &patient, &relation)?;
            let json = serde_json::json!({"user": u.id, "patient": patient, "relation": relation});
            show(c, &json, || {
                format!("{} is now {relation} to {patient}", u.email)
            })
        }
        AccessCommand::ExpireInactive { days } => {
            let ids = s.expire_inactive(actor, chrono::Duration::days(days))?;
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
            let id = s.user(&user)?.id;
            let (location, expires) = (location.as_deref(), expires.as_deref());
            let u = s.grant(actor, &id, &role, &practice, location, expires)?;
            changed(u, "granted")
        }
    }
}

fn parse_status(s: &str) -> anyhow::Result<UserStatus> {
    Ok(match s {
        "active" => UserStatus::Active,
        "locked" => UserStatus::Locked,
        "disabled" => UserStatus::Disabled,
        "unassigned" => UserStatus::Unassigned,
        other => bail!("unknown status `{other}` (active, locked, disabled, unassigned)"),
    })
}

fn list(c: &Common, users: &[wardgate_identity::User]) -> anyhow::Result<ExitCode> {
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

/// `--allow-emergency` and `--deny-emergency` as changes per practice.
fn emergency_changes(allow: Vec<String>, deny: Vec<String>) -> Vec<(String, bool)> {
    let allowed = allow.into_iter().map(|p| (p, true));
    allowed
        .chain(deny.into_iter().map(|p| (p, false)))
        .collect()
}
