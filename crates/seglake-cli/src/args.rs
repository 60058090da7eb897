use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Exit codes:
  0  success
  1  invalid input: the job spec, a SQL file or the data is wrong (the message names it);
     nothing was written
  2  any other failure (storage, I/O, internal error)

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
    #[command(after_help = AFTER_HELP)]
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
    /// e.g. the scheduler's.
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
