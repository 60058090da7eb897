use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  invalid input: the job spec, a SQL file or the data is wrong (the message names it);
     nothing was written
  2  any other failure (storage, I/O, internal error)
  3  `reproduce` only: the run did not reproduce bit for bit

Logging: set RUST_LOG (e.g. RUST_LOG=info, RUST_LOG=seglake_jobs=debug); logs go to stderr.";

/// `run --help`: where S3 settings come from (never the job file).
const RUN_AFTER_HELP: &str = "\
S3 (sources and output root at s3://BUCKET/PREFIX), configured from the environment only:
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or AWS_PROFILE; AWS_REGION
  AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true   an S3-compatible store (MinIO, Ceph, ...)
  SEGLAKE_S3_MAX_RETRIES      retries of a failed request (5xx, reset, timeout); default 10
  SEGLAKE_S3_RETRY_TIMEOUT    stop retrying a request after this long, e.g. 3m; default 3m
  SEGLAKE_S3_INIT_BACKOFF     first wait between retries, e.g. 100ms; default 100ms
  SEGLAKE_S3_MAX_BACKOFF      longest wait between retries, e.g. 15s; default 15s
  SEGLAKE_S3_TIMEOUT          time limit of one request, e.g. 30s; default 30s
  SEGLAKE_COMMIT_ATTEMPTS     commit attempts per table when other writers commit first; default 30
