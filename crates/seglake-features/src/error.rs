use std::path::PathBuf;

use datafusion::error::DataFusionError;

pub type Result<T, E = FeatureError> = std::result::Result<T, E>;

/// Feature errors name the source, view (and its SQL file), column or key.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("source `{source_name}`: {message}")]
    Source {
        source_name: String,
        message: String,
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

    #[error("feature view `{view}` ({path}): {source}")]
    ViewSql {
        view: String,
        path: PathBuf,
        #[source]
        source: DataFusionError,
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
        "label view `{view}` needs columns `{key}` (features.key) and `label` (1 = risk, 0 = not); its columns: {columns}"
    )]
    LabelColumns {
        view: String,
        key: String,
        columns: String,
    },

    #[error("feature view `{view}` produced no rows: check the sources and the job's as_of")]
    Empty { view: String },

    #[error("quality rule `{rule}` on `{table}`: {source}")]
    Rule {
        rule: String,
        table: String,
        #[source]
        source: DataFusionError,
    },

    #[error("{context}: {source}")]
    Execution {
        context: String,
        #[source]
        source: DataFusionError,
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
            FeatureError::Execution { source, .. } => is_data_error(source),
            FeatureError::Timeout { .. } => false,
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
