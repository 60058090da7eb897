use std::collections::HashMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::Transaction;
use deltalake::kernel::transaction::CommitProperties;
use deltalake::operations::write::SchemaMode;
use deltalake::protocol::SaveMode;
use deltalake::{DeltaTable, DeltaTableBuilder};
use seglake_spec::Location;

use crate::error::{LakeError, Result};

/// How a run's rows become the table's next version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The new version holds exactly these rows: a complete snapshot, so
    /// time travel to any version shows one run's output.
    Snapshot,
    /// The rows are added to those already there (the `runs` table).
    Append,
}

/// What a publish committed.
#[derive(Debug, Clone)]
pub struct CommitInfo {
    pub table: String,
    pub version: i64,
}

/// Where table `name` lives under an output root.
pub fn table_location(root: &Location, name: &str) -> Location {
    root.join(name)
}

fn delta_err(
    table: &str,
    location: &Location,
) -> impl FnOnce(deltalake::DeltaTableError) -> LakeError {
    let table = table.to_string();
    let uri = location.to_string();
    move |source| LakeError::Delta { table, uri, source }
}

/// Writes `batches` as the next version of the Delta table at `location`,
/// creating the table on first use. `metadata` goes into the commit's
/// `commitInfo`, where every Delta reader's history shows it.
///
/// `identifier` names the column holding customer identifiers, if any. A
/// table created here collects no column statistics for it: Delta stores
/// each file's minimum and maximum in the log, which is never rewritten,
/// so an erased customer's id would otherwise outlive the erasure there.
pub async fn publish(
    table: &str,
    location: &Location,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    mode: WriteMode,
    metadata: &HashMap<String, serde_json::Value>,
    identifier: Option<&str>,
) -> Result<CommitInfo> {
    let delta = open_or_create(table, location).await?;
    write_version(
        table, location, delta, schema, batches, mode, metadata, identifier, None,
    )
    .await
}

/// An application's transaction in a commit: Delta's own record that a
/// writer's batch `version` landed, read back with [`transaction_version`].
#[derive(Debug, Clone)]
pub struct AppTransaction {
    pub app_id: String,
    pub version: i64,
}

/// The highest version of `app_id`'s transactions committed to the table,
/// `None` when the table or the application has none.
pub async fn transaction_version(
    table: &str,
    location: &Location,
    app_id: &str,
) -> Result<Option<i64>> {
    if matches!(location, Location::Local(p) if !p.join("_delta_log").is_dir()) {
        return Ok(None);
    }
    let delta = DeltaTable::try_from_url(location.to_url())
        .await
        .map_err(delta_err(table, location))?;
    transaction_version_of(table, location, &delta, app_id).await
}

async fn transaction_version_of(
    table: &str,
    location: &Location,
    delta: &DeltaTable,
    app_id: &str,
) -> Result<Option<i64>> {
    let state = delta.snapshot().map_err(delta_err(table, location))?;
    state
        .transaction_version(delta.log_store().as_ref(), app_id)
        .await
        .map_err(delta_err(table, location))
}

/// Appends `batches` with `txn` in the same commit, unless a commit with
/// that application transaction version (or a later one) is already in the
/// table: a writer that replays a batch after a crash never adds it twice.
/// Returns `None` when the batch had landed already.
pub async fn append_once(
    table: &str,
    location: &Location,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    metadata: &HashMap<String, serde_json::Value>,
    identifier: Option<&str>,
    txn: AppTransaction,
) -> Result<Option<CommitInfo>> {
    let delta = open_or_create(table, location).await?;
    if delta.version().is_some()
        && transaction_version_of(table, location, &delta, &txn.app_id)
            .await?
            .is_some_and(|v| v >= txn.version)
    {
        return Ok(None);
    }
    write_version(
        table,
        location,
        delta,
        schema,
        batches,
        WriteMode::Append,
        metadata,
        identifier,
        Some(txn),
    )
    .await
    .map(Some)
}

