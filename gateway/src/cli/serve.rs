//! `wardgate serve`: run the gateway from a configuration file, or the demo.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::clock::Clock;
use crate::config::Config;
use crate::demo::{self, DemoOptions};
use crate::state::Gateway;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration file (TOML).
    #[arg(long, short, required_unless_present = "demo", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Run the gateway in front of a built-in demo practice app, with the kareo policy, a
    /// seeded store and a self-signed certificate.
    #[arg(long)]
    demo: bool,
    /// The demo's data folder (certificates, store, audit log, demo.json).
    #[arg(long, default_value = "wardgate-demo", requires = "demo")]
    data_dir: PathBuf,
    /// The demo's listen address.
    #[arg(long, default_value = "127.0.0.1:8443", requires = "demo")]
    listen: SocketAddr,
    /// The demo's admin listen address (default: the next port).
    #[arg(long, requires = "demo")]
    admin_listen: Option<SocketAddr>,
    /// The demo's idle timeout for browser sessions, e.g. 30s or 15m.
    #[arg(long, requires = "demo")]
    session_idle: Option<crate::config::Span>,
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        // Values from clients and users are escaped: one record, one line.
        LogFormat::Text => builder
            .with_ansi(false)
            .with_writer(crate::logs::EscapedStderr)
            .try_init(),
        LogFormat::Json => builder.json().with_writer(std::io::stderr).try_init(),
    };
}

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    init_logs(args.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let running = if args.demo {
            let (running, info) = demo::start(DemoOptions {
                data_dir: args.data_dir.clone(),
                listen: args.listen,
                admin_listen: args.admin_listen,
                session_idle: args.session_idle,
            })
            .await?;
            println!(
                "{}",
                demo::banner(
                    &info,
                    &args
                        .data_dir
                        .canonicalize()
                        .unwrap_or(args.data_dir.clone())
                )
            );
            running
        } else {
            let path = args.config.context("--config is required")?;
            let config = Config::load(&path)?;
            let gw = Gateway::build(config, Clock::new())?;
            crate::server::start(gw).await?
        };
        stopped().await;
        tracing::info!("stopping: open requests get 10 s to finish");
        let gw = running.gateway.clone();
        running.shutdown(Duration::from_secs(10)).await;
        let _ = gw.store().flush_key_usage();
        let _ = gw.audit().flush();
        Ok(ExitCode::SUCCESS)
    })
}
