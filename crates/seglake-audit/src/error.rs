pub type Result<T, E = AuditError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// What was asked for does not exist or cannot be answered from the
    /// lake as it is (unknown customer, run or table, a time before the
    /// first run, a version whose files were removed): the user's to fix.
    #[error("{0}")]
    NotFound(String),

    /// The request itself is wrong (SQL that writes, a bad argument).
    #[error("{0}")]
    Invalid(String),

    #[error(transparent)]
    Lake(#[from] seglake_lake::LakeError),

    #[error(transparent)]
    Job(#[from] seglake_jobs::JobError),

    #[error("{context}: {source}")]
    Query {
        context: String,
        #[source]
        source: deltalake::datafusion::error::DataFusionError,
    },

    #[error("{context}: {source}")]
    Arrow {
        context: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    #[error("{context}: {source}")]
    Delta {
        context: String,
        #[source]
        source: deltalake::DeltaTableError,
    },
}

impl AuditError {
    pub fn is_invalid_input(&self) -> bool {
        match self {
            AuditError::NotFound(_) | AuditError::Invalid(_) => true,
            AuditError::Lake(e) => e.is_invalid_input(),
            AuditError::Job(e) => e.is_invalid_input(),
            // DataFusion's plan and SQL errors are the query's fault.
            AuditError::Query { source, .. } => matches!(
                source.find_root(),
                deltalake::datafusion::error::DataFusionError::Plan(_)
                    | deltalake::datafusion::error::DataFusionError::SQL(..)
                    | deltalake::datafusion::error::DataFusionError::SchemaError(..)
                    | deltalake::datafusion::error::DataFusionError::NotImplemented(_)
            ),
            _ => false,
        }
    }
}
