//! PostgreSQL sources: a table or a query snapshotted into Parquet at run
//! start, so the run reads (and a reproduction re-reads) exactly those rows
//! whatever the database does afterwards.
//!
//! [`snapshot`] takes a [`PostgresSource`] and a directory that must not
//! exist yet, and returns a [`SnapshotSummary`] (location, row count, files,
//! SHA-256) for the run's lineage:
//!
//! ```no_run
//! # async fn run() -> seglake_postgres::Result<()> {
//! use seglake_postgres::{PasswordSource, PostgresSource, SnapshotOptions, snapshot};
//!
//! let source = PostgresSource {
//!     uri: "postgres://bank@db.internal:5432/core".into(),
//!     table: Some("public.customers".into()),
//!     query: None,
//!     partition_column: None, // the integer primary key, if there is one
//!     partitions: 4,
//! };
//! source.check()?; // offline: `seglake validate`
//! let password = PasswordSource::from_settings(None, None).resolve()?; // PGPASSWORD
//! let out = std::path::Path::new("lake/_snapshots/run-1/customers");
//! let summary = snapshot(&source, password.as_ref(), out, &SnapshotOptions::default()).await?;
//! println!("{} rows, sha256 {}", summary.rows, summary.sha256);
//! # Ok(()) }
//! ```
//!
//! How a snapshot is taken:
//!
//! 1. The settings are checked without a server ([`PostgresSource::check`]):
//!    one of table and query; a query is one `SELECT`/`WITH` (checked
//!    lexically, then run read-only); the URI has no password.
//! 2. A coordinating connection opens a `REPEATABLE READ READ ONLY`
//!    transaction and exports its snapshot (`pg_export_snapshot()`); in it
//!    the table is looked up, the result's column types are mapped to Arrow
//!    (any unmappable one is an error naming it, see [`types`]) and the
//!    partition column's [min, max] is cut into ranges ([`ranges`]).
//! 3. One connection per range attaches to that snapshot (`SET TRANSACTION
//!    SNAPSHOT`), so all ranges see the same rows, and reads its range in
//!    order, spooling it to an Arrow IPC file.
//! 4. The spooled ranges are written in order as `part-00000.parquet`, ...
//!    with fixed batch, page, row group and file sizes and fixed writer
//!    settings, so the bytes depend on the rows only, not on how many
//!    ranges read them.
//! 5. All of it happens in a hidden sibling directory, renamed to the output
//!    path only when complete: on any error nothing is left there.
//!
//! Passwords come from the environment or a file ([`PasswordSource`]) as a
//! [`Secret`], which no `Debug`, `Display` or error prints. Connections are
//! plain TCP: no TLS connector is built in yet.

#![warn(missing_docs)]

mod connect;
mod error;
mod plan;
pub mod ranges;
mod read;
mod secret;
mod source;
pub mod sql;
pub mod types;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;

pub use error::{PostgresError, Result};
pub use ranges::KeyRange;
pub use secret::{DEFAULT_PASSWORD_VARIABLE, PasswordSource, Secret};
pub use source::{MAX_PARTITIONS, PostgresSource};
pub use write::{SnapshotFile, checksum};

/// How a snapshot is taken, beyond what the source says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Bound on connecting and authenticating (each connection), unless the
    /// URI sets `connect_timeout`. Default 10 s.
    pub connect_timeout: Duration,
    /// Rows per Parquet file (the last one holds the rest). Default
    /// 1,048,576.
    pub rows_per_file: usize,
    /// Rows per row group. Default 131,072.
    pub row_group_rows: usize,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            connect_timeout: Duration::from_secs(10),
            rows_per_file: 1 << 20,
            row_group_rows: 1 << 17,
        }
    }
}

/// One range as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRead {
    /// The partition column's bounds.
    pub range: KeyRange,
    /// Rows read in the range.
    pub rows: u64,
}

/// What a snapshot holds: what a run records about its input.
#[derive(Debug, Clone)]
pub struct SnapshotSummary {
    /// The directory holding the files (the output path).
    pub location: PathBuf,
    /// Rows in the snapshot.
    pub rows: u64,
    /// The Parquet files, in name (and row) order.
    pub files: Vec<SnapshotFile>,
    /// SHA-256 of the files' bytes concatenated in name order, hex (see
    /// [`checksum`]).
    pub sha256: String,
    /// The Arrow schema of the files (every field nullable).
    pub schema: SchemaRef,
    /// The column rows are ordered and ranges cut by, if any (else rows are
    /// ordered by every column).
    pub partition_column: Option<String>,
    /// The ranges read, in order.
    pub ranges: Vec<RangeRead>,
    /// The server's `server_version`.
    pub server_version: String,
}

