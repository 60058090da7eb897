//! Monitoring over hand-built banks: drift against the previous run equal
//! to numpy's, the outcomes analysis of an earlier risk model equal to
//! scikit-learn's, a `[monitoring]` limit that makes a run's models the
//! challenger (which `serve` ignores until `seglake promote`), a backfill
//! that survives a SIGKILL, and bad monitoring input refused before
//! anything is written.
//!
//! The bank (see [`Bank`]) is drawn from a seeded generator: three
//! archetypes that differ only in f2 (means 0, 8 and 16, sd 1), and three
//! features everyone draws alike (f1 ~ N(100, 15), f3 ~ Exp(mean 10),
//! f4 ~ U(0, 1)). Three months on ([`Bank::after`]) the top archetype's
//! share is a half instead of a third and f2 moved up by one sd, while
//! f1, f3 and f4 are new draws from the same distributions. The planted
//! drift is in f2 alone: by simulation its PSI is about 0.7 at 3,000
//! customers (0.1 from the share change alone), the others' about 0.01.
//!
//! The job segments on f2 alone (k = 3): k-means over all four features
//! splits the noise of the three shared ones as readily as the archetypes,
//! so the segments would not be the archetypes and the share change would
//! not show. The risk model reads all four, so all four are model features
//! and all four get a PSI. Its labels are the case decisions (`outcomes`:
//! customer_id, outcome, decided_at) taken before the run's as_of, read
//! through `run_context` ([`LABELS_SQL`]); the decisions are planted by
//! [`decisions`], some before the first run's as_of, some between the two
//! runs' (the outcomes analysis), some exactly on either as_of, some after
//! both.
//!
//! Every path in the job file is relative to it; the job, its SQL and its
//! sources are written into a temporary folder per test.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Float64Array, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use serde_json::{Value, json};

use crate::common::{
    file_tree, micros, python_json, repo_root, row_text, runs_rows, seglake, stderr, stdout,
    table_rows, write_parquet,
};
use crate::http::{Serve, post};

/// The two points in time the drift, outcomes and limit tests run at.
const AS_OF_1: &str = "2025-06-30T00:00:00Z";
const AS_OF_2: &str = "2025-09-30T00:00:00Z";

/// The feature table's numeric columns.
const FEATURES: [&str; 4] = ["f1", "f2", "f3", "f4"];

/// The `[monitoring]` limits, in the order the spec lists them.
const LIMITS: [&str; 6] = [
    "max_feature_psi",
    "max_risk_score_psi",
    "max_segment_share_change",
    "max_customers_changed_segment",
    "min_auc",
    "min_outcomes_auc",
];

/// The outcomes that confirm suspicion (the others: false_positive,
/// no_action).
const CONFIRMING: [&str; 2] = ["sar_filed", "true_positive"];

const DAY_MICROS: i64 = 86_400_000_000;

/// The feature view: the bank's four numbers as they are.
const FEATURES_SQL: &str = "-- One row per customer: the four numbers of the hand-built bank.\n\
                            SELECT customer_id, f1, f2, f3, f4 FROM customers\n";

/// The label view: 1 when a case decided before the run's as_of was a SAR
/// filed or a true positive, 0 when all were false positives or needed no
/// action; no row for a customer without one. A decision taken exactly at
/// as_of is not yet known.
const LABELS_SQL: &str = "\
SELECT o.customer_id,
       MAX(CASE WHEN o.outcome IN ('sar_filed', 'true_positive') THEN 1 ELSE 0 END) AS label
FROM outcomes o
CROSS JOIN run_context r
WHERE o.decided_at < r.as_of
GROUP BY o.customer_id
";

/// splitmix64: the same stream for the same seed on every machine.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn customer_id(i: usize) -> String {
    format!("C{i:05}")
}

/// A bank of `customers`, drawn from `seed`.
#[derive(Debug, Clone, Copy)]
struct Bank {
    customers: usize,
    seed: u64,
    /// Archetype 2's share; archetypes 0 and 1 split the rest evenly.
    top_share: f64,
    /// Added to every customer's f2.
    f2_shift: f64,
}

impl Bank {
    /// The bank as it was: a third of the customers in each archetype.
    fn before(customers: usize) -> Bank {
        Bank {
            customers,
            seed: 11,
            top_share: 1.0 / 3.0,
            f2_shift: 0.0,
        }
    }

    /// Three months on: the same customer ids, half of them archetype 2,
    /// f2 one sd higher; f1, f3 and f4 drawn anew from the same
    /// distributions.
    fn after(customers: usize) -> Bank {
        Bank {
            customers,
            seed: 12,
            top_share: 0.5,
            f2_shift: 1.0,
        }
    }

    /// Customer `i`'s archetype (0, 1 or 2), by position.
    fn archetype(&self, i: usize) -> usize {
        let top_from = self.customers - (self.customers as f64 * self.top_share).round() as usize;
        if i < top_from / 2 {
            0
        } else if i < top_from {
            1
        } else {
            2
        }
    }

