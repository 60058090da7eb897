//! Incremental feature runs (`[[features.incremental]]`, jobs/demo_incremental.toml):
//! daily arrivals of transaction files, with late rows and a replaying feed,
//! and runs killed in the middle; every incremental feature table equals a
//! full computation at the same as_of, read back by Python `deltalake`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use serde_json::json;

use crate::common::*;
use crate::http::{Serve, get, post};
use crate::serve::{features_of, latest_run_id, model_inputs, same_f64};

const JOB: &str = "jobs/demo_incremental.toml";

/// A lake for the incremental job: the generated bank's customers, and its
/// transactions as daily arrivals (tests/python/incremental_days.py) in
/// `arrivals/`, of which only `base.parquet` is in the lake yet.
struct Bank {
    dir: tempfile::TempDir,
    counts: Value,
    /// The job file (relative to the repository, or absolute).
    job: String,
    /// Where the job reads transactions, relative to the lake.
    transactions: &'static str,
}

impl Bank {
    fn new(customers: u64) -> Bank {
        let dir = generated_lake(customers);
        let raw = dir.path().join("raw");
        let counts = python_json(
            "incremental_days.py",
            &[
                "split".as_ref(),
                raw.join("transactions").as_os_str(),
                dir.path().join("arrivals").as_os_str(),
            ],
        );
        std::fs::remove_dir_all(raw.join("transactions")).unwrap();
        Bank {
            dir,
            counts,
            job: JOB.to_string(),
            transactions: "raw/transactions",
        }
    }

    /// The bank with `base.parquet` arrived in `raw/transactions`.
    fn with_base(customers: u64) -> Bank {
        let bank = Bank::new(customers);
        bank.arrive("base.parquet");
        bank
    }

    fn lake(&self) -> &Path {
        self.dir.path()
    }

    fn transactions(&self) -> PathBuf {
        self.lake().join(self.transactions)
    }

    fn arrival(&self, name: &str) -> PathBuf {
        self.lake().join("arrivals").join(name)
    }

    /// Moves arrival `name` into the lake's transactions.
    fn arrive(&self, name: &str) {
        std::fs::create_dir_all(self.transactions()).unwrap();
        std::fs::copy(self.arrival(name), self.transactions().join(name)).unwrap();
    }

    fn run_args(&self, as_of: &str) -> Vec<String> {
        vec![
            "run".into(),
            self.job.clone(),
            "--var".into(),
            format!("lake={}", self.lake().display()),
            "--as-of".into(),
            format!("{as_of}T00:00:00Z"),
        ]
    }

