//! The demo job on a local Ballista cluster: one scheduler and two
//! executors (`seglake cluster ...`), started on 127.0.0.1 by
//! `infra/cluster/local.sh` and stopped by process id when the test ends.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

/// A running local cluster; stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    /// Ports `port`..`port + 4` must be free; each test uses its own range.
    fn start(port: u16) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let out = Cluster::script("start", dir.path(), port);
        assert!(
            out.status.success(),
            "the cluster did not start:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        Cluster { dir, port }
    }

    fn script(action: &str, dir: &Path, port: u16) -> Output {
        Command::new("bash")
            .arg(repo_root().join("infra/cluster/local.sh"))
            .args([action, dir.to_str().unwrap()])
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

impl Drop for Cluster {
    fn drop(&mut self) {
        Cluster::script("stop", self.dir.path(), self.port);
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

#[test]
fn the_demo_on_a_cluster_publishes_the_local_segments_bit_for_bit() {
    let cluster = Cluster::start(41_350);
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
}

#[test]
fn an_executor_killed_mid_job_ends_in_a_run_or_a_clean_failure() {
    let cluster = Cluster::start(41_360);
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
