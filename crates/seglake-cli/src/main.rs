//! `seglake`: customer segments and risk scores on the data lake.
//!
//! The only crate with `anyhow`, a tracing subscriber and exit codes: the
//! libraries return typed errors, and this binary decides how they look
//! and which code the process exits with ([`exit::Exit`]).

mod args;
mod commands;
mod exit;
mod profiles;
mod progress;
mod redact;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::args::{Cli, Command, LogFormat};
use crate::exit::Exit;

/// Every allocation is counted, so that `--memory-limit` bounds the whole
/// process and not only what the query engine reserves (seglake-memory).
#[global_allocator]
static ALLOCATOR: seglake_memory::CountingAllocator = seglake_memory::CountingAllocator;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => {
            // Help, the version or a usage error; a closed pipe is not an error.
            let _ = usage.print();
            return Exit::for_usage(&usage).into();
        }
    };
    init_tracing(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            // Every cause once: many library errors print their own source.
            eprintln!(
                "error: {}",
                redact::redact(&seglake_spec::error_chain(&*err))
            );
            Exit::for_error(&err).into()
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // The command runs as a task so that a panic (in seglake or in a
    // dependency) comes back as an error with exit code 2 instead of tearing
    // the process down; the lake is unaffected because publishing happens
    // last and each table commit is atomic.
    let outcome = runtime.block_on(async { tokio::spawn(commands::dispatch(command)).await });
    let exit = outcome.map_err(|join| {
        anyhow::anyhow!(
            "internal error: {} (please report this as a bug, with the command and RUST_LOG=debug output)",
            panic_message(join)
        )
    })??;
    Ok(exit.into())
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
    // experimental API; seglake relies on it deliberately. The Kafka client
    // logs every failed connection attempt, many a second, while `ingest`
    // waits for a broker: the error it ends with says what went wrong.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(
            "warn,deltalake_core::operations::vacuum=error,librdkafka=off,rdkafka::client=off",
        )
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| redact::RedactedStderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
