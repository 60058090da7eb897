//! The schedule examples under `infra/` run what they say: the Kubernetes
//! CronJob (`infra/k8s/cronjob.yaml`), the systemd timer and service
//! (`infra/systemd/`) and the Airflow DAG (`infra/airflow/seglake_dag.py`).
//! Each file is read as its scheduler reads it (YAML, a unit file, Python
//! source), its seglake command is taken out and mapped to this machine
//! (the binary under test; the repository's files where the scheduler
//! mounts or installs them; a local lake where it names S3 or
//! /var/lib), and run. The lake's `runs` table must then hold a succeeded
//! run with the run id (and, for the DAG, the as_of) the scheduler would
//! have given it. A schedule naming a job or SQL that is not where it
//! mounts or installs them, or a flag seglake does not have, fails here.
//!
//! Each test has a lake of its own: they run in parallel, and a lake is
//! cheap to generate next to the run itself.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::{
    generated_lake, python, repo_root, row_text, runs_rows, seglake_env, stderr, stdout,
};

/// Customers in each test's bank: enough for the demo job's segments, risk
/// model and rules, small enough to run three at once.
const CUSTOMERS: u64 = 1_000;

/// Where the systemd and Airflow examples install the repository's jobs/,
/// sql/ and reference/ folders (their READMEs say so).
const INSTALL: &str = "/opt/seglake/";

/// Every YAML document of `sys.argv[1]` as one JSON list (PyYAML is in the
/// test virtualenv, a dependency of moto's server).
const YAML_AS_JSON: &str = "import json, sys, yaml\n\
    print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1], encoding='utf-8')))))\n";

/// The DAG file's `BashOperator(bash_command=...)` literals, each with its
/// shell words, and the `catchup=` of each `DAG(...)`, read from the
/// syntax tree: importing the file would need Airflow, which the tests do
/// not install. A command that is not one string literal is `null`.
const DAG_COMMANDS: &str = r#"
import ast, json, shlex, sys

tree = ast.parse(open(sys.argv[1], encoding="utf-8").read(), sys.argv[1])

def called(call):
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None

def keyword(call, name):
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None

def literal(node):
    return node.value if isinstance(node, ast.Constant) else None

calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
commands = [literal(keyword(c, "bash_command")) for c in calls if called(c) == "BashOperator"]
print(json.dumps({
    "commands": [{"text": c, "words": shlex.split(c)} if isinstance(c, str) else None for c in commands],
    "catchup": [literal(keyword(c, "catchup")) for c in calls if called(c) == "DAG"],
}))
"#;

/// Runs an inline Python `code` on `file` and parses the JSON it prints.
fn python_reads(code: &str, file: &Path) -> Value {
    let out = Command::new(python())
        .arg("-c")
        .arg(code)
        .arg(file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "python could not read {}:\n{}",
        file.display(),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON for {} ({e}):\n{}", file.display(), stdout(&out)))
}

/// Runs the seglake arguments of a schedule with the binary under test and
/// asserts that the run succeeded.
fn run_schedule(what: &str, args: &[String]) {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // The local engine whatever this machine's environment says: where a
    // schedule names a cluster, the test took that flag out on purpose.
    let out = seglake_env(&args, &[("SEGLAKE_ENGINE", "local")]);
    assert!(
        out.status.success(),
        "{what}: seglake {args:?} exited with {:?}:\n{}{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
}

/// The `runs` row of the succeeded run `run_id`.
fn succeeded_run(lake: &Path, run_id: &str) -> Value {
    let runs = runs_rows(lake);
    runs.iter()
        .find(|r| row_text(r, "run_id") == run_id && row_text(r, "status") == "succeeded")
        .cloned()
        .unwrap_or_else(|| {
            let seen: Vec<(String, String)> = runs
                .iter()
                .map(|r| (row_text(r, "run_id"), row_text(r, "status")))
                .collect();
            panic!("no succeeded run `{run_id}` in `runs`: {seen:?}")
        })
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `args`.
fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let prefixed = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(prefixed.as_str()).map(str::to_string)
        }
    })
}

