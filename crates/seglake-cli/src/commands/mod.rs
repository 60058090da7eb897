//! One module per command or family of commands, each with its rendering;
//! here, what they share: dispatch, stdout, and finding the lake and its
//! tables.

mod audit;
// `seglake cluster`: the `cluster` feature (see `args.rs`).
#[cfg(feature = "cluster")]
mod cluster;
mod deliver;
mod demo_project;
mod generate;
mod ingest;
mod init;
mod job;
mod monitoring;
mod report;
mod retention;
mod rules;
mod serve;
mod tables;

use std::io::Write;

use anyhow::Context;
use seglake_spec::JobSpec;

use crate::args::{Command, LakeArgs, RulesCommand};
use crate::exit::Exit;

pub async fn dispatch(command: Command) -> anyhow::Result<Exit> {
    match command {
        Command::Init(args) => init::init(args).await,
        Command::Generate(args) => generate::generate(args).await,
        Command::Demo(args) => generate::demo(args).await,
        Command::Run(args) => job::run(args).await,
        Command::Validate(args) => job::validate(args).await,
        Command::History(args) => tables::history(args).await,
        Command::Segments(args) => tables::segments(args).await,
        Command::Sql(args) => tables::sql(args).await,
        Command::Monitor(args) => monitoring::monitor(args).await,
        Command::Promote(args) => monitoring::promote(args).await,
        Command::Compare(args) => monitoring::compare(args).await,
        Command::Backfill(args) => monitoring::backfill(args).await,
        Command::Rules(RulesCommand::Backtest(args)) => rules::backtest_command(args).await,
        Command::Screen(args) => job::screen(args).await,
        Command::Deliver(args) => deliver::deliver(args).await,
        Command::Audit(args) => audit::audit(args).await,
        Command::Reproduce(args) => audit::reproduce(args).await,
        Command::Diff(args) => audit::diff(args).await,
        Command::Report(args) => report::report(args).await,
        Command::Vacuum(args) => retention::vacuum(args).await,
        Command::Erase(args) => retention::erase(args).await,
        Command::Serve(args) => serve::serve(args).await,
        Command::Ingest(args) => ingest::ingest(args).await,
        Command::Produce(args) => ingest::produce(args).await,
        #[cfg(feature = "cluster")]
        Command::Cluster(command) => cluster::cluster(command).await,
    }
}

/// Prints to stdout; a closed pipe (`seglake history | head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

/// Prints `line` and a newline (`serde_json` output has none).
fn print_line(line: &str) -> anyhow::Result<()> {
    print(&format!("{line}\n"))
}

/// The lake behind `--lake`, for the commands that read its runs.
/// The job spec at `job`, with `--var` overriding its `[vars]`.
fn load_spec(job: &std::path::Path, vars: &[(String, String)]) -> anyhow::Result<JobSpec> {
    let vars: std::collections::BTreeMap<String, String> = vars.iter().cloned().collect();
    Ok(JobSpec::load(job, &vars)?)
}

fn open_lake(lake: &LakeArgs) -> anyhow::Result<seglake_audit::Lake> {
    Ok(seglake_audit::Lake::open(lake.path())?)
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends), saying `stopping`
/// on stderr; the command then finishes what it holds.
async fn shutdown_requested(stopping: &'static str) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    eprintln!("{stopping}");
}
