use seglake_audit::AuditError;

pub type Result<T, E = ReportError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the lake: an unknown run or table, a vacuumed version.
    #[error(transparent)]
    Audit(#[from] AuditError),

    /// A published table lacks what every run writes into it.
    #[error("table `{table}` at version {version}: {detail}")]
    Table {
        table: String,
        version: i64,
        detail: String,
    },

    /// The run's stored segmentation model does not read back.
    #[error("the segmentation model of run {run_id}")]
    Model {
        run_id: String,
        #[source]
        source: seglake_model::ModelError,
    },

    /// The prepared features do not fit the stored preparation.
    #[error("preparing the features of run {run_id} for the projection")]
    Prepare {
        run_id: String,
        #[source]
        source: seglake_ml::MlError,
    },

    #[error("reading table `{table}`")]
    Arrow {
        table: String,
        #[source]
        source: arrow::error::ArrowError,
    },

    /// `runs.metrics` of the run is not the JSON every run writes.
    #[error("the metrics recorded for run {run_id} are not JSON")]
    Metrics {
        run_id: String,
        #[source]
        source: serde_json::Error,
    },
}

impl ReportError {
    /// Whether the user asked for something the lake does not have (exit 1):
    /// a run id or table that does not exist.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, ReportError::Audit(a) if a.is_invalid_input())
    }
}
