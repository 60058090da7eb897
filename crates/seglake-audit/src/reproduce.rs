//! `reproduce`: runs a published run again from its lineage alone (the
//! recorded spec and SQL texts, every input at the recorded version or
//! file list, the recorded `as_of`, seed and run id) into a scratch lake,
//! and compares what it publishes with what the run published.

use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow::compute::{cast, concat_batches, sort_to_indices, take};
use arrow::datatypes::DataType;
use arrow::row::{RowConverter, Rows, SortField};
use seglake_jobs::{EngineOptions, Progress, RunOptions};
use seglake_lake::{PinnedInput, current_version_of, pin_recorded, read_table};
use seglake_spec::lineage::{RunRecord, RunStatus};
use seglake_spec::{FEEDBACK_SOURCE, JobSpec, Location, RunId, SourceFormat};
use serde::Serialize;

use crate::error::{AuditError, Result};
use crate::lake::{Lake, SEGMENTS};

/// Columns left out of the comparison, and why: `model_version` numbers the
/// `models` table of the lake it was published to, and the scratch lake's
/// `models` table starts at version 0.
pub const NOT_COMPARED: [&str; 1] = ["model_version"];

#[derive(Debug, Clone, Serialize)]
pub struct TableMatch {
    pub table: String,
    /// The version compared against (after following erasures).
    pub published_version: i64,
    pub rows_published: usize,
    pub rows_reproduced: usize,
    pub identical: bool,
    pub columns_not_compared: Vec<String>,
    /// Columns whose values differ in at least one row.
    pub differing_columns: Vec<String>,
    /// Keys whose rows differ (all, in key order).
    pub differing_keys: Vec<String>,
    pub only_published: Vec<String>,
    pub only_reproduced: Vec<String>,
    /// Rows the reproduction has and the published table no longer has
    /// because `seglake erase` removed those customers since (counted,
    /// never listed: listing them would undo the erasure).
    pub erased_rows: usize,
    /// Set when the two tables do not even have the same columns.
    pub schema_difference: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReproduceReport {
    pub run_id: String,
    pub scratch: PathBuf,
    pub scratch_kept: bool,
    pub identical: bool,
    pub tables: Vec<TableMatch>,
}

/// The command that reproduces `run_id` of the lake at `lake_root`, as
/// audits and reports print it.
pub fn reproduce_command(run_id: &str, lake_root: &std::path::Path) -> String {
    format!("seglake reproduce {run_id} --lake {}", lake_root.display())
}

/// Re-runs `run_id` into `scratch` (which must not hold tables yet), on
/// `engine` (any partition count, or a cluster: the run must come out the
/// same).
pub async fn reproduce(
    lake: &Lake,
    run_id: &str,
    scratch: &Path,
    engine: EngineOptions,
    progress: &dyn Progress,
) -> Result<ReproduceReport> {
    let run = lake.run(run_id).await?;
    if run.status != RunStatus::Succeeded {
        return Err(AuditError::Invalid(format!(
            "run {run_id} did not succeed ({}); only published runs can be reproduced",
            run.status
        )));
    }
    let mut spec = JobSpec::from_run_record(&run).map_err(|source| AuditError::RecordedSpec {
        run_id: run_id.to_string(),
        source,
    })?;
    spec.as_of = Some(run.as_of);
    spec.output_root = Location::Local(scratch.to_path_buf());
    let pinned = pin_run_inputs(&run, &mut spec).await?;
    let options = RunOptions {
        run_id: Some(RunId::parse(run_id).map_err(AuditError::Invalid)?),
        pinned_inputs: Some(pinned),
        post_lineage: false,
        // From the recorded inputs alone, never from today's state.
        full_refresh: true,
        engine,
    };
    seglake_jobs::run(&spec, &options, progress).await?;

    let mut tables = Vec::new();
    let mut compared = vec![spec.output_table.clone()];
    if run.outputs.iter().any(|o| o.table == SEGMENTS) {
        compared.insert(0, SEGMENTS.to_string());
    }
    for table in compared {
        let (recorded, version) = lake.version_of(&run, &table).await?;
        let published = lake.read(&table, Some(version)).await?;
        let again = read_table(&table, &Location::Local(scratch.join(&table)), None).await?;
        let mut m = compare(&table, version, &published, &again)?;
        if version != recorded {
            // The inputs still hold customers erased from the outputs
            // since: those rows are expected, and must not be named.
            m.erased_rows = std::mem::take(&mut m.only_reproduced).len();
            m.identical = m.differing_keys.is_empty() && m.only_published.is_empty();
        }
        tables.push(m);
    }
    Ok(ReproduceReport {
        run_id: run_id.to_string(),
        scratch: scratch.to_path_buf(),
        scratch_kept: true,
        identical: tables.iter().all(|t| t.identical),
        tables,
    })
}

/// The inputs `run` read, at the versions and files it read, for `spec`'s
/// sources (pointed at the recorded locations) and the lake's `feedback`
/// table when the run read it. A source the run did not read is an error
/// naming it.
pub(crate) async fn pin_run_inputs(
    run: &RunRecord,
    spec: &mut JobSpec,
) -> Result<Vec<PinnedInput>> {
    let run_id = &run.run_id;
    let base = std::env::current_dir().unwrap_or_default();
    let mut pinned = Vec::new();
    for source in &mut spec.sources {
        let input = run
            .inputs
            .iter()
            .find(|i| i.name == source.name)
            .ok_or_else(|| {
                AuditError::Invalid(format!(
                    "run {run_id} records no input `{}` although its spec has that source",
                    source.name
                ))
            })?;
        source.location = Location::parse(&input.uri, &base).map_err(AuditError::Invalid)?;
        let version_now = match (source.format, input.delta_version) {
            (SourceFormat::Delta, Some(v)) => {
                let history = seglake_lake::history(&source.name, &source.location).await?;
                Some(current_version_of(&history, v))
            }
            _ => None,
        };
        pinned.push(pin_recorded(source, input, version_now).await?);
    }
    // The lake's feedback table, when the run read one: at the version it read.
    if let Some(input) = run.inputs.iter().find(|i| i.name == FEEDBACK_SOURCE) {
        let mut source = seglake_jobs::feedback::feedback_source(&spec.output_root);
        source.location = Location::parse(&input.uri, &base).map_err(AuditError::Invalid)?;
        let history = seglake_lake::history(&source.name, &source.location).await?;
        let version_now = input.delta_version.map(|v| current_version_of(&history, v));
        pinned.push(pin_recorded(&source, input, version_now).await?);
    }
    Ok(pinned)
}

fn arrow_err(context: &str) -> impl Fn(arrow::error::ArrowError) -> AuditError + '_ {
    move |error| AuditError::Arrow {
        context: context.to_string(),
        error,
    }
}

