//! Publishing a table version in two steps, so that a run can write every
//! table's data before it commits any: [`stage`] writes the data files,
//! [`commit`] makes them the next version in one Delta commit carrying an
//! application transaction id, retried under contention and safe to repeat
//! after a crash.

use std::collections::HashMap;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use buoyant_kernel::table_properties::DataSkippingNumIndexedCols;
use deltalake::DeltaTable;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::transaction::{
    CommitBuilder, CommitProperties, TableReference, TransactionError,
};
use deltalake::kernel::{
    Action, Add, MetadataExt as _, Protocol, StructType, Transaction, new_metadata,
};
use deltalake::operations::write::writer::{DeltaWriter, WriterConfig};
use deltalake::protocol::{DeltaOperation, SaveMode};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as StorePath;
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

fn delta_err(
    table: &str,
    location: &Location,
) -> impl FnOnce(deltalake::DeltaTableError) -> LakeError {
    let table = table.to_string();
    let uri = location.to_string();
    move |error| LakeError::Delta { table, uri, error }
}

/// Writes `batches` as the next version of the Delta table at `location`,
/// creating the table on first use: [`stage`] then [`commit`], under a
/// transaction id of its own, so a commit whose outcome was lost (a timeout
/// after the request was sent) is found rather than repeated. `metadata`
/// goes into the commit's `commitInfo`, where every Delta reader's history
/// shows it.
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
    let staged = stage(table, location, schema, batches, mode, identifier).await?;
    let txn = AppTransaction {
        app_id: format!("seglake-write/{}", unique_id()),
        version: 1,
    };
    match commit(&staged, metadata, &txn, &CommitRetry::from_env()).await? {
        Committed::New(info) => Ok(info),
        Committed::Landed { version } => Ok(CommitInfo {
            table: table.to_string(),
            version,
        }),
    }
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
    match load_if_exists(table, location).await? {
        None => Ok(None),
        Some(delta) => transaction_version_of(table, location, &delta, app_id).await,
    }
}

/// The highest version of `app_id`'s transactions in the table as of
/// table version `version`: where a writer had got to when that version
/// was committed (`None` when it had committed nothing yet).
pub async fn transaction_version_at(
    table: &str,
    location: &Location,
    version: i64,
    app_id: &str,
) -> Result<Option<i64>> {
    let delta = crate::storage::delta_builder(location.to_url())
        .map_err(delta_err(table, location))?
        .with_version(version as u64)
        .load()
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
    if transaction_version(table, location, &txn.app_id)
        .await?
        .is_some_and(|v| v >= txn.version)
    {
        return Ok(None);
    }
    let staged = stage(
        table,
        location,
        schema,
        batches,
        WriteMode::Append,
        identifier,
    )
    .await?;
    match commit(&staged, metadata, &txn, &CommitRetry::from_env()).await? {
        Committed::New(info) => Ok(Some(info)),
        Committed::Landed { .. } => {
            staged.discard().await;
            Ok(None)
        }
    }
}

/// A table's next version written as data files that no reader sees yet:
/// only [`commit`] makes them part of the table. Files of a run that never
/// commits are orphans, which `vacuum` removes.
#[derive(Debug)]
pub struct StagedTable {
    pub table: String,
    pub location: Location,
    schema: SchemaRef,
    adds: Vec<Add>,
    mode: WriteMode,
    identifier: Option<String>,
}

impl StagedTable {
    /// The URLs of the staged data files, for a reader that must see them
    /// before they are committed (the cluster's scoring pass).
    pub fn file_urls(&self) -> Result<Vec<url::Url>> {
        let root = crate::storage::folder_url(&self.location.to_url());
        self.adds
            .iter()
            .map(|add| {
                root.join(&add.path)
                    .map_err(|source| LakeError::StagedFile {
                        table: self.table.clone(),
                        uri: self.location.to_string(),
                        path: add.path.clone(),
                        source,
                    })
            })
            .collect()
    }

