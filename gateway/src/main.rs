//! The `wardgate` binary: parses arguments and hands over to the library.

use std::process::ExitCode;

use clap::Parser;

// glibc's malloc contends between the runtime's threads under load (measured: ~10% of the
// gateway's samples in malloc/free); mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = wardgate::cli::Cli::parse();
    match wardgate::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