/// One batch sorted by its first column (the key), with the key as text.
fn sorted(batches: &[RecordBatch], what: &str) -> Result<Option<(RecordBatch, Vec<String>)>> {
    let Some(first) = batches.first() else {
        return Ok(None);
    };
    let all = concat_batches(&first.schema(), batches).map_err(arrow_err(what))?;
    let keys = cast(all.column(0), &DataType::Utf8).map_err(arrow_err(what))?;
    let order = sort_to_indices(&keys, None, None).map_err(arrow_err(what))?;
    let columns = all
        .columns()
        .iter()
        .map(|c| take(c, &order, None))
        .collect::<Result<Vec<ArrayRef>, _>>()
        .map_err(arrow_err(what))?;
    let all = RecordBatch::try_new(all.schema(), columns).map_err(arrow_err(what))?;
    let keys = take(&keys, &order as &UInt32Array, None).map_err(arrow_err(what))?;
    let keys = keys.as_any().downcast_ref::<StringArray>().expect("Utf8");
    let keys = (0..keys.len()).map(|i| keys.value(i).to_string()).collect();
    Ok(Some((all, keys)))
}

/// Each column encoded in arrow's row format, whose bytes are equal exactly
/// when the values are (floats compare by their bits).
fn column_rows(batch: &RecordBatch, column: &str) -> Result<Rows> {
    let array = batch.column_by_name(column).expect("checked");
    let converter = RowConverter::new(vec![SortField::new(array.data_type().clone())])
        .map_err(arrow_err(column))?;
    converter
        .convert_columns(std::slice::from_ref(array))
        .map_err(arrow_err(column))
}

