//! `seglake deliver` against a real HTTP receiver (tests/python/
//! webhook_receiver.py) that verifies signatures, fails, answers late and
//! drops connections at seeded rates, with the sender SIGKILLed at several
//! points: every alert and case change arrives, each idempotency key is
//! processed once, and the secret is nowhere on disk or in the output.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::audit::files_containing;
use crate::common::*;

const SECRET: &str = "webhook-secret-MARKER-51c2";

struct Receiver(Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_receiver(dir: &Path) -> (Receiver, u16) {
    let port_file = dir.join("port");
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let child = Command::new(python())
        .arg(repo_root().join("tests/python/webhook_receiver.py"))
        .args([&port_file, &dir.join("secret"), &dir.join("log.jsonl")])
        .arg("20")
        .spawn()
        .expect("python runs");
    let receiver = Receiver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            return (receiver, text.trim().parse().unwrap());
        }
        assert!(Instant::now() < deadline, "the receiver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// (key, outcome) of every request the receiver logged.
fn receiver_log(dir: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            (
                v["key"].as_str().unwrap_or_default().to_string(),
                v["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn deliver_command(lake: &Path, port: u16, outbox: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seglake"));
    command
        .args(["deliver", "--lake"])
        .arg(lake)
        .args(["--webhook", &format!("cases=http://127.0.0.1:{port}/hook")])
        .args(["--outbox"])
        .arg(outbox)
        .args([
            "--timeout",
            "300ms",
            "--backoff",
            "10ms",
            "--max-attempts",
            "30",
        ])
        .env("SEGLAKE_WEBHOOK_SECRET", SECRET)
        .env_remove("RUST_LOG");
    command
}

/// The idempotency key of every alert and every case change in the lake.
fn expected_keys(lake: &Path) -> BTreeSet<String> {
    let mut expected: BTreeSet<String> = table_rows(lake, "alerts")
        .iter()
        .map(|a| format!("alert:{}", a["alert_id"].as_str().unwrap()))
        .collect();
    for case in &table_rows(lake, "cases") {
        let events: Vec<serde_json::Value> =
            serde_json::from_str(case["events"].as_str().unwrap()).unwrap();
        for n in 0..events.len() {
            expected.insert(format!("case:{}:{n}", case["case_id"].as_str().unwrap()));
        }
    }
    expected
}

#[test]
fn every_alert_and_case_change_arrives_once_through_failures_and_kills() {
    let lake = generated_lake(1500);
    run_demo_job(lake.path());
    let expected = expected_keys(lake.path());
    assert!(expected.len() > 100, "{}", expected.len());

    let dir = tempfile::tempdir().unwrap();
    let (_receiver, port) = start_receiver(dir.path());
    let outbox = dir.path().join("outbox");
    // Killed (SIGKILL) three times, after more and more keys went through.
    for after in [20, expected.len() / 3, 2 * expected.len() / 3] {
        let mut sender = deliver_command(lake.path(), port, &outbox)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let processed = receiver_log(dir.path())
                .iter()
                .filter(|(_, o)| o == "processed")
                .count();
            if processed >= after {
                break;
            }
            assert!(Instant::now() < deadline, "stuck below {after} keys");
            std::thread::sleep(Duration::from_millis(20));
        }
        sender.kill().unwrap();
        sender.wait().unwrap();
    }
    let out = deliver_command(lake.path(), port, &outbox)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);

    let log = receiver_log(dir.path());
    let mut processed: BTreeMap<String, usize> = BTreeMap::new();
    for (key, outcome) in &log {
        assert_ne!(outcome, "bad_signature", "{key}");
        if outcome == "processed" {
            *processed.entry(key.clone()).or_default() += 1;
        }
    }
    assert!(processed.values().all(|&n| n == 1), "a key processed twice");
    let keys: BTreeSet<String> = processed.into_keys().collect();
    assert_eq!(keys, expected, "every event arrives");
    // The failures happened, and resends were recognised by their key.
    for outcome in ["error_500", "dropped", "duplicate"] {
        assert!(log.iter().any(|(_, o)| o == outcome), "no {outcome}");
    }
    // Nothing is sent again once delivered.
    let again = deliver_command(lake.path(), port, &outbox)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(receiver_log(dir.path()).len(), log.len());
    // The secret is in no file the sender wrote and in no output.
    assert_eq!(files_containing(&outbox, SECRET), Vec::<String>::new());
    assert!(!text.contains(SECRET) && !stderr(&out).contains(SECRET));
}

