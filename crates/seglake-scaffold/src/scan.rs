//! Which files make up which table. A table is a Parquet file, a folder of
//! Parquet files (hive-partitioned folders such as `year=2024/` included),
//! or a Delta table (a folder with `_delta_log`). Names starting with `.` or
//! `_` are skipped, as seglake skips them when it reads a source.

use std::path::{Path, PathBuf};

use crate::error::{Result, ScaffoldError};

/// How deep folders of tables are looked into (`lake/raw/customers/`).
const MAX_DEPTH: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Parquet,
    Delta,
}

impl TableFormat {
    /// The value of a source's `format` key.
    pub fn as_str(self) -> &'static str {
        match self {
            TableFormat::Parquet => "parquet",
            TableFormat::Delta => "delta",
        }
    }
}

/// Where one table's files are, before any of them is opened.
#[derive(Debug, Clone)]
pub struct TableFiles {
    /// The file or folder, relative to the inspected folder, `/`-separated.
    pub path: String,
    pub format: TableFormat,
    /// Data files, sorted.
    pub files: Vec<PathBuf>,
    /// Hive partition names in the folder names (`year` for `year=2024/`).
    pub partition_columns: Vec<String>,
}

/// The tables in `dir`, and the data files that were not inspected (CSV,
/// JSON, ...).
pub fn scan(dir: &Path) -> Result<(Vec<TableFiles>, Vec<String>)> {
    if !dir.exists() {
        return Err(ScaffoldError::SourceMissing(dir.to_path_buf()));
    }
    if !dir.is_dir() {
        return Err(ScaffoldError::NotAFolder(dir.to_path_buf()));
    }
    let mut tables = Vec::new();
    let mut others = Vec::new();
    scan_level(dir, "", 0, &mut tables, &mut others)?;
    if tables.is_empty() {
        return Err(ScaffoldError::NoParquet {
            dir: dir.to_path_buf(),
            others,
        });
    }
    Ok((tables, others))
}

fn scan_level(
    dir: &Path,
    rel: &str,
    depth: usize,
    tables: &mut Vec<TableFiles>,
    others: &mut Vec<String>,
) -> Result<()> {
    for entry in visible_entries(dir)? {
        let name = file_name(&entry);
        let rel_path = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        if entry.is_file() {
            if is_parquet(&entry) {
                tables.push(TableFiles {
                    path: rel_path,
                    format: TableFormat::Parquet,
                    files: vec![entry],
                    partition_columns: Vec::new(),
                });
            } else if is_other_data(&entry) {
                others.push(rel_path);
            }
        } else if entry.is_dir() {
            match folder_table(&entry, rel_path.clone())? {
                Some(table) => tables.push(table),
                None if depth + 1 < MAX_DEPTH => {
                    scan_level(&entry, &rel_path, depth + 1, tables, others)?
                }
                None => others.push(format!("{rel_path}/")),
            }
        }
    }
    Ok(())
}

/// The folder as one table, or `None` when it is a folder of tables.
fn folder_table(dir: &Path, rel_path: String) -> Result<Option<TableFiles>> {
    if dir.join("_delta_log").is_dir() {
        let mut files = Vec::new();
        parquet_files(dir, &mut files, &mut Vec::new())?;
        return Ok(Some(TableFiles {
            path: rel_path,
            format: TableFormat::Delta,
            files,
            partition_columns: Vec::new(),
        }));
    }
    let entries = visible_entries(dir)?;
    let direct = entries.iter().any(|e| e.is_file() && is_parquet(e));
    let subdirs: Vec<&PathBuf> = entries.iter().filter(|e| e.is_dir()).collect();
    let hive = !subdirs.is_empty() && subdirs.iter().all(|d| file_name(d).contains('='));
    if !direct && !hive {
        return Ok(None);
    }
    let mut files = Vec::new();
    let mut partition_columns = Vec::new();
    parquet_files(dir, &mut files, &mut partition_columns)?;
    if files.is_empty() {
        return Ok(None);
    }
    Ok(Some(TableFiles {
        path: rel_path,
        format: TableFormat::Parquet,
        files,
        partition_columns,
    }))
}

/// Every Parquet file under `dir`, as seglake lists a folder source: all
/// depths, hidden names skipped.
fn parquet_files(dir: &Path, files: &mut Vec<PathBuf>, partitions: &mut Vec<String>) -> Result<()> {
    for entry in visible_entries(dir)? {
        if entry.is_dir() {
            if let Some((column, _)) = file_name(&entry).split_once('=') {
                if !partitions.iter().any(|p| p == column) {
                    partitions.push(column.to_string());
                }
            }
            parquet_files(&entry, files, partitions)?;
        } else if is_parquet(&entry) {
            files.push(entry);
        }
    }
    Ok(())
}

/// Entries of `dir` in name order, without `.`- and `_`-names.
fn visible_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| ScaffoldError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let name = file_name(&path);
        if !name.starts_with('.') && !name.starts_with('_') {
            entries.push(path);
        }
    }
    entries.sort();
    Ok(entries)
}

fn is_parquet(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "parquet")
}

/// Data files seglake could read as a source but init does not inspect.
fn is_other_data(path: &Path) -> bool {
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    extension.is_some_and(|e| {
        matches!(
            e.as_str(),
            "csv" | "tsv" | "json" | "jsonl" | "avro" | "orc"
        )
    })
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
