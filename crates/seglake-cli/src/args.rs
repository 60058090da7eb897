//! The command line as clap parses it: the commands, their arguments, and
//! the groups of arguments several commands share (flattened into each,
//! under their own heading in `--help`).

mod after_help;
// The cluster engine is the `cluster` feature (Ballista and its gRPC
// stack): without it there is no `seglake cluster`
// command, and `--engine` takes `local` only (`ballista://` is refused with
// the feature to build with).
#[cfg(feature = "cluster")]
mod cluster;
mod values;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use self::after_help::AFTER_HELP;
use self::after_help::{
    DELIVER_AFTER_HELP, INGEST_AFTER_HELP, INIT_AFTER_HELP, SERVE_AFTER_HELP, run_after_help,
};
#[cfg(feature = "cluster")]
pub use self::cluster::{ClusterCommand, ExecutorArgs, SchedulerArgs};
use self::values::{
    parse_bytes, parse_interval, parse_period, parse_time, parse_var, parse_window_start,
};
use crate::exit::InvalidInput;

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

    /// Propose a first job for a folder of your own Parquet files (or
    /// Delta tables): guesses the customer key, recognises dates, amounts,
    /// flags and codes from the files' footers, and writes a job file and
    /// starter SQL views that say what they guessed. Never overwrites a
    /// file without --force; writes nothing when the folder cannot be read.
    #[command(after_help = INIT_AFTER_HELP)]
    Init(InitArgs),

    /// Generate synthetic data into a local lake (unless it is already there)
    /// and run the demo job against it. Each further `demo` publishes the
    /// next version of every table.
    #[command(after_help = AFTER_HELP)]
    Demo(DemoArgs),

    /// Run a job: read its sources at pinned versions, compute its feature
    /// views, and publish the feature table and the run's lineage as new
    /// Delta versions.
    #[command(after_help = run_after_help())]
    Run(RunArgs),

    /// Check a job without running it: the spec, every source, every SQL
    /// view and rule (tables and columns), the key, the quality rules, and
    /// the rules' webhooks (URL and signing secret). Writes nothing.
    #[command(after_help = AFTER_HELP)]
    Validate(ValidateArgs),

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

    /// Write one run as a self-contained HTML page (no network access when
    /// opened): identity and lineage, data quality, segment sizes, outcome
    /// rates, profile heat map and a projection of a seeded sample; the risk
    /// model's ROC, precision-recall and calibration curves, score
    /// distributions, confusion per band, SHAP importance and the
    /// highest-scored customers with reasons; the job's runs over time; and
    /// the command that reproduces it. Every number is read from the
    /// published tables.
    #[command(after_help = AFTER_HELP)]
    Report(ReportArgs),

    /// Screen a job's customer and counterparty names against its sanctions
    /// list as the list is now, without running the job, and report the
    /// hits that are new, gone or changed since a published run: what a
    /// new list version means before the next run.
    #[command(after_help = AFTER_HELP)]
    Screen(ScreenArgs),

    /// Post the lake's alerts (`alert.created`) and case changes
    /// (`case.changed`) to case-manager webhooks as JSON, signed with
    /// HMAC-SHA256 over timestamp and body, each with an idempotency key;
    /// retried with backoff and jitter, dead-lettered after --max-attempts.
    /// What was delivered is kept in a durable outbox, so a killed worker
    /// resumes without losing or repeating a delivery (a repeat after a
    /// crash carries the same idempotency key).
    #[command(after_help = DELIVER_AFTER_HELP)]
    Deliver(DeliverArgs),

    /// Monitoring rules: `seglake rules backtest` replays the job's rules
    /// over its past runs and reports alerts, hit rates and false positives
    /// per rule and segment.
    #[command(subcommand)]
    Rules(RulesCommand),

    /// The `monitoring` table as a table of runs, oldest first, with trend
    /// arrows against the run before: feature drift (PSI), risk-score
    /// drift, customers that changed segment, the previous model's AUC on
    /// outcomes decided since, alerts and case KPIs, champion or
    /// challenger; then the latest run in detail.
    #[command(after_help = AFTER_HELP)]
    Monitor(MonitorArgs),

    /// Make a run's models the champion of its job (a run that went past a
    /// `[monitoring]` limit published them as the challenger). Recorded in
    /// `runs` with who, when and why; `serve` scores with the new champion
    /// without a restart.
    #[command(after_help = AFTER_HELP)]
    Promote(PromoteArgs),

    /// A champion and a challenger of a job side by side: how many
    /// customers each puts in each risk band (and how many they agree on),
    /// alert volume, and the hit rates of their alerting bands on the
    /// outcomes decided so far (cases and analysts' dispositions).
    #[command(after_help = AFTER_HELP)]
    Compare(CompareArgs),

    /// Run a job at each point in time from --from to --to, every --every,
    /// oldest first, each as `run --as-of POINT --run-id backfill-JOB-POINT`.
    /// Resumable: a point already published is not run again, and a point
    /// interrupted mid-publication is completed.
    #[command(after_help = AFTER_HELP)]
    Backfill(BackfillArgs),

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
    #[command(after_help = SERVE_AFTER_HELP)]
    Serve(ServeArgs),

    /// Append a Kafka topic's messages (one JSON object each) to a Delta
    /// table, exactly once: each commit carries the offsets it holds, so a
    /// crash or restart neither loses nor repeats a message. Messages that
    /// are not rows of the table (not JSON, a required field missing, a
    /// wrong type) go to a dead-letter table with the error and offset and
    /// never stop the stream. Follows the topic until Ctrl-C or SIGTERM
    /// (committing what it holds), or with --exit-at-end stops once it has
    /// read everything.
    #[command(after_help = INGEST_AFTER_HELP)]
    Ingest(IngestArgs),

    /// Send rows of Parquet files to a Kafka topic, one JSON object per
    /// row (what `seglake ingest` reads), creating the topic if it does not
    /// exist: to load a topic with a bank's transactions for a demo, a
    /// test or a benchmark.
    #[command(after_help = INGEST_AFTER_HELP)]
    Produce(ProduceArgs),

    /// Run a process of a Ballista cluster for `seglake run --engine
    /// ballista://HOST:PORT`: the scheduler or an executor, with seglake's
    /// functions and codecs. Object stores are opened with the credentials
    /// of the process's own environment. Stops on Ctrl-C or SIGTERM.
    #[cfg(feature = "cluster")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
}

