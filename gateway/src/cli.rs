//! Command-line interface: `wardgate <command>`, in the style of `opa`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod policy;

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
pub enum Command {
    /// Check, inspect, evaluate and test policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

/// Runs a command; `Ok` carries the exit code (1 = the policy or its tests failed).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Policy(cmd) => policy::run(cmd),
    }
}
