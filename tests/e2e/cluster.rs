//! The demo job on a local Ballista cluster: one scheduler and two
//! executors (`seglake cluster ...`), started on 127.0.0.1 by
//! `infra/cluster/local.sh` and stopped by process id when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// One cluster at a time: each has three processes, and several at once on
/// a small CI machine (beside the other tests) start too slowly.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A running local cluster; stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
    /// Held while the cluster runs; released after it is stopped.
    _turn: std::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    /// Ports `port`..`port + 4` should be free; each test uses its own
    /// range, below Linux's ephemeral ports (32768 and up) so that no
    /// outgoing connection of another test takes one of them.
    fn start(port: u16) -> Cluster {
        Cluster::start_with_env(port, &[])
    }

    /// With `env` in every process's environment (as an executor's own
    /// credentials would be). A port that is taken all the same (by a
    /// process outside the tests) moves the cluster 1,000 ports up, twice
    /// at most.
    fn start_with_env(port: u16, env: &[(&str, String)]) -> Cluster {
        // A test that failed while holding the lock poisons it; the next
        // cluster is still independent of it.
        let turn = ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut failures = String::new();
        for base in [port, port + 1_000, port + 2_000] {
            if !(base..base + 5).all(port_is_free) {
                failures.push_str(&format!("ports {base}..{} are not all free\n", base + 4));
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            let out = Cluster::script("start", dir.path(), base, env);
            if out.status.success() {
                return Cluster {
                    dir,
                    port: base,
                    _turn: turn,
                };
            }
            let said = format!("{}{}", stdout(&out), stderr(&out));
            if !said.contains("Address already in use") {
                panic!("the cluster did not start:\n{said}");
            }
            failures.push_str(&said);
        }
        panic!("the cluster did not start on any of three port ranges:\n{failures}");
    }

    fn script(action: &str, dir: &Path, port: u16, env: &[(&str, String)]) -> Output {
        Command::new("bash")
            .arg(repo_root().join("infra/cluster/local.sh"))
            .args([action, dir.to_str().unwrap()])
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .env("SEGLAKE_BIN", env!("CARGO_BIN_EXE_seglake"))
            .env("SEGLAKE_SCHEDULER_PORT", port.to_string())
            .env("SEGLAKE_EXECUTOR_TIMEOUT", "10")
            .output()
            .unwrap()
    }

    fn engine(&self) -> String {
        format!("ballista://127.0.0.1:{}", self.port)
    }

    fn pid(&self, role: &str) -> u32 {
        std::fs::read_to_string(self.dir.path().join("pids"))
            .unwrap()
            .lines()
            .find_map(|l| {
                let (pid, r) = l.split_once(' ')?;
                (r == role).then(|| pid.parse().unwrap())
            })
            .unwrap()
    }

    fn logs(&self) -> String {
        ["scheduler", "executor-1", "executor-2"]
            .iter()
            .map(|r| std::fs::read_to_string(self.dir.path().join(format!("{r}.log"))).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Whether nothing listens on 127.0.0.1:`port` now.
fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

impl Drop for Cluster {
    fn drop(&mut self) {
        Cluster::script("stop", self.dir.path(), self.port, &[]);
    }
}

fn demo_args(lake: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "run".into(),
        "jobs/demo.toml".into(),
        "--var".into(),
        format!("lake={}", lake.display()),
        "--run-id".into(),
        "cluster-test".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The data files of a published table, sorted by content: two tables
/// with the same rows written the same way have the same list.
fn data_files(lake: &Path, table: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = std::fs::read_dir(lake.join(table))
        .unwrap_or_else(|e| panic!("table {table} in {}: {e}", lake.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    files.sort();
    files
}

const PUBLISHED: [&str; 3] = ["segments", "segment_profiles", "customer_features"];

/// Categorical features travel to the executors as text arguments of the
/// scoring function: the cluster's `segments` are the local run's.
#[test]
fn categorical_features_on_a_cluster_publish_the_local_segments_bit_for_bit() {
    let cluster = Cluster::start(24_420);
    let job = crate::categorical::categorical_job();
    let run = |lake: &Path, extra: &[&str]| {
        let var = format!("lake={}", lake.display());
        let mut args = vec!["run", job.0.to_str().unwrap(), "--var", &var];
        args.extend(["--run-id", "cluster-categorical"]);
        args.extend(extra);
        seglake_ok(&args);
    };
    let (local, remote) = (generated_lake(1_000), generated_lake(1_000));
    run(local.path(), &[]);
    run(remote.path(), &["--engine", &cluster.engine()]);
    for table in PUBLISHED {
        let (l, r) = (
            data_files(local.path(), table),
            data_files(remote.path(), table),
        );
        assert!(!l.is_empty(), "{table}: no data files");
        assert!(l == r, "{table}: the cluster's data files differ");
    }
    let reasons = table_rows(remote.path(), "segments");
    let named = reasons
        .iter()
        .flat_map(|r| r["reasons"].as_array().unwrap().clone());
    assert!(
        named
            .map(|r| r["feature"].as_str().unwrap().to_string())
            .any(|f| f.starts_with("kyc_risk_rating = ")),
        "no reason names a category"
    );
}

#[test]
fn the_demo_on_a_cluster_publishes_the_local_segments_bit_for_bit() {
    let cluster = Cluster::start(24_350);
    let local = generated_lake(2_000);
    let remote = generated_lake(2_000);
    seglake_ok(
        &demo_args(local.path(), &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let secret = "cluster-secret-MARKER-8d1f";
    let engine = cluster.engine();
    let out = seglake_env(
        &demo_args(remote.path(), &["--engine", &engine])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[("AWS_SECRET_ACCESS_KEY", secret), ("RUST_LOG", "debug")],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for table in PUBLISHED {
        let (l, r) = (
            data_files(local.path(), table),
            data_files(remote.path(), table),
        );
        assert!(!l.is_empty(), "{table}: no data files");
        assert!(
            l == r,
            "{table}: the cluster's data files differ from the local run's"
        );
    }
    // The queries ran on the executors, and the driver's secret is in no
    // log of the cluster (nor in the driver's own debug log).
    let logs = cluster.logs();
    assert!(
        logs.contains("Job submitted"),
        "no task ran on the cluster:\n{logs}"
    );
    assert!(
        !logs.contains(secret),
        "the secret reached the cluster's logs"
    );
    assert!(!stderr(&out).contains(secret));
    // The materialised views were written by the executors under the lake,
    // and went with the run.
    assert!(
        stderr(&out).contains("_seglake_scratch/cluster-test-"),
        "the views were not materialised under the lake:\n{}",
        stderr(&out)
    );
    assert_no_scratch(remote.path());
}

#[test]
fn an_executor_killed_mid_job_ends_in_a_run_or_a_clean_failure() {
    let cluster = Cluster::start(24_360);
    let lake = generated_lake(20_000);
    let engine = cluster.engine();
    let args = demo_args(
        lake.path(),
        &["--engine", &engine, "--query-timeout", "150s"],
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_seglake"))
        .args(&args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the executors are at work, then kill one outright.
    let started = Instant::now();
    let work_dir: PathBuf = cluster.dir.path().join("executor-1");
    while started.elapsed() < Duration::from_secs(60) {
        let busy = std::fs::read_dir(&work_dir)
            .map(|d| d.count() > 0)
            .unwrap_or(false);
        if busy || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = cluster.pid("executor-1");
    Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    // The client's own query timeout (150 s) bounds the run; 400 s here
    // catches a hang past it (several queries may each wait).
    let deadline = Instant::now() + Duration::from_secs(400);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the run hung after an executor was killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let out = child.wait_with_output().unwrap();
    assert_no_scratch(lake.path());
    if status.success() {
        // Completed on the surviving executor: the same segments as a local run.
        let local = generated_lake(20_000);
        seglake_ok(
            &demo_args(local.path(), &[])
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        );
        for table in PUBLISHED {
            assert!(
                data_files(local.path(), table) == data_files(lake.path(), table),
                "{table} differs from the local run's after the executor was lost"
            );
        }
    } else {
        let message = stderr(&out);
        assert_eq!(status.code(), Some(2), "{message}");
        assert!(message.contains("job `demo`"), "{message}");
        for table in PUBLISHED {
            assert_unpublished(lake.path(), table);
        }
    }
}

#[test]
fn a_delta_source_on_a_cluster_gives_the_local_rows_and_a_partitioned_one_is_refused() {
    let cluster = Cluster::start(24_370);
    let engine = cluster.engine();
    let lake = generated_lake(1_000);
    run_demo_job(lake.path());
    let features = lake.path().join("customer_features");

    // The demo's feature table read as a Delta source, at version 0, by
    // both engines with the same run id: the same data files.
    let run = |dir: &Path, extra: &[&str]| {
        let job = crate::delta_source::delta_job(dir, &features, Some(0));
        let mut args = vec!["run", job.to_str().unwrap(), "--run-id", "cluster-delta"];
        args.extend(extra);
        seglake_ok(&args);
        data_files(&dir.join("out"), "risky_customers")
    };
    let (local, remote) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let local_files = run(local.path(), &[]);
    assert!(!local_files.is_empty());
    assert!(
        local_files == run(remote.path(), &["--engine", &engine]),
        "the cluster's rows from a Delta source differ from the local engine's"
    );

    // A partitioned Delta table keeps partition values in its log, not in
    // the files the cluster reads: refused, naming the source, nothing
    // written.
    let partitioned = tempfile::tempdir().unwrap();
    let table = partitioned.path().join("features");
    let script = "import sys, pyarrow as pa\n\
                  from deltalake import write_deltalake\n\
                  write_deltalake(sys.argv[1], pa.table({'customer_id': ['c1', 'c2'], \
                  'txn_count': [3, 4], 'high_risk_txn_share': [0.5, 0.25], \
                  'high_risk_txn_count': [1, 1], 'run_id': ['r1', 'r2']}), \
                  partition_by=['run_id'])\n";
    let made = Command::new(python())
        .args(["-c", script, table.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", stderr(&made));
    let dir = tempfile::tempdir().unwrap();
    let job = crate::delta_source::delta_job(dir.path(), &table, None);
    let out = seglake(&["run", job.to_str().unwrap(), "--engine", &engine]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("customer_features") && err.contains("partitioned by run_id"),
        "{err}"
    );
    assert!(!dir.path().join("out").exists(), "nothing may be written");
}

#[test]
fn a_query_past_the_client_timeout_is_cancelled_on_the_cluster() {
    let cluster = Cluster::start(24_380);
    let lake = generated_lake(20_000);
    let engine = cluster.engine();
    let out = seglake(
        &demo_args(lake.path(), &["--engine", &engine, "--query-timeout", "1s"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("no answer from {engine}")), "{err}");
    for table in PUBLISHED {
        assert_unpublished(lake.path(), table);
    }
    assert_no_scratch(lake.path());
    // The client did not just stop waiting: it asked the scheduler to
    // cancel the job it gave up on.
    let logs = cluster.logs();
    assert!(
        logs.contains("Received cancellation request for job"),
        "the timed-out job was not cancelled:\n{logs}"
    );
}

#[test]
fn double_aggregates_computed_on_a_cluster_reproduce_on_the_local_engine() {
    // Sums, means and spreads of DOUBLEs, partial on two executors and
    // merged on a third process: the local engine must give the same bytes.
    let cluster = Cluster::start(24_390);
    let lake = generated_lake(1500);
    let ls = lake.path().to_str().unwrap();
    let out = seglake(&[
        "run",
        crate::float_determinism::DOUBLE_JOB,
        "--var",
        &format!("lake={ls}"),
        "--engine",
        &cluster.engine(),
        "--run-id",
        "on-the-cluster",
    ]);
    assert!(out.status.success(), "{}{}", stderr(&out), cluster.logs());
    drop(cluster);
    let out = seglake(&[
        "reproduce",
        "on-the-cluster",
        "--lake",
        ls,
        "--engine",
        "local",
    ]);
    assert!(
        out.status.success(),
        "the cluster's run did not reproduce locally:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

#[test]
fn distinct_counts_written_the_natural_way_run_on_a_cluster_as_locally() {
    // `COUNT(DISTINCT ...)` beside other aggregates: the scheduler's
    // session rewrites it into plain aggregations joined on the key, the
    // executors run them, and the local engine gives the same bytes.
    let cluster = Cluster::start(24_410);
    let lake = generated_lake(1500);
    let ls = lake.path().to_str().unwrap();
    let out = seglake_env(
        &[
            "run",
            "tests/fixtures/natural_features/job.toml",
            "--var",
            &format!("lake={ls}"),
            "--engine",
            &cluster.engine(),
            "--run-id",
            "natural-on-the-cluster",
        ],
        &[("RUST_LOG", "debug")],
    );
    assert!(out.status.success(), "{}{}", stderr(&out), cluster.logs());
    assert!(
        cluster.logs().contains("Job submitted"),
        "no task ran on the cluster:\n{}",
        cluster.logs()
    );
    drop(cluster);
    let out = seglake(&[
        "reproduce",
        "natural-on-the-cluster",
        "--lake",
        ls,
        "--engine",
        "local",
    ]);
    assert!(
        out.status.success(),
        "the cluster's run did not reproduce locally:\n{}{}",
        stdout(&out),
        stderr(&out)
    );
}

/// No run left its scratch folder (materialised views) in the lake.
fn assert_no_scratch(lake: &Path) {
    let scratch = lake.join("_seglake_scratch");
    let left: Vec<_> = std::fs::read_dir(&scratch)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "scratch folders left in the lake: {left:?}"
    );
}

/// `table` has no version: it was never created, or has an empty history.
fn assert_unpublished(lake: &Path, table: &str) {
    if lake.join(table).join("_delta_log").exists() {
        let versions = history_json(&lake.join(table));
        assert!(
            versions.is_empty(),
            "{table} was published by a failed run: {versions:?}"
        );
    }
}

#[test]
fn the_demo_on_a_cluster_reads_and_publishes_on_s3_with_the_executors_own_credentials() {
    use crate::s3::{BUCKET, S3, SECRET, local_rows};
    let s3 = S3::start();
    let endpoint = s3.server.endpoint();
    // The executors (and the scheduler, which plans file scans) have the
    // credentials in their own environment, as on Kubernetes from a Secret.
    let cluster = Cluster::start_with_env(24_400, &S3::env(&endpoint));
    let local = s3.upload_bank(300, "bank");
    let lake = format!("s3://{BUCKET}/bank");
    let engine = cluster.engine();
    let mut env = S3::env(&endpoint);
    env.push(("RUST_LOG", "debug".to_string()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = |lake: &str, extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["run", "jobs/demo.toml", "--var"];
        let var = format!("lake={lake}");
        args.push(&var);
        args.extend(["--run-id", "cluster-s3"]);
        args.extend(extra);
        seglake_env(&args, env)
    };
    let out = run(&lake, &["--engine", &engine], &env);
    assert!(out.status.success(), "{}", stderr(&out));
    let out_local = run(&local.path().display().to_string(), &[], &[]);
    assert!(out_local.status.success(), "{}", stderr(&out_local));
    for table in PUBLISHED {
        let on_s3 = s3.rows(&format!("{lake}/{table}"), None);
        assert!(!on_s3.is_empty(), "{table}: no rows on S3");
        assert_eq!(
            on_s3,
            local_rows(&local.path().join(table)),
            "{table}: the cluster's rows on S3 differ from the local run's"
        );
    }
    // The views were materialised in the bucket by the executors, and the
    // folder went with the run.
    assert!(
        stderr(&out).contains(&format!("{lake}/_seglake_scratch/cluster-s3-")),
        "the views were not materialised under the lake:\n{}",
        stderr(&out)
    );
    let left = s3.tool(&["keys", &format!("{lake}/_seglake_scratch/")], &endpoint);
    assert!(
        left.trim().is_empty(),
        "scratch left in the bucket:\n{left}"
    );
    // No process printed the secret, though every one of them held it.
    assert!(
        !stderr(&out).contains(SECRET),
        "the secret is in the driver's log"
    );
    assert!(
        !cluster.logs().contains(SECRET),
        "the secret is in the cluster's logs"
    );
}

#[test]
fn an_executor_past_its_memory_limit_stops_with_exit_2_saying_so() {
    // A budget below what the executor itself takes to start: it must stop
    // at once, saying why, not run unbounded (no scheduler is needed).
    let started = std::time::Instant::now();
    let out = crate::common::seglake_env(
        &[
            "cluster",
            "executor",
            "--scheduler",
            "127.0.0.1:9",
            "--bind",
            "127.0.0.1:24399",
            "--memory-limit",
            "8M",
            "--memory-margin",
            "8M",
        ],
        &[],
    );
    let stderr = crate::common::stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("memory limit"), "{stderr}");
    assert!(
        stderr.contains("the executor at 127.0.0.1:24399"),
        "{stderr}"
    );
    assert!(stderr.contains("--memory-limit 8 MiB"), "{stderr}");
    // Stopped by the budget, not by giving up on the scheduler (30 s).
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{stderr}"
    );
}