// The shared groups. They have no doc comments because clap would make a
// group's doc comment the description of every command it is flattened
// into; each flag has its own `help_heading`, because a group-wide
// `next_help_heading` would carry over to the flags declared after it.
// A command says more about a shared flag with `mut_arg(.., help(..))`.

// `--lake`: the lake a command reads or writes.
#[derive(Debug, Args)]
pub struct LakeArgs {
    /// The lake (output root).
    #[arg(long, default_value = "lake", help_heading = "Lake")]
    lake: PathBuf,
}

impl LakeArgs {
    pub fn path(&self) -> &Path {
        &self.lake
    }
}

// `--json`: JSON on stdout instead of the text view.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// JSON instead of the text view.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
}

// How and where `run` computes.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Where the feature views and the scoring pass run: `local` (this
    /// process) or `ballista://HOST:PORT`, a Ballista cluster of `seglake
    /// cluster` processes. Training runs here, on the driver, either way.
    #[arg(
        long,
        env = "SEGLAKE_ENGINE",
        default_value = "local",
        help_heading = "Engine"
    )]
    #[cfg_attr(
        not(feature = "cluster"),
        arg(
            help = "Where the feature views and the scoring pass run: `local` (this process) \
            only, as this seglake was built without the cluster engine"
        )
    )]
    pub engine: Engine,

    /// DataFusion partitions to compute with; all cores by default.
    #[arg(long, help_heading = "Engine")]
    pub partitions: Option<usize>,

    #[command(flatten)]
    pub memory: MemoryArgs,

    /// The longest one query may take before the run fails with nothing
    /// published, e.g. 30m. On a cluster 1h by default (a cluster that lost
    /// its executors must not keep the run waiting); no limit locally.
    #[arg(long, env = "SEGLAKE_QUERY_TIMEOUT", value_parser = parse_interval, help_heading = "Engine")]
    pub query_timeout: Option<Duration>,
}