async fn open_or_create(table: &str, location: &Location) -> Result<DeltaTable> {
    if let Location::Local(p) = location {
        std::fs::create_dir_all(p).map_err(|e| LakeError::Table {
            table: table.to_string(),
            uri: location.to_string(),
            message: format!("cannot create the folder: {e}"),
        })?;
    }
    // A table that does not exist yet is built, not loaded: loading one
    // makes the Delta kernel log an error for the empty log it finds.
    let is_new = matches!(location, Location::Local(p) if !p.join("_delta_log").is_dir());
    if is_new {
        DeltaTableBuilder::from_url(location.to_url())
            .and_then(|b| b.build())
            .map_err(delta_err(table, location))
    } else {
        DeltaTable::try_from_url(location.to_url())
            .await
            .map_err(delta_err(table, location))
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_version(
    table: &str,
    location: &Location,
    delta: DeltaTable,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    mode: WriteMode,
    metadata: &HashMap<String, serde_json::Value>,
    identifier: Option<&str>,
    txn: Option<AppTransaction>,
) -> Result<CommitInfo> {
    let is_new = delta.version().is_none();
    // An empty snapshot is still a snapshot: write a batch with no rows so
    // the version exists and carries the schema.
    let batches = if batches.is_empty() {
        vec![RecordBatch::new_empty(schema.clone())]
    } else {
        batches
    };
    let save_mode = match mode {
        WriteMode::Snapshot => SaveMode::Overwrite,
        WriteMode::Append => SaveMode::Append,
    };
    let mut commit = CommitProperties::default().with_metadata(metadata.clone());
    if let Some(txn) = txn {
        commit = commit.with_application_transaction(Transaction::new(txn.app_id, txn.version));
    }
    let stats_columns = identifier.map(|id| stats_columns_without(&schema, id));
    let mut write = delta.write(batches).with_save_mode(save_mode);
    if let (true, Some(columns)) = (is_new, stats_columns) {
        write = write.with_configuration([(STATS_COLUMNS, Some(columns))]);
    }
    if !is_new {
        // A snapshot replaces the table, columns included (a job's feature
        // list may change); an append may add columns (the runs table gains
        // columns as seglake grows) but never drops any.
        write = write.with_schema_mode(match mode {
            WriteMode::Snapshot => SchemaMode::Overwrite,
            WriteMode::Append => SchemaMode::Merge,
        });
    }
    let written = write
        .with_table_name(table)
        .with_commit_properties(commit)
        .await
        .map_err(delta_err(table, location))?;
    let version = written
        .version()
        .map(|v| v as i64)
        .ok_or_else(|| LakeError::Table {
            table: table.to_string(),
            uri: location.to_string(),
            message: "the write reported no version".to_string(),
        })?;
    tracing::info!(table, version, uri = %location, "published");
    Ok(CommitInfo {
        table: table.to_string(),
        version,
    })
}

/// The Delta table property listing the columns that get statistics.
const STATS_COLUMNS: &str = "delta.dataSkippingStatsColumns";

/// Every top-level column but `identifier`, as the property's value.
fn stats_columns_without(schema: &SchemaRef, identifier: &str) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|n| *n != identifier)
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads a table at `version` (the latest when `None`).
pub async fn read_table(
    table: &str,
    location: &Location,
    version: Option<i64>,
) -> Result<Vec<RecordBatch>> {
    let mut builder =
        DeltaTableBuilder::from_url(location.to_url()).map_err(delta_err(table, location))?;
    if let Some(v) = version {
        builder = builder.with_version(v as u64);
    }
    let delta = builder.load().await.map_err(delta_err(table, location))?;
    let ctx = SessionContext::new();
    delta
        .update_datafusion_session(&ctx.state())
        .map_err(delta_err(table, location))?;
    let provider = delta.table_provider().await.map_err(|e| LakeError::Table {
        table: table.to_string(),
        uri: location.to_string(),
        message: e.to_string(),
    })?;
    let df = ctx.read_table(provider).map_err(|e| LakeError::Table {
        table: table.to_string(),
        uri: location.to_string(),
        message: e.to_string(),
    })?;
    df.collect().await.map_err(|e| LakeError::Table {
        table: table.to_string(),
        uri: location.to_string(),
        message: e.to_string(),
    })
}