    /// Writes the bank as the Parquet source `customers` of the jobs in
    /// `dir`, replacing what is there.
    fn write(&self, dir: &Path) {
        let mut rng = Rng(self.seed);
        let mut columns: [Vec<f64>; 4] = Default::default();
        for i in 0..self.customers {
            columns[0].push(100.0 + 15.0 * rng.normal());
            columns[1].push(8.0 * self.archetype(i) as f64 + rng.normal() + self.f2_shift);
            columns[2].push(-10.0 * rng.uniform().ln());
            columns[3].push(rng.uniform());
        }
        let ids: Vec<String> = (0..self.customers).map(customer_id).collect();
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(StringArray::from(ids))];
        arrays.extend(
            columns
                .into_iter()
                .map(|c| Arc::new(Float64Array::from(c)) as ArrayRef),
        );
        let mut fields = vec![Field::new("customer_id", DataType::Utf8, false)];
        fields.extend(
            FEATURES
                .iter()
                .map(|f| Field::new(*f, DataType::Float64, false)),
        );
        write_parquet(
            &dir.join("raw/customers/part-0.parquet"),
            Arc::new(Schema::new(fields)),
            arrays,
        );
    }
}

/// One decided case.
struct Decision {
    customer: usize,
    outcome: &'static str,
    /// decided_at, in microseconds since the epoch.
    at: i64,
}

/// A decision's outcome for a customer whose suspicion is confirmed with
/// probability `risk`.
fn outcome(rng: &mut Rng, risk: f64) -> &'static str {
    let confirmed = rng.uniform() < risk;
    match (confirmed, rng.uniform() < 0.5) {
        (true, true) => "sar_filed",
        (true, false) => "true_positive",
        (false, true) => "false_positive",
        (false, false) => "no_action",
    }
}

/// The case decisions of the bank's customers; suspicion is confirmed for
/// 5%, 20% and 50% of archetypes 0, 1 and 2 (as they were before).
///
/// - every third customer: one decision from 2025-01-01 to 2025-05-30,
///   before every as_of the tests use (the labels every run trains on);
/// - every fifth (i % 5 == 1): one from 2025-07-01 to 2025-09-27, between
///   [`AS_OF_1`] and [`AS_OF_2`] (the outcomes analysis), and every tenth
///   also a false positive on 2025-07-01 (still positive if the other
///   one confirms);
/// - some (i % 5 == 3, i % 4 == 0): a SAR filed exactly at [`AS_OF_1`]:
///   no label for the first run (not yet known) and not in the window
///   after it;
/// - some (i % 5 == 4, i % 4 == 0): one exactly at [`AS_OF_2`], the last
///   instant of the window;
/// - every seventh (i % 7 == 2): a SAR filed on 2025-10-15, after both.
fn decisions(customers: usize) -> Vec<Decision> {
    let bank = Bank::before(customers);
    let mut rng = Rng(99);
    let early = micros("2025-01-01 09:00:00");
    let window = micros("2025-07-01 09:00:00");
    let mut out = Vec::new();
    for i in 0..customers {
        let risk = [0.05, 0.2, 0.5][bank.archetype(i)];
        let mut decide = |at: i64, outcome: &'static str| {
            out.push(Decision {
                customer: i,
                outcome,
                at,
            })
        };
        if i % 3 == 0 {
            decide(
                early + ((i * 7) % 150) as i64 * DAY_MICROS,
                outcome(&mut rng, risk),
            );
        }
        if i % 5 == 1 {
            if i % 10 == 1 {
                decide(window, "false_positive");
            }
            decide(
                window + (i % 89) as i64 * DAY_MICROS,
                outcome(&mut rng, risk),
            );
        }
        if i % 5 == 3 && i % 4 == 0 {
            decide(instant(AS_OF_1), "sar_filed");
        }
        if i % 5 == 4 && i % 4 == 0 {
            decide(instant(AS_OF_2), outcome(&mut rng, risk));
        }
        if i % 7 == 2 {
            decide(micros("2025-10-15 09:00:00"), "sar_filed");
        }
    }
    out
}