impl EngineArgs {
    /// This process, with the engine's own defaults.
    pub fn local() -> EngineArgs {
        EngineArgs {
            engine: Engine::Local,
            partitions: None,
            memory: MemoryArgs::default(),
            query_timeout: None,
        }
    }
}

// How much memory a process may use: `run`, `reproduce` and executors.
#[derive(Debug, Default, Args)]
pub struct MemoryArgs {
    /// Memory the process may use, e.g. 8G or 512M: queries spill to disk
    /// past it, and past it plus `--memory-margin` the work is stopped with
    /// a named error (exit 2, nothing published). `run` and `reproduce`:
    /// 70% of the machine's (or its container's) memory by default;
    /// executors: unbounded.
    #[arg(long, env = "SEGLAKE_MEMORY_LIMIT", value_parser = parse_bytes, help_heading = "Memory")]
    pub memory_limit: Option<usize>,

    /// How far past --memory-limit the process may go (code, stacks,
    /// buffers the query engine does not reserve) before it is stopped;
    /// a quarter of the limit, at least 256M, by default.
    #[arg(long, env = "SEGLAKE_MEMORY_MARGIN", value_parser = parse_bytes, help_heading = "Memory")]
    pub memory_margin: Option<usize>,
}

impl MemoryArgs {
    /// The budget to enforce given the limit to use when none was set.
    pub fn budget(&self, default_limit: Option<usize>) -> Option<seglake_memory::Budget> {
        let limit = self.memory_limit.or(default_limit)?;
        let mut budget = seglake_memory::Budget::for_limit(limit);
        if let Some(margin) = self.memory_margin {
            budget.margin = margin;
        }
        Some(budget)
    }
}

/// The value of `--engine`.
#[derive(Debug, Clone)]
pub enum Engine {
    /// `local`: in this process.
    Local,
    /// `ballista://HOST:PORT`: on a Ballista cluster.
    #[cfg(feature = "cluster")]
    Ballista(seglake_cluster::BallistaEngine),
}

impl FromStr for Engine {
    /// [`InvalidInput`], so that a bad engine exits with 1 (see
    /// `Exit::for_usage`); clap names the flag, the message the valid forms.
    type Err = InvalidInput;

    fn from_str(text: &str) -> Result<Engine, InvalidInput> {
        if text == "local" {
            return Ok(Engine::Local);
        }
        cluster_engine(text)
    }
}

#[cfg(feature = "cluster")]
fn cluster_engine(text: &str) -> Result<Engine, InvalidInput> {
    seglake_cluster::BallistaEngine::parse(text)
        .map(Engine::Ballista)
        .map_err(|e| InvalidInput(e.to_string()))
}

/// Without the cluster engine a cluster address is refused, naming the
/// feature to build with, before anything runs.
#[cfg(not(feature = "cluster"))]
fn cluster_engine(text: &str) -> Result<Engine, InvalidInput> {
    if text.starts_with("ballista://") {
        return Err(InvalidInput(format!(
            "`{text}`: this seglake was built without the cluster engine; build it with \
             the `cluster` feature (cargo install --path crates/seglake-cli --locked \
             --features cluster)"
        )));
    }
    Err(InvalidInput(format!(
        "`{text}`: expected `local` (this seglake was built without the cluster engine)"
    )))
}

