use arrow::error::ArrowError;
use seglake_ml::MlError;
use seglake_model::ModelError;

pub type Result<T, E = JobError> = std::result::Result<T, E>;

/// Everything a run can fail on after its spec was validated. Each variant
/// names the table, view, column or key at fault and keeps the error that
/// caused it as its source.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Spec(#[from] seglake_spec::SpecError),
    #[error(transparent)]
    Lake(#[from] seglake_lake::LakeError),
    #[error(transparent)]
    Features(#[from] seglake_features::FeatureError),
    /// A stage went past `--memory-limit` plus its margin and was stopped.
    #[error(transparent)]
    Memory(#[from] seglake_memory::Exceeded),
    #[error("encoding the lineage row of run {run_id}")]
    Lineage {
        run_id: String,
        #[source]
        source: ArrowError,
    },
    #[error(
        "the feature table `{table}` has a column `{column}`, which seglake adds to every row itself; \
         rename it in the last feature view"
    )]
    ReservedColumn { table: String, column: String },
    /// A column of the feature table that a model reads has the wrong type.
    #[error("column `{column}` of the feature table `{table}` cannot be read as {wanted}")]
    Column {
        table: String,
        column: String,
        wanted: &'static str,
        #[source]
        source: ArrowError,
    },
    /// `[features] categorical` names a column the feature table does not
    /// have (or not as text), or a categorical column has too many values.
    #[error("categorical features of the feature table `{table}`: {message}")]
    Categorical { table: String, message: String },
    /// The `[segments]` section names columns the feature table does not
    /// have (or not as numbers).
    #[error("segmenting the feature table `{table}`: {message}")]
    Segments { table: String, message: String },
    #[error("segmenting the feature table `{table}`")]
    Segmentation {
        table: String,
        #[source]
        source: MlError,
    },
    /// The `[risk]` section names columns the feature table does not
    /// have, or an input seglake adds itself.
    #[error("scoring risk on the feature table `{table}`: {message}")]
    Risk { table: String, message: String },
    #[error("scoring risk on the feature table `{table}`")]
    RiskScoring {
        table: String,
        #[source]
        source: MlError,
    },
    #[error("label view `{view}`: {message}")]
    Labels { view: String, message: String },
    #[error("label view `{view}`")]
    LabelTraining {
        view: String,
        #[source]
        source: MlError,
    },
    #[error("label view `{view}`: column `{column}` cannot be read")]
    LabelColumn {
        view: String,
        column: String,
        #[source]
        source: ArrowError,
    },
    #[error("case outcomes from `{source_name}`: column `{column}` cannot be read")]
    OutcomeColumn {
        source_name: String,
        column: String,
        #[source]
        source: ArrowError,
    },
    /// A PostgreSQL source could not be described or snapshotted.
    #[error("source `{source_name}` ({what})")]
    Postgres {
        source_name: String,
        what: String,
        #[source]
        source: seglake_postgres::PostgresError,
    },
    /// A snapshot's folder in the lake cannot be prepared or read back.
    #[error("snapshot of a postgres source: {what}: {message}")]
    Snapshot { what: String, message: String },
    /// The outcome table holds codes the job's vocabulary does not list.
    #[error("case outcomes from `{table}`: {message}")]
    OutcomeCodes { table: String, message: String },
    /// The `[screening]` list or a party's names cannot be screened.
    #[error("[screening]: {message}")]
    Screening { message: String },
    /// A rule, its thresholds or its output is wrong.
    #[error("[rules]: {message}")]
    Rules { message: String },
    #[error("[privacy]: {0}")]
    Privacy(String),
    /// An incremental view's state cannot be used, and is not rebuilt
    /// without being asked to.
    #[error("incremental view `{view}`: state table `{table}` {message}")]
    State {
        view: String,
        table: String,
        message: String,
    },
    /// Drift or outcomes analysis could not read what earlier runs
    /// published.
    #[error("monitoring: {0}")]
    Monitoring(String),
    #[error("building the `{table}` table")]
    Output {
        table: String,
        #[source]
        source: ArrowError,
    },
    #[error("the scoring pass on the cluster: {message}")]
    ClusterScoring { message: String },
    #[error("the scoring pass on the cluster")]
    ClusterModel(#[source] ModelError),
    #[error("the scoring pass on the cluster: reading its result")]
    ClusterResult {
        #[source]
        source: ArrowError,
    },
}

impl JobError {
    /// True when the user can fix the cause (spec, SQL or data): the CLI
    /// exits with 1 for these and 2 for everything else.
    pub fn is_invalid_input(&self) -> bool {
        match self {
            JobError::Spec(_)
            | JobError::ReservedColumn { .. }
            | JobError::Column { .. }
            | JobError::Categorical { .. }
            | JobError::Segments { .. }
            | JobError::Segmentation { .. }
            | JobError::Risk { .. }
            | JobError::RiskScoring { .. }
            | JobError::Labels { .. }
            | JobError::LabelTraining { .. }
            | JobError::LabelColumn { .. }
            | JobError::OutcomeColumn { .. }
            | JobError::OutcomeCodes { .. }
            | JobError::Screening { .. }
            | JobError::Rules { .. }
            | JobError::Privacy(_)
            | JobError::State { .. } => true,
            JobError::Lake(e) => e.is_invalid_input(),
            JobError::Features(e) => e.is_invalid_input(),
            JobError::Postgres { source, .. } => source.is_invalid_input(),
            JobError::Lineage { .. }
            | JobError::Output { .. }
            | JobError::Snapshot { .. }
            | JobError::Monitoring(_)
            | JobError::ClusterScoring { .. }
            | JobError::ClusterModel(_)
            | JobError::ClusterResult { .. }
            | JobError::Memory(_) => false,
        }
    }
}
