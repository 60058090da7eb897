//! Feature views that aggregate DOUBLE amounts the natural way (SUM, AVG,
//! STDDEV_*, VAR_*, a ratio of sums, window frames; no DECIMAL casts)
//! publish the same bytes whatever the partition count: a run made with one
//! partition reproduces with two and four. (From a cluster to the local
//! engine: cluster.rs.)

use crate::common::*;

pub const DOUBLE_JOB: &str = "tests/fixtures/double_aggregates/job.toml";

/// How many rows of `table`'s version `a` differ from version `b`, every
/// column but `excluded` compared (an EXCEPT in both directions).
fn rows_differing(lake: &str, table: &str, excluded: &str, a: u32, b: u32) -> String {
    let side = |x: u32| format!("SELECT * EXCLUDE ({excluded}) FROM table_at('{table}', {x})");
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (({} EXCEPT {}) UNION ALL ({} EXCEPT {}))",
        side(a),
        side(b),
        side(b),
        side(a)
    );
    seglake_ok(&["sql", &sql, "--lake", lake])
}

#[test]
fn a_run_with_one_partition_reproduces_with_two_and_four() {
    let lake = generated_lake(1500);
    let ls = lake.path().to_str().unwrap();
    let var = format!("lake={ls}");
    let run = |partitions: &str, run_id: &str| {
        seglake_ok(&[
            "run",
            DOUBLE_JOB,
            "--var",
            &var,
            "--partitions",
            partitions,
            "--run-id",
            run_id,
        ])
    };
    run("1", "one-partition");
    for partitions in ["2", "4"] {
        let out = seglake(&[
            "reproduce",
            "one-partition",
            "--lake",
            ls,
            "--partitions",
            partitions,
        ]);
        assert!(
            out.status.success(),
            "with {partitions} partitions:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        assert!(stdout(&out).contains("bit-identical"), "{}", stdout(&out));
    }
    // A second run with four partitions publishes the same rows in every
    // table (versions 0 and 1), the segment profiles included; only the run
    // id and the number of the run's model differ.
    run("4", "four-partitions");
    for (table, excluded) in [
        ("amount_features", "run_id"),
        ("segments", "run_id, model_version"),
        ("segment_profiles", "run_id, model_version"),
    ] {
        let differing = rows_differing(ls, table, excluded, 0, 1);
        assert!(differing.contains("| 0 |"), "{table}:\n{differing}");
    }
    let features = table_rows(lake.path(), "amount_features");
    assert!(features.len() > 1000);
    assert!(
        features
            .iter()
            .all(|r| r["std_amount"].is_number() || r["txn_count"] == 1)
    );
}

/// A copy of the double-aggregates job in a temporary folder, with
/// `FIRST_VALUE(amount_eur)` (order-dependent without ORDER BY) added to
/// its last view and `strict_determinism` as given.
fn order_dependent_job(strict: bool) -> tempfile::TempDir {
    let from = repo_root().join("tests/fixtures/double_aggregates");
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sql")).unwrap();
    let job = std::fs::read_to_string(from.join("job.toml")).unwrap();
    let job = job.replace(
        "strict_determinism = true",
        &format!("strict_determinism = {strict}"),
    );
    std::fs::write(dir.path().join("job.toml"), job).unwrap();
    std::fs::copy(
        from.join("sql/rolling_amounts.sql"),
        dir.path().join("sql/rolling_amounts.sql"),
    )
    .unwrap();
    let view = std::fs::read_to_string(from.join("sql/amount_features.sql")).unwrap();
    let view = view.replace(
        "COUNT(*) AS txn_count,",
        "COUNT(*) AS txn_count, FIRST_VALUE(amount_eur) AS first_amount,",
    );
    std::fs::write(dir.path().join("sql/amount_features.sql"), view).unwrap();
    dir
}

#[test]
fn order_dependent_sql_is_named_and_refused_when_strict() {
    let lake = generated_lake(50);
    let var = format!("lake={}", lake.path().display());
    let lenient = order_dependent_job(false);
    let job = lenient.path().join("job.toml");
    let out = seglake_ok(&["validate", job.to_str().unwrap(), "--var", &var]);
    assert!(
        out.contains("warning: view `amount_features`")
            && out.contains("first_value(rolling_amounts.amount_eur)")
            && out.contains("combines rows in arrival order"),
        "{out}"
    );

    let strict = order_dependent_job(true);
    let job = strict.path().join("job.toml");
    let before = file_tree(lake.path());
    for command in ["validate", "run"] {
        let out = seglake(&[command, job.to_str().unwrap(), "--var", &var]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{command}: {err}");
        assert!(
            err.contains("feature view `amount_features`")
                && err.contains("first_value(rolling_amounts.amount_eur)")
                && err.contains("strict_determinism = true"),
            "{command}: {err}"
        );
    }
    assert_eq!(
        file_tree(lake.path()),
        before,
        "a refused run wrote something"
    );
}