/// Rewords a shared flag's help for one command:
/// `#[command(mut_arg("lake", help("...")))]`. Without a full stop, as
/// clap shows the first line of a doc comment.
fn help(text: &'static str) -> impl FnOnce(clap::Arg) -> clap::Arg {
    move |arg| arg.help(text)
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake (output root) whose runs score requests")))]
pub struct ServeArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

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

    /// Also score every customer with the latest challenger of the
    /// champion's job (a run that went past a [monitoring] limit) and
    /// append both answers to the `shadow_scores` table every
    /// --flush-every; responses are the champion's. Compare them with
    /// `seglake compare`.
    #[arg(long)]
    pub shadow: bool,

    /// How often to look for a newly published run (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    pub reload_every: Duration,

    /// How often acknowledged feedback is committed to the feedback table.
    #[arg(long, default_value = "2s", value_parser = parse_interval)]
    pub flush_every: Duration,

    /// Follow this topic (kafka://HOST:PORT/TOPIC), the one `seglake
    /// ingest` writes into the run's incremental source, so that
    /// `/v1/score` with only a customer id scores from the run's per-day
    /// state and the customer's rows streamed since (the run's job must
    /// have [[features.incremental]] views over a Delta source). Broker
    /// credentials come from the environment, as for `ingest`.
    #[arg(long, value_name = "KAFKA_URL")]
    pub follow: Option<String>,

    /// With --follow: the source the topic feeds, when the incremental
    /// views read more than one.
    #[arg(long, value_name = "SOURCE", requires = "follow")]
    pub follow_source: Option<String>,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The topic: kafka://HOST:PORT[,HOST:PORT...]/TOPIC. Credentials come
    /// from the environment (see below), never from the URL.
    #[arg(long, value_name = "KAFKA_URL")]
    pub from: String,

    /// The Delta table to append to (a folder or an s3:// URL). Created on
    /// the first commit if it does not exist, with the columns of
    /// --schema-like.
    #[arg(long, value_name = "TABLE")]
    pub to: String,

    #[command(flatten)]
    pub format: FormatArgs,

    /// A Parquet file, a folder of them, or a Delta table whose columns a
    /// new --to table takes (for an existing table, its own columns are
    /// used and this must agree with them).
    #[arg(long, value_name = "PATH")]
    pub schema_like: Option<PathBuf>,

    /// The dead-letter table [default: the --to table's path + `_dead_letters`].
    #[arg(long, value_name = "TABLE")]
    pub dead_letters: Option<String>,

    /// Commit a partition's micro-batch when it holds this many messages...
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_messages: u64,

    /// ...or when its oldest message has waited this long (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = parse_interval)]
    pub batch_age: Duration,

    /// Stop once every partition is read to its end (after committing),
    /// instead of following the topic.
    #[arg(long)]
    pub exit_at_end: bool,

    /// How long to wait for the brokers before giving up (exit 2).
    #[arg(long, default_value = "30s", value_parser = parse_interval)]
    pub connect_timeout: Duration,

    /// Serve Prometheus metrics (messages, rows, dead letters, lag, commit
    /// delay) at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    pub metrics_bind: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MessageFormat {
    /// One JSON object per message, its fields matched to the table's
    /// columns by name.
    Json,
    /// One Avro record per message in the Confluent wire format (a zero
    /// byte, the 4-byte schema id, the record), read with --avro-schema.
    Avro,
}

/// How messages carry rows (`ingest` and `produce`).
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Message format.
    #[arg(long, value_enum, default_value_t = MessageFormat::Json)]
    pub format: MessageFormat,

    /// With --format avro: the record schema (an .avsc file) the messages
    /// are written with; flat records of null, boolean, int, long, float,
    /// double, string, enum, date and timestamp-millis/-micros fields (and
    /// unions of them). The schema registry is not asked.
    #[arg(long, value_name = "FILE")]
    pub avro_schema: Option<PathBuf>,

    /// With --format avro: the schema's registry id. `ingest` sends a
    /// message written under another id to the dead letters (it would be
    /// read with the wrong schema); `produce` writes it [default: 0].
    #[arg(long, value_name = "ID")]
    pub avro_schema_id: Option<u32>,
}

#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// A Parquet file or a folder of them.
    #[arg(long, value_name = "PATH")]
    pub from: PathBuf,

    /// The topic: kafka://HOST:PORT[,HOST:PORT...]/TOPIC.
    #[arg(long, value_name = "KAFKA_URL")]
    pub to: String,

    /// The column whose value is each message's key (and so picks its
    /// partition: one customer's rows stay in order), e.g. customer_id.
    #[arg(long, value_name = "COLUMN")]
    pub key: Option<String>,

    #[command(flatten)]
    pub format: FormatArgs,

    /// Partitions of the topic, if it has to be created.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: i32,

    /// How long to wait for the brokers before giving up (exit 2).
    #[arg(long, default_value = "30s", value_parser = parse_interval)]
    pub connect_timeout: Duration,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["as_of", "run"])))]
