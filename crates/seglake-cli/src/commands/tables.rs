//! Reading the lake's tables: `seglake history` (a table's versions),
//! `seglake segments` (a segmentation's profiles) and `seglake sql`.

use std::path::PathBuf;

use anyhow::Context;
use seglake_spec::Location;

use super::{open_lake, print};
use crate::args::{HistoryArgs, LakeArgs, SegmentsArgs, SqlArgs};
use crate::exit::{Exit, InvalidInput};
use crate::profiles::Profiles;

pub async fn history(args: HistoryArgs) -> anyhow::Result<Exit> {
    let (name, location) = resolve_table(&args.table, &args.lake)?;
    let entries = seglake_lake::history(&name, &location).await?;
    let text = if args.output.json {
        let mut s = String::new();
        for e in &entries {
            s += &serde_json::to_string(e)?;
            s.push('\n');
        }
        s
    } else {
        render_history(&entries)
    };
    print(&text)?;
    Ok(Exit::Success)
}

pub async fn segments(args: SegmentsArgs) -> anyhow::Result<Exit> {
    let (name, location) = resolve_table(&args.table, &args.lake)?;
    let batches = seglake_lake::read_table(&name, &location, args.version).await?;
    let profiles = Profiles::from_batches(&name, &batches).map_err(InvalidInput)?;
    if args.output.json {
        print(&profiles.to_json_lines()?)?;
    } else {
        print(&profiles.render(args.top))?;
    }
    Ok(Exit::Success)
}

pub async fn sql(args: SqlArgs) -> anyhow::Result<Exit> {
    let lake = open_lake(&args.lake)?;
    let session = seglake_audit::LakeSql::new(&lake).await?;
    let (schema, batches) = session.query(&args.query).await?;
    if args.output.json {
        let mut text = String::new();
        for row in seglake_audit::rows_as_json(&batches)? {
            text += &serde_json::to_string(&row)?;
            text.push('\n');
        }
        print(&text)?;
    } else {
        // An empty result still shows its columns.
        let batches = if batches.is_empty() {
            vec![arrow::array::RecordBatch::new_empty(schema)]
        } else {
            batches
        };
        let table = arrow::util::pretty::pretty_format_batches(&batches)
            .context("formatting the result")?;
        print(&format!("{table}\n"))?;
    }
    Ok(Exit::Success)
}

fn render_history(entries: &[seglake_lake::HistoryEntry]) -> String {
    let mut s = format!(
        "{:<8} {:<25} {:<10} {}\n",
        "version", "timestamp", "operation", "run_id"
    );
    for e in entries {
        s += &format!(
            "{:<8} {:<25} {:<10} {}\n",
            e.version,
            e.timestamp
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                .unwrap_or_default(),
            e.operation.as_deref().unwrap_or(""),
            e.run_id.as_deref().unwrap_or("-"),
        );
    }
    s
}

/// A table given as a name under the lake or as a path / URL: its name
/// (for messages) and where it is.
fn resolve_table(table: &str, lake: &LakeArgs) -> anyhow::Result<(String, Location)> {
    if table.contains('/') || table.contains("://") {
        table_at_path(table)
    } else {
        table_in_lake(table, lake)
    }
}

fn table_at_path(table: &str) -> anyhow::Result<(String, Location)> {
    let base = std::env::current_dir().context("reading the current folder")?;
    let location = Location::parse(table, &base).map_err(InvalidInput)?;
    if let Location::Local(p) = &location
        && !p.join("_delta_log").is_dir()
    {
        return Err(InvalidInput(format!(
            "{} is not a Delta table (no _delta_log folder)",
            p.display()
        ))
        .into());
    }
    let name = PathBuf::from(table)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| table.to_string());
    Ok((name, location))
}

/// A table by name; if there is none, the message lists those there are.
fn table_in_lake(table: &str, lake: &LakeArgs) -> anyhow::Result<(String, Location)> {
    let lake = std::path::absolute(lake.path()).context("resolving --lake")?;
    if !lake.join(table).is_dir() {
        let tables = seglake_audit::tables_under(&lake);
        return Err(InvalidInput(format!(
            "no table `{}` in the lake {}; tables there: {}",
            table,
            lake.display(),
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.join(", ")
            }
        ))
        .into());
    }
    Ok((table.to_string(), Location::Local(lake.join(table))))
}
