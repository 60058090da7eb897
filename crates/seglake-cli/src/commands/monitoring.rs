//! `seglake monitor`, `seglake promote`, `seglake compare` and `seglake
//! backfill`: a job's models over time.

use std::collections::HashSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{JobSpec, RunId};

use super::{load_spec, open_lake, print, print_line};
use crate::args::{BackfillArgs, CompareArgs, MonitorArgs, PromoteArgs};
use crate::exit::{Exit, InvalidInput};
use crate::progress::Spinner;

pub async fn monitor(args: MonitorArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let options = seglake_audit::monitor::MonitorOptions {
        job: args.job,
        last: args.last,
    };
    let report = seglake_audit::monitor::monitor(&lake, &options).await?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}

pub async fn compare(args: CompareArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let options = seglake_audit::compare::CompareOptions {
        job: args.job,
        champion: args.champion,
        challenger: args.challenger,
    };
    let comparison = seglake_audit::compare::compare(&lake, &options).await?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&comparison)?)?;
    } else {
        print(&comparison.render())?;
    }
    Ok(Exit::Success)
}

pub async fn promote(args: PromoteArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let by = args
        .by
        .or_else(|| std::env::var("SEGLAKE_USER").ok())
        .or_else(|| std::env::var("USER").ok())
        .ok_or_else(|| InvalidInput("who promotes? pass --by NAME".into()))?;
    let promotion = seglake_audit::champion::promote(&lake, &args.run_id, &by, &args.reason)
        .await
        .with_context(|| format!("promoting run {}", args.run_id))?;
    print(&format!(
        "run {} is now the champion (was: {}); promoted by {} at {}: {}\n",
        promotion.run_id,
        promotion.previous_champion.as_deref().unwrap_or("none"),
        promotion.by,
        promotion
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        promotion.reason
    ))?;
    Ok(Exit::Success)
}

/// The points of a backfill, oldest first; an empty or reversed range, or
/// one that reaches into the future, is the user's to fix.
fn backfill_points(args: &BackfillArgs) -> Result<Vec<DateTime<Utc>>, InvalidInput> {
    let (from, to) = (args.from, args.to);
    if to < from {
        return Err(InvalidInput(format!(
            "--to {} is before --from {}: the range is reversed",
            to.to_rfc3339(),
            from.to_rfc3339()
        )));
    }
    if to > Utc::now() {
        return Err(InvalidInput(format!(
            "--to {} is in the future: a run describes what has happened",
            to.to_rfc3339()
        )));
    }
    let points: Vec<DateTime<Utc>> = (0..)
        .map_while(|i| args.every.nth(from, i).filter(|p| *p <= to))
        .collect();
    Ok(points)
}

/// The run id of a backfill point: the same for the same job and time, so
/// a second backfill finds (or completes) what the first published.
fn point_run_id(spec: &JobSpec, point: DateTime<Utc>) -> anyhow::Result<RunId> {
    let id = format!("backfill-{}-{}", spec.name, point.format("%Y%m%dT%H%M%SZ"));
    Ok(RunId::parse(&id).map_err(InvalidInput)?)
}

/// The ids of the job's succeeded runs (none when the lake has no `runs`).
async fn published_run_ids(spec: &JobSpec) -> anyhow::Result<HashSet<String>> {
    let table = seglake_lake::runs::RUNS_TABLE;
    let location = seglake_lake::table_location(&spec.output_root, table);
    if !seglake_lake::table_exists(&location).await? {
        return Ok(HashSet::new());
    }
    let batches = seglake_lake::read_table(table, &location, None).await?;
    let runs: Vec<RunRecord> =
        seglake_lake::rows::decode_rows(&batches).context("reading the lake's `runs` table")?;
    Ok(runs
        .into_iter()
        .filter(|r| r.status == RunStatus::Succeeded && r.job_name == spec.name)
        .map(|r| r.run_id)
        .collect())
}

pub async fn backfill(args: BackfillArgs) -> anyhow::Result<Exit> {
    let spec = load_spec(&args.job.job, &args.job.vars)?;
    let points = backfill_points(&args)?;
    if points.is_empty() {
        return Err(InvalidInput("the backfill range holds no point".into()).into());
    }
    super::job::enforce_memory_budget(&args.engine);
    let done = published_run_ids(&spec).await?;
    let mut challengers = Vec::new();
    for (i, point) in points.iter().enumerate() {
        let run_id = point_run_id(&spec, *point)?;
        let head = format!("[{}/{}] as_of {}", i + 1, points.len(), point.to_rfc3339());
        if done.contains(run_id.as_str()) {
            eprintln!("{head}: run {run_id} already published, skipped");
            continue;
        }
        eprintln!("{head}: run {run_id}");
        let mut at_point = spec.clone();
        at_point.as_of = Some(*point);
        let options = seglake_jobs::RunOptions {
            run_id: Some(run_id.clone()),
            engine: super::job::engine_options(&args.engine),
            pinned_inputs: None,
            post_lineage: true,
            full_refresh: false,
        };
        let spinner = Spinner::new();
        let result = seglake_jobs::run(&at_point, &options, &spinner).await;
        spinner.finish();
        let summary = result.with_context(|| {
            format!(
                "backfill of job `{}` at {}: run {run_id} failed",
                spec.name,
                point.to_rfc3339()
            )
        })?;
        let monitoring = super::job::render_monitoring(&summary.record);
        eprint!("{monitoring}");
        if super::job::is_challenger(&summary.record) {
            challengers.push(run_id.to_string());
        }
    }
    if challengers.is_empty() {
        return Ok(Exit::Success);
    }
    eprintln!(
        "went past a [monitoring] limit (models published as the challenger): {}",
        challengers.join(", ")
    );
    Ok(Exit::Challenger)
}