/// Writes `decided` as the Parquet source `outcomes` of the jobs in `dir`.
fn write_decisions(dir: &Path, decided: &[Decision]) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("customer_id", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new(
            "decided_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]));
    let ids: Vec<String> = decided.iter().map(|d| customer_id(d.customer)).collect();
    let outcomes: Vec<&str> = decided.iter().map(|d| d.outcome).collect();
    let times: Vec<i64> = decided.iter().map(|d| d.at).collect();
    write_parquet(
        &dir.join("raw/outcomes/part-0.parquet"),
        schema,
        vec![
            Arc::new(StringArray::from(ids)),
            Arc::new(StringArray::from(outcomes)),
            Arc::new(TimestampMicrosecondArray::from(times).with_timezone("UTC")),
        ],
    );
}

/// An RFC 3339 time in microseconds since the epoch.
fn instant(rfc3339: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .timestamp_micros()
}

/// Each customer's label from the decisions in (`after`, `until`]:
/// whether any of them confirmed suspicion.
fn labels_between(decided: &[Decision], after: i64, until: i64) -> BTreeMap<String, bool> {
    let mut out = BTreeMap::new();
    for d in decided.iter().filter(|d| after < d.at && d.at <= until) {
        *out.entry(customer_id(d.customer)).or_insert(false) |= CONFIRMING.contains(&d.outcome);
    }
    out
}

/// Writes the SQL and the job `name` into `dir`, with `monitoring` (a
/// `[monitoring]` section, or nothing) before its output; returns the job
/// file. The job publishes to `dir/lake`.
fn write_job(dir: &Path, name: &str, monitoring: &str) -> PathBuf {
    let sql = dir.join("sql");
    std::fs::create_dir_all(&sql).unwrap();
    std::fs::write(sql.join("customer_features.sql"), FEATURES_SQL).unwrap();
    std::fs::write(sql.join("risk_labels.sql"), LABELS_SQL).unwrap();
    let job = dir.join(format!("{name}.toml"));
    std::fs::write(
        &job,
        format!(
            r#"[job]
name = "{name}"
seed = 5
as_of = "{AS_OF_1}"

[sources.customers]
uri = "raw/customers"
format = "parquet"

[sources.outcomes]
uri = "raw/outcomes"
format = "parquet"

[features]
sql_dir = "sql"
views = ["customer_features"]
key = "customer_id"

# The archetypes differ in f2 only: segments on f2 find them.
[segments]
k = 3
features = ["f2"]
outcomes = "outcomes"

# Reads f1 .. f4, so all four are model features.
[risk]
labels = "risk_labels"
class_weight = "balanced"

[[risk.bands]]
name = "high"
alert_rate = 0.05

[[risk.bands]]
name = "medium"
alert_rate = 0.2

{monitoring}
[output]
root = "lake"
"#
        ),
    )
    .unwrap();
    job
}

/// A folder holding the bank as it was (`customers` customers), their case
/// decisions, and the job `name`; returns it and the job file.
fn bank_folder(customers: usize, name: &str, monitoring: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    Bank::before(customers).write(dir.path());
    write_decisions(dir.path(), &decisions(customers));
    let job = write_job(dir.path(), name, monitoring);
    (dir, job)
}

/// `seglake run JOB --as-of AS_OF --run-id RUN_ID`.
fn run_at(job: &Path, as_of: &str, run_id: &str) -> Output {
    seglake(&[
        "run",
        job.to_str().unwrap(),
        "--as-of",
        as_of,
        "--run-id",
        run_id,
    ])
}

/// [`run_at`], which must exit with 0; its stdout.
fn run_ok(job: &Path, as_of: &str, run_id: &str) -> String {
    let out = run_at(job, as_of, run_id);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run {run_id}:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `runs.metrics` of the succeeded run `run_id`, parsed.
fn metrics_of(lake: &Path, run_id: &str) -> Value {
    let run = runs_rows(lake)
        .into_iter()
        .find(|r| r["run_id"] == run_id && r["status"] == "succeeded")
        .unwrap_or_else(|| panic!("no succeeded run {run_id} in `runs`"));
    serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap()
}

/// The `monitoring` rows of `run_id` with `metric`.
fn rows_of<'a>(rows: &'a [Value], run_id: &str, metric: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| r["run_id"] == run_id && r["metric"] == metric)
        .collect()
}

/// A text column of a row; `None` when null or absent (the Rust reader's
/// JSON leaves nulls out, Python's writes them).
fn text<'a>(row: &'a Value, column: &str) -> Option<&'a str> {
    row.get(column).and_then(Value::as_str)
}

fn value(row: &Value) -> f64 {
    row["value"]
        .as_f64()
        .unwrap_or_else(|| panic!("no value: {row}"))
}

/// `rows` keyed by their `column` (each row must have one).
fn by<'a>(rows: &[&'a Value], column: &str) -> BTreeMap<String, &'a Value> {
    let keyed: BTreeMap<String, &Value> = rows
        .iter()
        .map(|r| {
            let key = text(r, column).unwrap_or_else(|| panic!("no {column}: {r}"));
            (key.to_string(), *r)
        })
        .collect();
    assert_eq!(keyed.len(), rows.len(), "{column} repeats: {rows:?}");
    keyed
}

fn close(got: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (got - expected).abs() < tolerance,
        "{what}: seglake {got} vs reference {expected}"
    );
}

/// Runs tests/python/monitoring_reference.py with `args`.
fn reference(args: &[&str]) -> Value {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| std::ffi::OsStr::new(*a)).collect();
    python_json("monitoring_reference.py", &args)
}

