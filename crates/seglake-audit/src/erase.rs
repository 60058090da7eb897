//! Erasure: removing a person from every table that holds customer ids,
//! while keeping every run's output auditable for everyone else.
//!
//! Delta files are immutable, so each version that holds the person is
//! written again without them as a new version whose commit says which
//! version it replaces (`seglake.replaces_version`); the latest version is
//! written last, so the table's current state stays current. Audits,
//! diffs and reproductions follow the replacement. Then the table is
//! vacuumed, so no data file still holds the person. The writes are plain
//! overwrites, so no delete predicate (which would carry the id) reaches
//! the log, and seglake's tables keep no column statistics on the id
//! column (see `seglake_lake::publish`). Every erasure is recorded in the
//! `erasures` table with what was rewritten and removed, and nothing that
//! identifies the person: neither the raw id nor its pseudonym, which
//! with the key would link the record back to them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Int64Array, ListArray, RecordBatch, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use arrow::buffer::OffsetBuffer;
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_lake::{
    HistoryEntry, META_ERASURE_ID, META_JOB, META_REPLACES_VERSION, META_RUN_ID, WriteMode,
    current_version_of, publish,
};
use seglake_spec::lineage::RunRecord;
use seglake_spec::{JobSpec, Location};
use serde::Serialize;

use crate::audit::pseudonym_key;
use crate::error::{AuditError, Result};
use crate::lake::Lake;
use crate::vacuum::vacuum_table;

/// The table recording every erasure.
pub const ERASURES: &str = "erasures";

#[derive(Debug, Clone, Serialize)]
pub struct Rewrite {
    pub table: String,
    pub replaced_version: i64,
    pub new_version: i64,
    pub rows_removed: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ErasureReport {
    pub erasure_id: String,
    pub erased_at: DateTime<Utc>,
    pub key_column: String,
    pub rewrites: Vec<Rewrite>,
    pub files_removed: Vec<String>,
    /// Tables checked afterwards (every remaining version read, every log
    /// file searched) and found free of the id.
    pub verified_tables: Vec<String>,
}

/// Where a Delta table that may hold the person lives.
struct Target {
    name: String,
    location: Location,
    /// Versions runs recorded (as outputs or inputs), before erasures.
    recorded: BTreeSet<i64>,
}

fn erasure_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source works");
    format!(
        "erasure-{}-{}",
        Utc::now().format("%Y%m%dT%H%M%SZ"),
        hex::encode(bytes)
    )
}

/// `batch` without the rows whose `column` (as text) is one of `ids`.
fn without(batch: &RecordBatch, column: &str, ids: &[String]) -> Result<(RecordBatch, i64)> {
    let Some(values) = batch.column_by_name(column) else {
        return Ok((batch.clone(), 0));
    };
    let text = cast(values, &DataType::Utf8).map_err(|error| AuditError::Arrow {
        context: format!("reading `{column}`"),
        error,
    })?;
    let text = text.as_any().downcast_ref::<StringArray>().expect("Utf8");
    let keep: BooleanArray = (0..text.len())
        .map(|i| Some(!(text.is_valid(i) && ids.iter().any(|id| id == text.value(i)))))
        .collect();
    let removed = keep.iter().filter(|k| *k == Some(false)).count() as i64;
    let kept = filter_record_batch(batch, &keep).map_err(|error| AuditError::Arrow {
        context: format!("removing rows by `{column}`"),
        error,
    })?;
    Ok((kept, removed))
}

async fn read_at(lake: &Lake, t: &Target, version: i64) -> Result<Vec<RecordBatch>> {
    seglake_lake::read_table(&t.name, &t.location, Some(version))
        .await
        .map_err(|source| AuditError::Unreadable {
            table: t.name.clone(),
            version,
            lake: lake.root.clone(),
            source,
        })
}

