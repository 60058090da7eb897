use std::path::PathBuf;

/// Result alias for spec parsing and validation.
pub type Result<T, E = SpecError> = std::result::Result<T, E>;

/// Everything that can be wrong with a job file. Every variant names the job
/// file, and the key, file or value at fault; where there is a closed set of
/// valid choices, the message lists them.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("cannot read job file {path}: {source}")]
    ReadJob {
        path: PathBuf,
        source: std::io::Error,
    },

    /// TOML syntax errors, unknown keys and wrong types: the toml crate's
    /// message already carries the line, the key and the expected choices.
    #[error("invalid job file {path}: {message}")]
    Toml { path: PathBuf, message: String },

    #[error("invalid job file {path}: key `{key}`: {message}")]
    InvalidValue {
        path: PathBuf,
        key: String,
        message: String,
    },

    #[error(
        "invalid job file {path}: key `{key}` names SQL file {file}, which does not exist; \
         files in {dir}: {available}"
    )]
    MissingSqlFile {
        path: PathBuf,
        key: String,
        file: PathBuf,
        dir: PathBuf,
        available: String,
    },

    #[error("invalid job file {path}: cannot read SQL file {file} (key `{key}`): {source}")]
    ReadSql {
        path: PathBuf,
        key: String,
        file: PathBuf,
        source: std::io::Error,
    },
}
