//! `seglake rules backtest`: the demo job's rules replayed over two runs
//! must raise exactly the alerts those runs published (suppression across
//! runs included), judged on the case outcomes as this test reads them from
//! the raw Parquet; and `--compare`'s one-size set must raise exactly what
//! the same job without segment overrides publishes in a second lake.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{Array, StringArray};

use crate::common::*;

const LATER: (&str, &str) = (
    "as_of = \"2026-01-01T00:00:00Z\"",
    "as_of = \"2026-01-15T00:00:00Z\"",
);

/// The demo job with every `[[rules.segment_thresholds]]` block removed:
/// the one-size rules.
fn one_size_job(tag: &str) -> JobVariant {
    let base = std::fs::read_to_string(repo_root().join("jobs/demo.toml")).unwrap();
    let start = base.find("[[rules.segment_thresholds]]").unwrap();
    let end = base.find("[[rules.rule]]").unwrap();
    let text = format!("{}{}", &base[..start], &base[end..]);
    assert!(!text.contains("segment_thresholds"));
    let path = JobVariant::path(tag);
    std::fs::write(&path, text).unwrap();
    JobVariant(path)
}

/// Runs `job` at the demo's as_of, then two weeks later.
fn two_runs(job: &Path, lake: &Path, tag: &str) {
    let first = seglake(&["run", job.to_str().unwrap(), "--var", &lake_var(lake)]);
    assert!(first.status.success(), "{}", stderr(&first));
    let text = std::fs::read_to_string(job)
        .unwrap()
        .replacen(LATER.0, LATER.1, 1);
    let later = JobVariant::path(&format!("{tag}-later"));
    std::fs::write(&later, text).unwrap();
    let later = JobVariant(later);
    let second = later.run(lake, &[]);
    assert!(second.status.success(), "{}", stderr(&second));
}

fn lake_var(lake: &Path) -> String {
    format!("lake={}", lake.display())
}

/// `seglake rules backtest` of the demo job over `lake`'s runs in the window.
fn backtest(lake: &Path, from: &str, to: &str, extra: &[&str]) -> std::process::Output {
    let lake = lake_var(lake);
    let mut args = vec!["rules", "backtest", "jobs/demo.toml", "--var", &lake];
    args.extend(["--from", from, "--to", to]);
    args.extend(extra);
    seglake(&args)
}

/// What a successful backtest printed.
fn backtest_ok(lake: &Path, extra: &[&str]) -> String {
    let out = backtest(lake, "2025-12-01", "2026-02-01", extra);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// Customers with a `sar_filed` or `true_positive` case outcome, read
/// straight from the raw Parquet files.
fn confirmed_customers(lake: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(lake.join("raw/case_outcomes")).unwrap() {
        let file = std::fs::File::open(entry.unwrap().path()).unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file, 8192).unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let column = |name: &str| {
                let c = arrow::compute::cast(
                    batch.column_by_name(name).unwrap(),
                    &arrow::datatypes::DataType::Utf8,
                )
                .unwrap();
                c.as_any().downcast_ref::<StringArray>().unwrap().clone()
            };
            let (keys, outcomes) = (column("customer_id"), column("outcome"));
            for i in 0..batch.num_rows() {
                if outcomes.is_valid(i)
                    && ["sar_filed", "true_positive"].contains(&outcomes.value(i))
                {
                    out.insert(keys.value(i).to_string());
                }
            }
        }
    }
    out
}

/// (alerts, true positives) per rule and segment label, and the confirmed
/// customers caught, from a lake's published `alerts`.
struct Expected {
    cells: BTreeMap<(String, String), (u64, u64)>,
    caught: BTreeSet<String>,
    false_positives: u64,
}

