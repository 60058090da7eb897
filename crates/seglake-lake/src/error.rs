/// Result alias for lake operations.
pub type Result<T, E = LakeError> = std::result::Result<T, E>;

/// Lake errors name the source or table and its location.
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

    #[error("table `{table}` at {uri}: {message}")]
    Table {
        table: String,
        uri: String,
        message: String,
    },

    #[error("table `{table}` at {uri}: {source}")]
    Delta {
        table: String,
        uri: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error("{uri}: {source}")]
    Store {
        uri: String,
        #[source]
        source: object_store::Error,
    },
}

impl LakeError {
    /// True when the user's input (spec, source, version) is at fault rather
    /// than the machine, the store or seglake.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, LakeError::BadSource { .. })
    }
}