/// Polls `condition` every 100 ms for up to a minute.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn drift_flags_exactly_the_planted_shift_and_equals_numpy() {
    const CUSTOMERS: usize = 3000;
    let (dir, job) = bank_folder(CUSTOMERS, "drift", "");
    let lake = dir.path().join("lake");
    let out = run_ok(&job, AS_OF_1, "drift-1");
    assert!(out.contains("no earlier run of this job"), "{out}");

    // The first run has nothing to compare with: this run's shares only.
    let first = table_rows(&lake, "monitoring");
    for metric in [
        "feature_psi",
        "risk_score_psi",
        "segment_share_change",
        "customers_changed_segment",
        "outcomes_auc",
    ] {
        assert!(
            rows_of(&first, "drift-1", metric).is_empty(),
            "{metric} without a previous run"
        );
    }
    let shares: f64 = rows_of(&first, "drift-1", "segment_share")
        .into_iter()
        .map(value)
        .sum();
    close(shares, 1.0, 1e-12, "shares of the first run");
    let metrics = metrics_of(&lake, "drift-1");
    let summary = &metrics["monitoring"];
    assert!(summary["previous_run"].is_null(), "{summary}");
    assert_eq!(summary["role"], "champion", "{summary}");

    // Three months on.
    Bank::after(CUSTOMERS).write(dir.path());
    let out = run_ok(&job, AS_OF_2, "drift-2");
    assert!(out.contains("drift against run drift-1"), "{out}");

    // The reference reads both runs' tables at the versions `runs` records
    // and the `monitoring` table, all with Python deltalake.
    let expected = reference(&[
        "drift",
        lake.to_str().unwrap(),
        "drift-1",
        "drift-2",
        "customer_features",
        "customer_id",
    ]);
    let rows: Vec<Value> = expected["monitoring"].as_array().unwrap().clone();
    for r in rows_of(&rows, "drift-2", "feature_psi") {
        assert!(
            text(r, "as_of").unwrap().starts_with("2025-09-30T00:00:00"),
            "{r}"
        );
        assert_eq!(r["job_name"], "drift");
    }

    // PSI of every model feature, and only of those, equal to numpy's.
    let psi = by(&rows_of(&rows, "drift-2", "feature_psi"), "feature");
    assert_eq!(psi.keys().map(String::as_str).collect::<Vec<_>>(), FEATURES);
    for f in FEATURES {
        let row = psi[f];
        let numpy = expected["psi"][f].as_f64().unwrap();
        close(value(row), numpy, 1e-9, &format!("PSI of {f}"));
        assert_eq!(row["count"], json!(CUSTOMERS), "{row}");
        assert!(row["limit"].is_null() && row["breached"] == false, "{row}");
    }
    // Exactly the planted shift is flagged.
    assert!(value(psi["f2"]) > 0.25, "f2: {}", psi["f2"]);
    for f in ["f1", "f3", "f4"] {
        assert!(value(psi[f]) < 0.1, "{f}: {}", psi[f]);
    }
    let risk = rows_of(&rows, "drift-2", "risk_score_psi");
    assert_eq!(risk.len(), 1, "{risk:?}");
    close(
        value(risk[0]),
        expected["risk_score_psi"].as_f64().unwrap(),
        1e-9,
        "PSI of risk_score",
    );

    // Who changed segment, of the customers in both runs.
    let changed = rows_of(&rows, "drift-2", "customers_changed_segment");
    assert_eq!(changed.len(), 1, "{changed:?}");
    close(
        value(changed[0]),
        expected["changed"]["share"].as_f64().unwrap(),
        1e-12,
        "customers_changed_segment",
    );
    assert_eq!(changed[0]["count"], expected["changed"]["count"]);
    assert_eq!(expected["changed"]["both"], json!(CUSTOMERS));

    // Each label's share and its change; the changes sum to 0.
    let share_of = |run: &str, label: &str| expected[run][label].as_f64().unwrap_or(0.0);
    let shares = by(&rows_of(&rows, "drift-2", "segment_share"), "segment");
    let after_labels: BTreeSet<&String> = expected["share_after"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(shares.keys().collect::<BTreeSet<_>>(), after_labels);
    for (label, row) in &shares {
        close(
            value(row),
            share_of("share_after", label.as_str()),
            1e-12,
            label,
        );
    }
    let changes = by(
        &rows_of(&rows, "drift-2", "segment_share_change"),
        "segment",
    );
    // Each segment's change from the one it continues (matched by the
    // customers they share, as the reference computes it).
    let expected_changes = expected["share_change"].as_object().unwrap();
    assert_eq!(
        changes.keys().collect::<BTreeSet<_>>(),
        expected_changes.keys().collect::<BTreeSet<_>>()
    );
    let mut total = 0.0;
    for (label, row) in &changes {
        let change = expected_changes[label.as_str()].as_f64().unwrap();
        close(value(row), change, 1e-12, &format!("change of `{label}`"));
        total += value(row);
    }
    close(total, 0.0, 1e-12, "sum of the share changes");
    // The top archetype (the segment of high f2 in both runs) went from a
    // third of the customers to a half.
    let top = changes
        .get("high f2")
        .unwrap_or_else(|| panic!("no segment `high f2`: {changes:?}"));
    close(
        value(top),
        0.5 - 1.0 / 3.0,
        0.01,
        "share change of `high f2`",
    );

    // The run's summary in `runs` says the same.
    let metrics = metrics_of(&lake, "drift-2");
    let summary = &metrics["monitoring"];
    assert_eq!(summary["previous_run"], "drift-1", "{summary}");
    assert_eq!(summary["role"], "champion", "{summary}");
    assert_eq!(summary["breaches"], json!([]), "{summary}");
    for m in summary["metrics"].as_array().unwrap() {
        if m["metric"] == "feature_psi" {
            let f = m["feature"].as_str().unwrap();
            close(
                value(m),
                value(psi[f]),
                1e-15,
                &format!("summary PSI of {f}"),
            );
        }
    }

    // `seglake monitor` puts f2 at the top of the second run's drift.
    let report: Value = serde_json::from_str(&crate::common::seglake_ok(&[
        "monitor",
        "--lake",
        lake.to_str().unwrap(),
        "--job",
        "drift",
        "--json",
    ]))
    .unwrap();
    let runs = report["jobs"][0]["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{report}");
    assert_eq!(runs[1]["run_id"], "drift-2");
    assert_eq!(runs[1]["max_feature_psi"]["feature"], "f2", "{report}");
    assert_eq!(runs[1]["max_feature_psi"]["reading"], "act", "{report}");
    assert_eq!(runs[1]["champion"], true, "{report}");
}