On a cluster (--engine ballista://HOST:PORT), every executor reads S3 with the settings of its
own environment; no credential is sent with a job.
Credentials in a job file or a URI are refused; secrets are masked in every log line.

Publishing: every table's data files first, then one commit per table carrying the run id as
its Delta transaction id, then the `runs` row. Re-running a run id after a crash or failure
(--run-id) completes the commits that are missing and repeats none.

Exit codes:
  0  success
  1  invalid input: the job spec, a SQL file or the data is wrong (the message names it);
     nothing was written
  2  any other failure (storage, I/O, internal error); a failure while publishing is recorded
     in `runs` as `failed`

Logging: set RUST_LOG (e.g. RUST_LOG=info, RUST_LOG=seglake_jobs=debug); logs go to stderr.";

/// seglake: customer segments and risk scores for compliance teams, computed
/// with SQL feature views on DataFusion and published as versioned Delta
/// Lake tables with full lineage.
#[derive(Debug, Parser)]
#[command(name = "seglake", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SEGLAKE_LOG_FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a synthetic bank as Parquet: customers, transactions, behavioural
    /// events, case outcomes, and each customer's true archetype
    /// (ground_truth.parquet).
    #[command(after_help = AFTER_HELP)]
    Generate(GenerateArgs),

    /// Generate synthetic data into a local lake (unless it is already there)
    /// and run the demo job against it. Each further `demo` publishes the
    /// next version of every table.
    #[command(after_help = AFTER_HELP)]
    Demo(DemoArgs),

    /// Run a job: read its sources at pinned versions, compute its feature
    /// views, and publish the feature table and the run's lineage as new
    /// Delta versions.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),

    /// Check a job without running it: the spec, every source, every SQL
    /// view (tables and columns), the key and the quality rules. Writes
    /// nothing.
    #[command(after_help = AFTER_HELP)]
    Validate(JobArgs),

    /// List the versions of a published table, oldest first, with the run
    /// that wrote each.
    #[command(after_help = AFTER_HELP)]
    History(HistoryArgs),
    /// Print the segment profiles of a published segmentation: size, share,
    /// case-outcome rates, label, and the features that set each segment
    /// apart (centre in original units, z-score).
    #[command(after_help = AFTER_HELP)]
    Segments(SegmentsArgs),

    /// Why was a customer in a segment: the segmentation in force at a time
    /// (or a given run), the customer's segment, label, risk score, band and
    /// reasons, the model, the inputs at their versions, the SQL hashes, and
    /// the command that reproduces it.
    #[command(after_help = AFTER_HELP)]
    Audit(AuditArgs),

    /// Re-run a published run from its lineage alone (recorded spec and SQL
    /// texts, inputs at the recorded versions and files, as_of, seed, run
    /// id) into a scratch lake, and report whether `segments` and the
    /// feature table are bit-identical to what it published (and which rows
    /// differ if not).
    #[command(after_help = AFTER_HELP)]
    Reproduce(ReproduceArgs),

    /// Compare two segmentations: how many customers moved from each
    /// segment to each other, who is newly in the high-risk band, who
    /// appeared or disappeared.
    #[command(after_help = AFTER_HELP)]
    Diff(DiffArgs),

    /// Read-only SQL over the lake's tables (every table under --lake, by
    /// name). Time travel: table_at('segments', 3) reads version 3,
    /// table_at('segments', '2026-01-01T00:00:00Z') the version current at
    /// that time. Only a single SELECT is accepted: DDL, DML, COPY and SET
    /// are refused, and no file outside the lake can be read.
    #[command(after_help = AFTER_HELP)]
    Sql(SqlArgs),

    /// Remove old files from every table, keeping every version that a run
    /// started within the retention period (or the latest run) still needs,
    /// and list what was removed.
    #[command(after_help = AFTER_HELP)]
    Vacuum(VacuumArgs),

    /// Remove a customer from every table that holds customer ids (and, with
    /// --sources, from the Delta sources runs read): each version a run
    /// published is rewritten without them, so audits of everyone else keep
    /// working; then the old files are deleted and the result is verified.
    /// Recorded in the `erasures` table without the raw id.
    #[command(after_help = AFTER_HELP)]
    Erase(EraseArgs),

    /// Serve the lake over HTTP: score customers with the latest published
    /// run's models (picking up newly published runs without a restart),
    /// look up a published segment at a time, and take feedback (survey
    /// responses, analyst dispositions) into the lake's `feedback` table,
    /// which the next run reads. Stops on Ctrl-C or SIGTERM after committing
    /// the feedback it acknowledged.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),

    /// Run a process of a Ballista cluster for `seglake run --engine
    /// ballista://HOST:PORT`: the scheduler or an executor, with seglake's
    /// functions and codecs. Object stores are opened with the credentials
    /// of the process's own environment. Stops on Ctrl-C or SIGTERM.
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

const SERVE_HELP: &str = "\
Routes (all but /healthz need `Authorization: Bearer <token>`):
  POST /v1/score                   {\"customer_id\": ..., \"features\": {name: number | null}}, or
                                   {\"customer_id\": ..., \"raw\": {source: [rows]}, \"as_of\": ...}
                                   (the run's feature SQL over the customer's raw rows)
  POST /v1/score/batch             {\"customers\": [{\"customer_id\": ..., \"features\": {...}}, ...]}
  GET  /v1/customers/{id}/segment  ?as_of=2026-01-01 (the published assignment in force then)
  POST /v1/feedback                a survey response or an analyst disposition
  POST /v1/feedback/webhook        a survey platform's response webhook
  GET  /healthz  /metrics  /openapi.json

Feedback is acknowledged (202) only once it is fsynced to the write-ahead log
in --wal-dir; it is committed to <lake>/feedback every --flush-every, and a log
left by a killed process is committed when the service starts again.

Exit codes: 0 stopped cleanly; 1 invalid input (no token, no published run);
2 any other failure.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The lake (output root) whose runs score requests.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: std::net::SocketAddr,

    /// A file holding the API bearer token (instead of SEGLAKE_API_TOKEN).
    #[arg(long)]
    pub token_file: Option<PathBuf>,

    /// Score with this run's models instead of following the latest run.
    #[arg(long)]
    pub run: Option<String>,

    /// The feedback write-ahead log folder, on local disk; one per process
    /// [default: <lake>/_serve_wal].
    #[arg(long)]
    pub wal_dir: Option<PathBuf>,

    /// How often to look for a newly published run (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    pub reload_every: std::time::Duration,

    /// How often acknowledged feedback is committed to the feedback table.
    #[arg(long, default_value = "2s", value_parser = parse_interval)]
    pub flush_every: std::time::Duration,
}

fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not an interval such as 500ms, 10s or 1m"))?;
    let d = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        "h" => std::time::Duration::from_secs(n * 3600),
        _ => return Err(format!("`{text}`: the unit is ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("the interval must be more than zero".into());
    }
    Ok(d)
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["as_of", "run"])))]
pub struct AuditArgs {
    /// The customer id, as the source data has it (pseudonymised lakes are
    /// looked up with the key from the job's [privacy] key source).
    #[arg(long)]
    pub customer: String,

