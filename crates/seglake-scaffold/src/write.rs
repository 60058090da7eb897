//! Writing a proposal: everything or nothing, and never over a file the
//! user has not asked to replace.

use std::path::{Path, PathBuf};

use crate::Proposal;
use crate::error::{Result, ScaffoldError};

/// Writes the job file and the views under `out_dir`; returns the paths
/// written. Without `force`, any of them already existing is an error
/// listing them all, and nothing is written. Files are written under
/// temporary names and renamed once all are written, so a failure (a full
/// disk, a read-only folder) leaves no partial proposal behind.
pub fn write(proposal: &Proposal, out_dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let mut files: Vec<(PathBuf, &str)> =
        vec![(out_dir.join(&proposal.job_file), &proposal.job_toml)];
    for (name, sql) in &proposal.views {
        files.push((out_dir.join(&proposal.sql_dir).join(name), sql));
    }
    if !force {
        let existing: Vec<PathBuf> = files
            .iter()
            .filter(|(p, _)| p.exists())
            .map(|(p, _)| p.clone())
            .collect();
        if !existing.is_empty() {
            return Err(ScaffoldError::OutputExists(existing));
        }
    }
    let mut created_dirs = Vec::new();
    let mut temporary = Vec::new();
    let result = stage(&files, &mut created_dirs, &mut temporary).and_then(|()| {
        for ((path, _), tmp) in files.iter().zip(&temporary) {
            std::fs::rename(tmp, path).map_err(|source| ScaffoldError::Write {
                path: path.clone(),
                source,
            })?;
        }
        Ok(())
    });
    if let Err(e) = result {
        for tmp in &temporary {
            let _ = std::fs::remove_file(tmp);
        }
        // Only the folders this call created, deepest first, and only if empty.
        for dir in created_dirs.iter().rev() {
            let _ = std::fs::remove_dir(dir);
        }
        return Err(e);
    }
    Ok(files.into_iter().map(|(p, _)| p).collect())
}

/// Creates the folders and writes every file under a temporary name.
fn stage(
    files: &[(PathBuf, &str)],
    created_dirs: &mut Vec<PathBuf>,
    temporary: &mut Vec<PathBuf>,
) -> Result<()> {
    for (path, text) in files {
        let dir = path.parent().unwrap_or(Path::new("."));
        create_dirs(dir, created_dirs)?;
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(".seglake-init.tmp");
        let tmp = path.with_file_name(name);
        std::fs::write(&tmp, text).map_err(|source| ScaffoldError::Write {
            path: path.clone(),
            source,
        })?;
        temporary.push(tmp);
    }
    Ok(())
}

/// `create_dir_all` that remembers which folders it made.
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs(parent, created)?;
    }
    std::fs::create_dir(dir).map_err(|source| ScaffoldError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    created.push(dir.to_path_buf());
    Ok(())
}