    /// Deletes the staged files, for a run that will not commit them. Best
    /// effort: a file left behind is an orphan no reader sees.
    pub async fn discard(&self) {
        let Ok(log_store) =
            crate::storage::delta_builder(self.location.to_url()).and_then(|b| b.build_storage())
        else {
            return;
        };
        let store = log_store.object_store(None);
        for add in &self.adds {
            if let Err(e) = store.delete(&StorePath::from(add.path.as_str())).await {
                tracing::warn!(table = %self.table, error = %e, "a staged file was not removed");
            }
        }
    }
}

/// Writes `batches` as Parquet data files under the table's folder, with
/// the statistics Delta will record for them, and commits nothing.
pub async fn stage(
    table: &str,
    location: &Location,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    mode: WriteMode,
    identifier: Option<&str>,
) -> Result<StagedTable> {
    let log_store = crate::storage::delta_builder(location.to_url())
        .and_then(|b| b.build_storage())
        .map_err(delta_err(table, location))?;
    let stats_columns = identifier.map(|id| {
        stats_columns_without(&schema, id)
            .split(',')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    });
    let config = WriterConfig::new(
        schema.clone(),
        Vec::new(),
        None,
        None,
        None,
        DataSkippingNumIndexedCols::NumColumns(32),
        stats_columns,
    );
    let mut writer = DeltaWriter::new(log_store.object_store(None), config);
    for batch in batches.iter().filter(|b| b.num_rows() > 0) {
        writer
            .write(batch)
            .await
            .map_err(delta_err(table, location))?;
    }
    let adds = writer.close().await.map_err(delta_err(table, location))?;
    Ok(StagedTable {
        table: table.to_string(),
        location: location.clone(),
        schema,
        adds,
        mode,
        identifier: identifier.map(String::from),
    })
}

/// How a [`commit`] ended.
#[derive(Debug, Clone)]
pub enum Committed {
    /// This call made the commit.
    New(CommitInfo),
    /// A commit carrying the same transaction was already in the table
    /// before this call: an earlier process of the same run made it, with
    /// files of its own (the ones staged now are not in the table). A
    /// commit of this call whose reply was lost is [`Committed::New`].
    Landed { version: i64 },
}

impl Committed {
    pub fn version(&self) -> i64 {
        match self {
            Committed::New(c) => c.version,
            Committed::Landed { version } => *version,
        }
    }
}

