//! A published lake as auditors see it: its tables, its runs, and which
//! version of a table holds what a run published (following erasures).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_lake::runs::RUNS_TABLE;
use seglake_lake::{HistoryEntry, current_version_of, history, read_table};
use seglake_spec::Location;
use seglake_spec::lineage::{RunRecord, RunStatus};

use crate::error::{AuditError, Result};
use seglake_spec::error_chain;

/// The segmentation table every audit reads.
pub const SEGMENTS: &str = seglake_spec::SEGMENTS_TABLE;

/// A lake folder with the tables seglake published under it.
#[derive(Debug, Clone)]
pub struct Lake {
    pub root: PathBuf,
}

impl Lake {
    /// Opens the lake at `root`; it must hold a `runs` table.
    pub fn open(root: &Path) -> Result<Self> {
        let root = std::path::absolute(root).map_err(|source| AuditError::LakeRoot {
            path: root.to_path_buf(),
            source,
        })?;
        let lake = Lake { root };
        if !lake.has_table(RUNS_TABLE) {
            return Err(AuditError::NotFound(format!(
                "{} is not a seglake lake: it has no `runs` table (tables there: {})",
                lake.root.display(),
                lake.tables_text()
            )));
        }
        Ok(lake)
    }

    /// Every Delta table directly under the root, by name.
    pub fn tables(&self) -> Vec<String> {
        tables_under(&self.root)
    }

    pub fn tables_text(&self) -> String {
        let t = self.tables();
        if t.is_empty() {
            "none".into()
        } else {
            t.join(", ")
        }
    }

    pub fn has_table(&self, name: &str) -> bool {
        self.root.join(name).join("_delta_log").is_dir()
    }

    /// The table's location; an unknown name is an error listing the tables.
    pub fn table(&self, name: &str) -> Result<Location> {
        // Names only: a path here could read outside the lake.
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !plain || !self.has_table(name) {
            return Err(AuditError::NotFound(format!(
                "no table `{name}` in the lake {}; tables there: {}",
                self.root.display(),
                self.tables_text()
            )));
        }
        Ok(Location::Local(self.root.join(name)))
    }

    pub async fn history(&self, table: &str) -> Result<Vec<HistoryEntry>> {
        Ok(history(table, &self.table(table)?).await?)
    }

    /// Reads `table` at `version` (the latest when `None`).
    pub async fn read(&self, table: &str, version: Option<i64>) -> Result<Vec<RecordBatch>> {
        let location = self.table(table)?;
        // Not a variant of its own with the error as its source: `serve`
        // answers 404 for `NotFound`, and a version whose files were
        // vacuumed is not found.
        read_table(table, &location, version).await.map_err(|e| {
            AuditError::NotFound(format!(
                "table `{table}` at version {}: cannot be read ({}); its files may have \
                 been removed by `seglake vacuum` or `seglake erase`",
                version.map_or("latest".to_string(), |v| v.to_string()),
                error_chain(&e)
            ))
        })
    }

    /// Every run recorded in `runs`, oldest first (promotions, which are
    /// not runs, left out).
    pub async fn runs(&self) -> Result<Vec<RunRecord>> {
        let mut rows = self.runs_and_promotions().await?;
        rows.retain(|r| r.status != RunStatus::Promotion);
        Ok(rows)
    }

    /// Every row of `runs`, promotions included, in the order they were
    /// recorded.
    pub async fn runs_and_promotions(&self) -> Result<Vec<RunRecord>> {
        let batches = self.read(RUNS_TABLE, None).await?;
        let mut runs = decode_rows::<RunRecord>(&batches, "the `runs` table")?;
        runs.sort_by(|a, b| (a.finished_at, &a.run_id).cmp(&(b.finished_at, &b.run_id)));
        Ok(runs)
    }

