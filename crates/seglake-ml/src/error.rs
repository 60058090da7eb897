use thiserror::Error;

pub type Result<T, E = MlError> = std::result::Result<T, E>;

/// Everything that can be wrong with a model's parameters or its input.
/// Parameter errors say which parameter, what it got and what it accepts,
/// in the words a job spec uses.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum MlError {
    #[error("k must be at least 2, got {0}")]
    KTooSmall(usize),
    #[error("k = {k} is more than the {rows} rows to cluster")]
    KTooLarge { k: usize, rows: usize },
    #[error("k range must be `[min, max]` with 2 <= min <= max, got [{min}, {max}]")]
    KRange { min: usize, max: usize },
    #[error("batch_size must be at least 1, got 0")]
    BatchSize,
    #[error("chunk_rows must be at least 1, got 0")]
    ChunkRows,
    #[error("n_init must be at least 1, got 0")]
    NInit,
    #[error("tol must be a finite number >= 0, got {0}")]
    Tolerance(f64),
    #[error("init_sample must be at least k ({k}), got {got}")]
    InitSample { k: usize, got: usize },
    #[error(
        "max_epochs and lloyd_passes are both 0: the model would never move from its initial centres"
    )]
    NoTraining,
    #[error("initial centres have shape {got_rows}x{got_cols}, expected {k}x{dim}")]
    InitShape {
        k: usize,
        dim: usize,
        got_rows: usize,
        got_cols: usize,
    },
    #[error("clip quantiles must satisfy 0 <= low < high <= 1, got [{low}, {high}]")]
    ClipBounds { low: f64, high: f64 },
    #[error("eps must be a finite number > 0, got {0}")]
    Eps(f64),
    #[error("min_points must be at least 1, got 0")]
    MinPoints,
    #[error("{name} must be at least 2, got {got}")]
    SampleSize { name: &'static str, got: usize },
    #[error("the feature matrix is empty: no rows to cluster")]
    Empty,
    #[error("the feature matrix has {got} columns, the model expects {expected}")]
    Dimension { expected: usize, got: usize },
    #[error("feature `{feature}` has {got} values, expected {expected} (one per row)")]
    ColumnLength {
        feature: String,
        expected: usize,
        got: usize,
    },
    #[error(
        "{algorithm} found no cluster in the sample of {sample} rows (all noise); raise eps or lower min_points"
    )]
    NoClusters { algorithm: String, sample: usize },
    #[error("{name} must be {accepts}, got {got}")]
    Param {
        name: &'static str,
        accepts: &'static str,
        got: String,
    },
    #[error("there are no labelled rows to train on")]
    NoLabels,
    #[error(
        "the labels have only one class ({positives} positive, {negatives} negative): a classifier needs both"
    )]
    OneClass { positives: usize, negatives: usize },
    #[error("{got} labels for {rows} feature rows")]
    LabelLength { rows: usize, got: usize },
    #[error(
        "categorical feature `{feature}` has {count} distinct values, more than max_levels = {limit}; raise max_levels or group rare values in the feature view"
    )]
    Cardinality {
        feature: String,
        limit: usize,
        count: usize,
    },
    #[error(
        "categorical feature `{feature}` has the value `{level}`, which is reserved (`missing` names NULLs, `other` values unseen in training); rename it in the feature view"
    )]
    ReservedLevel { feature: String, level: String },
    #[error("the preparation has {expected} categorical features, got {got} categorical columns")]
    CategoricalCount { expected: usize, got: usize },
    #[error("two prepared columns are both named `{0}`; rename a feature")]
    DuplicateColumn(String),
    #[error(
        "categorical feature {feature} has {distinct} distinct codes, the largest {largest}: a categorical feature takes at most {limit} codes, 0 to {}",
        limit - 1
    )]
    TooManyCategories {
        feature: usize,
        distinct: usize,
        largest: u32,
        limit: usize,
    },
    #[error("categorical feature {feature} is not a column: the matrix has {features} columns")]
    CategoricalFeature { feature: usize, features: usize },
}

impl MlError {
    /// The parameter a parameter error is about, as a job spells it
    /// (`None` for errors about the data).
    pub fn parameter(&self) -> Option<&'static str> {
        Some(match self {
            MlError::KTooSmall(_) => "k",
            MlError::KRange { .. } => "k_range",
            MlError::BatchSize => "batch_size",
            MlError::ChunkRows => "chunk_rows",
            MlError::NInit => "n_init",
            MlError::Tolerance(_) => "tol",
            MlError::InitSample { .. } => "init_sample",
            MlError::NoTraining => "max_epochs",
            MlError::ClipBounds { .. } => "clip",
            MlError::Eps(_) => "eps",
            MlError::MinPoints => "min_points",
            MlError::SampleSize { name, .. } | MlError::Param { name, .. } => name,
            _ => return None,
        })
    }
}