#[command(mut_arg("json", help("One JSON object instead of the text report")))]
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

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake the job publishes to")))]
#[command(mut_arg(
    "json",
    help("One JSON object (new, gone and changed hits) instead of the text report")
))]
pub struct ScreenArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Compare with the hits this run published (a run id), or with this
    /// version of `screening_hits` (a number).
    #[arg(long, value_name = "RUN_ID|VERSION")]
    pub changed_since: String,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake the run published to")))]
#[command(mut_arg(
    "json",
    help("One JSON object (every differing key) instead of the text report")
))]
#[command(group(clap::ArgGroup::new("which").required(true).args(["run_id", "as_of"])))]
pub struct ReproduceArgs {
    /// The run to reproduce (see `seglake history runs` or the `runs` table).
    pub run_id: Option<String>,

    /// Reproduce the run that describes this time instead: the last
    /// succeeded run whose `as_of` is at or before it (RFC 3339).
    #[arg(long, value_parser = values::parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,

    #[command(flatten)]
    pub lake: LakeArgs,

    /// Publish the reproduction here and keep it (default: a temporary
    /// folder, removed afterwards). Must not hold tables yet.
    #[arg(long)]
    pub scratch: Option<PathBuf>,

    /// Keys listed per kind of difference.
    #[arg(long, default_value_t = 20)]
    pub list: usize,

    /// The reproduction may run on another engine or partition count than
    /// the run did: the result must be the same bytes.
    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["run_id", "latest"])))]
#[command(mut_arg("lake", help("The lake the run published to")))]
pub struct ReportArgs {
    /// The run to report on (see `seglake history runs` or the `runs` table).
    pub run_id: Option<String>,

    /// The lake's latest run instead.
    #[arg(long)]
    pub latest: bool,

    #[command(flatten)]
    pub lake: LakeArgs,

    /// Where to write the page [default: LAKE/reports/RUN_ID.html]. Written
    /// to a temporary file beside it first: an existing report is replaced
    /// only by a complete one.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[command(mut_arg(
    "json",
    help("The runs and the latest run's details as one JSON object")
))]
pub struct MonitorArgs {
    /// Only this job (default: every job, one block each).
    #[arg(long)]
    pub job: Option<String>,

    /// The last N runs of each job (0: all).
    #[arg(long, default_value_t = seglake_audit::monitor::DEFAULT_LAST)]
    pub last: usize,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("json", help("The comparison as one JSON object")))]
pub struct CompareArgs {
    /// The job (default: the job of the runs given, or the lake's only job).
    #[arg(long)]
    pub job: Option<String>,

    /// The champion run (default: the job's champion now).
    #[arg(long, value_name = "RUN_ID")]
    pub champion: Option<String>,

    /// The challenger run (default: the job's latest challenger).
    #[arg(long, value_name = "RUN_ID")]
    pub challenger: Option<String>,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The run whose models become the champion (see `seglake monitor`).
    pub run_id: String,

    /// Why (kept in `runs`, shown by `seglake monitor`).
    #[arg(long)]
    pub reason: String,

    /// Who decides (default: $SEGLAKE_USER, else $USER).
    #[arg(long)]
    pub by: Option<String>,

    #[command(flatten)]
    pub lake: LakeArgs,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// The first point in time (RFC 3339, or a date: its midnight UTC).
    #[arg(long, value_parser = parse_window_start)]
    pub from: chrono::DateTime<chrono::Utc>,

    /// The last point in time, included if a step lands on it (same forms;
    /// not in the future).
    #[arg(long, value_parser = parse_window_start)]
    pub to: chrono::DateTime<chrono::Utc>,

    /// The step: 1d, 1w, 1mo, 3mo, 1y (months keep the day of --from,
    /// or the month's last day when it has fewer).
    #[arg(long, value_parser = values::parse_step)]
    pub every: values::Step,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg(
    "json",
    help("One JSON object (every customer id) instead of the text view")
))]
pub struct DiffArgs {
    /// The earlier segmentation: a run id, a `segments` version (v3), or a
    /// time (RFC 3339: the segmentation in force then).
    #[arg(long)]
    pub from: String,

