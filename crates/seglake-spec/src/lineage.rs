//! The lineage record of one run: what went in (inputs at their versions,
//! the spec, the SQL), what came out (tables at their versions, row counts),
//! and what the data-quality checks found. It is stored as one row of the
//! `runs` table, whose columns mirror these fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a run ended, as the `runs` table's `status` column spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Every table was committed and the lineage row written.
    Succeeded,
    /// The run stopped; `error` says why and `outputs` what had landed.
    Failed,
    /// Not a run: `seglake promote` made an earlier run's models the
    /// champion. `metrics.promotion` says which run, who, when and why.
    Promotion,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Promotion => "promotion",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunRecord {
    pub run_id: String,
    pub job_name: String,
    pub status: RunStatus,
    pub spec_path: String,
    pub spec_text: String,
    pub spec_sha256: String,
    pub sql_files: Vec<SqlFileRecord>,
    pub inputs: Vec<InputRecord>,
    pub seed: i64,
    pub as_of: DateTime<Utc>,
    pub seglake_version: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub rows_in: Vec<TableCount>,
    pub rows_out: Vec<TableCount>,
    pub quality: QualityRecord,
    pub outputs: Vec<OutputRecord>,
    /// The segmentation's metrics as a JSON document (inertia, silhouette
    /// with its sample size, Davies-Bouldin, Calinski-Harabasz, sizes,
    /// iterations, every k tried), when the job segments customers.
    #[serde(default)]
    pub metrics: Option<String>,
    /// The run as an OpenLineage `RunEvent` (JSON), as sent to a lineage
    /// backend when one is configured.
    #[serde(default)]
    pub openlineage: Option<String>,
    /// Why a `failed` run failed.
    #[serde(default)]
    pub error: Option<String>,
    /// The snapshots the run took of its PostgreSQL sources (runs recorded
    /// before the column existed read as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub snapshots: Vec<SnapshotRecord>,
    /// How the run brought each incremental view's state up to date (runs
    /// recorded before the column existed read as none).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub states: Vec<StateRecord>,
}

/// One incremental view's state as a run computed it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StateRecord {
    pub view: String,
    /// The state table (`state_<view>`).
    pub table: String,
    /// The view's SQL hash and incremental settings: a later run refuses a
    /// state whose fingerprint is not its own.
    pub fingerprint: String,
    /// `full` (every day computed) or `incremental`.
    pub mode: String,
    /// Why the state was computed in full.
    pub reason: Option<String>,
    /// New files (or Delta data files) of the source read.
    pub new_files: i64,
    pub days_computed: i64,
    /// Days kept from the previous state as they were.
    pub days_kept: i64,
    /// Days of the previous state before the window, dropped.
    pub days_dropped: i64,
}

/// A PostgreSQL source as a run snapshotted it at run start: the run read
/// the Parquet files at `location` (also its input's files), and a
/// reproduction reads them again whatever the database holds by then.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SnapshotRecord {
    /// The source's name in the job.
    pub source: String,
    /// The database URI (it never holds a password).
    pub database: String,
    /// The table, or the query's text.
    pub relation: String,
    /// The folder of the snapshot's Parquet files.
    pub location: String,
    pub rows: i64,
    /// SHA-256 of the files' bytes concatenated in name order, hex.
    pub sha256: String,
    /// The server's `server_version`.
    pub server_version: String,
}

/// A list column that older rows hold as null.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SqlFileRecord {
    pub view: String,
    pub path: String,
    pub sha256: String,
    pub text: String,
}

/// One input at the version the run read. Delta sources carry their table
/// version; file sources (Parquet, CSV) carry every file they were made of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputRecord {
    pub name: String,
    pub uri: String,
    pub format: String,
    pub delta_version: Option<i64>,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileRecord {
    pub path: String,
    pub size: i64,
    pub last_modified: DateTime<Utc>,
    pub etag: Option<String>,
}

impl FileRecord {
    /// The same file with the same bytes, as far as the store tells: path,
    /// size and (when recorded) ETag. Not the modification time, which
    /// `runs` keeps in microseconds and a store may give in nanoseconds.
    pub fn same_file(&self, other: &FileRecord) -> bool {
        self.path == other.path
            && self.size == other.size
            && (self.etag.is_none() || self.etag == other.etag)
    }
}

impl InputRecord {
    /// The same input at the same version: the same Delta version, or the
    /// same files (see [`FileRecord::same_file`]).
    pub fn same_version(&self, other: &InputRecord) -> bool {
        self.name == other.name
            && self.uri == other.uri
            && self.delta_version == other.delta_version
            && self.files.len() == other.files.len()
            && self
                .files
                .iter()
                .all(|f| other.files.iter().any(|o| f.same_file(o)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TableCount {
    pub table: String,
    pub rows: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct QualityRecord {
    pub duplicates_removed: Vec<DuplicateCount>,
    pub missing_values: Vec<MissingCount>,
    pub outliers: Vec<OutlierCount>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DuplicateCount {
    pub table: String,
    pub key: Vec<String>,
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MissingCount {
    pub table: String,
    pub column: String,
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutlierCount {
    pub rule: String,
    pub table: String,
    pub column: String,
    pub condition: String,
    pub rows: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputRecord {
    pub table: String,
    pub version: i64,
}
