//! The demo project built into the binary: the demo job, its SQL and its
//! reference tables, so `seglake demo` runs from any folder with only the
//! binary. `seglake demo` writes them under the lake ([`write_demo_project`])
//! and runs the job from there, as it would run from the repository: the
//! same files, so the same hashes in the run's lineage.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where the demo job sits in the project (and in the written copy).
pub const DEMO_JOB: &str = "jobs/demo.toml";

/// The folder under the lake the built-in project is written to.
pub const DEMO_PROJECT_DIR: &str = "demo-project";

/// One file of the project, read from the repository at build time.
macro_rules! demo_file {
    ($path:literal) => {
        (
            $path,
            include_bytes!(concat!("../../../../", $path)).as_slice(),
        )
    };
}

/// Every file the demo job reads, by its path in the repository (a test
/// checks this list against the repository's folders).
pub const DEMO_FILES: &[(&str, &[u8])] = &[
    demo_file!("jobs/demo.toml"),
    demo_file!("sql/features/behaviour_features.sql"),
    demo_file!("sql/features/customer_features.sql"),
    demo_file!("sql/features/risk_labels.sql"),
    demo_file!("sql/features/screening_features.sql"),
    demo_file!("sql/features/sessions.sql"),
    demo_file!("sql/features/transaction_features.sql"),
    demo_file!("sql/features/windowed_transactions.sql"),
    demo_file!("sql/rules/cross_border_volume.sql"),
    demo_file!("sql/rules/dormant_then_burst.sql"),
    demo_file!("sql/rules/high_band_jump.sql"),
    demo_file!("sql/rules/new_device_beneficiary_wire.sql"),
    demo_file!("sql/rules/structuring.sql"),
    demo_file!("reference/README.md"),
    demo_file!("reference/high_risk_jurisdictions.csv"),
    demo_file!("reference/ofac_sdn.parquet"),
    demo_file!("reference/sanctioned_jurisdictions.csv"),
];

/// Writes the project into `LAKE/demo-project` (replacing the files a
/// previous binary wrote there, so the demo is always this binary's) and
/// returns the job file's path. Each file is written to a temporary name
/// and renamed, so an interrupted write leaves no half file.
pub fn write_demo_project(lake: &Path) -> anyhow::Result<PathBuf> {
    let root = lake.join(DEMO_PROJECT_DIR);
    for (path, bytes) in DEMO_FILES {
        let target = root.join(path);
        let dir = target.parent().expect("a file in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        if std::fs::read(&target).is_ok_and(|old| old == *bytes) {
            continue;
        }
        let partial = target.with_extension("partial");
        std::fs::write(&partial, bytes)
            .and_then(|()| std::fs::rename(&partial, &target))
            .with_context(|| format!("writing {}", target.display()))?;
    }
    Ok(root.join(DEMO_JOB))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to one of the demo's folders must be embedded too, or
    /// the demo outside the repository would miss it.
    #[test]
    fn every_file_of_the_demo_folders_is_embedded() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut on_disk = vec![DEMO_JOB.to_string()];
        for dir in ["sql/features", "sql/rules", "reference"] {
            for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
                on_disk.push(format!(
                    "{dir}/{}",
                    entry.unwrap().file_name().to_string_lossy()
                ));
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = DEMO_FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
        for (path, bytes) in DEMO_FILES {
            assert_eq!(std::fs::read(repo.join(path)).unwrap(), *bytes, "{path}");
        }
    }

    #[test]
    fn the_project_is_written_under_the_lake_and_rewritten_when_changed() {
        let lake = tempfile::tempdir().unwrap();
        let job = write_demo_project(lake.path()).unwrap();
        assert_eq!(job, lake.path().join("demo-project/jobs/demo.toml"));
        let sql = lake.path().join("demo-project/sql/rules/structuring.sql");
        std::fs::write(&sql, "edited").unwrap();
        write_demo_project(lake.path()).unwrap();
        assert_ne!(std::fs::read(&sql).unwrap(), b"edited");
        assert!(
            lake.path()
                .join("demo-project/reference/ofac_sdn.parquet")
                .is_file()
        );
    }
}
