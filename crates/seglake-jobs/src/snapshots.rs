//! PostgreSQL sources at run start. Each is snapshotted into the lake as
//! Parquet, under `_snapshots/RUN_ID/SOURCE/` beside the tables, before
//! any view reads it; the run reads the snapshot as a Parquet source and
//! `runs` records its location, row count and SHA-256, so a reproduction
//! reads the same rows whatever the database holds by then.
//!
//! A snapshot is complete when its marker file (`_snapshot.json`, the
//! [`SnapshotRecord`]) is there: it is written last. An attempt of the same
//! run that crashed after completing one reads it again rather than asking
//! the database twice; a folder without the marker is taken anew. A run
//! that fails removes its snapshots.

use std::path::Path;

use arrow::datatypes::SchemaRef;
use seglake_lake::PinnedInput;
use seglake_postgres::{PasswordSource, PostgresSource, Secret, SnapshotOptions, SnapshotSummary};
use seglake_spec::lineage::SnapshotRecord;
use seglake_spec::postgres::PostgresSettings;
use seglake_spec::{Location, SourceSpec};

use crate::error::{JobError, Result};

/// The lake folder holding every run's snapshots; its name starts with `_`
/// so that nothing reading the lake's folders takes it for a table.
pub const SNAPSHOTS_FOLDER: &str = "_snapshots";

/// The file that marks a snapshot complete and describes it.
const MARKER: &str = "_snapshot.json";

/// The folder of run `run_id`'s snapshots.
pub fn run_folder(root: &Location, run_id: &str) -> Location {
    root.join(SNAPSHOTS_FOLDER).join(run_id)
}

/// Snapshots the postgres `source` for run `run_id` into the lake at
/// `root` (or finds the snapshot an earlier attempt of the run completed)
/// and pins the snapshot's files.
pub(crate) async fn pin_snapshot(
    root: &Location,
    run_id: &str,
    source: &SourceSpec,
) -> Result<PinnedInput> {
    let settings = settings_of(source);
    let location = run_folder(root, run_id).join(&source.name);
    let record = match completed(&location).await? {
        Some(record) => {
            tracing::info!(source = %source.name, location = %location, "reading the snapshot an earlier attempt of this run took");
            record
        }
        None => take(source, settings, &location).await?,
    };
    let mut pinned = seglake_lake::resolve_input(&source.snapshot_at(location)).await?;
    pinned.snapshot = Some(record);
    Ok(pinned)
}

/// The snapshot's record when a complete one is at `location`.
async fn completed(location: &Location) -> Result<Option<SnapshotRecord>> {
    let Some(bytes) = seglake_lake::read_file(location, MARKER).await? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| JobError::Snapshot {
            what: format!("the snapshot marker {location}/{MARKER}"),
            message: e.to_string(),
        })
}

/// Takes the snapshot into `location`: directly on a local lake, through a
/// local temporary folder for an object store. Anything a crashed attempt
/// left there unfinished is removed first.
async fn take(
    source: &SourceSpec,
    settings: &PostgresSettings,
    location: &Location,
) -> Result<SnapshotRecord> {
    seglake_lake::remove_folder(location).await?;
    let password = password(source, settings)?;
    let postgres = postgres_source(settings);
    let summary = match location {
        Location::Local(dir) => snapshot_into(source, &postgres, password.as_ref(), dir).await?,
        Location::Url(_) => {
            let staging = tempfile::tempdir().map_err(|e| JobError::Snapshot {
                what: "a temporary folder for the snapshot".into(),
                message: e.to_string(),
            })?;
            let dir = staging.path().join(&source.name);
            let summary = snapshot_into(source, &postgres, password.as_ref(), &dir).await?;
            seglake_lake::copy_folder_in(&dir, location).await?;
            summary
        }
    };
    let record = SnapshotRecord {
        source: source.name.clone(),
        database: settings.uri.clone(),
        relation: settings
            .table
            .clone()
            .or_else(|| settings.query.clone())
            .unwrap_or_default(),
        location: location.to_string(),
        rows: summary.rows as i64,
        sha256: summary.sha256.clone(),
        server_version: summary.server_version.clone(),
    };
    let marker = serde_json::to_vec_pretty(&record).expect("a record serialises");
    seglake_lake::write_file(location, MARKER, marker).await?;
    tracing::info!(source = %source.name, rows = record.rows, sha256 = %record.sha256, location = %location, "snapshotted a postgres source");
    Ok(record)
}

async fn snapshot_into(
    source: &SourceSpec,
    postgres: &PostgresSource,
    password: Option<&Secret>,
    dir: &Path,
) -> Result<SnapshotSummary> {
    seglake_postgres::snapshot(postgres, password, dir, &SnapshotOptions::default())
        .await
        .map_err(postgres_error(source))
}

/// The columns a snapshot of `source` would have, asked of the server
/// without reading rows: what `validate` plans the views with.
pub(crate) async fn describe(source: &SourceSpec) -> Result<SchemaRef> {
    let settings = settings_of(source);
    let password = password(source, settings)?;
    seglake_postgres::describe(
        &postgres_source(settings),
        password.as_ref(),
        &SnapshotOptions::default(),
    )
    .await
    .map_err(postgres_error(source))
}

/// Removes run `run_id`'s snapshots after it failed (the log says when
/// even that fails: the run's own error is what the caller reports).
pub(crate) async fn discard(root: &Location, run_id: &str) {
    let folder = run_folder(root, run_id);
    if let Err(e) = seglake_lake::remove_folder(&folder).await {
        tracing::warn!(folder = %folder, error = %e, "could not remove the failed run's snapshots");
    }
}

fn settings_of(source: &SourceSpec) -> &PostgresSettings {
    source
        .postgres
        .as_ref()
        .expect("only postgres sources are snapshotted")
}

fn password(source: &SourceSpec, settings: &PostgresSettings) -> Result<Option<Secret>> {
    PasswordSource::from_settings(
        settings.password_env.as_deref(),
        settings.password_file.as_deref(),
    )
    .resolve()
    .map_err(postgres_error(source))
}

fn postgres_source(settings: &PostgresSettings) -> PostgresSource {
    PostgresSource {
        uri: settings.uri.clone(),
        table: settings.table.clone(),
        query: settings.query.clone(),
        partition_column: settings.partition_column.clone(),
        partitions: settings.partitions,
    }
}

fn postgres_error(
    source: &SourceSpec,
) -> impl FnOnce(seglake_postgres::PostgresError) -> JobError + '_ {
    move |error| JobError::Postgres {
        source_name: source.name.clone(),
        what: source
            .postgres
            .as_ref()
            .map(PostgresSettings::what)
            .unwrap_or_default(),
        source: error,
    }
}
