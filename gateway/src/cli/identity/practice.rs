//! `wardgate practice ...`: practices, locations, modules and security settings.

use std::process::ExitCode;

use clap::Subcommand;
use wardgate_identity::{Location, Practice, SecuritySettings};

use super::{field, show, Backend, Common};
use crate::api::ops::{LocationBody, ModulesBody, Op, PracticeBody, PracticeEdit};

#[derive(Debug, Subcommand)]
pub enum PracticeCommand {
    /// Add a practice with its time zone and subscribed modules.
    Add {
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "America/New_York")]
        timezone: String,
        #[arg(long = "module")]
        modules: Vec<String>,
    },
    /// List practices, with a warning where the number of administrators is off.
    List,
    /// Change a practice's name or time zone.
    Edit {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Set the modules a practice subscribes to (repeat --module; none: no modules).
    Modules {
        id: String,
        #[arg(long = "module")]
        modules: Vec<String>,
    },
    /// A practice's locations.
    Locations { practice: String },
    /// Remove a location no role grant names.
    RemoveLocation { practice: String, id: String },
    /// Add a location to a practice.
    Location {
        practice: String,
        id: String,
        #[arg(long)]
        name: String,
    },
    /// Show or change security settings (session timeout, MFA, concurrent sessions, inactivity).
    Security {
        practice: String,
        #[command(flatten)]
        change: SecurityChange,
    },
}

pub fn practice(c: Common, cmd: PracticeCommand) -> anyhow::Result<ExitCode> {
    let b = Backend::connect(&c)?;
    match cmd {
        PracticeCommand::Add {
            id,
            name,
            timezone,
            modules,
        } => {
            let body = PracticeBody {
                id,
                name,
                timezone,
                modules,
            };
            let p: Practice = field(&b.run(Op::AddPractice(body))?, "practice")?;
            show(&c, &p, || {
                format!(
                    "added practice {} ({}, {}, modules: {})",
                    p.id,
                    p.name,
                    p.timezone,
                    p.modules.join(", ")
                )
            })
        }
        PracticeCommand::List => {
            let v = b.run(Op::ListPractices(crate::api::ops::Page {
                limit: Some(crate::api::run::MAX_PAGE),
                cursor: None,
            }))?;
            let mut ps: Vec<Practice> = Vec::new();
            let mut lines = Vec::new();
            for entry in v
                .get("practices")
                .and_then(|p| p.as_array())
                .into_iter()
                .flatten()
            {
                let p: Practice = field(entry, "practice")?;
                let warning = entry.get("warning").and_then(|w| w.as_str());
                lines.push(format!(
                    "{}  {}  {}  [{}]{}",
                    p.id,
                    p.name,
                    p.timezone,
                    p.modules.join(", "),
                    warning
                        .map(|w| format!("\n  warning: {w}"))
                        .unwrap_or_default()
                ));
                ps.push(p);
            }
            show(&c, &ps, || lines.join("\n"))
        }
        PracticeCommand::Edit { id, name, timezone } => {
            let op = Op::EditPractice(id, PracticeEdit { name, timezone });
            let p: Practice = field(&b.run(op)?, "practice")?;
            show(&c, &p, || {
                format!("edited practice {} ({}, {})", p.id, p.name, p.timezone)
            })
        }
        PracticeCommand::Modules { id, modules } => {
            let op = Op::SetModules(id, ModulesBody { modules });
            let p: Practice = field(&b.run(op)?, "practice")?;
            show(&c, &p, || {
                format!("{} subscribes to: {}", p.id, p.modules.join(", "))
            })
        }
        PracticeCommand::Locations { practice } => {
            let ls: Vec<Location> = b.all("locations", |p| Op::Locations(practice.clone(), p))?;
            show(&c, &ls, || {
                ls.iter()
                    .map(|l| format!("{}  {}", l.id, l.name))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        PracticeCommand::RemoveLocation { practice, id } => {
            let v = b.run(Op::RemoveLocation {
                practice,
                location: id.clone(),
            })?;
            show(&c, &v, || format!("removed location {id}"))
        }
        PracticeCommand::Location { practice, id, name } => {
            let body = LocationBody { id, name };
            let l: Location = field(&b.run(Op::AddLocation(practice, body))?, "location")?;
            show(&c, &l, || {
                format!("added location {} ({}) to {}", l.id, l.name, l.practice_id)
            })
        }
        PracticeCommand::Security { practice, change } => security(&c, &b, practice, change),
    }
}

/// The settings a `practice security` command changes; a flag not given keeps its setting.
#[derive(Debug, clap::Args)]
pub struct SecurityChange {
    #[arg(long)]
    require_mfa: Option<bool>,
    #[arg(long)]
    idle_minutes: Option<u32>,
    #[arg(long)]
    max_hours: Option<u32>,
    #[arg(long)]
    max_sessions: Option<u32>,
    #[arg(long)]
    inactivity_days: Option<u32>,
    /// Failed sign-ins (passwords and codes) before the account is throttled.
    #[arg(long)]
    lockout_after: Option<u32>,
    /// How long the first throttle lasts; it doubles with each further failure.
    #[arg(long)]
    lockout_minutes: Option<u32>,
}

fn security(
    c: &Common,
    b: &Backend,
    practice: String,
    change: SecurityChange,
) -> anyhow::Result<ExitCode> {
    let mut settings: SecuritySettings =
        field(&b.run(Op::Security(practice.clone()))?, "security")?;
    let changes = change.require_mfa.is_some()
        || change.idle_minutes.is_some()
        || change.max_hours.is_some()
        || change.max_sessions.is_some()
        || change.inactivity_days.is_some()
        || change.lockout_after.is_some()
        || change.lockout_minutes.is_some();
    if changes {
        settings.require_mfa = change.require_mfa.unwrap_or(settings.require_mfa);
        settings.session_idle_minutes =
            change.idle_minutes.unwrap_or(settings.session_idle_minutes);
        settings.session_max_hours = change.max_hours.unwrap_or(settings.session_max_hours);
        settings.max_sessions = change.max_sessions.unwrap_or(settings.max_sessions);
        settings.inactivity_days = change.inactivity_days.unwrap_or(settings.inactivity_days);
        settings.lockout_after = change.lockout_after.unwrap_or(settings.lockout_after);
        settings.lockout_minutes = change.lockout_minutes.unwrap_or(settings.lockout_minutes);
        let op = Op::SetSecurity(practice.clone(), Box::new(settings));
        settings = field(&b.run(op)?, "security")?;
    }
    show(c, &settings, || {
        format!(
            "{practice}: mfa {}, idle timeout {} min, session at most {} h, {} sessions per user, disable after {} idle days, throttle after {} failures for {} min",
            if settings.require_mfa { "required" } else { "optional" },
            settings.session_idle_minutes,
            settings.session_max_hours,
            settings.max_sessions,
            settings.inactivity_days,
            settings.lockout_after,
            settings.lockout_minutes
        )
    })
}