    /// The run with id `run_id`.
    pub async fn run(&self, run_id: &str) -> Result<RunRecord> {
        let runs = self.runs().await?;
        let known: Vec<String> = runs
            .iter()
            .rev()
            .take(5)
            .map(|r| r.run_id.clone())
            .collect();
        runs.into_iter()
            .find(|r| r.run_id == run_id)
            .ok_or_else(|| {
                AuditError::NotFound(format!(
                    "no run `{run_id}` in {}/runs; the latest runs are: {}",
                    self.root.display(),
                    known.join(", ")
                ))
            })
    }

    /// The segmentation in force at `time`: the last successful run that
    /// published `segments` and finished at or before `time`.
    pub async fn run_in_force(&self, time: DateTime<Utc>) -> Result<RunRecord> {
        let runs: Vec<RunRecord> = self
            .runs()
            .await?
            .into_iter()
            .filter(|r| {
                r.status == RunStatus::Succeeded && r.outputs.iter().any(|o| o.table == SEGMENTS)
            })
            .collect();
        let first = runs.first().map(|r| r.finished_at);
        runs.into_iter()
            .rev()
            .find(|r| r.finished_at <= time)
            .ok_or_else(|| {
                AuditError::NotFound(match first {
                    Some(first) => format!(
                        "no segmentation was in force at {}: the first run that published \
                         segments finished at {}",
                        time.to_rfc3339(),
                        first.to_rfc3339()
                    ),
                    None => format!(
                        "no run in {} has published segments yet",
                        self.root.display()
                    ),
                })
            })
    }

    /// The run that describes `time`: the last succeeded run whose `as_of`
    /// is at or before it (of several with that `as_of`, the last to
    /// finish).
    pub async fn run_describing(&self, time: DateTime<Utc>) -> Result<RunRecord> {
        let mut runs: Vec<RunRecord> = self
            .runs()
            .await?
            .into_iter()
            .filter(|r| r.status == RunStatus::Succeeded && r.as_of <= time)
            .collect();
        runs.sort_by_key(|r| (r.as_of, r.finished_at));
        runs.pop().ok_or_else(|| {
            AuditError::NotFound(format!(
                "no succeeded run in {} has an as_of at or before {}",
                self.root.display(),
                time.to_rfc3339()
            ))
        })
    }

    /// The version of `table` that now holds what `run` published: the
    /// recorded version, or its replacement if a customer was erased since.
    pub async fn version_of(&self, run: &RunRecord, table: &str) -> Result<(i64, i64)> {
        let recorded = run
            .outputs
            .iter()
            .find(|o| o.table == table)
            .map(|o| o.version)
            .ok_or_else(|| {
                AuditError::NotFound(format!(
                    "run {} published no `{table}` table (it published: {})",
                    run.run_id,
                    run.outputs
                        .iter()
                        .map(|o| o.table.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
        let history = self.history(table).await?;
        Ok((recorded, current_version_of(&history, recorded)))
    }
}

/// The names of the Delta tables directly under `root`, sorted.
pub fn tables_under(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().join("_delta_log").is_dir())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

/// Arrow rows as serde values, through Arrow's JSON writer.
pub fn decode_rows<T: serde::de::DeserializeOwned>(
    batches: &[RecordBatch],
    what: &str,
) -> Result<Vec<T>> {
    use seglake_lake::rows::RowsError;
    seglake_lake::rows::decode_rows(batches).map_err(|e| match e {
        RowsError::Arrow(error) => AuditError::Arrow {
            context: format!("reading {what}"),
            error,
        },
        RowsError::Json(source) => AuditError::Decode {
            what: what.to_string(),
            source,
        },
    })
}

/// Rows as JSON objects (column name -> value), through Arrow's JSON writer.
pub fn rows_as_json(batches: &[RecordBatch]) -> Result<Vec<BTreeMap<String, serde_json::Value>>> {
    decode_rows(batches, "the result")
}

/// A point in time as auditors write it: RFC 3339, or a date meaning the
/// end of that day in UTC.
pub fn parse_point_in_time(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = d
            .and_hms_micro_opt(23, 59, 59, 999_999)
            .expect("valid time");
        return Ok(end.and_utc());
    }
    Err(format!(
        "`{text}` is not a time: use RFC 3339 (2026-01-01T12:00:00Z) or a date (2026-01-01)"
    ))
}
