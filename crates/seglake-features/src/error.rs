use std::path::PathBuf;

use datafusion::error::DataFusionError;

pub type Result<T, E = FeatureError> = std::result::Result<T, E>;

/// Feature errors name the source, view (and its SQL file), column or key.
///
/// An error a variant wraps is either its `source()`, left out of its own
/// message (print the chain, `{:#}` with anyhow, to see it), or, where the
/// message has always shown it (`ViewSql`, `Rule`, `Execution`), a field
/// named `error` that is not also a `source()`, so that a printed chain
/// shows it once.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// Pinning or reading a source in the lake failed (a Delta source's
    /// data files, for a cluster).
    #[error(transparent)]
    Lake(#[from] seglake_lake::LakeError),

    /// A source's rows cannot be made a table of the session.
    #[error("source `{source_name}`")]
    SourceTable {
        source_name: String,
        #[source]
        source: DataFusionError,
    },

    /// A Delta source cannot be opened at its pinned version.
    #[error("source `{source_name}`: cannot open version {version}")]
    SourceVersion {
        source_name: String,
        version: i64,
        #[source]
        source: deltalake::DeltaTableError,
    },

    /// The object store holding a source's files cannot be opened.
    #[error("source `{source_name}`: cannot open the store of {url}")]
    SourceStore {
        source_name: String,
        url: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    /// One of a source's files cannot be read (malformed Parquet or CSV, a
    /// path the store cannot use).
    #[error("source `{source_name}`: cannot read {file}")]
    SourceFile {
        source_name: String,
        file: String,
        #[source]
        source: DataFusionError,
    },

    /// Reading the file made the Parquet reader panic (a footer that lies
    /// about its length): `why` is the panic's message.
    #[error("source `{source_name}`: cannot read {file}: the file is corrupt ({why})")]
    CorruptFile {
        source_name: String,
        file: String,
        why: String,
    },

    #[error(
        "source `{source_name}`: dedupe_on names unknown column `{column}`; columns: {columns}"
    )]
    UnknownDedupeColumn {
        source_name: String,
        column: String,
        columns: String,
    },

    #[error("source `{source_name}`: cannot deduplicate")]
    Deduplicate {
        source_name: String,
        #[source]
        source: DataFusionError,
    },

    #[error(
        "source `{source_name}`: type drift in column `{column}`: {file} has {found}, \
         but {first_file} has {expected}"
    )]
    TypeDrift {
        source_name: String,
        column: String,
        file: String,
        found: String,
        first_file: String,
        expected: String,
    },

    #[error(
        "feature view `{view}` ({path}): only a single SELECT is allowed in a feature view, found {found}"
    )]
    NotAQuery {
        view: String,
        path: PathBuf,
        found: String,
    },

    /// With `[features] strict_determinism = true`: a view whose result
    /// may depend on row order or on when it runs.
    #[error(
        "feature view `{view}` ({path}) may not give the same rows on every machine: \
         {findings} ([features] strict_determinism = true makes this an error)"
    )]
    OrderDependent {
        view: String,
        path: PathBuf,
        findings: String,
    },

    /// A view marked incremental is not a per-day view (see
    /// `seglake_spec::incremental`).
    #[error(
        "feature view `{view}` ({path}) cannot be incremental: {why}; an incremental view returns \
         rows per customer and day (a DATE column `day`), each day computed from that day's \
         rows of its source alone, or remove it from `features.incremental`"
    )]
    NotIncremental {
        view: String,
        path: PathBuf,
        why: String,
    },

    /// An incremental view returned a day it was not asked for.
    #[error(
        "feature view `{view}` returned rows for {day}, a day it was not computing: its `day` \
         column must be the date of the source's `{time_column}`"
    )]
    StrayDay {
        view: String,
        day: String,
        time_column: String,
    },

    #[error("feature view `{view}` ({path}): {error}")]
    ViewSql {
        view: String,
        path: PathBuf,
        error: DataFusionError,
    },

    #[error(
        "source `{source_name}`: {keys} values of the dedupe_on key ({key}) have rows that differ in \
         other columns, e.g. {examples}: these are conflicting records, not replays; fix the source"
    )]
    ConflictingRecords {
        source_name: String,
        key: String,
        keys: i64,
        examples: String,
    },

    #[error(
        "feature view `{view}` has no key column `{key}` (features.key); its columns: {columns}"
    )]
    MissingKey {
        view: String,
        key: String,
        columns: String,
    },

    #[error(
        "feature view `{view}` must have one row per `{key}`, but {duplicates} keys repeat, e.g. {examples}"
    )]
    DuplicateKey {
        view: String,
        key: String,
        duplicates: usize,
        examples: String,
    },

    #[error("feature view `{view}` has a null `{key}` (features.key) in {rows} rows")]
    NullKey {
        view: String,
        key: String,
        rows: usize,
    },

    #[error(
        "feature view `{view}`: a `{key}` (features.key) is {length} bytes long, over the limit of \
         {limit} (it starts `{start}`); a customer key is an identifier, not a document"
    )]
    KeyTooLong {
        view: String,
        key: String,
        length: usize,
        limit: usize,
        start: String,
    },

    #[error(
        "feature view `{view}`, column `{column}`: {rows} rows are NaN or infinite (first at {key} = {example}); \
         guard divisions with NULLIF"
    )]
    NonFinite {
        view: String,
        column: String,
        rows: usize,
        key: String,
        example: String,
    },

    #[error(
        "outcomes view `{view}` needs columns `{key}` (features.key) and `outcome` (the bank's code, mapped by [outcomes]); its columns: {columns}"
    )]
    OutcomeColumns {
        view: String,
        key: String,
        columns: String,
    },

    #[error(
        "label view `{view}` needs columns `{key}` (features.key) and `label` (1 = risk, 0 = not); its columns: {columns}"
    )]
    LabelColumns {
        view: String,
        key: String,
        columns: String,
    },

    #[error("feature view `{view}` produced no rows: check the sources and the job's as_of")]
    Empty { view: String },

    #[error("quality rule `{rule}` on `{table}`: {error}")]
    Rule {
        rule: String,
        table: String,
        error: DataFusionError,
    },

    /// The folder under the lake where a cluster run's views go cannot be
    /// named.
    #[error("the run's scratch folder under {lake}")]
    ScratchFolder {
        lake: String,
        #[source]
        source: url::ParseError,
    },

    #[error("{context}: {error}")]
    Execution {
        context: String,
        error: DataFusionError,
    },

    #[error(
        "{context}: no answer from {engine} within {limit:?} ({outcome}; set --query-timeout \
         or SEGLAKE_QUERY_TIMEOUT to allow longer)"
    )]
    Timeout {
        context: String,
        engine: String,
        limit: std::time::Duration,
        /// What became of the query: stopped here, or its job cancelled.
        outcome: &'static str,
    },
}

impl FeatureError {
    /// True when the input (spec, SQL, data) is at fault and the user can
    /// fix it; false for failures of the machine, the store or seglake.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            FeatureError::Lake(e) => e.is_invalid_input(),
            FeatureError::Execution { error, .. } => is_data_error(error),
            FeatureError::Timeout { .. } | FeatureError::ScratchFolder { .. } => false,
            _ => true,
        }
    }
}

/// Errors raised while decoding files (malformed Parquet, bad CSV) are the
/// data's fault; resource and I/O errors are not.
fn is_data_error(e: &DataFusionError) -> bool {
    match e {
        DataFusionError::ParquetError(_) | DataFusionError::ArrowError(..) => true,
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => {
            is_data_error(inner)
        }
        DataFusionError::Shared(inner) => is_data_error(inner),
        DataFusionError::External(inner) => {
            inner
                .downcast_ref::<DataFusionError>()
                .is_some_and(is_data_error)
                || inner
                    .downcast_ref::<parquet::errors::ParquetError>()
                    .is_some()
        }
        _ => false,
    }
}

/// A schema's column names, comma-separated, for messages.
pub fn column_list(schema: &arrow::datatypes::Schema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
