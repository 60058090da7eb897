//! The job file exactly as written. Every table rejects keys it does not
//! know, so a typo (`sead = 1`) is an error rather than a silent default.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJob {
    pub job: RawJobSection,
    /// Values substituted for `${name}` in source URIs and the output root.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    pub sources: BTreeMap<String, RawSource>,
    pub features: RawFeatures,
    #[serde(default)]
    pub quality: RawQuality,
    /// Customer segmentation; no segments are trained without it.
    #[serde(default)]
    pub segments: Option<RawSegments>,
    /// Risk scores; none are trained without it.
    #[serde(default)]
    pub risk: Option<RawRisk>,
    /// Pseudonymised customer ids.
    #[serde(default)]
    pub privacy: Option<RawPrivacy>,
    /// Names screened against a sanctions list.
    #[serde(default)]
    pub screening: Option<RawScreening>,
    /// Monitoring rules that turn segments and risk into alerts.
    #[serde(default)]
    pub rules: Option<RawRules>,
    /// The bank's outcome codes, mapped onto seglake's four outcomes.
    #[serde(default)]
    pub outcomes: Option<crate::outcomes::RawOutcomes>,
    /// Limits a run's models must stay within to become the champion
    /// (checked by [`crate::monitoring::validate`], which names unknown
    /// limits itself).
    #[serde(default)]
    pub monitoring: Option<BTreeMap<String, toml::Value>>,
    pub output: RawOutput,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRules {
    /// The folder of the rules' SQL files.
    pub sql_dir: String,
    /// Every threshold parameter's one-size value.
    #[serde(default)]
    pub thresholds: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub segment_thresholds: Vec<RawSegmentThresholds>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<RawRule>,
    /// Case-manager endpoints for `seglake deliver --job`.
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<RawWebhook>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<String>,
}

/// Overrides for some segments: `segment` or `profile`, then parameter =
/// value pairs (checked against the one-size parameters, since the pairs
/// cannot be listed here).
#[derive(Debug, Deserialize)]
pub struct RawSegmentThresholds {
    #[serde(default)]
    pub segment: Option<toml::Value>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(flatten)]
    pub values: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// The SQL file's name (`.sql` optional).
    pub name: String,
    pub action: String,
    pub severity: String,
    #[serde(default)]
    pub suppress_for: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScreening {
    /// The source holding the list.
    pub list: String,
    /// The list's layout: `ofac_sdn` or `internal`.
    pub format: String,
    #[serde(default)]
    pub threshold: Option<f64>,
    #[serde(default)]
    pub entry_types: Option<Vec<String>>,
    #[serde(default)]
    pub parties: Vec<RawParty>,
}