/// Snapshots `source` into Parquet files in the directory `output`, which
/// must not exist (its parent is created if needed). `password`: from
/// [`PasswordSource::resolve`]. On error nothing exists at `output`.
pub async fn snapshot(
    source: &PostgresSource,
    password: Option<&Secret>,
    output: &Path,
    options: &SnapshotOptions,
) -> Result<SnapshotSummary> {
    if options.rows_per_file == 0 || options.row_group_rows == 0 {
        return Err(PostgresError::Invalid(
            "rows_per_file and row_group_rows must be positive".into(),
        ));
    }
    let checked = source.checked(options.connect_timeout)?;
    refuse_existing(output)?;
    let coordinator = checked.target.connect(password).await?;
    let plan = Arc::new(plan::plan(&coordinator, &checked).await?);
    tracing::info!(
        source = %checked.what(),
        server = %checked.target.server,
        ranges = plan.ranges.len(),
        partition_column = ?plan.partition_column,
        "snapshotting a postgres source"
    );
    let staging = Staging::create(output)?;
    let spooled = read::read_ranges(&checked, password, &plan, &staging.spool_dir()).await?;
    // Every reader has attached to the snapshot and finished: the
    // exporting transaction can end.
    drop(coordinator);
    let spool_paths: Vec<PathBuf> = spooled.iter().map(|s| s.path.clone()).collect();
    let schema = plan.schema.clone();
    let dir = staging.path().to_path_buf();
    let layout = write::Layout {
        rows_per_file: options.rows_per_file,
        row_group_rows: options.row_group_rows,
    };
    // Encoding Parquet is CPU work: off the async threads.
    let written = tokio::task::spawn_blocking(move || {
        write::write_snapshot(&spool_paths, &schema, &dir, layout)
    })
    .await
    .map_err(|e| PostgresError::Task(e.to_string()))??;
    staging.publish(output)?;
    Ok(SnapshotSummary {
        location: output.to_path_buf(),
        rows: written.files.iter().map(|f| f.rows).sum(),
        files: written.files,
        sha256: written.sha256,
        schema: plan.schema.clone(),
        partition_column: plan.partition_column.clone(),
        ranges: spooled
            .iter()
            .map(|s| RangeRead {
                range: s.range,
                rows: s.rows,
            })
            .collect(),
        server_version: plan.server_version.clone(),
    })
}

/// The Arrow schema a snapshot of `source` would have, asked of the server
/// without reading a row: what `seglake validate` plans the views with.
/// Every check [`snapshot`] makes before reading is made (connection,
/// password, table, query, column types, partition column).
pub async fn describe(
    source: &PostgresSource,
    password: Option<&Secret>,
    options: &SnapshotOptions,
) -> Result<SchemaRef> {
    let checked = source.checked(options.connect_timeout)?;
    let coordinator = checked.target.connect(password).await?;
    let plan = plan::plan(&coordinator, &checked).await?;
    Ok(plan.schema.clone())
}

/// Snapshots are never overwritten: a run writes a new one.
fn refuse_existing(output: &Path) -> Result<()> {
    if output.symlink_metadata().is_ok() {
        return Err(PostgresError::OutputExists {
            path: output.display().to_string(),
        });
    }
    Ok(())
}

/// The hidden sibling directory a snapshot is written in; removed when
/// dropped unless published.
struct Staging {
    dir: tempfile::TempDir,
}

impl Staging {
    fn create(output: &Path) -> Result<Self> {
        let parent = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent).map_err(PostgresError::io(parent))?;
        let name = output
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "snapshot".into());
        let dir = tempfile::Builder::new()
            .prefix(&format!(".{name}.partial-"))
            .tempdir_in(parent)
            .map_err(PostgresError::io(parent))?;
        let staging = Staging { dir };
        let spool = staging.spool_dir();
        std::fs::create_dir(&spool).map_err(PostgresError::io(&spool))?;
        Ok(staging)
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn spool_dir(&self) -> PathBuf {
        self.dir.path().join(".spool")
    }

    /// Drops the spool files and renames the directory to `output`.
    fn publish(self, output: &Path) -> Result<()> {
        let spool = self.spool_dir();
        std::fs::remove_dir_all(&spool).map_err(PostgresError::io(&spool))?;
        refuse_existing(output)?;
        std::fs::rename(self.dir.path(), output).map_err(PostgresError::io(output))?;
        // Renamed: the TempDir must not delete the published directory.
        let _ = self.dir.keep();
        if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
            // Makes the rename durable; a filesystem that cannot sync a
            // directory still has the files.
            if let Ok(dir) = std::fs::File::open(parent) {
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}