    /// The segmentation in force at this time: the last run published at
    /// or before it. An RFC 3339 time, or a date (YYYY-MM-DD), meaning the
    /// end of that day in UTC.
    #[arg(long, value_parser = parse_time)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,

    /// The segmentation of this run instead.
    #[arg(long)]
    pub run: Option<String>,

    /// The lake (output root).
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// One JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// The run to reproduce (see `seglake history runs` or the `runs` table).
    pub run_id: String,

    /// The lake the run published to.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// Publish the reproduction here and keep it (default: a temporary
    /// folder, removed afterwards). Must not hold tables yet.
    #[arg(long)]
    pub scratch: Option<PathBuf>,

    /// Keys listed per kind of difference.
    #[arg(long, default_value_t = 20)]
    pub list: usize,

    /// One JSON object (every differing key) instead of the text report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier segmentation: a run id, a `segments` version (v3), or a
    /// time (RFC 3339: the segmentation in force then).
    #[arg(long)]
    pub from: String,

    /// The later segmentation, in the same forms.
    #[arg(long)]
    pub to: String,

    /// The lake (output root).
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// The risk band counted as high risk.
    #[arg(long, default_value = "high")]
    pub band: String,

    /// Also append the matrix to the `segment_migrations` table (once per
    /// pair of versions).
    #[arg(long)]
    pub publish: bool,

    /// Customer ids listed per group in the text view.
    #[arg(long, default_value_t = 20)]
    pub list: usize,

    /// One JSON object (every customer id) instead of the text view.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// One SELECT, e.g. "SELECT segment_id, count(*) FROM table_at('segments', 0) GROUP BY 1".
    pub query: String,

    /// The lake (output root) whose tables the query reads.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// One JSON object per row instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The lake (output root).
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// Keep the versions of every run started within this period, e.g.
    /// 1825d (five years, the default: FATF's record-keeping period), 12w,
    /// 36h. The latest run's versions are always kept.
    #[arg(long, default_value = "1825d", env = "SEGLAKE_RETAIN", value_parser = parse_period)]
    pub retain: chrono::Duration,

    /// List what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// One JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EraseArgs {
    /// The customer id, as the source data has it.
    #[arg(long)]
    pub customer: String,

    /// The lake (output root).
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// Also erase the customer from the Delta sources the runs read.
    #[arg(long)]
    pub sources: bool,

    /// One JSON object instead of the text report.
    #[arg(long)]
    pub json: bool,
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    seglake_audit::parse_point_in_time(text)
}