    /// The later segmentation, in the same forms.
    #[arg(long)]
    pub to: String,

    #[command(flatten)]
    pub lake: LakeArgs,

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

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake (output root) whose tables the query reads")))]
#[command(mut_arg("json", help("One JSON object per row instead of a table")))]
pub struct SqlArgs {
    /// One SELECT, e.g. "SELECT segment_id, count(*) FROM table_at('segments', 0) GROUP BY 1".
    pub query: String,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("json", help("One JSON object instead of the text report")))]
pub struct VacuumArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// Keep the versions of every run started within this period, e.g.
    /// 1825d (five years, the default: FATF's record-keeping period), 12w,
    /// 36h. The latest run's versions are always kept.
    #[arg(long, default_value = "1825d", env = "SEGLAKE_RETAIN", value_parser = parse_period)]
    pub retain: chrono::Duration,

    /// List what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("json", help("One JSON object instead of the text report")))]
pub struct EraseArgs {
    /// The customer id, as the source data has it.
    #[arg(long)]
    pub customer: String,

    #[command(flatten)]
    pub lake: LakeArgs,

    /// Also erase the customer from the Delta sources the runs read.
    #[arg(long)]
    pub sources: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder of the bank's tables: each a .parquet file, a folder of
    /// Parquet files (hive-partitioned folders included) or a Delta table.
    #[arg(long)]
    pub source: PathBuf,

    /// Where to write the job file (NAME.toml, NAME from the source
    /// folder's name) and its views (sql/NAME/*.sql).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,

    /// The customer key column, when the guess is wrong or nothing looks
    /// like one.
    #[arg(long)]
    pub key: Option<String>,

    /// Replace files a previous `init` wrote.
    #[arg(long)]
    pub force: bool,
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
#[command(mut_arg(
    "lake",
    help("The local lake: raw data goes to LAKE/raw, published tables to LAKE")
))]
pub struct DemoArgs {
    #[command(flatten)]
    pub lake: LakeArgs,

    /// A job to run instead of the built-in demo job (which, with its SQL
    /// and reference tables, is written to LAKE/demo-project and run from
    /// there, so the demo needs nothing but this binary).
    #[arg(long)]
    pub job: Option<PathBuf>,

    /// Customers to generate when LAKE/raw does not exist yet.
    #[arg(long, default_value_t = 10_000)]
    pub customers: u64,

    /// Seed for the generated data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct DeliverArgs {
    /// A webhook: NAME=URL (http or https). Repeatable; each endpoint gets
    /// every event, in order, and its own outbox file.
    #[arg(long = "webhook", value_name = "NAME=URL", value_parser = parse_var)]
    pub webhooks: Vec<(String, String)>,

    /// The environment variable holding the signing secret of --webhook.
    #[arg(long, value_name = "VAR", default_value = seglake_spec::DEFAULT_WEBHOOK_SECRET_ENV)]
    pub secret_env: String,

    /// A file holding the signing secret (a mounted secret), instead of
    /// --secret-env.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,

    /// Deliver to the job's [[rules.webhook]] entries (each with its own
    /// secret_env or secret_file), from the lake the job publishes to
    /// (--lake is then not used).
    #[arg(long, value_name = "JOB")]
    pub job: Option<PathBuf>,

    /// Set a variable of --job, overriding its [vars]. Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var, requires = "job")]
    pub vars: Vec<(String, String)>,

    /// Where what was delivered is recorded (default LAKE/_deliveries).
    /// One worker per outbox.
    #[arg(long, value_name = "DIR")]
    pub outbox: Option<PathBuf>,

    /// Attempts per event before it is dead-lettered.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,

    /// Time limit of one request, e.g. 10s.
    #[arg(long, default_value = "10s", value_parser = parse_interval)]
    pub timeout: Duration,

    /// First wait before a retry, e.g. 500ms (doubling, with full jitter).
    #[arg(long, default_value = "500ms", value_parser = parse_interval)]
    pub backoff: Duration,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
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

/// `--as-of`, for the commands that run or check a job at a point in time.
#[derive(Debug, Args)]
pub struct AsOfArgs {
    /// The point in time the run describes, instead of the job's `as_of`
    /// (RFC 3339, e.g. 2026-03-31T00:00:00Z; not in the future): the
    /// feature window ends there and only outcomes decided before it are
    /// labels. The job file stays as it is.
    #[arg(long, value_parser = values::parse_as_of)]
    pub as_of: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub job: JobArgs,