#[test]
fn outcomes_analysis_auc_equals_scikit_learn() {
    const CUSTOMERS: usize = 3000;
    let (dir, job) = bank_folder(CUSTOMERS, "outcomes", "");
    let lake = dir.path().join("lake");
    let decided = decisions(CUSTOMERS);
    run_ok(&job, AS_OF_1, "model-1");

    // The first model learned from the decisions taken before its as_of
    // only: not the one exactly at as_of, nor any later.
    let before = labels_between(&decided, i64::MIN, instant(AS_OF_1) - 1);
    let metrics = metrics_of(&lake, "model-1");
    let risk = &metrics["risk"];
    assert_eq!(risk["labelled_customers"], json!(before.len()), "{risk}");
    let positives = before.values().filter(|&&y| y).count();
    assert_eq!(risk["positive_customers"], json!(positives), "{risk}");
    // Its published scores and bands, for the count by hand below.
    let scored: HashMap<String, Value> = table_rows(&lake, "segments")
        .into_iter()
        .map(|r| (row_text(&r, "customer_id"), r))
        .collect();
    assert_eq!(scored.len(), CUSTOMERS);
    // No earlier model to judge yet.
    let rows = table_rows(&lake, "monitoring");
    for metric in ["outcomes_auc", "outcomes_precision", "outcomes_recall"] {
        assert!(rows_of(&rows, "model-1", metric).is_empty(), "{metric}");
    }

    run_ok(&job, AS_OF_2, "model-2");
    let expected = reference(&[
        "outcomes",
        lake.to_str().unwrap(),
        "model-1",
        dir.path().join("raw/outcomes").to_str().unwrap(),
        AS_OF_1,
        AS_OF_2,
        "customer_id",
        "high",
        "medium",
    ]);
    let judged = labels_between(&decided, instant(AS_OF_1), instant(AS_OF_2));
    assert_eq!(expected["count"], json!(judged.len()));
    let rows = table_rows(&lake, "monitoring");
    for metric in ["outcomes_auc", "outcomes_precision", "outcomes_recall"] {
        for r in rows_of(&rows, "model-2", metric) {
            assert_eq!(text(r, "model_run_id"), Some("model-1"), "{r}");
        }
    }

    // Over all customers judged: scikit-learn's AUC, on as many customers
    // as have a decision in (as_of 1, as_of 2].
    let auc = rows_of(&rows, "model-2", "outcomes_auc");
    let overall: Vec<&Value> = auc
        .iter()
        .copied()
        .filter(|r| text(r, "segment").is_none())
        .collect();
    assert_eq!(overall.len(), 1, "{auc:?}");
    close(
        value(overall[0]),
        expected["auc"].as_f64().unwrap(),
        1e-9,
        "outcomes AUC",
    );
    assert_eq!(overall[0]["count"], json!(judged.len()), "{}", overall[0]);

    // Per segment, where each class has at least five customers.
    let per_segment: Vec<&Value> = auc
        .iter()
        .copied()
        .filter(|r| text(r, "segment").is_some())
        .collect();
    let per_segment = by(&per_segment, "segment");
    let reference_segments = expected["per_segment"].as_object().unwrap();
    assert_eq!(
        per_segment.keys().collect::<BTreeSet<_>>(),
        reference_segments.keys().collect::<BTreeSet<_>>()
    );
    for (label, row) in &per_segment {
        let r = &reference_segments[label.as_str()];
        close(value(row), r["auc"].as_f64().unwrap(), 1e-9, label);
        assert_eq!(row["count"], r["count"], "{label}");
    }

    // Precision and recall of each band and those above it.
    let precision = by(&rows_of(&rows, "model-2", "outcomes_precision"), "band");
    let recall = by(&rows_of(&rows, "model-2", "outcomes_recall"), "band");
    for band in ["high", "medium"] {
        let r = &expected["bands"][band];
        close(
            value(precision[band]),
            r["precision"].as_f64().unwrap(),
            1e-12,
            &format!("precision of {band}"),
        );
        assert_eq!(precision[band]["count"], r["flagged"], "{band}");
        close(
            value(recall[band]),
            r["recall"].as_f64().unwrap(),
            1e-12,
            &format!("recall of {band}"),
        );
        assert_eq!(recall[band]["count"], r["positives"], "{band}");
    }
    // And 'high' by hand, from the scores the first run published.
    let flagged: Vec<bool> = judged
        .iter()
        .filter(|(c, _)| scored[c.as_str()]["risk_band"] == "high")
        .map(|(_, &y)| y)
        .collect();
    assert!(!flagged.is_empty(), "no judged customer in band high");
    let hits = flagged.iter().filter(|&&y| y).count();
    close(
        value(precision["high"]),
        hits as f64 / flagged.len() as f64,
        1e-12,
        "precision of high, by hand",
    );
    assert_eq!(precision["high"]["count"], json!(flagged.len()));
}

