//! Command-line interface: `wardgate <command>`, in the style of `opa`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod audit;
mod identity;
mod policy;
mod remote;
mod serve;

#[derive(Debug, Parser)]
#[command(
    name = "wardgate",
    version,
    about = "An authorization gateway for medical-practice software"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
// Parsed once per run; the size of a variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the gateway: `--config wardgate.toml`, or `--demo` on embedded defaults.
    Serve(serve::ServeArgs),
    /// Check, inspect, evaluate and test policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Verify, search and export the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Practices: add, list (with administrator warnings).
    Practice {
        #[command(flatten)]
        common: identity::Common,
        #[command(subcommand)]
        cmd: identity::PracticeCommand,
    },
    /// Users and providers: add, list, search, lock, unassign, disable, delete, grant.
    User {
        #[command(flatten)]
        common: identity::Common,
        #[command(subcommand)]
        cmd: identity::UserCommand,
    },
    /// Service accounts and API keys: issue, list, revoke, rotate, verify.
    Key {
        #[command(flatten)]
        common: identity::Common,
        #[command(subcommand)]
        cmd: identity::KeyCommand,
    },
}

/// Runs a command; `Ok` carries the exit code (1 = the policy or its tests failed).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Policy(cmd) => policy::run(cmd),
        Command::Audit(cmd) => audit::run(cmd),
        Command::Practice { common, cmd } => identity::practice(common, cmd),
        Command::User { common, cmd } => identity::user(common, cmd),
        Command::Key { common, cmd } => identity::key(common, cmd),
    }
}
