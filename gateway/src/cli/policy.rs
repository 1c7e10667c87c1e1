//! `wardgate policy check|matrix|eval|explain|test`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Subcommand, ValueEnum};
use wardgate_policy::Suite;
use wardgate_policy::{compile_file, Compiled, Decision, Engine, LoadError, Reason, Request};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Report every error and warning in policy files; exit 1 on errors.
    Check {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the role x action table, like the seed documents' permission tables.
    Matrix {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Decide requests (JSON) and print decisions (JSON) on stdout.
    Eval {
        /// The policy source; or give `--module`.
        #[arg(required_unless_present = "module", conflicts_with = "module")]
        file: Option<PathBuf>,
        /// A compiled policy component (from `wardgate policy build`), run in the sandbox.
        #[arg(long)]
        module: Option<PathBuf>,
        /// One request as JSON; `-` reads stdin.
        #[arg(long, conflicts_with = "requests")]
        request: Option<PathBuf>,
        /// JSON lines, one request per line; one decision per line, same order. `-` reads stdin.
        #[arg(long)]
        requests: Option<PathBuf>,
    },
    /// Compile a policy to a sandboxed WebAssembly component.
    Build {
        file: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print the manifest of a policy or of a compiled module, as JSON.
    Manifest {
        #[arg(required_unless_present = "module", conflicts_with = "module")]
        file: Option<PathBuf>,
        #[arg(long)]
        module: Option<PathBuf>,
    },
    /// Decide one request and say why, in words.
    Explain {
        file: PathBuf,
        #[arg(long)]
        request: PathBuf,
    },
    /// Run policy test files (`*.tests.toml`), or every one under a folder.
    Test {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print every case, not only failures.
        #[arg(short, long)]
        verbose: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

pub fn run(cmd: PolicyCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        PolicyCommand::Check { files } => check(&files),
        PolicyCommand::Matrix { file, format } => {
            let c = load(&file)?;
            let m = c.policy.matrix();
            let out = match format {
                Format::Table => m.to_table(),
                Format::Csv => m.to_csv(),
                Format::Json => format!("{:#}\n", m.to_json()),
            };
            std::io::stdout().write_all(out.as_bytes())?;
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Eval {
            file,
            module,
            request,
            requests,
        } => {
            let engine = engine(file.as_deref(), module.as_deref())?;
            let mut out = std::io::stdout().lock();
            match (request, requests) {
                (Some(r), None) => {
                    let text = read_input(&r)?;
                    let d = decide(engine.as_ref(), &text);
                    writeln!(out, "{}", serde_json::to_string_pretty(&d)?)?;
                }
                (None, Some(r)) => {
                    let reader: Box<dyn BufRead> = if r.as_os_str() == "-" {
                        Box::new(std::io::stdin().lock())
                    } else {
                        Box::new(std::io::BufReader::new(
                            std::fs::File::open(&r)
                                .with_context(|| format!("cannot open {}", r.display()))?,
                        ))
                    };
                    for line in reader.lines() {
                        let line = line?;
                        if line.trim().is_empty() {
                            continue;
                        }
                        let d = decide(engine.as_ref(), &line);
                        writeln!(out, "{}", serde_json::to_string(&d)?)?;
                    }
                }
                _ => bail!("give --request FILE or --requests FILE (`-` for stdin)"),
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Build { file, output } => {
            let c = load(&file)?;
            let started = std::time::Instant::now();
            let bytes = wardgate_compiler::compile(&c.policy)?;
            let took = started.elapsed();
            std::fs::write(&output, &bytes)
                .with_context(|| format!("cannot write {}", output.display()))?;
            eprintln!(
                "{}: {} bytes in {:.1} ms ({} roles, {} actions, {})",
                output.display(),
                bytes.len(),
                took.as_secs_f64() * 1000.0,
                c.policy.roles.len(),
                c.policy.actions.len(),
                c.policy.manifest.content_hash
            );
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Manifest { file, module } => {
            let engine = engine(file.as_deref(), module.as_deref())?;
            println!("{:#}", engine.manifest().to_json());
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Explain { file, request } => {
            let c = load(&file)?;
            let text = read_input(&request)?;
            let mut out = std::io::stdout().lock();
            match Request::from_json(&text) {
                Ok(req) => {
                    let (decision, lines) = c.policy.explain(&req);
                    // The verdict first, then the detail that led to it.
                    let mut lines = lines.iter();
                    if let Some(verdict) = lines.next() {
                        writeln!(out, "{verdict}")?;
                    }
                    for l in lines {
                        writeln!(out, "  {l}")?;
                    }
                    for o in &decision.obligations {
                        writeln!(out, "  obligation: {}", serde_json::to_string(o)?)?;
                    }
                }
                Err(e) => writeln!(out, "denied: the request cannot be read: {e}")?,
            }
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Test { paths, verbose } => test(&paths, verbose),
    }
}

fn read_input(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// A request that does not parse is denied, so a line of output always answers a line of input.
fn decide(engine: &dyn Engine, text: &str) -> Decision {
    match Request::from_json(text) {
        Ok(req) => engine.decide(&req),
        Err(e) => Decision::deny(Reason::new(
            wardgate_policy::ReasonCode::InvalidRequest,
            e.to_string(),
        )),
    }
}

/// The reference evaluator over a source file, or a compiled module in the sandbox.
fn engine(file: Option<&Path>, module: Option<&Path>) -> anyhow::Result<Box<dyn Engine>> {
    match (file, module) {
        (Some(f), None) => Ok(Box::new(load(f)?.policy)),
        (None, Some(m)) => {
            let bytes = std::fs::read(m).with_context(|| format!("cannot read {}", m.display()))?;
            let host = wardgate_host::Host::new(wardgate_host::HostConfig::default())?;
            let module = host
                .load(&bytes)
                .with_context(|| format!("cannot load {}", m.display()))?;
            Ok(Box::new(module))
        }
        _ => bail!("give a policy FILE or --module MODULE.wasm"),
    }
}

fn load(path: &Path) -> anyhow::Result<Compiled> {
    match compile_file(path) {
        Ok(c) => {
            if !c.warnings.is_empty() {
                eprint!("{}", c.source.render(&c.warnings));
            }
            Ok(c)
        }
        Err(LoadError::Invalid(d)) => {
            eprint!("{d}");
            bail!("{}: {} error(s)", path.display(), d.error_count())
        }
        Err(e) => Err(e.into()),
    }
}

fn check(files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    for f in files {
        match compile_file(f) {
            Ok(c) => {
                eprint!("{}", c.source.render(&c.warnings));
                println!(
                    "{}: ok ({} roles, {} actions, {} routes{})",
                    f.display(),
                    c.policy.roles.len(),
                    c.policy.actions.len(),
                    c.policy.routes.len(),
                    if c.warnings.is_empty() {
                        String::new()
                    } else {
                        format!(", {} warning(s)", c.warnings.len())
                    }
                );
            }
            Err(LoadError::Invalid(d)) => {
                failed = true;
                eprint!("{d}");
                println!("{}: {} error(s)", f.display(), d.error_count());
            }
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn suites_under(path: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.to_string_lossy().ends_with(".tests.toml") {
                suites_under(&e, out)?;
            }
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

fn test(paths: &[PathBuf], verbose: bool) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for p in paths {
        suites_under(p, &mut files)?;
    }
    if files.is_empty() {
        bail!("no *.tests.toml files found");
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    for f in files {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?;
        let suite = Suite::parse(&f, &text)?;
        let c = load(&suite.policy)?;
        for case in &suite.cases {
            let r = case.run(&c.policy);
            if r.passed {
                passed += 1;
                if verbose {
                    println!("PASS {}: {}", f.display(), r.name);
                }
            } else {
                failed += 1;
                println!("FAIL {}: {}", f.display(), r.name);
                println!("  {}", r.failure.unwrap_or_default());
                if let Ok(req) = serde_json::from_value::<Request>(case.request.clone()) {
                    for l in c.policy.explain(&req).1 {
                        println!("    {l}");
                    }
                }
            }
        }
    }
    println!("{}", "-".repeat(40));
    if failed == 0 {
        println!("PASS: {passed}/{passed}");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAIL: {failed}/{}", passed + failed);
        Ok(ExitCode::FAILURE)
    }
}
