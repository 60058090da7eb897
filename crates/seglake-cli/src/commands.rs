use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use seglake_spec::{JobSpec, Location, RunId};

use crate::args::{
    AuditArgs, ClusterCommand, Command, DemoArgs, DiffArgs, EraseArgs, GenerateArgs, HistoryArgs,
    JobArgs, ReproduceArgs, RunArgs, SegmentsArgs, ServeArgs, SqlArgs, VacuumArgs,
};
use crate::progress::{Spinner, parts_bar};

/// Marks an error as the user's to fix (exit code 1).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidInput(String);

pub fn is_invalid_input(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<InvalidInput>().is_some()
            || e.downcast_ref::<seglake_jobs::JobError>()
                .is_some_and(|j| j.is_invalid_input())
            || e.downcast_ref::<seglake_spec::SpecError>().is_some()
            || e.downcast_ref::<seglake_lake::LakeError>()
                .is_some_and(|l| l.is_invalid_input())
            || e.downcast_ref::<seglake_audit::AuditError>()
                .is_some_and(|a| a.is_invalid_input())
            || matches!(
                e.downcast_ref::<seglake_datagen::GenerateError>(),
                Some(
                    seglake_datagen::GenerateError::NoCustomers
                        | seglake_datagen::GenerateError::Exists { .. }
                )
            )
    })
}

pub async fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Generate(args) => generate(args).await,
        Command::Demo(args) => demo(args).await,
        Command::Run(args) => run(args).await,
        Command::Validate(args) => validate(args).await,
        Command::History(args) => history(args).await,
        Command::Segments(args) => segments(args).await,
        Command::Audit(args) => audit(args).await,
        Command::Reproduce(args) => reproduce(args).await,
        Command::Diff(args) => diff(args).await,
        Command::Sql(args) => sql(args).await,
        Command::Vacuum(args) => vacuum(args).await,
        Command::Erase(args) => erase(args).await,
        Command::Serve(args) => serve(args).await,
        Command::Cluster(command) => cluster(command).await,
    }
}

/// Prints to stdout; a closed pipe (`seglake history | head`) is not an error.
fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

async fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let summary = generate_into(&args.out, args.customers, args.seed, args.overwrite).await?;
    print(&format!(
        "generated {} customers, {} transactions, {} events, {} case outcomes into {}\n",
        summary.customers,
        summary.transactions,
        summary.events,
        summary.cases,
        args.out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

async fn generate_into(
    out: &Path,
    customers: u64,
    seed: u64,
    overwrite: bool,
) -> anyhow::Result<seglake_datagen::GenerateSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let options = seglake_datagen::GenerateOptions {
        out: out.to_path_buf(),
        customers,
        seed,
        overwrite,
    };
    // The generator is CPU-bound rayon work: keep it off the async threads.
    tokio::task::spawn_blocking(move || {
        let bar = parts_bar();
        let summary = seglake_datagen::generate(&options, &|done, total| {
            if let Some(bar) = &bar {
                bar.set_length(total);
                bar.set_position(done);
            }
            tracing::info!(done, total, "generated part");
        });
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        summary
    })
    .await
    .context("the generator stopped unexpectedly")?
    .with_context(|| format!("generating into {}", out.display()))
}

async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    if !args.job.is_file() {
        return Err(InvalidInput(format!(
            "demo job {} not found: run `seglake demo` from the seglake repository, or pass --job",
            args.job.display()
        ))
        .into());
    }
    let lake = std::path::absolute(&args.lake).context("resolving --lake")?;
    let raw = lake.join("raw");
    if raw.join("transactions").is_dir() {
        eprintln!("using the synthetic data already in {}", raw.display());
    } else {
        eprintln!(
            "generating {} synthetic customers into {}",
            args.customers,
            raw.display()
        );
        generate_into(&raw, args.customers, args.seed, false).await?;
    }
    let job = JobArgs {
        job: args.job,
        vars: vec![("lake".to_string(), lake.display().to_string())],
    };
    run(RunArgs {
        job,
        run_id: None,
        partitions: None,
        memory_limit: None,
        json: false,
        engine: "local".to_string(),
        query_timeout: None,
    })
    .await
}

