//! The memory limit is a promise: every run at any `--memory-limit` either
//! stays under the limit plus its margin (peak resident memory, as the
//! kernel counts it for the process) or stops with exit code 2, a message
//! naming the stage, and nothing written. Never a kill by the kernel, never
//! an abort.

use std::path::Path;
use std::process::Command;

use crate::common::{file_tree, generated_lake, repo_root};

const MIB: u64 = 1024 * 1024;

/// What a run did, and the most memory it held.
struct Measured {
    code: Option<i32>,
    stderr: String,
    /// Peak resident set size, bytes (the kernel's `ru_maxrss`).
    peak_rss: u64,
}

/// Runs seglake and reads its peak resident memory from the kernel when it
/// is reaped (`wait4`'s `ru_maxrss`, as `/usr/bin/time -v` does), started
/// from a small Python process: a child's `ru_maxrss` counts the memory of
/// the process it was forked from, and this test process is large.
fn run_measured(args: &[&str]) -> Measured {
    const MEASURE: &str = "import json, os, subprocess, sys\n\
        child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n\
        stderr = child.stderr.read()\n\
        _, status, usage = os.wait4(child.pid, 0)\n\
        sys.stderr.buffer.write(stderr)\n\
        print(json.dumps({'status': os.waitstatus_to_exitcode(status), 'maxrss_kib': usage.ru_maxrss}))\n";
    let output = Command::new(crate::common::python())
        .arg("-c")
        .arg(MEASURE)
        .arg(env!("CARGO_BIN_EXE_seglake"))
        .args(args)
        .current_dir(repo_root())
        .env_remove("RUST_LOG")
        .env_remove("SEGLAKE_MEMORY_LIMIT")
        .env_remove("SEGLAKE_MEMORY_MARGIN")
        .output()
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no measurement ({e}) for {args:?}:\n{stderr}"));
    let status = report["status"].as_i64().unwrap();
    assert!(
        status >= 0,
        "seglake {args:?} was killed by signal {}:\n{stderr}",
        -status
    );
    Measured {
        code: Some(status as i32),
        stderr,
        peak_rss: report["maxrss_kib"].as_u64().unwrap() * 1024,
    }
}

/// Runs `job` over `lake` at `--memory-limit limit --memory-margin margin`
/// (MiB) and checks the promise; returns whether the run succeeded.
fn check_run(job: &str, lake: &Path, limit_mib: u64, margin_mib: u64) -> bool {
    let before = file_tree(lake);
    let (limit, margin) = (format!("{limit_mib}M"), format!("{margin_mib}M"));
    let lake_var = format!("lake={}", lake.display());
    let args = [
        "run",
        job,
        "--var",
        &lake_var,
        "--memory-limit",
        &limit,
        "--memory-margin",
        &margin,
    ];
    let run = run_measured(&args);
    let ceiling = (limit_mib + margin_mib) * MIB;
    let seen = format!(
        "{job} at {limit} + {margin}: exit {:?}, peak {} MiB\n{}",
        run.code,
        run.peak_rss / MIB,
        run.stderr
    );
    eprintln!("{seen}");
    match run.code {
        Some(0) => {
            assert!(run.peak_rss <= ceiling, "over the ceiling: {seen}");
            true
        }
        Some(2) => {
            assert!(run.stderr.contains("memory limit"), "{seen}");
            assert!(run.stderr.contains("--memory-limit"), "{seen}");
            assert!(
                run.stderr.contains("stage `") || run.stderr.contains("Running: "),
                "the message names what was running: {seen}"
            );
            if run.stderr.contains("stage `compute`,") {
                // Computing, the query running is named: a view, a source, a table.
                let named = ["view `", "source `", "table `"]
                    .iter()
                    .any(|what| run.stderr.contains(what));
                assert!(named, "the stop names the query: {seen}");
            }
            // Stopped before publishing: not a file more in the lake.
            if run.stderr.contains("stage `prepare`")
                || run.stderr.contains("stage `compute`")
                || run.stderr.contains("stage `train`")
            {
                assert_eq!(file_tree(lake), before, "something was written: {seen}");
            }
            false
        }
        _ => panic!("neither within the budget nor stopped with exit 2: {seen}"),
    }
}

#[test]
fn the_demo_job_keeps_to_every_memory_limit_or_stops_naming_the_stage() {
    let lake = generated_lake(1500);
    let mut succeeded = Vec::new();
    for (limit, margin) in [(24, 24), (64, 48), (128, 96), (512, 256)] {
        if check_run("jobs/demo.toml", lake.path(), limit, margin) {
            succeeded.push(limit);
        }
    }
    // A limit comfortably above the need is no obstacle, and one far below
    // it stops the run rather than being ignored.
    assert!(succeeded.contains(&512), "{succeeded:?}");
    assert!(!succeeded.contains(&24), "{succeeded:?}");
}

#[test]
fn a_natural_count_distinct_view_keeps_to_every_memory_limit_or_stops_naming_what_ran() {
    let lake = generated_lake(4000);
    let job = "tests/fixtures/natural_features/job.toml";
    let mut succeeded = Vec::new();
    for (limit, margin) in [(24, 24), (64, 48), (128, 96), (512, 256)] {
        if check_run(job, lake.path(), limit, margin) {
            succeeded.push(limit);
        }
    }
    assert!(succeeded.contains(&512), "{succeeded:?}");
    assert!(!succeeded.contains(&24), "{succeeded:?}");
}
