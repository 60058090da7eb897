//! `seglake cluster executor`: Ballista's executor with seglake's
//! functions, codecs and object stores.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};

use crate::ClusterError;
use crate::codec::{SeglakeLogicalCodec, SeglakePhysicalCodec};

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Where it serves shuffle data and results (Arrow Flight); its task
    /// service listens on the same host at `grpc_port`.
    pub bind: SocketAddr,
    pub grpc_port: u16,
    /// The scheduler, `HOST:PORT`.
    pub scheduler_host: String,
    pub scheduler_port: u16,
    /// Tasks run at once; the number of cores when 0.
    pub concurrent_tasks: usize,
    /// Shuffle files; a temporary folder when `None`.
    pub work_dir: Option<String>,
    /// How often it tells the scheduler it is alive.
    pub heartbeat_seconds: u64,
    /// What the tasks' queries may hold together before they spill (the
    /// budget's limit), and how far past it the process may go before it
    /// stops; unbounded when `None`.
    pub memory: Option<seglake_memory::Budget>,
}

/// Runs the executor until the process is stopped (SIGTERM, Ctrl-C) or the
/// scheduler stops it.
pub async fn run(options: ExecutorOptions) -> Result<(), ClusterError> {
    let host = options.bind.ip().to_string();
    // One pool for every task: the limit is the executor's, not a task's.
    let pool = options
        .memory
        .map(|budget| seglake_features::memory_pool(budget.limit));
    if let Some(budget) = options.memory {
        enforce_memory_budget(budget, options.bind);
    }
    let config = ExecutorProcessConfig {
        bind_host: host.clone(),
        external_host: Some(host),
        port: options.bind.port(),
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        // Started together with the scheduler (a script, a pod): wait for it.
        scheduler_connect_timeout_seconds: 30,
        vcores: options.concurrent_tasks,
        work_dir: options.work_dir.clone(),
        executor_heartbeat_interval_seconds: options.heartbeat_seconds.max(1),
        override_function_registry: Some(Arc::new(crate::functions::executor_registry())),
        override_runtime_producer: Some(Arc::new(
            move |_config: &datafusion::prelude::SessionConfig| {
                crate::functions::runtime(pool.clone())
            },
        )),
        override_logical_codec: Some(Arc::new(SeglakeLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(SeglakePhysicalCodec::default())),
        ..ExecutorProcessConfig::default()
    };
    tracing::info!(
        address = %options.bind,
        scheduler = %format!("{}:{}", options.scheduler_host, options.scheduler_port),
        "Ballista executor starting"
    );
    start_executor_process(Arc::new(config))
        .await
        .map_err(|e| ClusterError::Role {
            role: "executor",
            message: e.to_string(),
        })
}

/// Past the budget the executor stops, saying so, with exit code 2: the
/// scheduler sees an executor lost (its tasks fail or run elsewhere)
/// rather than the kernel killing it with nothing said.
fn enforce_memory_budget(budget: seglake_memory::Budget, bind: SocketAddr) {
    // Named first: the budget may be past at once.
    let activity = seglake_memory::enter_activity(&format!("the executor at {bind}"));
    seglake_memory::enforce(budget);
    tokio::spawn(async move {
        let _named_for_the_process = activity;
        if let Err(exceeded) = seglake_memory::guard(std::future::pending::<()>()).await {
            tracing::error!(%exceeded, "executor stopping");
            eprintln!("error: {exceeded}");
            std::process::exit(2);
        }
    });
}
