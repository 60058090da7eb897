/// Result alias for lake operations.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Lake errors name the source or table and its location.
///
/// An error a variant wraps is either its `source()`, left out of its own
/// message (print the chain, `{:#}` with anyhow, to see it), or, where the
/// message has always shown it (`Delta`, `Store`), a field named `error`
/// that is not also a `source()`, so that a printed chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// The input is wrong (missing, empty, wrong version): the user can fix
    /// it, and nothing was written.
    #[error("source `{source_name}` at {uri}: {message}")]
    BadSource {
        source_name: String,
        uri: String,
        message: String,
    },

    /// Whether the source is a Delta table could not be found out (its
    /// store cannot be opened or listed).
    #[error("source `{source_name}` at {uri}")]
    SourceUnreadable {
        source_name: String,
        uri: String,
        #[source]
        source: Box<LakeError>,
    },

    /// A Delta source, at `version` or at its latest, cannot be opened.
    #[error("source `{source_name}` at {uri}: cannot open {}", version_text(*.version))]
    SourceTable {
        source_name: String,
        uri: String,
        version: Option<i64>,
        #[source]
        source: deltalake::DeltaTableError,
    },

    /// The object store holding a source, or holding one of its files
    /// (`store_of`), cannot be opened.
    #[error("source `{source_name}` at {uri}: cannot open the store of {store_of}")]
    SourceStore {
        source_name: String,
        uri: String,
        store_of: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error("source `{source_name}` at {uri}: cannot list files")]
    SourceListing {
        source_name: String,
        uri: String,
        #[source]
        source: object_store::Error,
    },

    /// A file of the source has a path the object store cannot use.
    #[error("source `{source_name}` at {uri}: bad file path {path}")]
    SourcePath {
        source_name: String,
        uri: String,
        path: String,
        #[source]
        source: object_store::path::Error,
    },

    /// A file of the source has a URL that does not parse.
    #[error("source `{source_name}` at {uri}: bad file URL {url}")]
    SourceUrl {
        source_name: String,
        uri: String,
        url: String,
        #[source]
        source: url::ParseError,
    },

    #[error("table `{table}` at {uri}: {message}")]
    Table {
        table: String,
        uri: String,
        message: String,
    },

    #[error("table `{table}` at {uri}: no Delta table here (no _delta_log folder)")]
    NotATable { table: String, uri: String },

    #[error("table `{table}` at {uri}: the Delta log has no commits")]
    NoCommits { table: String, uri: String },

    /// Rows appended to a table lack one of its columns, or type it
    /// differently.
    #[error(
        "table `{table}` at {uri}: column `{column}` ({data_type}) of the table is missing or \
         has another type in the rows to append"
    )]
    ColumnMismatch {
        table: String,
        uri: String,
        column: String,
        data_type: String,
    },

    /// The table's state records the application transaction, but no
    /// commit file left in the log carries it.
    #[error(
        "table `{table}` at {uri}: the table records transaction `{app_id}` but no commit file \
         carries it (the log was checkpointed and cleaned)"
    )]
    TransactionNotFound {
        table: String,
        uri: String,
        app_id: String,
    },

    #[error("table `{table}` at {uri}: staged file `{path}`")]
    StagedFile {
        table: String,
        uri: String,
        path: String,
        #[source]
        source: url::ParseError,
    },

    /// Reading a table's rows (planning or running the scan) failed.
    #[error("table `{table}` at {uri}")]
    Read {
        table: String,
        uri: String,
        #[source]
        source: deltalake::datafusion::error::DataFusionError,
    },

    #[error("table `{table}` at {uri}: {error}")]
    Delta {
        table: String,
        uri: String,
        error: deltalake::DeltaTableError,
    },

    #[error("cannot open the store of {uri}")]
    OpenStore {
        uri: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error("{uri}: {error}")]
    Store {
        uri: String,
        error: object_store::Error,
    },
}

fn version_text(version: Option<i64>) -> String {
    match version {
        Some(v) => format!("version {v}"),
        None => "the Delta table".to_string(),
    }
}

impl LakeError {
    /// True when the user's input (spec, source, version) is at fault rather
    /// than the machine, the store or seglake.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            LakeError::BadSource { .. }
                | LakeError::SourceUnreadable { .. }
                | LakeError::SourceTable { .. }
                | LakeError::SourceStore { .. }
                | LakeError::SourceListing { .. }
                | LakeError::SourcePath { .. }
                | LakeError::SourceUrl { .. }
        )
    }
}
