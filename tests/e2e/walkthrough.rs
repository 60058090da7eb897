//! README "Bring your own data", followed literally on a schema the demo
//! does not use (a credit union: `members.parquet` keyed by an integer
//! `member_no`, a hive-partitioned `payments/` folder with a decimal
//! `value` and a timestamp `paid_at`, and `branches.parquet` without the
//! key): `seglake init --source DIR --out jobs`, `seglake validate`, then
//! `seglake run` publishes a first segmentation, one row per member, keyed
//! by the bank's own integer.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};

use crate::common::*;

const MEMBERS: i64 = 240;

fn write_parquet(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

/// The credit union's three tables under `dir`.
fn credit_union(dir: &Path) {
    write_parquet(
        &dir.join("members.parquet"),
        vec![
            (
                "member_no",
                Arc::new(Int64Array::from_iter_values(1001..=1000 + MEMBERS)) as ArrayRef,
            ),
            (
                "joined_on",
                Arc::new(Date32Array::from_iter_values(
                    (0..MEMBERS as i32).map(|i| 16_436 + i * 7),
                )),
            ),
            (
                "tier",
                Arc::new(StringArray::from_iter_values(
                    (0..MEMBERS).map(|i| ["basic", "plus", "gold"][(i % 3) as usize]),
                )),
            ),
        ],
    );
    for (part, year) in [(0i64, 2024), (1, 2025)] {
        let rows = 0..1200i64;
        // 2024-01-01 / 2025-01-01 plus up to ~170 days.
        let start = [1_704_067_200_000_000i64, 1_735_689_600_000_000][part as usize];
        write_parquet(
            &dir.join(format!("payments/year={year}/part-0.parquet")),
            vec![
                (
                    "member_no",
                    Arc::new(Int64Array::from_iter_values(
                        rows.clone()
                            .map(|i| 1001 + (i * 13 + part * 5) % (MEMBERS - 10)),
                    )) as ArrayRef,
                ),
                (
                    "paid_at",
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(
                            rows.clone().map(|i| start + i * 12_345_678_901),
                        )
                        .with_timezone("UTC"),
                    ),
                ),
                (
                    "value",
                    Arc::new(
                        Decimal128Array::from_iter_values(
                            rows.clone().map(|i| ((i * 7919) % 250_000 + 500) as i128),
                        )
                        .with_precision_and_scale(12, 2)
                        .unwrap(),
                    ),
                ),
                (
                    "channel",
                    Arc::new(StringArray::from_iter_values(
                        rows.clone()
                            .map(|i| ["card", "transfer", "cash"][(i % 3) as usize]),
                    )),
                ),
            ],
        );
    }
    write_parquet(
        &dir.join("branches.parquet"),
        vec![
            (
                "branch_code",
                Arc::new(StringArray::from(vec!["N1", "S2"])) as ArrayRef,
            ),
            ("city", Arc::new(StringArray::from(vec!["North", "South"]))),
        ],
    );
}

/// Runs seglake in `dir`, as a user in their project folder would.
fn seglake_in(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn init_validate_run_gives_a_first_segmentation_of_a_new_schema() {
    let project = tempfile::tempdir().unwrap();
    let data = project.path().join("data/credit_union");
    credit_union(&data);

    let out = seglake_in(
        project.path(),
        &["init", "--source", "data/credit_union", "--out", "jobs"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stdout(&out);
    assert!(said.contains("key guessed: member_no"), "{said}");
    assert!(
        said.contains("seglake validate jobs/credit_union.toml"),
        "{said}"
    );
    let job = std::fs::read_to_string(project.path().join("jobs/credit_union.toml")).unwrap();
    assert!(job.contains("key = \"member_no\""), "{job}");
    let views = std::fs::read_dir(project.path().join("jobs/sql/credit_union"))
        .unwrap()
        .count();
    assert!(views >= 2, "a view for payments and the feature table");

    // A second init refuses to overwrite what the user may have edited.
    let again = seglake_in(
        project.path(),
        &["init", "--source", "data/credit_union", "--out", "jobs"],
    );
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("credit_union.toml"),
        "{}",
        stderr(&again)
    );

    let out = seglake_in(project.path(), &["validate", "jobs/credit_union.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("is valid"), "{}", stdout(&out));

    // Relative paths in a job resolve against the job file's folder: the
    // README passes the lake as $PWD/lake.
    let lake = project.path().join("lake");
    let var = format!("lake={}", lake.display());
    let out = seglake_in(
        project.path(),
        &["run", "jobs/credit_union.toml", "--var", &var],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let rows = table_rows(&lake, "segments");
    assert_eq!(rows.len(), MEMBERS as usize, "one row per member");
    assert!(
        rows.iter().all(|r| r["member_no"].is_i64()),
        "member_no kept as an integer"
    );
}

#[test]
fn init_on_a_folder_without_parquet_names_it_and_writes_nothing() {
    let project = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(project.path().join("empty")).unwrap();
    std::fs::write(project.path().join("empty/notes.csv"), "a,b\n").unwrap();
    let out = seglake_in(
        project.path(),
        &["init", "--source", "empty", "--out", "jobs"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no Parquet files"),
        "{}",
        stderr(&out)
    );
    assert!(!project.path().join("jobs").exists(), "nothing written");
}