/// Takes `--flag VALUE` (or `--flag=VALUE`) out of `args`, returning VALUE.
fn take_flag(args: &mut Vec<String>, flag: &str) -> Option<String> {
    let prefixed = format!("{flag}=");
    if let Some(i) = args.iter().position(|a| a == flag) {
        assert!(i + 1 < args.len(), "{flag} without a value: {args:?}");
        let value = args.remove(i + 1);
        args.remove(i);
        return Some(value);
    }
    let i = args.iter().position(|a| a.starts_with(prefixed.as_str()))?;
    Some(args.remove(i)[prefixed.len()..].to_string())
}

/// Points the schedule's one `--var lake=...` at `local`, after checking
/// that it is the kind of lake the schedule's comments describe (its value
/// starts with `expected`).
fn use_local_lake(args: &mut [String], expected: &str, local: &Path) {
    let mut lakes = 0;
    for i in 1..args.len() {
        if args[i - 1] != "--var" {
            continue;
        }
        if let Some(lake) = args[i].strip_prefix("lake=") {
            assert!(
                lake.starts_with(expected),
                "the schedule's lake is `{lake}`, not under {expected}"
            );
            args[i] = format!("lake={}", local.display());
            lakes += 1;
        }
    }
    assert_eq!(lakes, 1, "one --var lake=... in {args:?}");
}

/// Maps the words naming files under `prefix` (where the schedule installs
/// the repository's folders) to the same files in this repository.
fn from_install(args: &mut [String], prefix: &str, root: &Path) {
    for arg in args.iter_mut() {
        if let Some(rest) = arg.strip_prefix(prefix) {
            let local = root.join(rest);
            *arg = local.to_str().unwrap().to_string();
        }
    }
}

/// `args` is `run JOB ...` with JOB an existing file: a schedule whose job
/// is not where it mounts or installs it fails here, before the run, with
/// a message that says so.
fn assert_runs_a_job(what: &str, args: &[String], written: &str) {
    assert_eq!(
        args.first().map(String::as_str),
        Some("run"),
        "{what}: {args:?}"
    );
    let job = args
        .get(1)
        .unwrap_or_else(|| panic!("{what}: no job in {args:?}"));
    assert!(
        Path::new(job).is_file(),
        "{what} runs {written}, which is not there ({job})"
    );
}

// --- Kubernetes --------------------------------------------------------

/// What Kubernetes puts in the labels of a Job's pods, for the night this
/// test stands for: the Job's uid (the same for every pod the Job retries)
/// and its name (the CronJob's name and the scheduled minute).
const JOB_UID: &str = "3f6c0a52-9d1e-4b7a-8c2f-5e4d3c2b1a09";
const JOB_NAME: &str = "seglake-nightly-29412390";

fn pod_field(path: &str) -> String {
    match path {
        "metadata.labels['controller-uid']"
        | "metadata.labels['batch.kubernetes.io/controller-uid']" => JOB_UID.to_string(),
        "metadata.labels['job-name']" | "metadata.labels['batch.kubernetes.io/job-name']" => {
            JOB_NAME.to_string()
        }
        other => panic!(
            "the CronJob reads `{other}`, which this test does not simulate (a Job's pods carry \
             its uid and name in the controller-uid and job-name labels)"
        ),
    }
}

/// The value Kubernetes gives the container's variable `name`, if the
/// container defines it.
fn container_env(env: &[Value], name: &str) -> Option<String> {
    let var = env.iter().find(|v| v["name"] == name)?;
    if let Some(value) = var["value"].as_str() {
        return Some(value.to_string());
    }
    match var["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
        Some(path) => Some(pod_field(path)),
        None => panic!("`{name}` comes from {var}, which this test does not simulate"),
    }
}

