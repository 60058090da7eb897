//! The one error type of the crate. Every variant names the folder, file,
//! table or column it is about, and what the user can do.

use std::path::PathBuf;

pub type Result<T, E = ScaffoldError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("source folder {0} does not exist")]
    SourceMissing(PathBuf),

    #[error("{0} is not a folder: pass the folder that holds the Parquet files")]
    NotAFolder(PathBuf),

    #[error(
        "no Parquet files (*.parquet) or Delta tables found in {dir}{}",
        others_hint(.others)
    )]
    NoParquet { dir: PathBuf, others: Vec<String> },

    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file} is not a readable Parquet file: {source}")]
    Unreadable {
        file: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error(
        "table `{table}`: {file} does not have the schema of {first_file} \
         (column `{column}`: {found}, expected {expected}); seglake reads every \
         file of a folder as one table, so move the odd file out"
    )]
    SchemaDrift {
        table: String,
        file: PathBuf,
        first_file: PathBuf,
        column: String,
        found: String,
        expected: String,
    },

    #[error(
        "no column looks like a customer key (named like customer_id, client_id, \
         account_id, *_id or *_no, of integer or text type); pass --key COLUMN \
         to name it{}",
        columns_hint(.columns)
    )]
    NoKey { columns: Vec<String> },

    #[error(
        "--key {key}: no table has a column of that name{}",
        columns_hint(.columns)
    )]
    KeyNotFound { key: String, columns: Vec<String> },

    #[error(
        "--key {key}: `{column}` in table `{table}` is {data_type}; a key must be \
         an integer or text column"
    )]
    KeyType {
        key: String,
        table: String,
        column: String,
        data_type: String,
    },

    #[error(
        "refusing to overwrite {}: pass --force to replace them, or --out DIR \
         to write elsewhere (nothing was written)",
        list_paths(.0)
    )]
    OutputExists(Vec<PathBuf>),

    #[error("cannot write {path}: {source} (nothing was kept)")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn others_hint(others: &[String]) -> String {
    if others.is_empty() {
        String::new()
    } else {
        format!(" (found: {})", others.join(", "))
    }
}

fn columns_hint(columns: &[String]) -> String {
    if columns.is_empty() {
        String::new()
    } else {
        format!("; columns found: {}", columns.join(", "))
    }
}

fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