    #[command(flatten)]
    pub as_of: AsOfArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg(
    "json",
    help("Print the run's lineage record as JSON instead of the summary")
))]
pub struct RunArgs {
    #[command(flatten)]
    pub job: JobArgs,

    #[command(flatten)]
    pub as_of: AsOfArgs,

    /// Use this run id (letters, digits, '-', '_', '.') instead of a new one,
    /// e.g. the scheduler's. Running an id again completes its publication
    /// (after a crash) and duplicates nothing.
    #[arg(long, env = "SEGLAKE_RUN_ID")]
    pub run_id: Option<String>,

    /// Compute the state of the job's incremental views
    /// ([[features.incremental]]) from every day of their sources, not from
    /// the last run's state: after changing such a view's SQL or settings,
    /// or to check an incremental run against a full one.
    #[arg(long)]
    pub full_refresh: bool,

    #[command(flatten)]
    pub engine: EngineArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake (output root) holding the table")))]
#[command(mut_arg("json", help("One JSON object per version instead of a table")))]
pub struct HistoryArgs {
    /// A table name under the lake (customer_features, runs), or a table's path.
    pub table: String,

    #[command(flatten)]
    pub lake: LakeArgs,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
#[command(mut_arg("lake", help("The lake (output root) holding the table")))]
#[command(mut_arg(
    "json",
    help("One JSON object per segment (every column) instead of the text view")
))]
pub struct SegmentsArgs {
    /// The segment_profiles table: a name under --lake, or a table's path.
    #[arg(default_value = "segment_profiles")]
    pub table: String,

    #[command(flatten)]
    pub lake: LakeArgs,

    /// Table version to show (time travel); the latest when absent.
    #[arg(long)]
    pub version: Option<i64>,

    /// Features shown per segment, largest |z-score| first.
    #[arg(long, default_value_t = 4)]
    pub top: usize,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::exit::Exit;