/// Removes customer `customer` from every table of the lake that has the
/// key column (and, with `sources`, from the Delta sources runs read).
pub async fn erase(lake: &Lake, customer: &str, sources: bool) -> Result<ErasureReport> {
    let runs = lake.runs().await?;
    let latest = runs.last().ok_or_else(|| {
        AuditError::NotFound(format!(
            "no run in {} has published anything",
            lake.root.display()
        ))
    })?;
    let spec = JobSpec::from_run_record(latest).map_err(|source| AuditError::RecordedSpec {
        run_id: latest.run_id.clone(),
        source,
    })?;
    // The person may be stored raw (before pseudonymisation was turned on)
    // or as a pseudonym: remove both.
    let key = pseudonym_key(latest)?;
    let person = Person {
        key_column: spec.key.clone(),
        ids: std::iter::once(customer.to_string())
            .chain(key.as_ref().map(|k| k.pseudonym(customer)))
            .collect(),
    };
    let mut targets = output_targets(lake, &runs)?;
    if sources {
        targets.extend(source_targets(&runs)?);
    }
    let id = erasure_id();
    let erased_at = Utc::now();
    let mut rewrites = Vec::new();
    let mut files_removed = Vec::new();
    let mut verified_tables = Vec::new();
    for t in &targets {
        if let Some(erased) = erase_from_table(lake, t, &person, &id).await? {
            rewrites.extend(erased.rewrites);
            files_removed.extend(erased.files_removed);
            verified_tables.push(t.name.clone());
        }
    }
    let report = ErasureReport {
        erasure_id: id,
        erased_at,
        key_column: person.key_column,
        rewrites,
        files_removed,
        verified_tables,
    };
    record(lake, &report).await?;
    Ok(report)
}

/// Who is erased: the key column and the values (raw id, pseudonym) that
/// stand for them in it.
struct Person {
    key_column: String,
    ids: Vec<String>,
}

/// The lake's tables, each with the versions runs published.
fn output_targets(lake: &Lake, runs: &[RunRecord]) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for name in lake.tables() {
        let location = lake.table(&name)?;
        let recorded = runs
            .iter()
            .flat_map(|r| r.outputs.iter())
            .filter(|o| o.table == name)
            .map(|o| o.version)
            .collect();
        targets.push(Target {
            name,
            location,
            recorded,
        });
    }
    Ok(targets)
}

/// The Delta sources runs read, each once, with the versions they read.
fn source_targets(runs: &[RunRecord]) -> Result<Vec<Target>> {
    let base = std::env::current_dir().unwrap_or_default();
    let mut seen = BTreeSet::new();
    let mut targets = Vec::new();
    for input in runs.iter().flat_map(|r| r.inputs.iter()) {
        if input.format != "delta" || !seen.insert(input.uri.clone()) {
            continue;
        }
        let location = Location::parse(&input.uri, &base).map_err(AuditError::Invalid)?;
        let recorded = runs
            .iter()
            .flat_map(|r| r.inputs.iter())
            .filter(|i| i.uri == input.uri)
            .filter_map(|i| i.delta_version)
            .collect();
        targets.push(Target {
            name: input.name.clone(),
            location,
            recorded,
        });
    }
    Ok(targets)
}

/// What one table's erasure did.
struct TableErasure {
    rewrites: Vec<Rewrite>,
    files_removed: Vec<String>,
}

/// Rewrites every recorded version of `t` that holds the person, and the
/// latest, without them; vacuums the rest and verifies. `None` when the
/// table has no key column or never held the person.
async fn erase_from_table(
    lake: &Lake,
    t: &Target,
    person: &Person,
    erasure_id: &str,
) -> Result<Option<TableErasure>> {
    let history = seglake_lake::history(&t.name, &t.location).await?;
    let Some(last) = history.last().map(|e| e.version) else {
        return Ok(None);
    };
    // Does the table have the key column at all?
    let latest_rows = read_at(lake, t, last).await?;
    let has_key = latest_rows
        .first()
        .is_some_and(|b| b.schema().column_with_name(&person.key_column).is_some());
    if !has_key {
        return Ok(None);
    }
    let mut versions: BTreeSet<i64> = t
        .recorded
        .iter()
        .map(|v| current_version_of(&history, *v))
        .collect();
    versions.insert(last);
    let holding = versions_holding(lake, t, &versions, last, latest_rows, person).await?;
    if holding.len() == 1 && !holding_has(&holding[&last], &person.key_column, &person.ids)? {
        return Ok(None);
    }
    let mut keep: BTreeSet<i64> = versions
        .iter()
        .filter(|v| !holding.contains_key(v))
        .copied()
        .collect();
    let mut rewrites = Vec::new();
    // The latest is rewritten last (the highest key), so it stays the
    // current state.
    for (v, rows) in &holding {
        let original = history.iter().find(|e| e.version == *v);
        if let Some(rewrite) = rewrite_version(t, *v, rows, original, person, erasure_id).await? {
            keep.insert(rewrite.new_version);
            rewrites.push(rewrite);
        }
    }
    let files_removed = vacuum_table(&t.name, &t.location, &keep, false).await?;
    verify(t, &keep, &person.key_column, &person.ids).await?;
    Ok(Some(TableErasure {
        rewrites,
        files_removed,
    }))
}

