//! Retention that respects audits: a table's old files are removed only
//! when no run inside the retention period still needs the version that
//! holds them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use deltalake::operations::vacuum::VacuumMode;
use seglake_lake::current_version_of;
use seglake_spec::Location;
use serde::Serialize;

use crate::error::{AuditError, Result};
use crate::lake::Lake;

#[derive(Debug, Clone, Serialize)]
pub struct TableVacuum {
    pub table: String,
    /// Versions kept readable (needed by a run in the period, and the latest).
    pub kept_versions: Vec<i64>,
    pub files_removed: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VacuumReport {
    /// Runs that started at or after this time keep their versions.
    pub keep_runs_since: DateTime<Utc>,
    pub runs_kept: usize,
    pub dry_run: bool,
    pub tables: Vec<TableVacuum>,
}

/// Removes from the table at `location` every file that none of `keep`
/// (nor the latest version) reads. Returns the removed files' paths.
pub(crate) async fn vacuum_table(
    table: &str,
    location: &Location,
    keep: &BTreeSet<i64>,
    dry_run: bool,
) -> Result<Vec<String>> {
    let delta_err = |error| AuditError::Delta {
        context: format!("vacuuming `{table}`"),
        error,
    };
    let delta = seglake_lake::storage::delta_builder(location.to_url())
        .map_err(delta_err)?
        .load()
        .await
        .map_err(delta_err)?;
    let keep: Vec<u64> = keep.iter().map(|v| *v as u64).collect();
    // Retention zero: which versions stay readable is decided here, by
    // the runs that need them, not by the age of a file.
    let (_, metrics) = delta
        .vacuum()
        .with_retention_period(chrono::Duration::zero())
        .with_enforce_retention_duration(false)
        .with_keep_versions(&keep)
        .with_mode(VacuumMode::Lite)
        .with_dry_run(dry_run)
        .await
        .map_err(delta_err)?;
    Ok(metrics.files_deleted)
}

/// The versions of each table that runs started at or after `since` still
/// need (after following erasures).
pub(crate) async fn needed_versions(
    lake: &Lake,
    since: DateTime<Utc>,
) -> Result<(usize, BTreeMap<String, BTreeSet<i64>>)> {
    let runs = lake.runs().await?;
    let latest_run = runs.last().map(|r| r.run_id.clone());
    let kept: Vec<_> = runs
        .into_iter()
        .filter(|r| r.started_at >= since || Some(&r.run_id) == latest_run.as_ref())
        .collect();
    let mut needed: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for table in lake.tables() {
        let history = lake.history(&table).await?;
        let set = needed.entry(table.clone()).or_default();
        if let Some(last) = history.last() {
            set.insert(last.version);
        }
        for run in &kept {
            for output in run.outputs.iter().filter(|o| o.table == table) {
                set.insert(current_version_of(&history, output.version));
            }
        }
    }
    Ok((kept.len(), needed))
}

/// Vacuums every table of the lake, keeping the versions of every run that
/// started within `retain` of now.
pub async fn vacuum(lake: &Lake, retain: chrono::Duration, dry_run: bool) -> Result<VacuumReport> {
    let since = Utc::now() - retain;
    let (runs_kept, needed) = needed_versions(lake, since).await?;
    let mut tables = Vec::new();
    for (table, keep) in needed {
        let files_removed = vacuum_table(&table, &lake.table(&table)?, &keep, dry_run).await?;
        tables.push(TableVacuum {
            table,
            kept_versions: keep.into_iter().collect(),
            files_removed,
        });
    }
    Ok(VacuumReport {
        keep_runs_since: since,
        runs_kept,
        dry_run,
        tables,
    })
}

impl VacuumReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{} the files of versions no run since {} needs ({} run(s) kept)\n",
            if self.dry_run {
                "would remove"
            } else {
                "removed"
            },
            self.keep_runs_since.to_rfc3339(),
            self.runs_kept
        );
        for t in &self.tables {
            s += &format!(
                "  {:<22} {:>5} file(s) {}; versions kept: {}\n",
                t.table,
                t.files_removed.len(),
                if self.dry_run { "to remove" } else { "removed" },
                t.kept_versions
                    .iter()
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for f in &t.files_removed {
                s += &format!("      {f}\n");
            }
        }
        s
    }
}