    fn run_args(extra: &[&str]) -> Result<RunArgs, clap::Error> {
        let mut argv = vec!["seglake", "run", "jobs/demo.toml"];
        argv.extend(extra);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn engine_is_local_or_a_ballista_address() {
        assert!(matches!(
            run_args(&["--engine", "local"]).unwrap().engine.engine,
            Engine::Local
        ));
        assert!(matches!(
            run_args(&["--engine", "ballista://127.0.0.1:50050"])
                .unwrap()
                .engine
                .engine,
            Engine::Ballista(_)
        ));
    }

    /// The message names the flag and the forms it takes, and a bad
    /// engine is invalid input (exit 1), as before clap parsed it.
    #[cfg(feature = "cluster")]
    #[test]
    fn a_bad_engine_names_the_flag_and_the_valid_forms() {
        let err = run_args(&["--engine", "spark://host:7077"]).unwrap_err();
        let message = err.render().to_string();
        assert!(message.contains("--engine"), "{message}");
        assert!(
            message.contains("`local` or `ballista://HOST:PORT`"),
            "{message}"
        );
        assert_eq!(Exit::for_usage(&err), Exit::InvalidInput);
        let err = run_args(&["--engine", "ballista://127.0.0.1"]).unwrap_err();
        assert!(err.render().to_string().contains("no port"));
    }

    #[cfg(not(feature = "cluster"))]
    #[test]
    fn without_the_cluster_engine_a_cluster_address_names_the_feature() {
        let err = run_args(&["--engine", "ballista://127.0.0.1:50050"]).unwrap_err();
        let message = err.render().to_string();
        assert!(message.contains("--features cluster"), "{message}");
        assert_eq!(Exit::for_usage(&err), Exit::InvalidInput);
        assert!(Cli::command().find_subcommand("cluster").is_none());
    }

    /// `run --help` documents S3 and the cluster only in a binary that has them.
    #[test]
    fn run_help_names_only_the_features_built_in() {
        let help = run_after_help();
        assert_eq!(help.contains("AWS_ACCESS_KEY_ID"), cfg!(feature = "s3"));
        assert_eq!(
            help.contains("ballista://"),
            cfg!(all(feature = "s3", feature = "cluster"))
        );
        assert!(help.contains(" line.\n\nPublishing: "), "{help}");
    }

    #[test]
    fn other_usage_errors_keep_code_2_and_help_is_a_success() {
        let err = run_args(&["--memory-limit", "lots"]).unwrap_err();
        assert_eq!(Exit::for_usage(&err), Exit::Failure);
        let err = Cli::try_parse_from(["seglake", "run", "--help"]).unwrap_err();
        assert_eq!(Exit::for_usage(&err), Exit::Success);
    }

    #[test]
    fn a_command_rewords_a_shared_flag() {
        let command = Cli::command();
        let help_of = |sub: &str, flag: &str| {
            let sub = command.find_subcommand(sub).unwrap();
            let arg = sub.get_arguments().find(|a| a.get_id() == flag).unwrap();
            (arg.get_help().unwrap().to_string(), arg.get_help_heading())
        };
        assert_eq!(
            help_of("reproduce", "lake"),
            ("The lake the run published to".to_string(), Some("Lake"))
        );
        assert_eq!(
            help_of("audit", "lake"),
            ("The lake (output root)".to_string(), Some("Lake"))
        );
        assert_eq!(
            help_of("sql", "json"),
            (
                "One JSON object per row instead of a table".to_string(),
                Some("Output")
            )
        );
    }

    /// The codes `--help` documents are the ones the process exits with.
    #[test]
    fn help_lists_every_code() {
        let help = AFTER_HELP;
        for (exit, meaning) in [
            (Exit::Success, "success"),
            (Exit::InvalidInput, "invalid input"),
            (Exit::Failure, "any other failure"),
            (Exit::NotReproduced, "`reproduce` only"),
            (Exit::DeadLettered, "`deliver` only"),
            (Exit::Challenger, "`run`, `backfill` only"),
        ] {
            let line = format!("  {}  {meaning}", exit as u8);
            assert!(help.contains(&line), "`{line}` missing from:\n{help}");
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Replay the job's [rules], as the job file has them now (a draft can
    /// be tested before it goes live), over every succeeded run of the job
    /// whose as_of is in [--from, --to]: each run's sources at the versions
    /// it read, its feature table, segments and profiles as it published
    /// them, and the segments before it (time travel). Suppression applies
    /// across the replayed runs as in production. Alerts are judged on the
    /// case outcomes (`[segments] outcomes`) and analysts' dispositions
    /// the lake holds now: per rule and segment, alerts, SARs or true
    /// positives, false positives, hit rate, alerts per SAR, and the
    /// confirmed customers no rule caught. Writes nothing.
    #[command(after_help = AFTER_HELP)]
    Backtest(BacktestArgs),
}

#[derive(Debug, Args)]
#[command(mut_arg(
    "json",
    help("The whole report as one JSON object (every missed customer)")
))]
pub struct BacktestArgs {
    #[command(flatten)]
    pub job: JobArgs,

    /// Replay the runs whose as_of is at or after this time (RFC 3339, or a
    /// date: from its midnight UTC).
    #[arg(long, value_parser = parse_window_start)]
    pub from: chrono::DateTime<chrono::Utc>,

    /// ... and at or before this time (RFC 3339, or a date: the whole day).
    #[arg(long, value_parser = parse_time)]
    pub to: chrono::DateTime<chrono::Utc>,

    /// Also replay with one global threshold set ([rules.thresholds] for
    /// every segment: the bank's legacy one-size rules) and report the
    /// false-positive reduction and recall change of the segment-specific
    /// thresholds, with 95% bootstrap confidence intervals over customers.
    #[arg(long)]
    pub compare: bool,

    /// Bootstrap resamples for --compare's intervals (seeded by the job's
    /// seed: the same numbers every time).
    #[arg(long, default_value_t = seglake_audit::DEFAULT_RESAMPLES)]
    pub resamples: usize,

    #[command(flatten)]
    pub output: OutputArgs,
}