/// Which of `versions` hold the person, with their rows (customer-level
/// tables: a few versions fit in memory); the latest is always kept, as
/// it is rewritten in any case.
async fn versions_holding(
    lake: &Lake,
    t: &Target,
    versions: &BTreeSet<i64>,
    last: i64,
    latest_rows: Vec<RecordBatch>,
    person: &Person,
) -> Result<BTreeMap<i64, Vec<RecordBatch>>> {
    let mut holding: BTreeMap<i64, Vec<RecordBatch>> = BTreeMap::new();
    for v in versions {
        // Record batches share their buffers: the clone copies no data.
        let rows = if *v == last {
            latest_rows.clone()
        } else {
            read_at(lake, t, *v).await?
        };
        if *v == last || holding_has(&rows, &person.key_column, &person.ids)? {
            holding.insert(*v, rows);
        }
    }
    Ok(holding)
}

/// Writes version `v`'s `rows` again without the person, as a new version
/// whose commit names the one it replaces (and that one's run and job).
/// `None` for a version with no rows at all (nothing to rewrite).
async fn rewrite_version(
    t: &Target,
    v: i64,
    rows: &[RecordBatch],
    original: Option<&HistoryEntry>,
    person: &Person,
    erasure_id: &str,
) -> Result<Option<Rewrite>> {
    let Some(schema) = rows.first().map(|b| b.schema()) else {
        return Ok(None);
    };
    let mut kept = Vec::new();
    let mut removed = 0;
    for b in rows {
        let (b, n) = without(b, &person.key_column, &person.ids)?;
        removed += n;
        kept.push(b);
    }
    let mut metadata: HashMap<String, serde_json::Value> = HashMap::from([
        (META_REPLACES_VERSION.to_string(), v.into()),
        (META_ERASURE_ID.to_string(), erasure_id.into()),
    ]);
    if let Some(run_id) = original.and_then(|e| e.run_id.clone()) {
        metadata.insert(META_RUN_ID.to_string(), run_id.into());
    }
    if let Some(job) = original.and_then(|e| e.job.clone()) {
        metadata.insert(META_JOB.to_string(), job.into());
    }
    let commit = publish(
        &t.name,
        &t.location,
        schema,
        kept,
        WriteMode::Snapshot,
        &metadata,
        Some(&person.key_column),
    )
    .await?;
    Ok(Some(Rewrite {
        table: t.name.clone(),
        replaced_version: v,
        new_version: commit.version,
        rows_removed: removed,
    }))
}