fn compare(
    table: &str,
    version: i64,
    published: &[RecordBatch],
    again: &[RecordBatch],
) -> Result<TableMatch> {
    let a = sorted(published, table)?;
    let b = sorted(again, table)?;
    let mut m = TableMatch {
        table: table.to_string(),
        published_version: version,
        rows_published: published.iter().map(|b| b.num_rows()).sum(),
        rows_reproduced: again.iter().map(|b| b.num_rows()).sum(),
        identical: false,
        columns_not_compared: Vec::new(),
        differing_columns: Vec::new(),
        differing_keys: Vec::new(),
        only_published: Vec::new(),
        only_reproduced: Vec::new(),
        erased_rows: 0,
        schema_difference: None,
    };
    let (Some((a, ka)), Some((b, kb))) = (a, b) else {
        m.identical = m.rows_published == 0 && m.rows_reproduced == 0;
        return Ok(m);
    };
    let names = |r: &RecordBatch| -> Vec<(String, DataType)> {
        r.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    if names(&a) != names(&b) {
        m.schema_difference = Some(format!(
            "published columns {:?}, reproduced columns {:?}",
            names(&a),
            names(&b)
        ));
        return Ok(m);
    }
    let columns: Vec<String> = names(&a).into_iter().map(|(n, _)| n).collect();
    m.columns_not_compared = columns
        .iter()
        .filter(|c| NOT_COMPARED.contains(&c.as_str()))
        .cloned()
        .collect();
    let compared: Vec<&String> = columns
        .iter()
        .filter(|c| !NOT_COMPARED.contains(&c.as_str()))
        .collect();
    let rows_a = compared
        .iter()
        .map(|c| column_rows(&a, c))
        .collect::<Result<Vec<_>>>()?;
    let rows_b = compared
        .iter()
        .map(|c| column_rows(&b, c))
        .collect::<Result<Vec<_>>>()?;
    let differing = walk_keys(&mut m, (&ka, &rows_a), (&kb, &rows_b));
    m.differing_columns = compared
        .iter()
        .zip(&differing)
        .filter(|(_, d)| **d)
        .map(|(c, _)| c.to_string())
        .collect();
    m.identical =
        m.differing_keys.is_empty() && m.only_published.is_empty() && m.only_reproduced.is_empty();
    Ok(m)
}

/// Walks both key-sorted tables side by side: keys whose rows differ (and
/// in which columns), keys only one side has. Returns, per compared
/// column, whether any row differs in it.
fn walk_keys(
    m: &mut TableMatch,
    (ka, rows_a): (&[String], &[Rows]),
    (kb, rows_b): (&[String], &[Rows]),
) -> Vec<bool> {
    let mut differing = vec![false; rows_a.len()];
    let (mut i, mut j) = (0, 0);
    while i < ka.len() || j < kb.len() {
        match (ka.get(i), kb.get(j)) {
            (Some(x), Some(y)) if x == y => {
                let mut same = true;
                for c in 0..rows_a.len() {
                    if rows_a[c].row(i) != rows_b[c].row(j) {
                        differing[c] = true;
                        same = false;
                    }
                }
                if !same {
                    m.differing_keys.push(x.clone());
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x < y => {
                m.only_published.push(x.clone());
                i += 1;
            }
            (Some(_), Some(y)) => {
                m.only_reproduced.push(y.clone());
                j += 1;
            }
            (Some(x), None) => {
                m.only_published.push(x.clone());
                i += 1;
            }
            (None, Some(y)) => {
                m.only_reproduced.push(y.clone());
                j += 1;
            }
            (None, None) => unreachable!(),
        }
    }
    differing
}

impl ReproduceReport {
    pub fn render(&self, list: usize) -> String {
        let mut s = format!(
            "reproduced run {} into {}{}\n",
            self.run_id,
            self.scratch.display(),
            if self.scratch_kept {
                ""
            } else {
                " (a temporary folder, now removed)"
            }
        );
        for t in &self.tables {
            if t.identical {
                s += &format!(
                    "  {:<20} version {:<4} {} rows: bit-identical",
                    t.table, t.published_version, t.rows_published
                );
                if t.erased_rows > 0 {
                    s += &format!(
                        ", apart from {} row(s) of customers erased since (the inputs still hold them)",
                        t.erased_rows
                    );
                }
                if !t.columns_not_compared.is_empty() {
                    s += &format!(
                        " (every column but {}, which numbers the scratch lake's models table)",
                        t.columns_not_compared.join(", ")
                    );
                }
                s += "\n";
                continue;
            }
            s += &format!(
                "  {:<20} version {:<4} DIFFERS: {} published rows, {} reproduced\n",
                t.table, t.published_version, t.rows_published, t.rows_reproduced
            );
            if let Some(d) = &t.schema_difference {
                s += &format!("    {d}\n");
            }
            if !t.differing_columns.is_empty() {
                s += &format!(
                    "    columns that differ: {}\n",
                    t.differing_columns.join(", ")
                );
            }
            for (what, keys) in [
                ("rows that differ", &t.differing_keys),
                ("only in the published table", &t.only_published),
                ("only in the reproduction", &t.only_reproduced),
            ] {
                if keys.is_empty() {
                    continue;
                }
                let shown: Vec<&str> = keys.iter().take(list).map(String::as_str).collect();
                s += &format!(
                    "    {} {what}: {}{}\n",
                    keys.len(),
                    shown.join(", "),
                    if keys.len() > list { ", ..." } else { "" }
                );
            }
        }
        s += if self.identical {
            "the run is reproducible: the same inputs, spec and SQL give the same bytes\n"
        } else {
            "the run did NOT reproduce (see above)\n"
        };
        s
    }
}
