//! The questions compliance asks of published runs: `seglake audit` (why
//! was a customer in a segment), `seglake reproduce` (does a run come out
//! the same again) and `seglake diff` (who moved between two
//! segmentations).

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{open_lake, print, print_line};
use crate::args::{AuditArgs, DiffArgs, ReproduceArgs};
use crate::exit::{Exit, InvalidInput};
use crate::progress::Spinner;

pub async fn audit(args: AuditArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let selector = match (args.as_of, args.run) {
        (Some(t), _) => seglake_audit::Selector::AsOf(t),
        (None, Some(run)) => seglake_audit::Selector::Run(run),
        (None, None) => unreachable!("clap requires one"),
    };
    let report = seglake_audit::audit_customer(&lake, &args.customer, &selector).await?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}

/// Exits with [`Exit::NotReproduced`] when the run did not come out bit for
/// bit the same, after reporting what differs.
pub async fn reproduce(args: ReproduceArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let run_id = match (&args.run_id, args.as_of) {
        (Some(id), _) => id.clone(),
        (None, Some(time)) => lake.run_describing(time).await?.run_id,
        (None, None) => unreachable!("clap requires a run id or --as-of"),
    };
    // `_temp` removes a temporary scratch lake when the command ends.
    let (scratch, _temp) = scratch_lake(args.scratch.as_deref())?;
    let spinner = Spinner::new();
    super::job::enforce_memory_budget(&args.engine);
    let engine = super::job::engine_options(&args.engine);
    let result = seglake_audit::reproduce(&lake, &run_id, &scratch, engine, &spinner).await;
    spinner.finish();
    let mut report = result.with_context(|| format!("reproducing run {run_id}"))?;
    report.scratch_kept = args.scratch.is_some();
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render(args.list))?;
    }
    Ok(if report.identical {
        Exit::Success
    } else {
        Exit::NotReproduced
    })
}

/// Where a reproduction publishes: `--scratch` (new or empty, and kept),
/// or a temporary folder that lives as long as the returned guard.
fn scratch_lake(scratch: Option<&Path>) -> anyhow::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match scratch {
        Some(dir) => {
            let dir = std::path::absolute(dir).context("resolving --scratch")?;
            if dir.is_dir() && std::fs::read_dir(&dir)?.next().is_some() {
                return Err(InvalidInput(format!(
                    "--scratch {} is not empty; give a new or empty folder",
                    dir.display()
                ))
                .into());
            }
            Ok((dir, None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("seglake-reproduce-")
                .tempdir()
                .context("creating a scratch folder")?;
            Ok((temp.path().to_path_buf(), Some(temp)))
        }
    }
}

pub async fn diff(args: DiffArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let from = seglake_audit::Side::parse(&args.from);
    let to = seglake_audit::Side::parse(&args.to);
    let migration = seglake_audit::diff(&lake, &from, &to, &args.band).await?;
    // Some(None): --publish found the comparison already in the table.
    let published = if args.publish {
        Some(migration.publish(&lake).await?)
    } else {
        None
    };
    if args.output.json {
        let mut value = serde_json::to_value(&migration)?;
        if let Some(version) = published {
            value["published_version"] = serde_json::json!(version);
        }
        print_line(&serde_json::to_string_pretty(&value)?)?;
    } else {
        let mut text = migration.render(args.list);
        text += &render_published(published);
        print(&text)?;
    }
    Ok(Exit::Success)
}

fn render_published(published: Option<Option<i64>>) -> String {
    match published {
        Some(Some(v)) => format!("published as `{}` version {v}\n", seglake_audit::MIGRATIONS),
        Some(None) => format!(
            "`{}` already holds this comparison; nothing published\n",
            seglake_audit::MIGRATIONS
        ),
        None => String::new(),
    }
}
