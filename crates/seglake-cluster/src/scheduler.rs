//! `seglake cluster scheduler`: Ballista's scheduler with seglake's
//! session, functions and codecs.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;

use crate::ClusterError;
use crate::codec::{SeglakeLogicalCodec, SeglakePhysicalCodec};

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// The address it listens on, and tells executors and clients.
    pub bind: SocketAddr,
    /// An executor silent for this long is taken out, and its tasks run
    /// elsewhere.
    pub executor_timeout_seconds: u64,
}

/// Runs the scheduler until the process is stopped.
pub async fn run(options: SchedulerOptions) -> Result<(), ClusterError> {
    let failed = |message: String| ClusterError::Role {
        role: "scheduler",
        message,
    };
    let timeout = options.executor_timeout_seconds.max(1);
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.bind.ip().to_string(),
        executor_timeout_seconds: timeout,
        no_executors_grace_period_seconds: timeout,
        expire_dead_executor_interval_seconds: (timeout / 3).max(1),
        override_session_builder: Some(Arc::new(crate::functions::scheduler_session)),
        override_logical_codec: Some(Arc::new(SeglakeLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(SeglakePhysicalCodec::default())),
        ..SchedulerConfig::default()
    };
    config.validate().map_err(|e| failed(e.to_string()))?;
    let cluster = BallistaCluster::new_from_config(&config)
        .await
        .map_err(|e| failed(e.to_string()))?;
    tracing::info!(address = %options.bind, "Ballista scheduler listening");
    ballista_scheduler::scheduler_process::start_server(cluster, options.bind, Arc::new(config))
        .await
        .map_err(|e| failed(format!("at {}: {e}", options.bind)))
}
