//! `seglake`: customer segments and risk scores on the data lake.
//!
//! The only crate with `anyhow`, a tracing subscriber and exit codes: the
//! libraries return typed errors, and this binary decides how they look
//! and which code the process exits with.

mod args;
mod commands;
mod profiles;
mod progress;
mod redact;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, LogFormat};

/// Exit codes, as documented in `--help` and the README.
pub const EXIT_INVALID_INPUT: u8 = 1;
pub const EXIT_FAILURE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // The command runs as a task so that a panic (in seglake or in a
    // dependency) comes back as an error with exit code 2 instead of tearing
    // the process down; the lake is unaffected because publishing happens
    // last and each table commit is atomic.
    let outcome = runtime.block_on(async { tokio::spawn(commands::dispatch(cli.command)).await });
    let result = match outcome {
        Ok(result) => result,
        Err(join) => Err(anyhow::anyhow!(
            "internal error: {} (please report this as a bug, with the command and RUST_LOG=debug output)",
            panic_message(join)
        )),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let code = if commands::is_invalid_input(&err) {
                EXIT_INVALID_INPUT
            } else {
                EXIT_FAILURE
            };
            eprintln!("error: {}", redact::redact(&format!("{err:#}")));
            ExitCode::from(code)
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a task panicked".to_string()),
        Err(join) => join.to_string(),
    }
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    // Quiet by default: the progress display and the summary are the
    // interface; RUST_LOG=info shows every step as a log line.
    // delta-rs warns on every vacuum that keeping versions is an
    // experimental API; seglake relies on it deliberately.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,deltalake_core::operations::vacuum=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| redact::RedactedStderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
