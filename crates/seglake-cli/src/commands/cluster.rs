//! `seglake cluster scheduler|executor`: the processes of a Ballista
//! cluster, each running until stopped.

use crate::args::{ClusterCommand, ExecutorArgs, SchedulerArgs};
use crate::exit::{Exit, InvalidInput};

pub async fn cluster(command: ClusterCommand) -> anyhow::Result<Exit> {
    match command {
        ClusterCommand::Scheduler(args) => scheduler(args).await?,
        ClusterCommand::Executor(args) => executor(args).await?,
    }
    Ok(Exit::Success)
}

async fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    seglake_cluster::scheduler::run(seglake_cluster::scheduler::SchedulerOptions {
        bind: args.bind,
        executor_timeout_seconds: args.executor_timeout,
    })
    .await?;
    Ok(())
}

async fn executor(args: ExecutorArgs) -> anyhow::Result<()> {
    let (host, port) = scheduler_address(&args.scheduler)?;
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
        memory: args.memory.budget(None),
    })
    .await?;
    Ok(())
}

/// `--scheduler HOST:PORT`, split at the last colon.
fn scheduler_address(scheduler: &str) -> Result<(String, u16), InvalidInput> {
    scheduler
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
        .filter(|(h, _)| !h.is_empty())
        .ok_or_else(|| {
            InvalidInput(format!(
                "--scheduler `{scheduler}`: expected HOST:PORT, e.g. 127.0.0.1:50050"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheduler_is_host_and_port() {
        assert_eq!(
            scheduler_address("10.0.0.5:50050").unwrap(),
            ("10.0.0.5".to_string(), 50050)
        );
        for bad in ["10.0.0.5", ":50050", "host:port", "host:70000"] {
            let err = scheduler_address(bad).unwrap_err().to_string();
            assert!(err.contains("expected HOST:PORT"), "{bad}: {err}");
        }
    }
}
