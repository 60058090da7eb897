pub type Result<T, E = JobError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Spec(#[from] seglake_spec::SpecError),
    #[error(transparent)]
    Lake(#[from] seglake_lake::LakeError),
    #[error(transparent)]
    Features(#[from] seglake_features::FeatureError),
    #[error("encoding the lineage row of run {run_id}: {source}")]
    Lineage {
        run_id: String,
        source: arrow::error::ArrowError,
    },
    #[error(
        "the feature table `{table}` has a column `{column}`, which seglake adds to every row itself; \
         rename it in the last feature view"
    )]
    ReservedColumn { table: String, column: String },
    #[error("segmenting the feature table `{table}`: {message}")]
    Segments { table: String, message: String },
    #[error("invalid [segments] parameters: {0}")]
    SegmentParams(String),
    #[error("scoring risk on the feature table `{table}`: {message}")]
    Risk { table: String, message: String },
    #[error("label view `{view}`: {message}")]
    Labels { view: String, message: String },
    #[error("invalid [risk] parameters: {0}")]
    RiskParams(String),
    #[error("[privacy]: {0}")]
    Privacy(String),
    #[error("reproducing run {run_id}: {message}")]
    Reproduce { run_id: String, message: String },
    #[error("adding the run columns to `{table}`: {source}")]
    Output {
        table: String,
        source: arrow::error::ArrowError,
    },
    #[error("the scoring pass on the cluster: {message}")]
    ClusterScoring { message: String },
}

impl JobError {
    /// True when the user can fix the cause (spec, SQL or data): the CLI
    /// exits with 1 for these and 2 for everything else.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            JobError::Spec(_)
            | JobError::ReservedColumn { .. }
            | JobError::Segments { .. }
            | JobError::SegmentParams(_)
            | JobError::Risk { .. }
            | JobError::Labels { .. }
            | JobError::RiskParams(_)
            | JobError::Privacy(_)
            | JobError::Reproduce { .. } => true,
            JobError::Lake(e) => e.is_invalid_input(),
            JobError::Features(e) => e.is_invalid_input(),
            JobError::Lineage { .. }
            | JobError::Output { .. }
            | JobError::ClusterScoring { .. } => false,
        }
    }
}