/// `arg` with its `$(NAME)` references replaced as Kubernetes does: by the
/// container's variable NAME when it has one, else left as written; `$$`
/// is a `$`.
fn expand_references(arg: &str, env: &[Value]) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix('$') {
            out.push('$');
            rest = escaped;
            continue;
        }
        let reference = after
            .strip_prefix('(')
            .and_then(|inner| inner.find(')').map(|end| &inner[..end]));
        match reference {
            Some(name) => {
                match container_env(env, name) {
                    Some(value) => out.push_str(&value),
                    None => out.push_str(&format!("$({name})")),
                }
                rest = &after[name.len() + 2..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The `kubectl create configmap NAME --from-file=SOURCE...` commands in
/// the file's comments: what each mounted ConfigMap holds, as the file
/// tells its reader to build it.
fn configmap_sources(yaml: &str) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for line in yaml.lines() {
        let Some(comment) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let words: Vec<&str> = comment.split_whitespace().collect();
        let Some(at) = words
            .windows(3)
            .position(|w| w == ["kubectl", "create", "configmap"])
        else {
            continue;
        };
        let Some(name) = words.get(at + 3) else {
            continue;
        };
        let sources: Vec<String> = words
            .get(at + 4..)
            .unwrap_or_default()
            .iter()
            .filter_map(|w| w.strip_prefix("--from-file="))
            .map(str::to_string)
            .collect();
        if !sources.is_empty() {
            out.insert(name.to_string(), sources);
        }
    }
    out
}

/// Writes what `kubectl create configmap --from-file=SOURCE` (run from the
/// repository's root) puts in a ConfigMap into `target`, as its volume
/// shows it: a file (under KEY for KEY=PATH), or the regular files directly
/// in a folder, not its subfolders (a ConfigMap is flat). Returns the bytes
/// the ConfigMap takes (binary files are stored in base64).
fn copy_configmap_source(source: &str, root: &Path, target: &Path) -> usize {
    let (key, path) = match source.split_once('=') {
        Some((key, path)) => (Some(key.to_string()), root.join(path)),
        None => (None, root.join(source)),
    };
    let files: Vec<(String, std::path::PathBuf)> = if path.is_dir() {
        std::fs::read_dir(&path)
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
            .collect()
    } else {
        let name = key.unwrap_or_else(|| {
            path.file_name()
                .unwrap_or_else(|| panic!("--from-file={source} names no file"))
                .to_string_lossy()
                .to_string()
        });
        vec![(name, path.clone())]
    };
    let mut size = 0;
    for (name, file) in files {
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')),
            "`{name}` (--from-file={source}) is not a valid ConfigMap key"
        );
        let bytes = match std::fs::read(&file) {
            Ok(bytes) => bytes,
            // Another test's job variant (common::JobVariant) may leave
            // jobs/ between the listing and the read.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_dir() => continue,
            Err(e) => panic!("--from-file={source}: {}: {e}", file.display()),
        };
        size += if std::str::from_utf8(&bytes).is_ok() {
            bytes.len()
        } else {
            bytes.len().div_ceil(3) * 4
        };
        std::fs::write(target.join(&name), &bytes).unwrap();
    }
    size
}

#[test]
fn the_kubernetes_cronjob_runs_the_demo_job_from_its_configmaps() {
    let root = repo_root();
    let path = root.join("infra/k8s/cronjob.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let docs = python_reads(YAML_AS_JSON, &path);
    let [cronjob] = docs.as_array().expect("a list of documents").as_slice() else {
        panic!("one document in cronjob.yaml: {docs}")
    };
    assert_eq!(cronjob["kind"], "CronJob");
    assert!(cronjob["spec"]["schedule"].is_string(), "{cronjob}");
    let pod = &cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container, the driver: {pod}");
    let container = &containers[0];
    // The image's entrypoint is `seglake` (as in cluster.yaml): the
    // container gives its arguments only.
    assert!(container.get("command").is_none(), "{container}");
    let env = container["env"].as_array().cloned().unwrap_or_default();
    let mut args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .map(|a| expand_references(a.as_str().expect("every arg a string"), &env))
        .collect();

    // The run id is the Job's, so a pod the Job retries completes the same
    // publication: a reference Kubernetes leaves unexpanded would fail the
    // run (`$(` is not a run id).
    let run_id = flag_value(&args, "--run-id").expect("the CronJob passes --run-id");
    assert!(
        run_id == JOB_UID || run_id == JOB_NAME,
        "--run-id `{run_id}` does not come from the Job"
    );

    // No cluster here: the engine must be the scheduler Service of
    // cluster.yaml, then the run is local (tests/e2e/cluster.rs runs the
    // demo job on a local cluster).
    let engine = take_flag(&mut args, "--engine").expect("the CronJob runs on the cluster");
    let cluster = python_reads(YAML_AS_JSON, &root.join("infra/k8s/cluster.yaml"));
    let schedulers: Vec<String> = cluster
        .as_array()
        .expect("a list of documents")
        .iter()
        .filter(|d| d["kind"] == "Service")
        .flat_map(|s| {
            let name = s["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            s["spec"]["ports"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| format!("ballista://{name}:{}", p["port"]))
        })
        .collect();
    assert!(
        schedulers.contains(&engine),
        "--engine {engine} is none of cluster.yaml's services: {schedulers:?}"
    );

    // The pod's volumes, rebuilt here as the comments' `kubectl create
    // configmap` commands fill them, each at its mount path.
    let configmaps = configmap_sources(&text);
    let volumes: BTreeMap<String, String> = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .map(|v| {
            let name = v["name"].as_str().unwrap().to_string();
            let configmap = v["configMap"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("volume {v} is not a ConfigMap"))
                .to_string();
            (name, configmap)
        })
        .collect();
    let pod_root = tempfile::tempdir().unwrap();
    let mut mount_paths = Vec::new();
    for mount in container["volumeMounts"].as_array().expect("volumeMounts") {
        let mount_path = mount["mountPath"].as_str().unwrap().to_string();
        let volume = mount["name"].as_str().unwrap();
        let configmap = volumes
            .get(volume)
            .unwrap_or_else(|| panic!("{mount_path}: no volume `{volume}`"));
        let sources = configmaps.get(configmap).unwrap_or_else(|| {
            panic!(
                "ConfigMap `{configmap}` is mounted at {mount_path}, but no comment says how to \
                 build it (`kubectl create configmap {configmap} --from-file=...`)"
            )
        });
        let target = pod_root.path().join(mount_path.trim_start_matches('/'));
        std::fs::create_dir_all(&target).unwrap();
        let size: usize = sources
            .iter()
            .map(|source| copy_configmap_source(source, &root, &target))
            .sum();
        // The API server refuses a larger ConfigMap.
        assert!(
            size < 1024 * 1024,
            "ConfigMap `{configmap}` would hold {size} bytes, over 1 MiB"
        );
        mount_paths.push(mount_path);
    }
    let job_written = args.get(1).cloned().unwrap_or_default();
    for arg in args.iter_mut() {
        if mount_paths
            .iter()
            .any(|m| arg.starts_with(&format!("{m}/")))
        {
            let local = pod_root.path().join(arg.trim_start_matches('/'));
            *arg = local.to_str().unwrap().to_string();
        }
    }
    assert_runs_a_job("the CronJob", &args, &job_written);

    let lake = generated_lake(CUSTOMERS);
    use_local_lake(&mut args, "s3://", lake.path());
    run_schedule("the CronJob", &args);
    succeeded_run(lake.path(), &run_id);
}

// --- systemd -------------------------------------------------------------

/// This test's `$INVOCATION_ID`: systemd sets one (32 hex digits) for each
/// start of a unit.
const INVOCATION_ID: &str = "5f2b8c1e9a7d4e6fb3c0d1a2e4f6a8b9";

/// A unit file's `(section, key, value)` entries as systemd reads them:
/// `[Section]` headers, `Key=Value` lines, `#` and `;` comments, a
/// trailing backslash continuing the line.
fn unit_entries(text: &str) -> Vec<(String, String, String)> {
    let mut entries = Vec::new();
    let mut section = String::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(start) = line.strip_suffix('\\') {
            pending.push_str(start);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let full = std::mem::take(&mut pending);
        let full = full.trim();
        if full.is_empty() {
            continue;
        }
        if let Some(name) = full.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.to_string();
        } else {
            let (key, value) = full
                .split_once('=')
                .unwrap_or_else(|| panic!("not Key=Value: `{full}`"));
            entries.push((
                section.clone(),
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    entries
}

/// The values of `key` in `[section]`, in order.
fn unit_values<'a>(
    entries: &'a [(String, String, String)],
    section: &str,
    key: &str,
) -> Vec<&'a str> {
    entries
        .iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.as_str())
        .collect()
}

/// A command line split into words as systemd splits `ExecStart=`:
/// whitespace between words, double or single quotes around one, a
/// backslash taking the next character as it is.
fn command_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                let next = chars.next().expect("a character after a backslash");
                word.get_or_insert_with(String::new).push(next);
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (None, c) if c.is_whitespace() => words.extend(word.take()),
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in `{line}`");
    words.extend(word);
    words
}

/// One `ExecStart=` word as systemd passes it on: `%%` is a `%` (the
/// examples use no other specifier), `${NAME}` is the variable's value
/// (empty when unset, as in systemd), and a word `$NAME` is its value split
/// at whitespace.
fn expand_unit_word(word: &str, env: &BTreeMap<String, String>) -> Vec<String> {
    assert!(
        !word.replace("%%", "").contains('%'),
        "`{word}` uses a specifier this test does not expand"
    );
    let word = word.replace("%%", "%");
    if let Some(name) = word.strip_prefix('$') {
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            let value = env.get(name).map(String::as_str).unwrap_or_default();
            return value.split_whitespace().map(str::to_string).collect();
        }
    }
    let mut out = String::new();
    let mut rest = word.as_str();
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unclosed ${{ in `{word}`"));
        out.push_str(
            env.get(&after[..end])
                .map(String::as_str)
                .unwrap_or_default(),
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    vec![out]
}

#[test]
fn the_systemd_timer_starts_a_service_that_runs_the_demo_job() {
    let root = repo_root();
    let dir = root.join("infra/systemd");
    let timer = unit_entries(&std::fs::read_to_string(dir.join("seglake-nightly.timer")).unwrap());
    let service =
        unit_entries(&std::fs::read_to_string(dir.join("seglake-nightly.service")).unwrap());

    // The timer: nightly, catching up a missed night, starting the service
    // (by name, or by default the unit of its own name), enabled with the
    // timers.
    let calendars = unit_values(&timer, "Timer", "OnCalendar");
    assert!(!calendars.is_empty(), "the timer has no OnCalendar=");
    assert_eq!(unit_values(&timer, "Timer", "Persistent"), ["true"]);
    let unit = unit_values(&timer, "Timer", "Unit");
    assert!(
        unit.is_empty() || unit == ["seglake-nightly.service"],
        "the timer starts {unit:?}"
    );
    assert_eq!(
        unit_values(&timer, "Install", "WantedBy"),
        ["timers.target"]
    );
    // systemd's own parser where it is installed (a typo in OnCalendar=
    // would make the timer never elapse); the rest of the test needs none.
    match Command::new("systemd-analyze")
        .arg("calendar")
        .args(&calendars)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "OnCalendar={calendars:?}:\n{}",
            stderr(&out)
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("systemd-analyze is not installed: OnCalendar= checked by this test only")
        }
        Err(e) => panic!("systemd-analyze: {e}"),
    }

    // The service: one oneshot ExecStart=, its lake under its
    // StateDirectory= (/var/lib/NAME, which systemd creates for it).
    assert_eq!(unit_values(&service, "Service", "Type"), ["oneshot"]);
    let state = unit_values(&service, "Service", "StateDirectory");
    let [state] = state.as_slice() else {
        panic!("one StateDirectory=: {state:?}")
    };
    let exec = unit_values(&service, "Service", "ExecStart");
    let [exec] = exec.as_slice() else {
        panic!("one ExecStart=: {exec:?}")
    };
    let mut env: BTreeMap<String, String> = unit_values(&service, "Service", "Environment")
        .iter()
        .flat_map(|line| command_words(line))
        .filter_map(|a| {
            a.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    env.insert("INVOCATION_ID".into(), INVOCATION_ID.into());
    let words: Vec<String> = command_words(exec)
        .iter()
        .flat_map(|w| expand_unit_word(w, &env))
        .collect();
    // A `-` prefix (failure ignored) would hide a failed night from
    // systemd: the binary is named as it is, by its absolute path.
    let (binary, rest) = words.split_first().expect("a command");
    assert!(
        Path::new(binary).is_absolute() && binary.ends_with("/seglake"),
        "ExecStart= runs `{binary}`"
    );
    let mut args = rest.to_vec();

    // A run id per start, from systemd: the one `journalctl` shows.
    let run_id = flag_value(&args, "--run-id").expect("the service passes --run-id");
    assert!(
        run_id.contains(INVOCATION_ID),
        "--run-id `{run_id}` does not name the invocation"
    );

    let job_written = args.get(1).cloned().unwrap_or_default();
    from_install(&mut args, INSTALL, &root);
    assert_runs_a_job("the systemd service", &args, &job_written);
    let lake = generated_lake(CUSTOMERS);
    use_local_lake(&mut args, &format!("/var/lib/{state}/"), lake.path());
    run_schedule("the systemd service", &args);
    succeeded_run(lake.path(), &run_id);
}

// --- Airflow -------------------------------------------------------------

/// The templates of the DAG's command as Airflow renders them for the first
/// month it backfills (start_date 2025-11-01, monthly data intervals): the
/// interval 2025-11-01 to 2025-12-01.
const RENDERED: [(&str, &str); 2] = [
    (
        "{{ data_interval_end.isoformat() }}",
        "2025-12-01T00:00:00+00:00",
    ),
    ("{{ ds_nodash }}", "20251101"),
];

#[test]
fn the_airflow_dag_backfills_a_month_as_of_its_end() {
    let root = repo_root();
    let dag = python_reads(DAG_COMMANDS, &root.join("infra/airflow/seglake_dag.py"));
    assert_eq!(
        dag["catchup"],
        json!([true]),
        "one DAG, with catchup=True so that it backfills"
    );
    let commands = dag["commands"].as_array().expect("commands");
    assert_eq!(commands.len(), 1, "one BashOperator: {dag}");
    let words: Vec<String> = commands[0]["words"]
        .as_array()
        .unwrap_or_else(|| panic!("bash_command is not one string literal: {dag}"))
        .iter()
        .map(|w| {
            let mut word = w.as_str().unwrap().to_string();
            for (template, value) in RENDERED {
                word = word.replace(template, value);
            }
            assert!(
                !word.contains("{{") && !word.contains("{%"),
                "`{word}`: a template this test does not render"
            );
            word
        })
        .collect();
    // Only the seglake command: the task succeeds or fails with the run.
    assert!(
        !words
            .iter()
            .any(|w| matches!(w.as_str(), ";" | "&&" | "||" | "|")),
        "bash_command is more than the seglake command: {words:?}"
    );
    let (binary, rest) = words.split_first().expect("a command");
    assert!(
        binary == "seglake" || binary.ends_with("/seglake"),
        "bash_command runs `{binary}`"
    );
    let mut args = rest.to_vec();

    // The month in the run id (a retry runs the same id), the interval's
    // end as the run's as_of.
    let run_id = flag_value(&args, "--run-id").expect("the DAG passes --run-id");
    assert!(
        run_id.contains("20251101"),
        "--run-id `{run_id}` does not name the month"
    );

    let job_written = args.get(1).cloned().unwrap_or_default();
    from_install(&mut args, INSTALL, &root);
    assert_runs_a_job("the DAG", &args, &job_written);
    let lake = generated_lake(CUSTOMERS);
    use_local_lake(&mut args, "s3://", lake.path());
    run_schedule("the DAG", &args);
    let run = succeeded_run(lake.path(), &run_id);
    // Not the job's own as_of (2026-01-01): the run describes the month.
    let as_of = row_text(&run, "as_of");
    assert!(
        as_of.starts_with("2025-12-01T00:00:00"),
        "as_of {as_of} is not the end of the interval"
    );
}
