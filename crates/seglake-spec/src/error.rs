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

    /// Every bad value of the model sections at once, so one `validate`
    /// shows them all.
    #[error("invalid job file {path}: {problems}")]
    InvalidValues { path: PathBuf, problems: Problems },

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

/// One bad value: its dotted key and what is wrong with it (the value and
/// the valid range).
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            message: message.into(),
        }
    }

    /// A seglake-ml parameter error of the job section `section`, keyed by
    /// the parameter it names.
    pub(crate) fn of_param(section: &str, error: &seglake_ml::MlError) -> Problem {
        let key = match error.parameter() {
            Some(name) => format!("{section}.{name}"),
            None => section.to_string(),
        };
        Problem::new(key, error.to_string())
    }
}

/// Several [`Problem`]s; one reads as `key `k`: message`, several as a
/// count and one per line.
#[derive(Debug, Clone, PartialEq)]
pub struct Problems(pub Vec<Problem>);

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => write!(f, "key `{}`: {}", one.key, one.message),
            all => {
                write!(f, "{} invalid values:", all.len())?;
                for p in all {
                    write!(f, "\n  key `{}`: {}", p.key, p.message)?;
                }
                Ok(())
            }
        }
    }
}

/// `error: cause: cause`: an error with its whole chain of sources, for
/// text that outlives the error value (the CLI's message, the `runs`
/// table's `error` column, a message that crosses to another process). A
/// cause the text already ends with is not added again: many errors
/// (DataFusion's, delta-rs's, Parquet's) print their own source.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let more = e.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("reading the log")]
    struct Wraps(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("reading the log: {0}")]
    struct ShowsItsSource(#[source] std::io::Error);

    #[test]
    fn every_cause_is_added_once() {
        let wraps = Wraps(std::io::Error::other("disk gone"));
        assert_eq!(error_chain(&wraps), "reading the log: disk gone");
        let shows = ShowsItsSource(std::io::Error::other("disk gone"));
        assert_eq!(error_chain(&shows), "reading the log: disk gone");
    }
}
