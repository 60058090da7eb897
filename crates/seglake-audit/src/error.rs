use std::path::PathBuf;

pub type Result<T, E = AuditError> = std::result::Result<T, E>;

/// An error a variant wraps is either its `source()`, left out of its own
/// message (print the chain, `{:#}` with anyhow, to see it), or, where the
/// message has always shown it (`Query`, `Arrow`, `Delta`), a field named
/// `error` that is not also a `source()`, so that a printed chain shows it
/// once.
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

    /// The lake's root folder cannot be made an absolute path.
    #[error("{}", .path.display())]
    LakeRoot {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A run recorded a job spec that no longer parses or validates.
    #[error("the spec recorded for run {run_id}")]
    RecordedSpec {
        run_id: String,
        #[source]
        source: seglake_spec::SpecError,
    },

    /// Rows (of a table, or a query's result: `what`) do not decode into
    /// the record they should hold.
    #[error("{what} does not have the expected columns")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    /// A table at a version (its latest when `None`) cannot be opened.
    #[error("table `{table}`{}", .version.map(|v| format!(" version {v}")).unwrap_or_default())]
    TableVersion {
        table: String,
        version: Option<i64>,
        #[source]
        source: deltalake::DeltaTableError,
    },

    /// A version an erasure must rewrite cannot be read back.
    #[error(
        "table `{table}` version {version} cannot be read; run `seglake vacuum` first if its \
         files were removed, in {}",
        .lake.display()
    )]
    Unreadable {
        table: String,
        version: i64,
        lake: PathBuf,
        #[source]
        source: seglake_lake::LakeError,
    },

    #[error("{context}: {error}")]
    Query {
        context: String,
        error: deltalake::datafusion::error::DataFusionError,
    },

    #[error("{context}: {error}")]
    Arrow {
        context: String,
        error: arrow::error::ArrowError,
    },

    #[error("{context}: {error}")]
    Delta {
        context: String,
        error: deltalake::DeltaTableError,
    },
}

impl AuditError {
    pub fn is_invalid_input(&self) -> bool {
        match self {
            AuditError::NotFound(_)
            | AuditError::Invalid(_)
            | AuditError::LakeRoot { .. }
            | AuditError::RecordedSpec { .. }
            | AuditError::Decode { .. }
            | AuditError::TableVersion { .. }
            | AuditError::Unreadable { .. } => true,
            AuditError::Lake(e) => e.is_invalid_input(),
            AuditError::Job(e) => e.is_invalid_input(),
            // DataFusion's plan and SQL errors are the query's fault.
            AuditError::Query { error, .. } => matches!(
                error.find_root(),
                deltalake::datafusion::error::DataFusionError::Plan(_)
                    | deltalake::datafusion::error::DataFusionError::SQL(..)
                    | deltalake::datafusion::error::DataFusionError::SchemaError(..)
                    | deltalake::datafusion::error::DataFusionError::NotImplemented(_)
            ),
            AuditError::Arrow { .. } | AuditError::Delta { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lake_root_error_names_the_path_then_the_cause() {
        let error = AuditError::LakeRoot {
            path: PathBuf::from("/lake"),
            source: std::io::Error::other("disk gone"),
        };
        assert_eq!(seglake_spec::error_chain(&error), "/lake: disk gone");
    }
}
