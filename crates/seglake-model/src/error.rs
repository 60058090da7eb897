use seglake_ml::MlError;

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// Which of a run's models, as the `models` table's `kind` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelKind {
    Segments,
    Risk,
}

impl ModelKind {
    /// The `kind` column's value.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Segments => "segments",
            ModelKind::Risk => "risk",
        }
    }

    /// How messages name the model.
    fn noun(self) -> &'static str {
        match self {
            ModelKind::Segments => "segmentation",
            ModelKind::Risk => "risk",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.noun())
    }
}

/// A model that cannot be read or used for scoring.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Not JSON of the model's shape.
    #[error("the {kind} model cannot be read")]
    Unreadable {
        kind: ModelKind,
        source: serde_json::Error,
    },
    /// A model of a format version this seglake does not know.
    #[error("the {kind} model has format `{found}`; this seglake scores `{expected}`")]
    UnknownFormat {
        kind: ModelKind,
        found: String,
        expected: &'static str,
    },
    /// The parts of a model do not fit together (a centre of the wrong
    /// width, a band without a threshold).
    #[error("the {kind} model is inconsistent: {detail}")]
    Inconsistent { kind: ModelKind, detail: String },
    /// A row to score has the wrong number of values.
    #[error("row {row} has {got} values; the model reads {expected}")]
    RowWidth {
        row: usize,
        got: usize,
        expected: usize,
    },
    /// Preparation or assignment refused the rows.
    #[error(transparent)]
    Compute(#[from] MlError),
}
