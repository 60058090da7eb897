//! The one model format and the one definition of each parameter: the
//! published model tables keep their bytes, and a bad parameter is refused
//! by `validate` before any source is read.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::common::*;

/// The data files of `table`, as `demo_outputs.sh` prints them.
fn table_hashes(lake: &Path, table: &str) -> String {
    let mut hashes: Vec<String> = file_tree(&lake.join(table))
        .into_iter()
        .filter(|f| f.ends_with(".parquet") && !f.starts_with("_delta_log"))
        .map(|f| {
            hex::encode(Sha256::digest(
                std::fs::read(lake.join(table).join(f)).unwrap(),
            ))
        })
        .collect();
    hashes.sort();
    format!("{table} {}", hashes.join(","))
}

#[test]
fn demo_outputs_are_byte_identical_to_the_fixture() {
    // tests/fixtures/demo_outputs.sh made the fixture with the seglake of
    // the commit before the model format moved to its own crate.
    let lake = tempfile::tempdir().unwrap();
    let raw = lake.path().join("raw");
    seglake_ok(&[
        "generate",
        "--out",
        raw.to_str().unwrap(),
        "--customers",
        "1000",
        "--seed",
        "7",
    ]);
    seglake_ok(&[
        "run",
        "jobs/demo.toml",
        "--var",
        &format!("lake={}", lake.path().display()),
        "--run-id",
        "fixture-run",
    ]);
    let got: Vec<String> = ["models", "segments", "segment_profiles", "screening_hits"]
        .iter()
        .map(|t| table_hashes(lake.path(), t))
        .collect();
    let fixture =
        std::fs::read_to_string(repo_root().join("tests/fixtures/demo_outputs.sha256")).unwrap();
    let wanted: Vec<&str> = fixture.lines().collect();
    assert_eq!(got, wanted, "the published model tables changed");
}

#[test]
fn validate_refuses_risk_num_leaves_1_before_reading_any_source() {
    // An empty lake: the sources do not exist, so any attempt to read one
    // would fail with another message.
    let lake = tempfile::tempdir().unwrap();
    let job = JobVariant::new(
        "num-leaves",
        "class_weight = \"balanced\"",
        "class_weight = \"balanced\"\nnum_leaves = 1",
    );
    let out = seglake(&[
        "validate",
        job.0.to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("key `risk.num_leaves`: num_leaves must be at least 2, got 1"),
        "{}",
        stderr(&out)
    );
    assert!(
        file_tree(lake.path()).is_empty(),
        "validate wrote something"
    );
}

#[test]
fn validate_reports_every_parameter_error_of_every_section() {
    // An empty lake, as above: the errors come before any source is read.
    let lake = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo_root().join("jobs/demo.toml"))
        .unwrap()
        .replacen("k_range = [4, 10]", "k_range = [4, 10]\nbatch_size = 0", 1)
        .replacen(
            "class_weight = \"balanced\"",
            "class_weight = \"balanced\"\nnum_leaves = 1\nmax_bins = 300",
            1,
        );
    let job = JobVariant::new("all-params", "", "");
    std::fs::write(&job.0, text).unwrap();
    let out = seglake(&[
        "validate",
        job.0.to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    for wanted in [
        "3 invalid values",
        "key `segments.batch_size`: batch_size must be at least 1, got 0",
        "key `risk.num_leaves`: num_leaves must be at least 2, got 1",
        "key `risk.max_bins`: max_bins must be between 2 and 255, got 300",
    ] {
        assert!(err.contains(wanted), "`{wanted}` not in:\n{err}");
    }
}