fn expected(lake: &Path, confirmed: &BTreeSet<String>) -> Expected {
    let mut e = Expected {
        cells: BTreeMap::new(),
        caught: BTreeSet::new(),
        false_positives: 0,
    };
    for a in table_rows(lake, "alerts") {
        let customer = row_text(&a, "customer_id");
        let hit = confirmed.contains(&customer);
        let cell = e
            .cells
            .entry((row_text(&a, "rule"), row_text(&a, "segment_label")))
            .or_default();
        cell.0 += 1;
        cell.1 += hit as u64;
        if hit {
            e.caught.insert(customer);
        } else {
            e.false_positives += 1;
        }
    }
    e
}

fn reported_cells(set: &serde_json::Value) -> BTreeMap<(String, String), (u64, u64)> {
    let mut out = BTreeMap::new();
    for (rule, segments) in set["per_rule_segment"].as_object().unwrap() {
        for (segment, c) in segments.as_object().unwrap() {
            let counts = (
                c["alerts"].as_u64().unwrap(),
                c["true_positives"].as_u64().unwrap(),
            );
            out.insert((rule.clone(), segment.clone()), counts);
        }
    }
    out
}

#[test]
fn backtest_replays_the_published_alerts_and_compares_with_one_size_rules() {
    let lake = generated_lake(1500);
    let demo = repo_root().join("jobs/demo.toml");
    two_runs(&demo, lake.path(), "backtest");
    let legacy_lake = tempfile::tempdir().unwrap();
    copy_dir(&lake.path().join("raw"), &legacy_lake.path().join("raw"));
    let legacy = one_size_job("backtest-one-size");
    two_runs(&legacy.0, legacy_lake.path(), "backtest-one-size");

    let out = backtest_ok(lake.path(), &["--compare", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["runs"].as_array().unwrap().len(), 2, "{report}");

    let confirmed = confirmed_customers(lake.path());
    let specific = expected(lake.path(), &confirmed);
    let global = expected(legacy_lake.path(), &confirmed);
    assert!(!specific.cells.is_empty() && !confirmed.is_empty());
    assert_eq!(reported_cells(&report["segment_specific"]), specific.cells);
    assert_eq!(reported_cells(&report["global"]), global.cells);

    // Every customer of the demo bank is segmented, so recall's population
    // is every confirmed customer.
    let set = &report["segment_specific"];
    assert_eq!(
        set["confirmed_customers"].as_u64().unwrap() as usize,
        confirmed.len()
    );
    assert_eq!(
        set["confirmed_caught"].as_u64().unwrap() as usize,
        specific.caught.len()
    );
    let missed: BTreeSet<String> = set["missed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_string())
        .collect();
    assert_eq!(missed, &confirmed - &specific.caught);

    let comparison = &report["comparison"];
    let reduction = 1.0 - specific.false_positives as f64 / global.false_positives as f64;
    let n = confirmed.len() as f64;
    let recall_change = (specific.caught.len() as f64 - global.caught.len() as f64) / n;
    let value = |name: &str| comparison[name]["value"].as_f64().unwrap();
    assert!(
        (value("false_positive_reduction") - reduction).abs() < 1e-12,
        "{comparison}"
    );
    assert!(
        (value("recall_change") - recall_change).abs() < 1e-12,
        "{comparison}"
    );
    for name in ["false_positive_reduction", "recall_change"] {
        let e = &comparison[name];
        assert!(
            e["low"].as_f64().unwrap() <= e["value"].as_f64().unwrap(),
            "{e}"
        );
        assert!(
            e["high"].as_f64().unwrap() >= e["value"].as_f64().unwrap(),
            "{e}"
        );
    }

    // The text view names every rule and the comparison.
    let text = backtest_ok(lake.path(), &["--compare"]);
    for rule in [
        "structuring",
        "cross_border_volume",
        "false positives reduced by",
        "recall",
    ] {
        assert!(text.contains(rule), "{rule}:\n{text}");
    }

    // A window without runs, and a window backwards: named errors, exit 1.
    for (from, to, message) in [
        ("2027-01-01", "2027-02-01", "no succeeded run of job `demo`"),
        ("2026-02-01", "2026-01-01", "is after --to"),
    ] {
        let out = backtest(lake.path(), from, to, &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