/// How often and how patiently a commit is retried when other writers
/// commit to the same table first, or the store fails mid-commit.
#[derive(Debug, Clone)]
pub struct CommitRetry {
    pub attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for CommitRetry {
    fn default() -> Self {
        CommitRetry {
            attempts: 30,
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Sets [`CommitRetry::attempts`] (at least 1).
pub const COMMIT_ATTEMPTS_ENV: &str = "SEGLAKE_COMMIT_ATTEMPTS";

impl CommitRetry {
    /// The defaults, with the attempts from [`COMMIT_ATTEMPTS_ENV`] if set.
    pub fn from_env() -> Self {
        let mut retry = CommitRetry::default();
        if let Some(n) = std::env::var(COMMIT_ATTEMPTS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
        {
            retry.attempts = n.max(1);
        }
        retry
    }

    /// Exponential, capped, with jitter so that writers that collided once
    /// do not collide again in lock step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .first_backoff
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max_backoff);
        let jitter = jitter_fraction();
        exp.mul_f64(0.5 + jitter)
    }
}

/// What a single commit attempt's failure means for the next.
enum Failure {
    /// Another writer got there first, or the store failed (possibly after
    /// applying the commit): reload, look for the transaction, try again.
    Retry(String),
    Fatal(LakeError),
}

/// Commits a staged version carrying `txn`: the data files, a new schema
/// if it changed, and for a snapshot the removal of every file of the
/// version it replaces. Safe to call again for the same `txn` after any
/// failure or crash: a commit already carrying it is found (in the table's
/// snapshot) and reported as [`Committed::Landed`], never made twice.
///
/// delta-rs's own retry is turned off: its conflict check cannot tell our
/// own commit (applied, but the reply lost) from another writer's, so each
/// retry here reloads the table and looks for the transaction first, and
/// rebuilds a snapshot's removals against the version it now replaces.
pub async fn commit(
    staged: &StagedTable,
    metadata: &HashMap<String, serde_json::Value>,
    txn: &AppTransaction,
    retry: &CommitRetry,
) -> Result<Committed> {
    let mut last = String::new();
    for attempt in 1..=retry.attempts {
        match try_commit(staged, metadata, txn).await {
            // Found after one of this call's own attempts failed: that
            // attempt landed (its reply was lost), with these files.
            Ok(Committed::Landed { version }) if attempt > 1 => {
                tracing::info!(table = %staged.table, version, "a commit whose reply was lost had landed");
                return Ok(Committed::New(CommitInfo {
                    table: staged.table.clone(),
                    version,
                }));
            }
            Ok(done) => {
                if let Committed::New(c) = &done {
                    tracing::info!(table = %staged.table, version = c.version, uri = %staged.location, attempt, "published");
                }
                return Ok(done);
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(message)) => {
                tracing::warn!(table = %staged.table, attempt, %message, "commit not made; retrying");
                last = message;
                if attempt < retry.attempts {
                    tokio::time::sleep(retry.backoff(attempt)).await;
                }
            }
        }
    }
    Err(LakeError::Table {
        table: staged.table.clone(),
        uri: staged.location.to_string(),
        message: format!(
            "could not commit after {} attempts (other writers kept committing first, or the \
             store kept failing; raise {COMMIT_ATTEMPTS_ENV} to try longer): {last}",
            retry.attempts
        ),
    })
}

async fn try_commit(
    staged: &StagedTable,
    metadata: &HashMap<String, serde_json::Value>,
    txn: &AppTransaction,
) -> std::result::Result<Committed, Failure> {
    let (table, location) = (&staged.table, &staged.location);
    let fatal = |e: deltalake::DeltaTableError| Failure::Fatal(delta_err(table, location)(e));
    let delta = match load_if_exists(table, location).await {
        Ok(d) => d,
        Err(LakeError::Delta { error, .. }) if is_retryable(&error) => {
            return Err(Failure::Retry(error.to_string()));
        }
        Err(e) => return Err(Failure::Fatal(e)),
    };
    if let Some(delta) = &delta
        && let Some(version) = landed_version(staged, delta, txn).await?
    {
        return Ok(Committed::Landed { version });
    }
    let ours: StructType = staged
        .schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| fatal(e.into()))?;
    let stats = staged
        .identifier
        .as_deref()
        .map(|id| stats_columns_without(&staged.schema, id));
    let (mut actions, log_store, snapshot) = match &delta {
        None => {
            let actions = new_table_actions(table, &ours, stats).map_err(fatal)?;
            let log_store = crate::storage::delta_builder(location.to_url())
                .and_then(|b| b.build_storage())
                .map_err(fatal)?;
            (actions, log_store, None)
        }
        Some(delta) => {
            let state = delta.snapshot().map_err(fatal)?;
            let actions = existing_table_actions(staged, state, &ours, stats)?;
            (actions, delta.log_store(), Some(state))
        }
    };
    actions.extend(staged.adds.iter().cloned().map(Action::Add));
    let operation = DeltaOperation::Write {
        mode: match staged.mode {
            WriteMode::Snapshot => SaveMode::Overwrite,
            WriteMode::Append => SaveMode::Append,
        },
        partition_by: None,
        predicate: None,
    };
    let properties = CommitProperties::default()
        .with_metadata(metadata.clone())
        .with_application_transaction(Transaction::new(txn.app_id.clone(), txn.version))
        .with_max_retries(0);
    let done = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(
            snapshot.map(|s| s as &dyn TableReference),
            log_store,
            operation,
        )
        .await;
    match done {
        Ok(done) => Ok(Committed::New(CommitInfo {
            table: table.clone(),
            version: done.version() as i64,
        })),
        Err(e) if is_retryable(&e) => Err(Failure::Retry(e.to_string())),
        Err(e) => Err(fatal(e)),
    }
}

/// The version at which this run's commit of the table already landed
/// (an earlier attempt whose answer was lost), if it did.
async fn landed_version(
    staged: &StagedTable,
    delta: &DeltaTable,
    txn: &AppTransaction,
) -> std::result::Result<Option<i64>, Failure> {
    let (table, location) = (&staged.table, &staged.location);
    let landed = transaction_version_of(table, location, delta, &txn.app_id)
        .await
        .map_err(Failure::Fatal)?;
    if !landed.is_some_and(|v| v >= txn.version) {
        return Ok(None);
    }
    let version = version_of_transaction(table, location, &txn.app_id)
        .await
        .map_err(Failure::Fatal)?;
    Ok(Some(version))
}

/// The protocol and metadata that create table `table` with schema `ours`.
fn new_table_actions(
    table: &str,
    ours: &StructType,
    stats: Option<String>,
) -> std::result::Result<Vec<Action>, deltalake::DeltaTableError> {
    let protocol: Protocol =
        serde_json::from_value(serde_json::json!({"minReaderVersion": 1, "minWriterVersion": 2}))
            .map_err(deltalake::DeltaTableError::from)?;
    let configuration: Vec<(String, String)> = stats
        .map(|s| vec![(STATS_COLUMNS.to_string(), s)])
        .unwrap_or_default();
    let meta = new_metadata(ours, Vec::<String>::new(), configuration)
        .and_then(|m| m.with_name(table.to_string()))
        .map_err(deltalake::DeltaTableError::from)?;
    Ok(vec![Action::Protocol(protocol), Action::Metadata(meta)])
}

/// What a commit to an existing table adds before the new files: new
/// metadata when the columns change, and for a snapshot the removal of
/// every file of the current version.
fn existing_table_actions(
    staged: &StagedTable,
    state: &deltalake::table::state::DeltaTableState,
    ours: &StructType,
    stats: Option<String>,
) -> std::result::Result<Vec<Action>, Failure> {
    let (table, location) = (&staged.table, &staged.location);
    let fatal = |e: deltalake::DeltaTableError| Failure::Fatal(delta_err(table, location)(e));
    let mut actions = Vec::new();
    let theirs = state.schema();
    if *ours != *theirs.as_ref() {
        if staged.mode == WriteMode::Append {
            append_keeps_columns(staged, &theirs, ours).map_err(Failure::Fatal)?;
        }
        // A snapshot replaces the columns too (a job's feature list may
        // change).
        let mut meta = state
            .metadata()
            .clone()
            .with_schema(ours)
            .map_err(|e| fatal(e.into()))?;
        if let Some(s) = stats {
            meta = meta
                .add_config_key(STATS_COLUMNS.to_string(), s)
                .map_err(|e| fatal(e.into()))?;
        }
        actions.push(Action::Metadata(meta));
    }
    if staged.mode == WriteMode::Snapshot {
        actions.extend(
            state
                .log_data()
                .iter()
                .map(|f| Action::Remove(f.remove_action(true))),
        );
    }
    Ok(actions)
}

/// An append may add columns (the runs table gains columns as seglake
/// grows) but never drops or retypes one: rows already there must still
/// read.
fn append_keeps_columns(
    staged: &StagedTable,
    theirs: &StructType,
    ours: &StructType,
) -> Result<()> {
    for field in theirs.fields() {
        match ours.field(field.name()) {
            Some(f) if f.data_type() == field.data_type() => {}
            _ => {
                return Err(LakeError::ColumnMismatch {
                    table: staged.table.clone(),
                    uri: staged.location.to_string(),
                    column: field.name().to_string(),
                    data_type: field.data_type().to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Failures another attempt can fix: a commit conflict, or a store error
/// (which object_store has already retried; the commit may have landed).
fn is_retryable(e: &deltalake::DeltaTableError) -> bool {
    use deltalake::DeltaTableError as E;
    match e {
        E::VersionAlreadyExists(_) | E::ObjectStore { .. } | E::Io { .. } => true,
        E::Transaction { source } => matches!(
            source,
            TransactionError::CommitConflict(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::VersionAlreadyExists(_)
                | TransactionError::ObjectStore { .. }
        ),
        _ => false,
    }
}

/// The table version whose commit carries `app_id`'s transaction.
async fn version_of_transaction(table: &str, location: &Location, app_id: &str) -> Result<i64> {
    crate::history::history(table, location)
        .await?
        .into_iter()
        .find(|e| e.transactions.iter().any(|t| t == app_id))
        .map(|e| e.version)
        .ok_or_else(|| LakeError::TransactionNotFound {
            table: table.to_string(),
            uri: location.to_string(),
            app_id: app_id.to_string(),
        })
}

/// The table at its latest version, or `None` when there is none yet. A
/// table that does not exist is not loaded: loading one makes the Delta
/// kernel log an error for the empty log it finds.
async fn load_if_exists(table: &str, location: &Location) -> Result<Option<DeltaTable>> {
    if !crate::table::table_exists(location).await? {
        return Ok(None);
    }
    let delta = crate::storage::delta_builder(location.to_url())
        .map_err(delta_err(table, location))?
        .load()
        .await
        .map_err(delta_err(table, location))?;
    Ok(Some(delta))
}

/// A random id for one write, from the OS.
fn unique_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the OS random source");
    hex::encode(bytes)
}

/// A number in [0, 1) that differs between processes and calls.
fn jitter_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source");
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
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
        crate::storage::delta_builder(location.to_url()).map_err(delta_err(table, location))?;
    if let Some(v) = version {
        builder = builder.with_version(v as u64);
    }
    let delta = builder.load().await.map_err(delta_err(table, location))?;
    let ctx = SessionContext::new();
    delta
        .update_datafusion_session(&ctx.state())
        .map_err(delta_err(table, location))?;
    let read_err = |source| LakeError::Read {
        table: table.to_string(),
        uri: location.to_string(),
        source,
    };
    let provider = delta.table_provider().await.map_err(read_err)?;
    let df = ctx.read_table(provider).map_err(read_err)?;
    df.collect().await.map_err(read_err)
}

#[cfg(test)]
mod append_tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn kernel(fields: Vec<Field>) -> StructType {
        (&Schema::new(fields)).try_into_kernel().unwrap()
    }

    fn runs_table() -> StagedTable {
        StagedTable {
            table: "runs".into(),
            location: Location::Local("lake/runs".into()),
            schema: Arc::new(Schema::empty()),
            adds: Vec::new(),
            mode: WriteMode::Append,
            identifier: None,
        }
    }

    #[test]
    fn an_append_may_add_a_column_but_never_drop_or_retype_one() {
        let run_id = Field::new("run_id", DataType::Utf8, false);
        let rows = Field::new("rows", DataType::Int64, true);
        let theirs = kernel(vec![run_id.clone(), rows.clone()]);
        let added = kernel(vec![
            run_id.clone(),
            rows,
            Field::new("states", DataType::Utf8, true),
        ]);
        assert!(append_keeps_columns(&runs_table(), &theirs, &added).is_ok());
        let dropped = kernel(vec![run_id.clone()]);
        let retyped = kernel(vec![run_id, Field::new("rows", DataType::Utf8, true)]);
        for ours in [dropped, retyped] {
            let err = append_keeps_columns(&runs_table(), &theirs, &ours)
                .unwrap_err()
                .to_string();
            assert!(err.contains("`rows`") && err.contains("runs"), "{err}");
        }
    }
}
