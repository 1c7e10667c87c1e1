//! `wardgate audit verify|search|export`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use wardgate_audit::{verify, Filter, Format, Search};

use crate::api::ops::{AuditQuery, Op};

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Prove the log was not altered: every record, the chain between them, and the signed
    /// anchors; exit 1 and say where if anything is wrong.
    Verify {
        /// The log folder (or --server: the gateway verifies its own).
        #[arg(long, required_unless_present = "server")]
        dir: Option<PathBuf>,
        /// The anchor key (64 hex digits) if it is kept away from the log folder.
        #[arg(long)]
        key: Option<PathBuf>,
        #[command(flatten)]
        remote: super::remote::Remote,
    },
    /// Find records: who opened which patient's record, when.
    Search {
        /// The log folder (or --server: the gateway searches its own).
        #[arg(long, required_unless_present = "server")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value_t = OutFormat::Jsonl)]
        format: OutFormat,
        #[command(flatten)]
        remote: super::remote::Remote,
    },
    /// Export records (all, or those matching) for a compliance review.
    Export {
        /// The log folder (or --server: the gateway exports its own, streamed).
        #[arg(long, required_unless_present = "server")]
        dir: Option<PathBuf>,
        #[command(flatten)]
        filter: FilterArgs,
        #[arg(long, value_enum, default_value_t = OutFormat::Csv)]
        format: OutFormat,
        /// Write here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        remote: super::remote::Remote,
    },
}

#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Actor id: user, service account or API key.
    #[arg(long)]
    user: Option<String>,
    /// From (RFC 3339 or YYYY-MM-DD), inclusive.
    #[arg(long)]
    from: Option<String>,
    /// Until (RFC 3339, or YYYY-MM-DD for the whole day), inclusive.
    #[arg(long)]
    to: Option<String>,
    /// An action, or a prefix ending in `*`.
    #[arg(long)]
    action: Option<String>,
    /// `allow` or `deny`.
    #[arg(long)]
    decision: Option<String>,
    #[arg(long)]
    patient: Option<String>,
    #[arg(long)]
    practice: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutFormat {
    Jsonl,
    Csv,
}

impl From<FilterArgs> for Filter {
    fn from(a: FilterArgs) -> Filter {
        Filter {
            user: a.user,
            from: a.from,
            to: a.to,
            action: a.action,
            decision: a.decision,
            patient: a.patient,
            practice: a.practice,
        }
    }
}

fn format(f: OutFormat) -> Format {
    match f {
        OutFormat::Jsonl => Format::JsonLines,
        OutFormat::Csv => Format::Csv,
    }
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify { remote, .. } if remote.named() => {
            let client = remote.client()?.context("no gateway")?;
            let (status, body) = client.call(&Op::AuditVerify)?;
            if !status.is_success() {
                bail!(
                    "{} ({status})",
                    body.get("message").and_then(|m| m.as_str()).unwrap_or("")
                );
            }
            println!("{}", serde_json::to_string_pretty(&body)?);
            Ok(if body.get("ok") == Some(&serde_json::Value::Bool(true)) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        AuditCommand::Verify { dir, key, .. } => {
            let dir = dir.context("--dir names the log folder")?;
            let key = match key {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("cannot read {}", path.display()))?;
                    let bytes: Option<Vec<u8>> = (0..32)
                        .map(|i| {
                            text.trim()
                                .get(2 * i..2 * i + 2)
                                .and_then(|h| u8::from_str_radix(h, 16).ok())
                        })
                        .collect();
                    Some(
                        bytes
                            .with_context(|| format!("{} is not 64 hex digits", path.display()))?,
                    )
                }
                None => None,
            };
            let report = verify(&dir, key.as_deref())?;
            for p in &report.problems {
                println!("{p}");
            }
            let range = match (report.first_seq, report.last_seq) {
                (Some(a), Some(b)) => format!("records {a}..{b}"),
                _ => "no records".to_string(),
            };
            if report.ok() {
                println!(
                    "ok: {} records in {} segments ({range}), {} anchors, head {}",
                    report.records,
                    report.segments,
                    report.anchors,
                    report.head.as_deref().unwrap_or("-")
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "FAILED: {} problem(s) in {} records ({range})",
                    report.problems.len(),
                    report.records
                );
                Ok(ExitCode::FAILURE)
            }
        }
        AuditCommand::Search {
            filter,
            format: f,
            remote,
            ..
        } if remote.named() => remote_export(&remote, filter, f, None),
        AuditCommand::Export {
            filter,
            format: f,
            output,
            remote,
            ..
        } if remote.named() => remote_export(&remote, filter, f, output),
        AuditCommand::Search {
            dir,
            filter,
            format: f,
            ..
        } => {
            let dir = dir.context("--dir names the log folder")?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let n = Search {
                filter: filter.into(),
                format: format(f),
            }
            .run(&dir, &mut out)?;
            out.flush()?;
            eprintln!("{n} record(s)");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Export {
            dir,
            filter,
            format: f,
            output,
            ..
        } => {
            let dir = dir.context("--dir names the log folder")?;
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("cannot create {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n = Search {
                filter: filter.into(),
                format: format(f),
            }
            .run(&dir, &mut out)?;
            out.flush()?;
            eprintln!("{n} record(s) exported");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Search or export through a gateway: its streamed export of the matching records.
fn remote_export(
    remote: &super::remote::Remote,
    filter: FilterArgs,
    f: OutFormat,
    output: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let client = remote.client()?.context("no gateway")?;
    let query = AuditQuery {
        filter: filter.into(),
        limit: None,
        cursor: None,
        order: None,
        format: Some(
            match f {
                OutFormat::Jsonl => "jsonl",
                OutFormat::Csv => "csv",
            }
            .into(),
        ),
    };
    let (status, bytes) = client.call_raw(&Op::AuditExport(query))?;
    if !status.is_success() {
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        bail!(
            "{} ({status})",
            body.get("message").and_then(|m| m.as_str()).unwrap_or("")
        );
    }
    match &output {
        Some(p) => {
            std::fs::write(p, &bytes).with_context(|| format!("cannot write {}", p.display()))?
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