fn parse_period(text: &str) -> Result<chrono::Duration, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a period such as 1825d, 12w or 36h"))?;
    match unit {
        "h" => Ok(chrono::Duration::hours(n)),
        "d" => Ok(chrono::Duration::days(n)),
        "w" => Ok(chrono::Duration::weeks(n)),
        "s" => Ok(chrono::Duration::seconds(n)),
        _ => Err(format!("`{text}`: unknown unit `{unit}`; use s, h, d or w")),
    }
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder to write the tables into (one sub-folder of Parquet parts per table).
    #[arg(long)]
    pub out: PathBuf,

    /// Number of customers; each has about 50 transactions and 50 behavioural events.
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,

    /// Random seed: the same seed and customer count give identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Replace tables already in the folder instead of refusing.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The local lake: raw data goes to LAKE/raw, published tables to LAKE.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// The demo job.
    #[arg(long, default_value = "jobs/demo.toml")]
    pub job: PathBuf,

    /// Customers to generate when LAKE/raw does not exist yet.
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,

    /// Seed for the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The job spec (a TOML file, e.g. jobs/demo.toml).
    pub job: PathBuf,

    /// Set a job variable, overriding the job's [vars]: --var lake=/data/lake.
    /// Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Use this run id (letters, digits, '-', '_', '.') instead of a new one,
    /// e.g. the scheduler's. Running an id again completes its publication
    /// (after a crash) and duplicates nothing.
    #[arg(long, env = "SEGLAKE_RUN_ID")]
    pub run_id: Option<String>,

    /// DataFusion partitions to compute with; all cores by default.
    #[arg(long)]
    pub partitions: Option<usize>,

    /// Memory the queries may hold before sorts and aggregations spill to
    /// disk, e.g. 8G or 512M; 70% of the machine's memory by default.
    #[arg(long, env = "SEGLAKE_MEMORY_LIMIT", value_parser = parse_bytes)]
    pub memory_limit: Option<usize>,

    /// Print the run's lineage record as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,

    /// Where the feature views and the scoring pass run: `local` (this
    /// process) or `ballista://HOST:PORT`, a Ballista cluster of `seglake
    /// cluster` processes. Training runs here, on the driver, either way.
    #[arg(long, env = "SEGLAKE_ENGINE", default_value = "local")]
    pub engine: String,

    /// The longest one query may take before the run fails with nothing
    /// published, e.g. 30m. On a cluster 1h by default (a cluster that lost
    /// its executors must not keep the run waiting); no limit locally.
    #[arg(long, env = "SEGLAKE_QUERY_TIMEOUT", value_parser = parse_interval)]
    pub query_timeout: Option<std::time::Duration>,
}

/// `seglake cluster`: the processes of a Ballista cluster.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: plans each query into stages and hands their tasks to
    /// the executors. Listens on --bind only.
    Scheduler(SchedulerArgs),
    /// An executor: runs tasks, keeps shuffle data and serves results.
    /// Listens on the --bind host only.
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// The address to listen on, and to give executors and clients.
    #[arg(long, default_value = "127.0.0.1:50050")]
    pub bind: std::net::SocketAddr,

    /// Seconds without a heartbeat after which an executor is taken out of
    /// the cluster and its tasks run elsewhere.
    #[arg(long, default_value_t = 30)]
    pub executor_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler, HOST:PORT.
    #[arg(long)]
    pub scheduler: String,

    /// The address for shuffle data and results (Arrow Flight).
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub bind: std::net::SocketAddr,

    /// The port of the task service, on the --bind host; the --bind port + 1
    /// by default.
    #[arg(long)]
    pub grpc_port: Option<u16>,

    /// Tasks run at once; all cores by default.
    #[arg(long, default_value_t = 0)]
    pub concurrent_tasks: usize,

    /// Folder for shuffle files; a temporary one by default.
    #[arg(long)]
    pub work_dir: Option<PathBuf>,

    /// Seconds between heartbeats to the scheduler.
    #[arg(long, default_value_t = 5)]
    pub heartbeat: u64,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A table name under the lake (customer_features, runs), or a table's path.
    pub table: String,

    /// The lake (output root) holding the table.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// One JSON object per version instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SegmentsArgs {
    /// The segment_profiles table: a name under --lake, or a table's path.
    #[arg(default_value = "segment_profiles")]
    pub table: String,

    /// The lake (output root) holding the table.
    #[arg(long, default_value = "lake")]
    pub lake: PathBuf,

    /// Table version to show (time travel); the latest when absent.
    #[arg(long)]
    pub version: Option<i64>,

    /// Features shown per segment, largest |z-score| first.
    #[arg(long, default_value_t = 4)]
    pub top: usize,

    /// One JSON object per segment (every column) instead of the text view.
    #[arg(long)]
    pub json: bool,
}

fn parse_bytes(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (digits, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: usize = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size such as 8G, 512M or 1073741824"))?;
    let scale = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; use K, M, G or T")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}
