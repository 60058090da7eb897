//! `seglake cluster`'s arguments: only in a binary built with the `cluster`
//! feature (see `args.rs`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::MemoryArgs;

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

    #[command(flatten)]
    pub memory: MemoryArgs,
}