#[test]
fn a_breached_limit_publishes_a_challenger_that_serve_ignores_until_promoted() {
    const CUSTOMERS: usize = 1500;
    let (dir, job) = bank_folder(CUSTOMERS, "gated", "[monitoring]\nmax_feature_psi = 0.25\n");
    let lake = dir.path().join("lake");
    let lake_arg = lake.to_str().unwrap();
    // No previous run: nothing to go past.
    let out = run_ok(&job, AS_OF_1, "gated-1");
    assert!(out.contains("models: champion"), "{out}");

    Bank::after(CUSTOMERS).write(dir.path());
    let out = run_at(&job, AS_OF_2, "gated-2");
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text_out = stdout(&out);
    assert!(text_out.contains("CHALLENGER"), "{text_out}");
    assert!(text_out.contains("feature_psi[f2]"), "{text_out}");

    // Published all the same, as the challenger.
    let segments = table_rows(&lake, "segments");
    assert_eq!(segments.len(), CUSTOMERS);
    assert!(segments.iter().all(|r| r["run_id"] == "gated-2"));
    let metrics = metrics_of(&lake, "gated-2");
    let summary = &metrics["monitoring"];
    assert_eq!(summary["role"], "challenger", "{summary}");
    let breaches = summary["breaches"].as_array().unwrap();
    assert_eq!(breaches.len(), 1, "{summary}");
    assert_eq!(breaches[0]["metric"], "feature_psi[f2]", "{summary}");
    assert_eq!(breaches[0]["limit"], json!(0.25), "{summary}");
    let rows = table_rows(&lake, "monitoring");
    let psi = by(&rows_of(&rows, "gated-2", "feature_psi"), "feature");
    assert_eq!(psi.len(), FEATURES.len());
    for (f, row) in &psi {
        assert_eq!(row["limit"], json!(0.25), "{row}");
        assert_eq!(row["breached"], json!(f == "f2"), "{row}");
    }
    let gates = rows_of(&rows, "gated-2", "gates_breached");
    assert_eq!(gates.len(), 1);
    close(value(gates[0]), 1.0, 1e-12, "gates_breached");

    // serve scores with the champion, the first run.
    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(&lake, &wal.path().join("wal"), &["--reload-every", "200ms"]);
    let customer = json!({"features": {"f1": 100.0, "f2": 8.0, "f3": 10.0, "f4": 0.5}});
    let scored_by = || {
        let r = post(serve.addr, "/v1/score", &customer);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["run_id"].as_str().unwrap().to_string()
    };
    assert_eq!(scored_by(), "gated-1");

    // Promoted: recorded in `runs`, and serve follows without a restart.
    let out = seglake(&[
        "promote",
        "gated-2",
        "--reason",
        "reviewed drift",
        "--by",
        "tester",
        "--lake",
        lake_arg,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("gated-2 is now the champion (was: gated-1)"),
        "{}",
        stdout(&out)
    );
    let promotions: Vec<Value> = runs_rows(&lake)
        .into_iter()
        .filter(|r| r["status"] == "promotion")
        .collect();
    assert_eq!(promotions.len(), 1);
    let recorded: Value = serde_json::from_str(promotions[0]["metrics"].as_str().unwrap()).unwrap();
    let promotion = &recorded["promotion"];
    assert_eq!(promotion["run_id"], "gated-2", "{promotion}");
    assert_eq!(promotion["by"], "tester", "{promotion}");
    assert_eq!(promotion["reason"], "reviewed drift", "{promotion}");
    assert_eq!(promotion["previous_champion"], "gated-1", "{promotion}");
    assert!(promotion["at"].is_string(), "{promotion}");
    eventually("serve scores with the promoted run", || {
        scored_by() == "gated-2"
    });

    // An unknown run, and the champion again: refused, nothing written.
    let runs_files = file_tree(&lake.join("runs"));
    for (run, message) in [
        ("no-such-run", "no run `no-such-run`"),
        ("gated-2", "already the champion"),
    ] {
        let out = seglake(&[
            "promote", run, "--reason", "again", "--by", "tester", "--lake", lake_arg,
        ]);
        assert_eq!(out.status.code(), Some(1), "{run}: {}", stderr(&out));
        assert!(stderr(&out).contains(message), "{run}: {}", stderr(&out));
        assert_eq!(
            file_tree(&lake.join("runs")),
            runs_files,
            "promoting {run} wrote to `runs`"
        );
    }
    assert_eq!(scored_by(), "gated-2");
}

#[test]
fn backfill_of_four_month_ends_survives_a_kill() {
    let (dir, job) = bank_folder(1200, "monthly", "");
    let lake = dir.path().join("lake");
    let args = [
        "backfill",
        job.to_str().unwrap(),
        "--from",
        "2025-06-01",
        "--to",
        "2025-09-01",
        "--every",
        "1mo",
    ];
    let points = [
        ("2025-06-01", "backfill-monthly-20250601T000000Z"),
        ("2025-07-01", "backfill-monthly-20250701T000000Z"),
        ("2025-08-01", "backfill-monthly-20250801T000000Z"),
        ("2025-09-01", "backfill-monthly-20250901T000000Z"),
    ];
    let succeeded = || -> Vec<Value> {
        runs_rows(&lake)
            .into_iter()
            .filter(|r| r["status"] == "succeeded")
            .collect()
    };

    // Killed once the second point has started.
    let log = dir.path().join("backfill.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("[2/4]") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the backfill ended ({status}) before its second point:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "no second point after 300 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done = succeeded();
    assert!(
        (1..points.len()).contains(&done.len()),
        "{} points published before the kill",
        done.len()
    );
    assert!(
        done.iter().any(|r| r["run_id"] == points[0].1),
        "the first point is not in `runs` after the kill"
    );

    // Again, to the end: the first point is not run twice.
    let out = seglake(&args);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let second = stderr(&out);
    assert!(
        second.lines().any(|l| l.starts_with("[1/4]")
            && l.contains(&format!("{} already published, skipped", points[0].1))),
        "{second}"
    );

    let runs = succeeded();
    let ids: Vec<String> = runs.iter().map(|r| row_text(r, "run_id")).collect();
    assert_eq!(
        ids.iter().collect::<BTreeSet<_>>().len(),
        ids.len(),
        "a point was published twice: {ids:?}"
    );
    assert_eq!(ids.len(), points.len(), "{ids:?}");
    let monitoring = table_rows(&lake, "monitoring");
    for (k, (date, id)) in points.iter().enumerate() {
        let run = runs
            .iter()
            .find(|r| r["run_id"] == *id)
            .unwrap_or_else(|| panic!("no run {id}: {ids:?}"));
        let as_of = row_text(run, "as_of");
        assert!(
            as_of.starts_with(&format!("{date}T00:00:00")),
            "{id}: as_of {as_of}"
        );
        // Each point measured drift against the point before it...
        let metrics = metrics_of(&lake, id);
        let previous = &metrics["monitoring"]["previous_run"];
        match k {
            0 => assert!(previous.is_null(), "{id}: {previous}"),
            _ => assert_eq!(previous, points[k - 1].1, "{id}"),
        }
        // ...and its monitoring rows are in the table once.
        assert_eq!(rows_of(&monitoring, id, "gates_breached").len(), 1, "{id}");
    }
}

#[test]
fn bad_monitoring_input_exits_1_naming_it_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    Bank::before(120).write(dir.path());
    write_decisions(dir.path(), &decisions(120));
    let path = |p: PathBuf| p.to_str().unwrap().to_string();
    let unknown = path(write_job(
        dir.path(),
        "unknown_limit",
        "[monitoring]\nmax_psi = 0.2\n",
    ));
    let negative = path(write_job(
        dir.path(),
        "negative_limit",
        "[monitoring]\nmin_auc = -0.5\n",
    ));
    let nan = path(write_job(
        dir.path(),
        "nonfinite_limit",
        "[monitoring]\nmax_feature_psi = nan\n",
    ));
    let good = path(write_job(dir.path(), "checked", ""));
    let lake = dir.path().join("lake");
    let known = LIMITS.join(", ");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["run", unknown.as_str()],
            vec!["monitoring.max_psi", known.as_str()],
        ),
        (
            vec!["run", negative.as_str()],
            vec!["monitoring.min_auc", "`-0.5`"],
        ),
        (
            vec!["run", nan.as_str()],
            vec!["monitoring.max_feature_psi", "`nan`"],
        ),
        (
            vec!["run", good.as_str(), "--as-of", "2999-01-01T00:00:00Z"],
            vec!["2999-01-01T00:00:00Z", "future"],
        ),
        (
            vec!["run", good.as_str(), "--as-of", "yesterday"],
            vec!["yesterday", "RFC 3339"],
        ),
        (
            vec!["validate", good.as_str(), "--as-of", "2999-01-01T00:00:00Z"],
            vec!["2999-01-01T00:00:00Z", "future"],
        ),
        (
            vec![
                "reproduce",
                "--as-of",
                "yesterday",
                "--lake",
                lake.to_str().unwrap(),
            ],
            vec!["yesterday", "RFC 3339"],
        ),
        (
            vec![
                "backfill",
                good.as_str(),
                "--from",
                "2025-09-01",
                "--to",
                "2025-06-01",
                "--every",
                "1mo",
            ],
            vec!["2025-06-01", "2025-09-01", "reversed"],
        ),
        (
            vec![
                "backfill",
                good.as_str(),
                "--from",
                "2025-06-01",
                "--to",
                "2999-01-01",
                "--every",
                "1mo",
            ],
            vec!["2999-01-01", "future"],
        ),
    ];
    for (args, messages) in cases {
        let out = seglake(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}:\n{err}");
        for m in messages {
            assert!(err.contains(m), "{args:?}: expected `{m}` in:\n{err}");
        }
        assert!(!lake.join("runs").exists(), "{args:?} wrote `runs`");
        assert!(
            file_tree(&lake).is_empty(),
            "{args:?} wrote {:?}",
            file_tree(&lake)
        );
    }
}