fn load_spec(args: &JobArgs) -> anyhow::Result<JobSpec> {
    let vars: BTreeMap<String, String> = args.vars.iter().cloned().collect();
    Ok(JobSpec::load(&args.job, &vars)?)
}

async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let spec = load_spec(&args.job)?;
    let options = seglake_jobs::RunOptions {
        run_id: args
            .run_id
            .as_deref()
            .map(RunId::parse)
            .transpose()
            .map_err(InvalidInput)?,
        engine: engine_options(&args)?,
        pinned_inputs: None,
        post_lineage: true,
    };
    let spinner = Spinner::new();
    let result = seglake_jobs::run(&spec, &options, &spinner).await;
    spinner.finish();
    let summary =
        result.with_context(|| format!("job `{}` ({}) failed", spec.name, spec.path.display()))?;
    if args.json {
        print(&format!(
            "{}\n",
            serde_json::to_string_pretty(&summary.record)?
        ))?;
    } else {
        let mut text = render_summary(&spec, &summary);
        if let Some(commit) = summary
            .commits
            .iter()
            .find(|c| c.table == "segment_profiles")
        {
            let location = seglake_lake::table_location(&spec.output_root, &commit.table);
            let batches =
                seglake_lake::read_table(&commit.table, &location, Some(commit.version)).await?;
            let profiles = crate::profiles::Profiles::from_batches(&commit.table, &batches)
                .map_err(InvalidInput)?;
            text += "\n";
            text += &profiles.render(3);
        }
        print(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine `run` computes on: in process, or a Ballista cluster.
fn engine_options(args: &RunArgs) -> anyhow::Result<seglake_jobs::EngineOptions> {
    let mut options = seglake_jobs::EngineOptions {
        target_partitions: args.partitions,
        memory_limit: args.memory_limit,
        query_timeout: args.query_timeout,
        ..Default::default()
    };
    if args.engine != "local" {
        let cluster = seglake_cluster::BallistaEngine::parse(&args.engine)
            .map_err(|e| InvalidInput(e.to_string()))?;
        options.remote = Some(std::sync::Arc::new(cluster));
        options.query_timeout = args
            .query_timeout
            .or(Some(std::time::Duration::from_secs(3600)));
    }
    Ok(options)
}

/// `seglake cluster scheduler|executor`: runs until stopped.
async fn cluster(command: ClusterCommand) -> anyhow::Result<ExitCode> {
    match command {
        ClusterCommand::Scheduler(args) => {
            seglake_cluster::scheduler::run(seglake_cluster::scheduler::SchedulerOptions {
                bind: args.bind,
                executor_timeout_seconds: args.executor_timeout,
            })
            .await?
        }
        ClusterCommand::Executor(args) => {
            let (host, port) = args
                .scheduler
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
                .filter(|(h, _)| !h.is_empty())
                .ok_or_else(|| {
                    InvalidInput(format!(
                        "--scheduler `{}`: expected HOST:PORT, e.g. 127.0.0.1:50050",
                        args.scheduler
                    ))
                })?;
            let grpc_port = match args.grpc_port {
                Some(p) => p,
                None => args.bind.port().checked_add(1).ok_or_else(|| {
                    InvalidInput("--bind port 65535 leaves no port for --grpc-port".into())
                })?,
            };
            seglake_cluster::executor::run(seglake_cluster::executor::ExecutorOptions {
                bind: args.bind,
                grpc_port,
                scheduler_host: host,
                scheduler_port: port,
                concurrent_tasks: args.concurrent_tasks,
                work_dir: args.work_dir.map(|d| d.display().to_string()),
                heartbeat_seconds: args.heartbeat,
            })
            .await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_summary(spec: &JobSpec, summary: &seglake_jobs::RunSummary) -> String {
    let r = &summary.record;
    let seconds = (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0;
    let mut s = format!(
        "run {}  job {}  {} in {seconds:.1}s\n",
        r.run_id, r.job_name, r.status
    );
    s += "inputs (pinned at run start)\n";
    for (input, count) in r.inputs.iter().zip(&r.rows_in) {
        let version = match input.delta_version {
            Some(v) => format!("Delta version {v}"),
            None => format!("{} {} file(s)", input.format, input.files.len()),
        };
        s += &format!(
            "  {:<22} {:>12} rows  {version}\n",
            input.name,
            group(count.rows)
        );
    }
    s += "cleaning\n";
    for d in &r.quality.duplicates_removed {
        s += &format!(
            "  {:<22} {:>12} duplicate rows removed (key {})\n",
            d.table,
            group(d.rows),
            d.key.join(", ")
        );
    }
    let mut missing: Vec<_> = r
        .quality
        .missing_values
        .iter()
        .filter(|m| m.table != spec.output_table && m.rows > 0)
        .collect();
    missing.sort_by_key(|m| std::cmp::Reverse(m.rows));
    for m in missing.iter().take(3) {
        s += &format!(
            "  {:<22} {:>12} missing values in `{}`\n",
            m.table,
            group(m.rows),
            m.column
        );
    }
    if missing.len() > 3 {
        s += &format!(
            "  {:<22} {:>12} more columns with missing values (all counts are in `runs`)\n",
            "",
            missing.len() - 3
        );
    }
    for o in &r.quality.outliers {
        s += &format!(
            "  {:<22} {:>12} rows flagged by outlier rule `{}` ({})\n",
            o.table,
            group(o.rows),
            o.rule,
            o.condition
        );
    }
    s += "published\n";
    for c in &summary.commits {
        let rows = r
            .rows_out
            .iter()
            .find(|o| o.table == c.table)
            .map(|o| format!("{} rows", group(o.rows)));
        s += &format!(
            "  {:<22} version {:<5} {}\n",
            c.table,
            c.version,
            rows.unwrap_or_default()
        );
    }
    s += &format!("lake {}\n", spec.output_root);
    match &summary.lineage_posted {
        Some(Ok(url)) => s += &format!("OpenLineage event posted to {url}\n"),
        Some(Err(message)) => {
            s += &format!("OpenLineage event NOT posted ({message}); it is stored in `runs`\n")
        }
        None => {}
    }
    s
}

/// 1234567 -> "1,234,567".
fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

async fn validate(args: JobArgs) -> anyhow::Result<ExitCode> {
    let spec = load_spec(&args)?;
    let spinner = Spinner::new();
    let result = seglake_jobs::validate(&spec, &spinner).await;
    spinner.finish();
    let report = result
        .with_context(|| format!("job `{}` ({}) is invalid", spec.name, spec.path.display()))?;
    let mut s = format!("job `{}` ({}) is valid\n", spec.name, spec.path.display());
    s += "sources\n";
    for i in &report.inputs {
        let what = match i.delta_version {
            Some(v) => format!("Delta version {v}"),
            None => format!("{} file(s)", i.files.len()),
        };
        s += &format!(
            "  {:<22} {:<8} {what:<18} {}\n",
            i.spec.name,
            i.spec.format.as_str(),
            i.spec.location
        );
    }
    s += &format!(
        "views, in order: {}\n",
        spec.views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    s += &format!(
        "feature table `{}`, key `{}`, {} columns:\n",
        spec.output_table,
        spec.key,
        report.columns.len()
    );
    for (name, ty) in &report.columns {
        s += &format!("  {name:<32} {ty}\n");
    }
    if let Some(features) = &report.segment_features {
        s += &format!(
            "segments on {} features: {}\n",
            features.len(),
            features.join(", ")
        );
    }
    s += &format!("output root {}\n", spec.output_root);
    print(&s)?;
    Ok(ExitCode::SUCCESS)
}

async fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let (name, location) = resolve_table(&args.table, &args.lake)?;
    let entries = seglake_lake::history(&name, &location).await?;
    let mut s = String::new();
    if args.json {
        for e in &entries {
            s += &serde_json::to_string(e)?;
            s.push('\n');
        }
    } else {
        s += &format!(
            "{:<8} {:<25} {:<10} {}\n",
            "version", "timestamp", "operation", "run_id"
        );
        for e in &entries {
            s += &format!(
                "{:<8} {:<25} {:<10} {}\n",
                e.version,
                e.timestamp
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
                    .unwrap_or_default(),
                e.operation.as_deref().unwrap_or(""),
                e.run_id.as_deref().unwrap_or("-"),
            );
        }
    }
    print(&s)?;
    Ok(ExitCode::SUCCESS)
}

/// A table given as a name under the lake or as a path / URL.
fn resolve_table(table: &str, lake: &Path) -> anyhow::Result<(String, Location)> {
    Ok(if table.contains('/') || table.contains("://") {
        let base = std::env::current_dir().context("reading the current folder")?;
        let location = Location::parse(table, &base).map_err(InvalidInput)?;
        if let Location::Local(p) = &location
            && !p.join("_delta_log").is_dir()
        {
            return Err(InvalidInput(format!(
                "{} is not a Delta table (no _delta_log folder)",
                p.display()
            ))
            .into());
        }
        let name = PathBuf::from(table)
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| table.to_string());
        (name, location)
    } else {
        let lake = std::path::absolute(lake).context("resolving --lake")?;
        if !lake.join(table).is_dir() {
            let tables = seglake_audit::tables_under(&lake);
            return Err(InvalidInput(format!(
                "no table `{}` in the lake {}; tables there: {}",
                table,
                lake.display(),
                if tables.is_empty() {
                    "none".to_string()
                } else {
                    tables.join(", ")
                }
            ))
            .into());
        }
        (table.to_string(), Location::Local(lake.join(table)))
    })
}

async fn segments(args: SegmentsArgs) -> anyhow::Result<ExitCode> {
    let (name, location) = resolve_table(&args.table, &args.lake)?;
    let batches = seglake_lake::read_table(&name, &location, args.version).await?;
    let profiles =
        crate::profiles::Profiles::from_batches(&name, &batches).map_err(InvalidInput)?;
    if args.json {
        print(&profiles.to_json_lines()?)?;
    } else {
        print(&profiles.render(args.top))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Exit code of `reproduce` when the run did not reproduce.
const EXIT_NOT_REPRODUCED: u8 = 3;

fn open_lake(lake: &Path) -> anyhow::Result<seglake_audit::Lake> {
    Ok(seglake_audit::Lake::open(lake)?)
}

async fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let selector = match (args.as_of, args.run) {
        (Some(t), _) => seglake_audit::Selector::AsOf(t),
        (None, Some(run)) => seglake_audit::Selector::Run(run),
        (None, None) => unreachable!("clap requires one"),
    };
    let report = seglake_audit::audit_customer(&lake, &args.customer, &selector).await?;
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print(&report.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn reproduce(args: ReproduceArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let (scratch, _temp) = match &args.scratch {
        Some(dir) => {
            let dir = std::path::absolute(dir).context("resolving --scratch")?;
            if dir.is_dir() && std::fs::read_dir(&dir)?.next().is_some() {
                return Err(InvalidInput(format!(
                    "--scratch {} is not empty; give a new or empty folder",
                    dir.display()
                ))
                .into());
            }
            (dir, None)
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("seglake-reproduce-")
                .tempdir()
                .context("creating a scratch folder")?;
            (temp.path().to_path_buf(), Some(temp))
        }
    };
    let spinner = Spinner::new();
    let result = seglake_audit::reproduce(&lake, &args.run_id, &scratch, &spinner).await;
    spinner.finish();
    let mut report = result.with_context(|| format!("reproducing run {}", args.run_id))?;
    report.scratch_kept = args.scratch.is_some();
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print(&report.render(args.list))?;
    }
    Ok(if report.identical {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_NOT_REPRODUCED)
    })
}

async fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let from = seglake_audit::Side::parse(&args.from);
    let to = seglake_audit::Side::parse(&args.to);
    let migration = seglake_audit::diff(&lake, &from, &to, &args.band).await?;
    let published = if args.publish {
        Some(migration.publish(&lake).await?)
    } else {
        None
    };
    if args.json {
        let mut value = serde_json::to_value(&migration)?;
        if let Some(version) = published {
            value["published_version"] = serde_json::json!(version);
        }
        print(&format!("{}\n", serde_json::to_string_pretty(&value)?))?;
    } else {
        let mut text = migration.render(args.list);
        match published {
            Some(Some(v)) => {
                text += &format!("published as `{}` version {v}\n", seglake_audit::MIGRATIONS)
            }
            Some(None) => {
                text += &format!(
                    "`{}` already holds this comparison; nothing published\n",
                    seglake_audit::MIGRATIONS
                )
            }
            None => {}
        }
        print(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let session = seglake_audit::LakeSql::new(&lake).await?;
    let (schema, batches) = session.query(&args.query).await?;
    if args.json {
        let mut text = String::new();
        for row in seglake_audit::rows_as_json(&batches)? {
            text += &serde_json::to_string(&row)?;
            text.push('\n');
        }
        print(&text)?;
    } else {
        let batches = if batches.is_empty() {
            vec![arrow::array::RecordBatch::new_empty(schema)]
        } else {
            batches
        };
        let table = arrow::util::pretty::pretty_format_batches(&batches)
            .context("formatting the result")?;
        print(&format!("{table}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn vacuum(args: VacuumArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let report = seglake_audit::vacuum(&lake, args.retain, args.dry_run).await?;
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print(&report.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn erase(args: EraseArgs) -> anyhow::Result<ExitCode> {
    let lake = open_lake(&args.lake)?;
    let report = seglake_audit::erase(&lake, &args.customer, args.sources).await?;
    if args.json {
        print(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        print(&report.render())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The API token: `--token-file`, else SEGLAKE_API_TOKEN. Never printed.
fn api_token(file: Option<&Path>) -> anyhow::Result<seglake_serve::Token> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            InvalidInput(format!(
                "--token-file {}: cannot be read: {e}",
                path.display()
            ))
        })?,
        None => std::env::var("SEGLAKE_API_TOKEN").map_err(|_| {
            InvalidInput(
                "no API token: set SEGLAKE_API_TOKEN or pass --token-file FILE (every route but \
                 /healthz requires it as a bearer token)"
                    .into(),
            )
        })?,
    };
    Ok(seglake_serve::Token::new(text).map_err(InvalidInput)?)
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let token = api_token(args.token_file.as_deref())?;
    let wal_dir = args
        .wal_dir
        .clone()
        .unwrap_or_else(|| args.lake.join("_serve_wal"));
    let options = seglake_serve::ServeOptions {
        lake: args.lake.clone(),
        bind: args.bind,
        token,
        run: args.run.clone(),
        wal_dir,
        reload_every: args.reload_every,
        flush_every: args.flush_every,
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("stopping: finishing requests in flight, committing feedback");
    };
    seglake_serve::serve(options, shutdown, |address| {
        eprintln!("seglake serve: listening on http://{address}");
    })
    .await
    .map_err(|e| match e {
        seglake_serve::ServeError::Config(m) => anyhow::Error::new(InvalidInput(m)),
        // The lake's own errors say whether the user is at fault (exit 1).
        seglake_serve::ServeError::Audit(a) => anyhow::Error::new(a),
        seglake_serve::ServeError::Lake(l) => anyhow::Error::new(l),
        other => anyhow::Error::new(other),
    })?;
    Ok(ExitCode::SUCCESS)
}