/// Whether `rows` hold one of `ids` in `column`.
fn holding_has(rows: &[RecordBatch], column: &str, ids: &[String]) -> Result<bool> {
    for b in rows {
        if without(b, column, ids)?.1 > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Every kept version is read back without the person, and no log file
/// mentions them.
async fn verify(t: &Target, keep: &BTreeSet<i64>, column: &str, ids: &[String]) -> Result<()> {
    for v in keep {
        let rows = seglake_lake::read_table(&t.name, &t.location, Some(*v)).await?;
        for b in &rows {
            if without(b, column, ids)?.1 > 0 {
                return Err(AuditError::Invalid(format!(
                    "erasure check failed: `{}` version {v} still holds the customer",
                    t.name
                )));
            }
        }
    }
    if let Location::Local(dir) = &t.location {
        for entry in std::fs::read_dir(dir.join("_delta_log"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            if ids
                .iter()
                .any(|id| bytes.windows(id.len()).any(|w| w == id.as_bytes()))
            {
                return Err(AuditError::Invalid(format!(
                    "erasure check failed: the Delta log file {} of `{}` mentions the customer \
                     (column statistics written by another tool?); its versions were rewritten \
                     and its data files removed, but the log itself must be cleaned by hand",
                    entry.path().display(),
                    t.name
                )));
            }
        }
    }
    Ok(())
}

fn erasures_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("erasure_id", DataType::Utf8, false),
        Field::new(
            "erased_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("key_column", DataType::Utf8, false),
        Field::new(
            "rewrites",
            DataType::List(Arc::new(Field::new(
                "item",
                DataType::Struct(rewrite_fields()),
                true,
            ))),
            false,
        ),
        Field::new("files_removed", DataType::Int64, false),
    ]))
}

fn rewrite_fields() -> Fields {
    Fields::from(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("replaced_version", DataType::Int64, false),
        Field::new("new_version", DataType::Int64, false),
        Field::new("rows_removed", DataType::Int64, false),
    ])
}

async fn record(lake: &Lake, r: &ErasureReport) -> Result<()> {
    let arrow_err = |error| AuditError::Arrow {
        context: format!("building `{ERASURES}`"),
        error,
    };
    let w = &r.rewrites;
    let rewrites = StructArray::try_new(
        rewrite_fields(),
        vec![
            Arc::new(StringArray::from(
                w.iter().map(|x| x.table.clone()).collect::<Vec<_>>(),
            )) as ArrayRef,
            Arc::new(Int64Array::from(
                w.iter().map(|x| x.replaced_version).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                w.iter().map(|x| x.new_version).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                w.iter().map(|x| x.rows_removed).collect::<Vec<_>>(),
            )),
        ],
        None,
    )
    .map_err(arrow_err)?;
    let list = ListArray::try_new(
        Arc::new(Field::new("item", DataType::Struct(rewrite_fields()), true)),
        OffsetBuffer::from_lengths([w.len()]),
        Arc::new(rewrites),
        None,
    )
    .map_err(arrow_err)?;
    let schema = erasures_schema();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from(vec![r.erasure_id.clone()])),
            Arc::new(
                TimestampMicrosecondArray::from(vec![r.erased_at.timestamp_micros()])
                    .with_timezone("UTC"),
            ),
            Arc::new(StringArray::from(vec![r.key_column.clone()])),
            Arc::new(list),
            Arc::new(Int64Array::from(vec![r.files_removed.len() as i64])),
        ],
    )
    .map_err(arrow_err)?;
    let metadata = HashMap::from([(META_ERASURE_ID.to_string(), r.erasure_id.clone().into())]);
    publish(
        ERASURES,
        &Location::Local(lake.root.join(ERASURES)),
        schema,
        vec![batch],
        WriteMode::Append,
        &metadata,
        None,
    )
    .await?;
    Ok(())
}

impl ErasureReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}: removed the customer from {} table version(s); {} data file(s) deleted\n",
            self.erasure_id,
            self.rewrites.len(),
            self.files_removed.len()
        );
        for w in &self.rewrites {
            s += &format!(
                "  {:<22} version {:>4} -> {:>4}  ({} row(s) removed)\n",
                w.table, w.replaced_version, w.new_version, w.rows_removed
            );
        }
        if self.rewrites.is_empty() {
            s += "  no table held that customer\n";
        }
        s += &format!(
            "verified: no remaining version or log file of {} holds the customer\n",
            if self.verified_tables.is_empty() {
                "any table".to_string()
            } else {
                self.verified_tables.join(", ")
            }
        );
        s += &format!(
            "recorded in `{ERASURES}` as {} (without the customer id)\n",
            self.erasure_id
        );
        s
    }
}