#[test]
fn a_refusing_receiver_dead_letters_and_bad_webhooks_are_named() {
    let lake = generated_lake(300);
    run_demo_job(lake.path());
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("outbox");
    // A webhook that is not http(s), and a missing secret: exit 1.
    let out = seglake_env(
        &[
            "deliver",
            "--lake",
            lake.path().to_str().unwrap(),
            "--webhook",
            "cases=ftp://127.0.0.1/x",
        ],
        &[("SEGLAKE_WEBHOOK_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("cases"), "{}", stderr(&out));
    let out = seglake_env(
        &[
            "deliver",
            "--lake",
            lake.path().to_str().unwrap(),
            "--webhook",
            "cases=http://127.0.0.1:9/x",
            "--secret-env",
            "SEGLAKE_TEST_NO_SUCH_SECRET",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SEGLAKE_TEST_NO_SUCH_SECRET"),
        "{}",
        stderr(&out)
    );
    // A receiver with another secret refuses every event (401): all are
    // dead-lettered at once, exit 4; the next worker does not retry them
    // (and, having dead-lettered nothing itself, exits 0).
    let (_receiver, port) = start_receiver(dir.path());
    let mut command = deliver_command(lake.path(), port, &outbox);
    command.env("SEGLAKE_WEBHOOK_SECRET", "another-secret");
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let refused = receiver_log(dir.path()).len();
    assert!(refused > 0);
    let out = command.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        receiver_log(dir.path()).len(),
        refused,
        "dead letters are not resent"
    );
}

/// The demo job with one `[[rules.webhook]]` entry (`fields`: its lines).
fn job_with_webhook(tag: &str, fields: &str) -> JobVariant {
    let entry = format!("[[rules.webhook]]\nname = \"cases\"\n{fields}\n\n[output]");
    JobVariant::new(tag, "[output]", &entry)
}

const HOOK_SECRET_ENV: &str = "SEGLAKE_E2E_HOOK_SECRET";

#[test]
fn webhooks_in_the_job_are_checked_by_validate_and_used_by_deliver() {
    let lake = generated_lake(1500);
    run_demo_job(lake.path());
    let dir = tempfile::tempdir().unwrap();
    let (_receiver, port) = start_receiver(dir.path());
    let url = format!("http://127.0.0.1:{port}/hook");
    let lake_var = format!("lake={}", lake.path().display());
    let secret_env = format!("secret_env = \"{HOOK_SECRET_ENV}\"");
    let validate = |job: &JobVariant, env: &[(&str, &str)]| {
        seglake_env(
            &["validate", job.0.to_str().unwrap(), "--var", &lake_var],
            env,
        )
    };

    // Refused by validate, naming the webhook, never printing the URL.
    let cases = [
        (
            format!("url = \"ftp://127.0.0.1/hook\"\n{secret_env}"),
            "ftp",
        ),
        (format!("url = \"{url}\"\n{secret_env}"), HOOK_SECRET_ENV),
        (
            format!("url = \"{url}\"\nsecret = \"{SECRET}\""),
            "credentials never go in a job file",
        ),
    ];
    for (i, (fields, message)) in cases.iter().enumerate() {
        let job = job_with_webhook(&format!("hook-bad-{i}"), fields);
        // The variable is set only for the bad URL: the secret is not what fails.
        let env: &[(&str, &str)] = if i == 0 {
            &[(HOOK_SECRET_ENV, SECRET)]
        } else {
            &[]
        };
        let out = validate(&job, env);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{fields}: {err}");
        assert!(err.contains(message), "{fields}: {err}");
        assert!(!err.contains(SECRET), "{err}");
        if i < 2 {
            assert!(err.contains("webhook `cases`"), "{err}");
            assert!(!err.contains("/hook"), "the URL is printed: {err}");
        }
    }

    // Accepted, then used by `deliver --job`: every event arrives once.
    let job = job_with_webhook("hook-good", &format!("url = \"{url}\"\n{secret_env}"));
    let out = validate(&job, &[(HOOK_SECRET_ENV, SECRET)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("webhooks: cases"), "{}", stdout(&out));
    let outbox = dir.path().join("outbox");
    let outbox = outbox.to_str().unwrap();
    let out = seglake_env(
        &[
            "deliver",
            "--job",
            job.0.to_str().unwrap(),
            "--var",
            &lake_var,
            "--outbox",
            outbox,
            "--timeout",
            "300ms",
            "--backoff",
            "10ms",
            "--max-attempts",
            "30",
        ],
        &[(HOOK_SECRET_ENV, SECRET)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut processed: BTreeMap<String, usize> = BTreeMap::new();
    for (key, outcome) in receiver_log(dir.path()) {
        assert_ne!(outcome, "bad_signature", "{key}");
        if outcome == "processed" {
            *processed.entry(key).or_default() += 1;
        }
    }
    assert!(processed.values().all(|&n| n == 1), "a key processed twice");
    let keys: BTreeSet<String> = processed.into_keys().collect();
    assert_eq!(keys, expected_keys(lake.path()));
}