    fn run(&self, as_of: &str, extra: &[&str]) -> std::process::Output {
        let mut args = self.run_args(as_of);
        args.extend(extra.iter().map(|s| s.to_string()));
        seglake(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn run_ok(&self, as_of: &str, extra: &[&str]) -> String {
        let out = self.run(as_of, extra);
        assert!(
            out.status.success(),
            "incremental job at {as_of} failed:\n{}",
            stderr(&out)
        );
        stderr(&out)
    }

    /// The `states` of the latest row of `runs`, one per incremental view.
    fn latest_states(&self) -> Vec<Value> {
        let mut runs = runs_rows(&self.lake().join("incremental"));
        runs.sort_by_key(|r| r["finished_at"].as_str().unwrap_or_default().to_string());
        runs.last().unwrap()["states"].as_array().unwrap().clone()
    }

    /// Whether `runs` records the latest version of state table `table`.
    fn state_recorded(&self, table: &str) -> bool {
        let root = self.lake().join("incremental");
        let latest = history_json(&root.join(table))
            .iter()
            .map(|h| h["version"].as_i64().unwrap())
            .max()
            .unwrap();
        runs_rows(&root).iter().any(|r| {
            r["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["table"] == table && o["version"] == latest)
        })
    }

    /// Starts a run at `as_of` (logging at info) and kills it once its log
    /// shows `marker`. Returns whether it was killed before it finished.
    fn kill_at(&self, as_of: &str, marker: &str) -> bool {
        let log = self.lake().join(format!("killed-{as_of}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_seglake"))
            .args(self.run_args(as_of))
            .current_dir(repo_root())
            .env("RUST_LOG", "info")
            .env("SEGLAKE_LOG_FORMAT", "json")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(marker) {
                child.kill().unwrap();
                return !child.wait().unwrap().success();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the run ended ({status}) before `{marker}`:\n{text}");
            }
            assert!(Instant::now() < deadline, "no `{marker}` in 300 s:\n{text}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Whether the two lakes' `table` hold the same rows (Python `deltalake`).
fn same_table(a: &Path, b: &Path, table: &str) -> Value {
    python_json(
        "incremental_days.py",
        &[
            "same".as_ref(),
            a.join("incremental").join(table).as_os_str(),
            b.join("incremental").join(table).as_os_str(),
        ],
    )
}

/// Copies folder `from` (and what is in it) to `to`.
fn copy_folder(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.path().is_dir() {
            copy_folder(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

/// A full computation at `as_of` over a copy of `bank`'s lake inputs, in a
/// lake of its own; asserts its feature table and state equal `bank`'s.
fn assert_equals_full_run(bank: &Bank, as_of: &str) {
    let full = tempfile::tempdir().unwrap();
    copy_folder(
        &bank.lake().join("raw/customers"),
        &full.path().join("raw/customers"),
    );
    copy_folder(&bank.transactions(), &full.path().join(bank.transactions));
    let out = seglake(&[
        "run",
        &bank.job,
        "--var",
        &format!("lake={}", full.path().display()),
        "--as-of",
        &format!("{as_of}T00:00:00Z"),
    ]);
    assert!(out.status.success(), "full run: {}", stderr(&out));
    for table in [
        "customer_features",
        "state_daily_transactions",
        "state_daily_counterparties",
    ] {
        let same = same_table(bank.lake(), full.path(), table);
        assert_eq!(
            same["same"], true,
            "{table} at {as_of}: incremental != full ({same})"
        );
    }
}

/// The incremental job at `path`, reading its SQL from a copy of
/// `sql/incremental` in which `edit` rewrote view `view`'s file (the copy is
/// removed when the returned folder is dropped).
fn job_with_view(
    path: &Path,
    view: &str,
    edit: impl FnOnce(&str) -> String,
) -> (PathBuf, tempfile::TempDir) {
    let sql = tempfile::tempdir().unwrap();
    copy_folder(&repo_root().join("sql/incremental"), sql.path());
    let file = sql.path().join(format!("{view}.sql"));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, edit(&text)).unwrap();
    std::fs::write(path, job_reading_sql_from(sql.path())).unwrap();
    (path.to_path_buf(), sql)
}

/// The incremental job's text, reading its SQL from `sql` (and its
/// reference data from the repository), to be written anywhere.
fn job_reading_sql_from(sql: &Path) -> String {
    std::fs::read_to_string(repo_root().join(JOB))
        .unwrap()
        .replace(
            "sql_dir = \"../sql/incremental\"",
            &format!("sql_dir = \"{}\"", sql.display()),
        )
        .replace(
            "uri = \"../reference/",
            &format!("uri = \"{}/reference/", repo_root().display()),
        )
}

fn modes(states: &[Value]) -> Vec<String> {
    states
        .iter()
        .map(|s| s["mode"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn incremental_runs_over_daily_arrivals_equal_full_runs_through_kills() {
    let bank = Bank::with_base(300);
    assert!(bank.counts["late"].as_i64().unwrap() > 0, "{}", bank.counts);

    // Day 1: no state yet, every day computed.
    bank.run_ok("2025-12-29", &[]);
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["full", "full"]);
    assert_eq!(states[0]["reason"], "no state yet");

    // Day 2: one new file with the day's rows, late rows of 2025-06-15 and
    // replays of 2025-03-03: exactly those three days recomputed.
    bank.arrive("day-2025-12-29.parquet");
    bank.run_ok("2025-12-30", &[]);
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["incremental", "incremental"], "{states:?}");
    assert_eq!(states[0]["new_files"], 1);
    assert_eq!(states[0]["days_computed"], 3, "{states:?}");
    assert!(states[0]["days_kept"].as_i64().unwrap() > 300, "{states:?}");
    assert_equals_full_run(&bank, "2025-12-30");

    // Day 3: killed while computing the state, then killed once the state
    // tables are committed (before `runs` records them), then run to the end.
    bank.arrive("day-2025-12-30.parquet");
    assert!(bank.kill_at("2025-12-31", "incremental view `daily_transactions`"));
    assert!(bank.kill_at(
        "2025-12-31",
        r#""message":"published","table":"state_daily_counterparties""#,
    ));
    let unrecorded = !bank.state_recorded("state_daily_counterparties");
    bank.run_ok("2025-12-31", &[]);
    let states = bank.latest_states();
    if unrecorded {
        // The killed run's state landed, `runs` does not know it: rebuilt,
        // and said why.
        assert_eq!(modes(&states)[1], "full", "{states:?}");
        assert!(
            states[1]["reason"]
                .as_str()
                .unwrap()
                .contains("is not recorded in `runs`"),
            "{states:?}"
        );
    } else {
        assert_eq!(modes(&states)[1], "incremental", "{states:?}");
    }
    assert_equals_full_run(&bank, "2025-12-31");

    // Day 4, from whatever state day 3 left.
    bank.arrive("day-2025-12-31.parquet");
    bank.run_ok("2026-01-01", &[]);
    assert_eq!(modes(&bank.latest_states()), ["incremental", "incremental"]);
    assert_equals_full_run(&bank, "2026-01-01");

    // An auditor reproduces that incremental run from its lineage alone
    // (every day computed from the recorded inputs): the same bytes.
    let root = bank.lake().join("incremental");
    let mut runs = runs_rows(&root);
    runs.sort_by_key(|r| r["finished_at"].as_str().unwrap_or_default().to_string());
    let run_id = runs.last().unwrap()["run_id"].as_str().unwrap().to_string();
    let report: Value = serde_json::from_str(&seglake_ok(&[
        "reproduce",
        &run_id,
        "--lake",
        root.to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(report["identical"], true, "{report}");
}

#[test]
fn a_changed_view_is_refused_a_rewritten_source_is_recomputed() {
    let bank = Bank::with_base(120);
    bank.run_ok("2025-12-29", &[]);

    // The view's SQL changed: the state is not this view's. Refused, named,
    // nothing written; --full-refresh rebuilds it.
    let (job, _sql) = job_with_view(
        &bank.lake().join("changed.toml"),
        "daily_counterparties",
        |text| format!("-- edited\n{text}"),
    );
    let lake_var = format!("lake={}", bank.lake().display());
    let run_changed = |extra: &[&str]| {
        let mut args = vec![
            "run",
            job.to_str().unwrap(),
            "--var",
            &lake_var,
            "--as-of",
            "2025-12-30T00:00:00Z",
        ];
        args.extend(extra);
        seglake(&args)
    };
    let before = file_tree(&bank.lake().join("incremental"));
    let out = run_changed(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for expected in [
        "incremental view `daily_counterparties`",
        "state table `state_daily_counterparties`",
        "another definition of the view",
        "--full-refresh",
    ] {
        assert!(
            stderr(&out).contains(expected),
            "{expected}:\n{}",
            stderr(&out)
        );
    }
    assert_eq!(file_tree(&bank.lake().join("incremental")), before);
    let out = run_changed(&["--full-refresh"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["full", "full"]);
    assert_eq!(states[1]["reason"], "--full-refresh");

    // The source rewritten under the state (a file replaced by another with
    // fewer rows): every day recomputed, said in the log and in `runs`.
    bank.run_ok("2025-12-30", &["--full-refresh"]);
    let base = bank.transactions().join("base.parquet");
    let rows = bank.counts["base"].as_i64().unwrap();
    let out = Command::new(python())
        .args([
            "-c",
            &format!(
                "import pyarrow.parquet as pq; t = pq.read_table('{0}'); \
                 pq.write_table(t.slice(0, {1}), '{0}')",
                base.display(),
                rows - 5
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let log = bank.run_ok("2025-12-31", &[]);
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["full", "full"]);
    let reason = states[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("`transactions` was rewritten: file") && reason.contains("base.parquet"),
        "{reason}"
    );
    assert!(log.contains("was rewritten"), "not in the log:\n{log}");
    assert_equals_full_run(&bank, "2025-12-31");

    // A run back in time (a backfill after the daily runs): every day
    // computed, and why.
    bank.run_ok("2025-12-30", &[]);
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["full", "full"]);
    let reason = states[0]["reason"].as_str().unwrap();
    assert!(reason.contains("is before the state's"), "{reason}");
    assert_equals_full_run(&bank, "2025-12-30");

    // Pseudonymised ids: the state would keep them in clear. Refused,
    // named, nothing written.
    let private = bank.lake().join("private.toml");
    let spec = std::fs::read_to_string(&job).unwrap() + "\n[privacy]\npseudonymise = true\n";
    std::fs::write(&private, spec).unwrap();
    let before = file_tree(&bank.lake().join("incremental"));
    let out = seglake_env(
        &[
            "run",
            private.to_str().unwrap(),
            "--var",
            &lake_var,
            "--as-of",
            "2026-01-01T00:00:00Z",
        ],
        &[("SEGLAKE_PSEUDONYM_KEY", "a-test-key-of-32-bytes-0123456789")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for expected in ["incremental view `daily_transactions`", "[privacy]"] {
        assert!(
            stderr(&out).contains(expected),
            "{expected}:\n{}",
            stderr(&out)
        );
    }
    assert_eq!(file_tree(&bank.lake().join("incremental")), before);
}

#[test]
fn a_view_whose_days_depend_on_each_other_cannot_be_incremental() {
    let lake = tempfile::tempdir().unwrap();
    let bank = generated_lake(50);
    for (replace, why) in [
        (
            "GROUP BY customer_id, CAST(ts AS DATE)",
            "it reads `run_context`",
        ),
        ("FROM flagged\n", "it uses a window function"),
        ("CAST(ts AS DATE) AS day,", "it returns no `day` column"),
    ] {
        let (job, _sql) = job_with_view(
            &lake.path().join("job.toml"),
            "daily_transactions",
            |text| {
                let changed = match why {
                    "it reads `run_context`" => text.replace(
                        replace,
                        "GROUP BY customer_id, CAST(ts AS DATE)\n\
                     HAVING MAX(ts) < (SELECT MAX(as_of) FROM run_context)",
                    ),
                    "it uses a window function" => text.replace(
                        replace,
                        "FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY customer_id ORDER BY ts) \
                     AS n FROM flagged) f\n",
                    ),
                    _ => text.replace(replace, "CAST(ts AS DATE) AS on_day,"),
                };
                assert_ne!(changed, text, "{why}");
                changed
            },
        );
        let out = seglake(&[
            "validate",
            job.to_str().unwrap(),
            "--var",
            &format!("lake={}", bank.path().display()),
        ]);
        assert_eq!(out.status.code(), Some(1), "{why}: {}", stderr(&out));
        for expected in [
            "feature view `daily_transactions`",
            "cannot be incremental",
            why,
        ] {
            assert!(
                stderr(&out).contains(expected),
                "{expected}:\n{}",
                stderr(&out)
            );
        }
    }
}

/// The bank's transactions as a topic that `seglake ingest` writes into a
/// Delta table (`stream/transactions`), on the test's own broker.
struct Topic {
    url: String,
    table: PathBuf,
    schema_like: PathBuf,
    _broker: ScriptedServer,
}

impl Topic {
    /// A broker, and `bank` reading its transactions from the table.
    fn start(bank: &mut Bank, tag: &str) -> Topic {
        bank.transactions = "stream/transactions";
        let broker = ScriptedServer::start("infra/kafka/broker.sh", tag);
        Topic {
            url: format!("kafka://127.0.0.1:{}/transactions", broker.read("port")),
            table: bank.transactions(),
            schema_like: bank.arrival("base.parquet"),
            _broker: broker,
        }
    }

    /// Arrival `file` produced to the topic (created with 2 partitions by
    /// the first).
    fn produce(&self, file: &Path, first: bool) {
        let mut args = vec![
            "produce",
            "--from",
            file.to_str().unwrap(),
            "--to",
            &self.url,
        ];
        args.extend(["--key", "customer_id"]);
        if first {
            args.extend(["--partitions", "2"]);
        }
        seglake_ok(&args);
    }

    /// Everything on the topic ingested into the table.
    fn ingest(&self) {
        seglake_ok(&[
            "ingest",
            "--from",
            &self.url,
            "--to",
            self.table.to_str().unwrap(),
            "--schema-like",
            self.schema_like.to_str().unwrap(),
            "--exit-at-end",
        ]);
    }
}

const PARQUET_TRANSACTIONS: &str = "uri = \"${lake}/raw/transactions\"\nformat = \"parquet\"";
const STREAMED_TRANSACTIONS: &str = "uri = \"${lake}/stream/transactions\"\nformat = \"delta\"";

/// Issue 26's walkthrough: transactions streamed into a topic, `seglake
/// ingest` into a Delta table, the incremental job over it a day apart:
/// the second run reads only the data files the new day's commits added and
/// gives the feature table of a full run.
#[test]
fn streamed_transactions_feed_incremental_runs_that_read_only_the_new_day() {
    let mut bank = Bank::new(200);
    let job = JobVariant::of(
        JOB,
        "incremental-stream",
        PARQUET_TRANSACTIONS,
        STREAMED_TRANSACTIONS,
    );
    bank.job = job.0.display().to_string();
    let topic = Topic::start(&mut bank, "kafka-incremental");
    let stream = |arrival: &str, first: bool| {
        topic.produce(&bank.arrival(arrival), first);
        topic.ingest();
    };

    stream("base.parquet", true);
    bank.run_ok("2025-12-29", &[]);
    assert_eq!(modes(&bank.latest_states()), ["full", "full"]);

    // A day of transactions (with late rows and replays) streamed in.
    let versions_before = history_json(&topic.table).len();
    stream("day-2025-12-29.parquet", false);
    let commits = history_json(&topic.table).len() - versions_before;
    assert!(commits >= 1, "no commit of the new day");
    bank.run_ok("2025-12-30", &[]);
    let states = bank.latest_states();
    assert_eq!(modes(&states), ["incremental", "incremental"], "{states:?}");
    // One data file per commit the new day's ingestion made, nothing else.
    assert_eq!(states[0]["new_files"], commits as i64, "{states:?}");
    assert_eq!(states[0]["days_computed"], 3, "{states:?}");
    assert_equals_full_run(&bank, "2025-12-30");
}

/// The incremental job over the streamed table, with risk scores learned
/// from the bank's case outcomes (its SQL in a temporary copy of
/// `sql/incremental` with the demo's label view).
fn job_with_risk(path: &Path) -> tempfile::TempDir {
    let sql = tempfile::tempdir().unwrap();
    copy_folder(&repo_root().join("sql/incremental"), sql.path());
    std::fs::copy(
        repo_root().join("sql/features/risk_labels.sql"),
        sql.path().join("risk_labels.sql"),
    )
    .unwrap();
    let spec =
        job_reading_sql_from(sql.path()).replace(PARQUET_TRANSACTIONS, STREAMED_TRANSACTIONS);
    let risk = "\n[sources.case_outcomes]\nuri = \"${lake}/raw/case_outcomes\"\nformat = \"parquet\"\n\
                \n[risk]\nlabels = \"risk_labels\"\nsegment_feature = true\nclass_weight = \"balanced\"\n\
                # A small bank: few labels, so small leaves and every tree.\n\
                min_data_in_leaf = 3\nearly_stopping_rounds = 0\nnum_trees = 40\n";
    std::fs::write(path, spec + risk).unwrap();
    sql
}

/// Issue 26's live scoring: `seglake serve --follow` keeps the run's
/// per-day state and reads the topic after the messages the state holds; a
/// customer id alone is scored from both. When a day of transactions
/// arrives on the topic, the customers' scores move, and equal (bit for
/// bit) what the service gives for the feature rows of the run made once
/// those messages are ingested.
#[test]
fn serve_following_the_topic_scores_new_transactions_as_the_next_run_does() {
    let mut bank = Bank::new(300);
    let job = bank.lake().join("incremental-risk.toml");
    let _sql = job_with_risk(&job);
    bank.job = job.display().to_string();
    let topic = Topic::start(&mut bank, "kafka-serve-follow");
    topic.produce(&bank.arrival("base.parquet"), true);
    topic.ingest();
    bank.run_ok("2025-12-29", &[]);
    let output = bank.lake().join("incremental");
    let first_run = latest_run_id(&output);

    let wal = tempfile::tempdir().unwrap();
    let serve = Serve::start(
        &output,
        &wal.path().join("wal"),
        &["--run", &first_run, "--follow", &topic.url],
    );
    // A second service follows the latest run: it loads the next run and
    // its state when that run is published.
    let latest = Serve::start(
        &output,
        &wal.path().join("wal-latest"),
        &["--follow", &topic.url, "--reload-every", "1s"],
    );
    let day = bank.arrival("day-2025-12-29.parquet");
    let customers: Vec<String> = serde_json::from_value(python_json(
        "incremental_days.py",
        &["customers".as_ref(), day.as_os_str()],
    ))
    .unwrap();
    let customers = &customers[..customers.len().min(100)];
    let as_of = "2025-12-30T00:00:00Z";
    let score_all_on = |serve: &Serve| -> Vec<Value> {
        let body = json!({"customers": customers.iter()
            .map(|c| json!({"customer_id": c, "as_of": as_of})).collect::<Vec<_>>()});
        let r = post(serve.addr, "/v1/score/batch", &body);
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["scores"].as_array().unwrap().clone()
    };
    let score_all = || score_all_on(&serve);
    let before = score_all();

    // The day arrives on the topic; the service reads it.
    topic.produce(&day, false);
    let expected = bank.counts["2025-12-29"].as_i64().unwrap();
    wait_for(&serve, "the day's messages read", |health| {
        health["following"]["messages"].as_i64() >= Some(expected)
    });
    let after = score_all();
    let moved = before
        .iter()
        .zip(&after)
        .filter(|(b, a)| b["risk_score"] != a["risk_score"])
        .count();
    let summary = |s: &[Value]| -> Vec<String> {
        s.iter()
            .map(|s| format!("{} {} {}", s["customer_id"], s["risk_score"], s["distance"]))
            .collect()
    };
    assert!(
        moved > 0,
        "no risk score moved:\n{:?}\n{:?}",
        summary(&before),
        summary(&after)
    );

    // The run after ingesting the same messages: its feature rows, scored
    // by the same models, give the live scores exactly.
    topic.ingest();
    bank.run_ok("2025-12-30", &[]);
    assert_eq!(modes(&bank.latest_states()), ["incremental", "incremental"]);
    let inputs = model_inputs(&output, &first_run);
    let rows = table_rows(&output, "customer_features");
    for (customer, live) in customers.iter().zip(&after) {
        let row = rows
            .iter()
            .find(|r| r["customer_id"] == customer.as_str())
            .unwrap();
        let r = post(
            serve.addr,
            "/v1/score",
            &json!({"customer_id": customer, "features": features_of(row, &inputs)}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let batch = r.json();
        assert_eq!(live["segment_id"], batch["segment_id"], "{customer}");
        same_f64(&live["distance"], &batch["distance"], customer);
        same_f64(&live["risk_score"], &batch["risk_score"], customer);
        assert_eq!(live["reasons"], batch["reasons"], "{customer}");
    }

    let metrics = get(serve.addr, "/metrics").body;
    assert!(
        metrics.contains(&format!("seglake_serve_followed_messages_total {expected}")),
        "{metrics}"
    );

    // The service following the latest run now scores with the new run's
    // models and state, and gives what that run published, bit for bit;
    // the rows its state holds are no longer kept.
    let second_run = latest_run_id(&output);
    let health = wait_for(&latest, "the next run loaded", |health| {
        health["run_id"] == second_run.as_str()
    });
    assert_eq!(health["following"]["rows_kept"], 0, "{health}");
    let published: Vec<Value> = table_rows(&output, "segments")
        .into_iter()
        .filter(|r| r["run_id"] == second_run.as_str())
        .collect();
    for live in score_all_on(&latest) {
        let customer = live["customer_id"].as_str().unwrap();
        let row = published
            .iter()
            .find(|r| r["customer_id"] == customer)
            .unwrap();
        assert_eq!(live["segment_id"], row["segment_id"], "{customer}");
        same_f64(&live["distance"], &row["distance"], customer);
        same_f64(&live["risk_score"], &row["risk_score"], customer);
    }

    // An as_of before the run's: the state does not hold that time.
    let early = post(
        serve.addr,
        "/v1/score",
        &json!({"customer_id": customers[0], "as_of": "2025-12-01"}),
    );
    assert_eq!(early.status, 400, "{}", early.body);
    assert_eq!(early.json()["field"], "as_of", "{}", early.body);
    assert_follow_settings_refused(&output, &first_run, &topic.url, &day);
}

/// `/healthz` of `serve` once `ready` holds for it (within 2 minutes).
fn wait_for(serve: &Serve, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let health = get(serve.addr, "/healthz").json();
        assert!(health["following"]["error"].is_null(), "{health}");
        if ready(&health) {
            return health;
        }
        assert!(
            Instant::now() < deadline,
            "not {what}: {health}\n{}",
            serve.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `serve --follow` refuses, at start, a source no incremental view reads
/// and a topic whose offsets the source's version does not hold.
fn assert_follow_settings_refused(output: &Path, first_run: &str, url: &str, day: &Path) {
    let output_dir = output.display().to_string();
    // A topic that does not feed the source: its offsets are in no commit.
    let other = url.replace("/transactions", "/other");
    seglake_ok(&["produce", "--from", day.to_str().unwrap(), "--to", &other]);
    for (extra, message) in [
        (
            vec!["--follow-source", "customers"],
            "no incremental view reads source `customers`",
        ),
        (
            vec!["--run", first_run],
            "holds no message of topic `other`",
        ),
    ] {
        let url = if message.contains("other") {
            &other
        } else {
            url
        };
        let mut args = vec!["serve", "--lake", &output_dir, "--bind", "127.0.0.1:0"];
        args.extend(["--follow", url]);
        args.extend(extra);
        let out = seglake_env(&args, &[("SEGLAKE_API_TOKEN", crate::http::TOKEN)]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(message), "{}", stderr(&out));
    }
}
