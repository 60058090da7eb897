//! `seglake generate` (a synthetic bank) and `seglake demo` (one into a
//! local lake, then the demo job on it).

use std::path::Path;

use anyhow::Context;

use super::print;
use crate::args::{AsOfArgs, DemoArgs, EngineArgs, GenerateArgs, JobArgs, OutputArgs, RunArgs};
use crate::exit::{Exit, InvalidInput};
use crate::progress::parts_bar;

pub async fn generate(args: GenerateArgs) -> anyhow::Result<Exit> {
    let summary = generate_into(&args.out, args.customers, args.seed, args.overwrite).await?;
    print(&format!(
        "generated {} customers, {} transactions, {} events, {} case outcomes into {}\n",
        summary.customers,
        summary.transactions,
        summary.events,
        summary.cases,
        args.out.display()
    ))?;
    Ok(Exit::Success)
}

/// Runs the demo job as `seglake run JOB --var lake=LAKE` would, on the
/// local engine with its defaults: `demo` takes none of `run`'s other
/// flags, nor their environment variables (SEGLAKE_RUN_ID, SEGLAKE_ENGINE,
/// SEGLAKE_MEMORY_LIMIT, ...).
pub async fn demo(args: DemoArgs) -> anyhow::Result<Exit> {
    if let Some(job) = &args.job
        && !job.is_file()
    {
        return Err(InvalidInput(format!("--job {}: no such file", job.display())).into());
    }
    let lake = std::path::absolute(args.lake.path()).context("resolving --lake")?;
    let raw = lake.join("raw");
    if raw.join("transactions").is_dir() {
        eprintln!("using the synthetic data already in {}", raw.display());
    } else {
        eprintln!(
            "generating {} synthetic customers into {}",
            args.customers,
            raw.display()
        );
        generate_into(&raw, args.customers, args.seed, false).await?;
    }
    let job = match args.job {
        Some(job) => job,
        None => {
            let job = super::demo_project::write_demo_project(&lake)?;
            eprintln!("the demo job and its SQL: {}", job.display());
            job
        }
    };
    let job = JobArgs {
        job,
        vars: vec![("lake".to_string(), lake.display().to_string())],
    };
    let exit = super::job::run(RunArgs {
        job,
        as_of: AsOfArgs { as_of: None },
        run_id: None,
        full_refresh: false,
        engine: EngineArgs::local(),
        output: OutputArgs { json: false },
    })
    .await?;
    if exit == Exit::Success {
        print_report_of_latest_run(&lake).await?;
    }
    Ok(exit)
}

/// The demo's last step: its run as a page, and where the page is.
async fn print_report_of_latest_run(lake: &Path) -> anyhow::Result<()> {
    let lake = seglake_audit::Lake::open(lake)?;
    let run_id = seglake_report::latest_run_id(&lake).await?;
    let out = super::report::default_path(&lake.root, &run_id);
    super::report::write_report(&lake, &run_id, &out).await?;
    super::print_line(&format!("report {}", out.display()))
}

async fn generate_into(
    out: &Path,
    customers: u64,
    seed: u64,
    overwrite: bool,
) -> anyhow::Result<seglake_datagen::GenerateSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let options = seglake_datagen::GenerateOptions {
        out: out.to_path_buf(),
        customers,
        seed,
        overwrite,
    };
    // The generator is CPU-bound rayon work: keep it off the async threads.
    tokio::task::spawn_blocking(move || {
        let bar = parts_bar();
        let summary = seglake_datagen::generate(&options, &|done, total| {
            if let Some(bar) = &bar {
                bar.set_length(total);
                bar.set_position(done);
            }
            tracing::info!(done, total, "generated part");
        });
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        summary
    })
    .await
    .context("the generator stopped unexpectedly")?
    .with_context(|| format!("generating into {}", out.display()))
}
