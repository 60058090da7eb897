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
    pub output: RawOutput,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawFormat {
    Parquet,
    Delta,
    Csv,
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