#[test]
fn serve_shadow_scores_with_the_challenger_beside_the_champion() {
    const CUSTOMERS: usize = 1500;
    const POSTED: usize = 40;
    let (dir, job) = bank_folder(
        CUSTOMERS,
        "shadowed",
        "[monitoring]\nmax_feature_psi = 0.25\n",
    );
    let lake = dir.path().join("lake");
    run_ok(&job, AS_OF_1, "shadow-1");
    let champion_bands = bands_by_customer(&table_rows(&lake, "segments"));
    Bank::after(CUSTOMERS).write(dir.path());
    let out = run_at(&job, AS_OF_2, "shadow-2");
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));

    // The challenger's published answers for the customers posted, with
    // the features it published for them.
    let features: BTreeMap<String, Value> = table_rows(&lake, "customer_features")
        .into_iter()
        .map(|r| (row_text(&r, "customer_id"), r))
        .collect();
    let published: BTreeMap<String, Value> = table_rows(&lake, "segments")
        .into_iter()
        .map(|r| (row_text(&r, "customer_id"), r))
        .collect();
    let posted: Vec<&String> = published.keys().take(POSTED).collect();
    let customers: Vec<Value> = posted
        .iter()
        .map(|id| {
            let f = &features[id.as_str()];
            let values: serde_json::Map<String, Value> = FEATURES
                .iter()
                .map(|n| (n.to_string(), f[*n].clone()))
                .collect();
            json!({"customer_id": id, "features": values})
        })
        .collect();

    let wal = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(
        &lake,
        &wal.path().join("wal"),
        &["--shadow", "--flush-every", "200ms"],
    );
    let response = post(
        serve.addr,
        "/v1/score/batch",
        &json!({ "customers": customers }),
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let answered = response.json()["scores"].as_array().unwrap().clone();
    assert!(answered.iter().all(|s| s["run_id"] == "shadow-1"));
    // A clean stop commits what is waiting.
    assert_eq!(serve.terminate(), Some(0), "{}", serve.log_text());

    let shadow = table_rows(&lake, "shadow_scores");
    assert_eq!(shadow.len(), POSTED, "{shadow:?}");
    for (row, answer) in shadow.iter().zip(&answered) {
        let id = row_text(row, "customer_id");
        assert_eq!(json!(id), answer["customer_id"], "{row}");
        // The champion's answer is the one the caller got.
        assert_eq!(row["champion_run_id"], "shadow-1", "{row}");
        assert_eq!(
            row["champion_segment_label"], answer["segment_label"],
            "{row}"
        );
        assert_eq!(row["champion_risk_score"], answer["risk_score"], "{row}");
        assert_eq!(row["champion_risk_band"], answer["risk_band"], "{row}");
        // The challenger, on the features it published, answers what it
        // published: scoring is the same function in the run and in serve.
        let theirs = &published[id.as_str()];
        assert_eq!(row["challenger_run_id"], "shadow-2", "{row}");
        assert_eq!(
            row["challenger_segment_label"], theirs["segment_label"],
            "{row}"
        );
        assert_eq!(row["challenger_risk_score"], theirs["risk_score"], "{row}");
        assert_eq!(row["challenger_risk_band"], theirs["risk_band"], "{row}");
    }

    // `compare` puts the two side by side: band agreement and alert volume
    // over the customers both scored, as counted here.
    let challenger_bands = bands_by_customer(&table_rows(&lake, "segments"));
    let out = seglake(&["compare", "--lake", lake.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let compared: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(compared["champion"]["run_id"], "shadow-1", "{compared}");
    assert_eq!(compared["challenger"]["run_id"], "shadow-2", "{compared}");
    let agreement = &compared["band_agreement"];
    let same = champion_bands
        .iter()
        .filter(|(id, band)| challenger_bands.get(*id) == Some(*band))
        .count();
    assert_eq!(agreement["compared"], json!(CUSTOMERS), "{agreement}");
    assert_eq!(agreement["same_band"], json!(same), "{agreement}");
    let alerting =
        |bands: &BTreeMap<String, String>| bands.values().filter(|b| *b != "low").count();
    let volume = &compared["alert_volume"];
    assert_eq!(
        volume["champion"]["in_alerting_band"],
        json!(alerting(&champion_bands)),
        "{volume}"
    );
    assert_eq!(
        volume["challenger"]["in_alerting_band"],
        json!(alerting(&challenger_bands)),
        "{volume}"
    );
}

/// Each customer's risk band in a `segments` table.
fn bands_by_customer(segments: &[Value]) -> BTreeMap<String, String> {
    segments
        .iter()
        .map(|r| (row_text(r, "customer_id"), row_text(r, "risk_band")))
        .collect()
}