/// Names to screen: one column of one source, with the id it belongs to.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParty {
    pub party: String,
    pub table: String,
    pub key: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrivacy {
    #[serde(default)]
    pub pseudonymise: bool,
    /// The environment variable holding the HMAC key.
    #[serde(default)]
    pub key_env: Option<String>,
    /// A file holding the HMAC key (a mounted secret).
    #[serde(default)]
    pub key_file: Option<String>,
    /// Never accepted: present only to refuse a key written into the job
    /// with a message that says where keys go.
    #[serde(default)]
    pub key: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJobSection {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub seed: u64,
    /// RFC 3339 time that bounds the feature window; the run's start time
    /// when absent.
    #[serde(default)]
    pub as_of: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub uri: String,
    pub format: RawFormat,
    /// Delta sources only: the table version to read.
    #[serde(default)]
    pub version: Option<i64>,
    /// Columns that identify a row; rows repeating a key are dropped (and
    /// counted) before any view sees the source.
    #[serde(default)]
    pub dedupe_on: Vec<String>,
    /// PostgreSQL sources only: the table (`name` or `schema.name`).
    #[serde(default)]
    pub table: Option<String>,
    /// PostgreSQL sources only: one `SELECT` (instead of `table`).
    #[serde(default)]
    pub query: Option<String>,
    /// PostgreSQL sources only: the integer column ranges are cut by.
    #[serde(default)]
    pub partition_column: Option<String>,
    /// PostgreSQL sources only: how many ranges are read at once.
    #[serde(default)]
    pub partitions: Option<usize>,
    /// PostgreSQL sources only: the environment variable holding the
    /// password (default `PGPASSWORD`).
    #[serde(default)]
    pub password_env: Option<String>,
    /// PostgreSQL sources only: a file holding the password.
    #[serde(default)]
    pub password_file: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawFormat {
    Parquet,
    Delta,
    Csv,
    Postgres,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeatures {
    pub sql_dir: String,
    pub views: Vec<String>,
    pub key: String,
    #[serde(default = "default_output_table")]
    pub output_table: String,
    /// Views computed once per run into scratch storage, for views that
    /// later views read several times (as dbt's `materialized = 'table'`).
    #[serde(default)]
    pub materialize: Vec<String>,
    /// Views kept as per-day state and recomputed only for the days new
    /// source rows fall on.
    #[serde(default)]
    pub incremental: Vec<crate::incremental::RawIncremental>,
    /// A view whose result could depend on row order or on when it runs
    /// (`ARRAY_AGG` without `ORDER BY`, `random()`, ...) is an error
    /// instead of a warning.
    #[serde(default)]
    pub strict_determinism: bool,
    /// Text columns both models read as categories: a list, or "auto".
    #[serde(default)]
    pub categorical: Option<crate::categorical::RawCategorical>,
    /// The most distinct values a categorical column may have.
    #[serde(default)]
    pub max_categories: Option<usize>,
}

fn default_output_table() -> String {
    "customer_features".to_string()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQuality {
    #[serde(default)]
    pub outliers: Vec<RawOutlierRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutlierRule {
    pub name: String,
    pub table: String,
    pub column: String,
    #[serde(default)]
    pub above: Option<f64>,
    #[serde(default)]
    pub below: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub root: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSegments {
    #[serde(default)]
    pub algorithm: RawAlgorithm,
    /// A number, or "auto" with `k_range`; not read by DBSCAN.
    #[serde(default)]
    pub k: Option<RawK>,
    #[serde(default)]
    pub k_range: Option<Vec<usize>>,
    /// Feature columns to cluster on; every numeric column but the key when
    /// absent.
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Rows the silhouette is computed on.
    pub silhouette_sample: Option<usize>,
    /// Rows DBSCAN and hierarchical clustering run on.
    pub cluster_sample: Option<usize>,
    pub eps: Option<f64>,
    pub min_points: Option<usize>,
    /// Features named in a segment's label (largest |z| first).
    pub label_features: Option<usize>,
    /// The table with case outcomes (customer key, `outcome`): a source, a
    /// feature view, or an SQL file of that name in the views' folder.
    pub outcomes: Option<String>,
    #[serde(default)]
    pub prepare: RawPrepare,
    /// How k-means reads categorical features: "one_hot" or "frequency".
    pub categorical_encoding: Option<String>,
    /// Never accepted: the job's seed (`job.seed`) seeds every model.
    #[serde(default)]
    pub seed: Option<toml::Value>,
    /// Mini-batch k-means settings (`batch_size`, `max_epochs`, ...):
    /// seglake-ml's own parameters, read straight from this section.
    #[serde(flatten)]
    pub kmeans: seglake_ml::KMeansParams,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawAlgorithm {
    #[default]
    Kmeans,
    Dbscan,
    Hierarchical,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawK {
    Number(usize),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrepare {
    #[serde(flatten)]
    pub all: RawPrepareFeature,
    /// Per-feature overrides, by column name.
    #[serde(default)]
    pub features: BTreeMap<String, RawPrepareFeature>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrepareFeature {
    /// `[low, high]` quantiles, or `false` for no clipping.
    pub clip: Option<RawClip>,
    /// "auto", "always" or "never".
    pub log: Option<String>,
    pub standardise: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawClip {
    Off(bool),
    Bounds(Vec<f64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRisk {
    /// The label view: a SQL file in `features.sql_dir` (without `.sql`).
    pub labels: String,
    #[serde(default)]
    pub features: Option<Vec<String>>,
    #[serde(default)]
    pub exclude: Vec<String>,
    pub segment_feature: Option<bool>,
    pub reasons: Option<usize>,
    pub per_segment: Option<bool>,
    pub default_band: Option<String>,
    #[serde(default)]
    pub bands: Vec<RawBand>,
    /// Never accepted: the job's seed (`job.seed`) seeds every model.
    #[serde(default)]
    pub seed: Option<toml::Value>,
    /// The booster's settings (`num_trees`, `num_leaves`, ...): seglake-ml's
    /// own parameters, read straight from this section.
    #[serde(flatten)]
    pub booster: seglake_ml::GbdtParams,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBand {
    pub name: String,
    pub alert_rate: Option<f64>,
    pub recall: Option<f64>,
}
