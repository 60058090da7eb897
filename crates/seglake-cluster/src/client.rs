//! The driver's side: sessions whose queries run on a Ballista cluster.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ballista_core::config::BALLISTA_CLIENT_PULL;
use ballista_core::execution_plans::DistributedQueryExec;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::serde::protobuf::job_status::Status;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::{CancelJobParams, GetJobStatusParams};
use ballista_core::utils::{GrpcClientConfig, create_grpc_client_connection};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::session_state::SessionState;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion_proto::protobuf::LogicalPlanNode;
use futures::future::BoxFuture;

use crate::ClusterError;
use crate::codec::{SeglakeLogicalCodec, SeglakePhysicalCodec};

/// A Ballista scheduler, named `ballista://HOST:PORT`.
#[derive(Debug, Clone)]
pub struct BallistaEngine {
    /// As the user gave it, for messages.
    engine: String,
    /// The scheduler's gRPC endpoint, `http://HOST:PORT`.
    scheduler: String,
}

impl BallistaEngine {
    /// Parses `ballista://HOST:PORT` (the port is required: a wrong
    /// default would send the job to another cluster).
    pub fn parse(engine: &str) -> Result<Self, ClusterError> {
        let bad = |message: &str| ClusterError::Address {
            engine: engine.to_string(),
            message: message.to_string(),
        };
        let rest = engine
            .strip_prefix("ballista://")
            .ok_or_else(|| bad("expected `local` or `ballista://HOST:PORT`"))?;
        let url = url::Url::parse(&format!("http://{rest}")).map_err(|e| bad(&e.to_string()))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let port = url
            .port()
            .ok_or_else(|| bad("no port (the scheduler's, e.g. 50050)"))?;
        if url.path() != "/" || url.query().is_some() || !url.username().is_empty() {
            return Err(bad("only HOST:PORT may follow ballista://"));
        }
        Ok(BallistaEngine {
            engine: format!("ballista://{host}:{port}"),
            scheduler: format!("http://{host}:{port}"),
        })
    }
}

impl seglake_features::RemoteEngine for BallistaEngine {
    fn session(&self, state: SessionState) -> datafusion::error::Result<SessionContext> {
        // Only these settings are shipped with every job (and shown in the
        // cluster's information_schema): DataFusion's and Ballista's own,
        // never a credential. Stores are opened by each process itself.
        let config = state
            .config()
            .clone()
            .with_ballista_logical_extension_codec(Arc::new(SeglakeLogicalCodec::default()))
            .with_ballista_physical_extension_codec(Arc::new(SeglakePhysicalCodec::default()))
            .with_ballista_job_name("seglake")
            // Pull mode learns a job's id when the scheduler accepts it
            // (push mode only with the first status change, which can be
            // the end), so a query past the client's timeout can be
            // cancelled; the cost is a status poll every 50 ms.
            .set_bool(BALLISTA_CLIENT_PULL, true)
            // The scheduler turns it off for every job (and warns each
            // time): off here already.
            .set_bool("datafusion.optimizer.enable_round_robin_repartition", false)
            // Ballista 55 re-runs join selection on stages after DataFusion
            // built a hash join's dynamic filter, which fails the stage
            // ("Cannot swap HashJoinExec inputs after dynamic filters have
            // been constructed") and leaves the job waiting: no dynamic
            // filters on a cluster.
            .set_bool("datafusion.optimizer.enable_dynamic_filter_pushdown", false)
            .set_bool(
                "datafusion.optimizer.enable_join_dynamic_filter_pushdown",
                false,
            );
        let state = SessionStateBuilder::new_from_existing(state)
            .with_config(config)
            .build()
            .upgrade_for_ballista(self.scheduler.clone())?;
        Ok(SessionContext::new_with_state(state))
    }

    fn describe(&self) -> String {
        self.engine.clone()
    }

    fn cancel(&self, plan: Arc<dyn ExecutionPlan>) -> BoxFuture<'static, ()> {
        let scheduler = self.scheduler.clone();
        Box::pin(async move {
            let Some(job_id) = submitted_job(&plan) else {
                tracing::warn!(
                    "the timed-out query had no Ballista job id yet; nothing to cancel on the cluster"
                );
                return;
            };
            match cancel_job(&scheduler, &job_id).await {
                Ok(()) => tracing::info!("cancelled Ballista job {job_id}"),
                Err(e) => tracing::warn!("could not cancel Ballista job {job_id}: {e}"),
            }
        })
    }
}

/// The Ballista job `plan` submitted, if it got as far: Ballista plans a
/// query as one `DistributedQueryExec`, which learns the job id from the
/// scheduler.
fn submitted_job(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    if let Some(query) = plan.downcast_ref::<DistributedQueryExec<LogicalPlanNode>>() {
        return query.job_id().map(|id| id.to_string());
    }
    plan.children().into_iter().find_map(submitted_job)
}

/// How long a cancelled job is waited for to stop.
const CANCEL_WAIT: Duration = Duration::from_secs(10);
/// How often its status is asked for meanwhile.
const CANCEL_POLL: Duration = Duration::from_millis(50);

/// Asks the scheduler to cancel `job_id`, then waits (at most
/// [`CANCEL_WAIT`]) until the scheduler reports the job stopped: it has
/// then told the executors to abort its tasks. Without the wait, the
/// client removed the run's scratch folder while an executor was still
/// writing a materialised view into it, and the folder came back.
async fn cancel_job(scheduler: &str, job_id: &str) -> Result<(), String> {
    let channel =
        create_grpc_client_connection(scheduler.to_string(), &GrpcClientConfig::default())
            .await
            .map_err(|e| e.to_string())?;
    let mut client = SchedulerGrpcClient::new(channel);
    client
        .cancel_job(CancelJobParams {
            job_id: job_id.to_string(),
        })
        .await
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + CANCEL_WAIT;
    while Instant::now() < deadline {
        let status = client
            .get_job_status(GetJobStatusParams {
                job_id: job_id.to_string(),
            })
            .await
            .map_err(|e| e.to_string())?
            .into_inner();
        let state = status.status.and_then(|s| s.status);
        if !matches!(state, Some(Status::Queued(_) | Status::Running(_))) {
            return Ok(());
        }
        tokio::time::sleep(CANCEL_POLL).await;
    }
    Err(format!(
        "the scheduler still reports it running {} s after the cancellation",
        CANCEL_WAIT.as_secs()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballista_core::extension::SessionConfigHelperExt;

    #[test]
    fn parses_host_and_port_only() {
        let e = BallistaEngine::parse("ballista://127.0.0.1:50050").unwrap();
        assert_eq!(e.scheduler, "http://127.0.0.1:50050");
        for bad in [
            "ballista://127.0.0.1",
            "df://127.0.0.1:50050",
            "ballista://user:pw@host:1",
            "ballista://host:1/path",
            "ballista://:50050",
        ] {
            assert!(BallistaEngine::parse(bad).is_err(), "{bad}");
        }
    }

    /// The settings a job ships to the scheduler and executors (and that
    /// `information_schema.df_settings` shows there) hold no credential,
    /// even with every kind of S3 secret in the driver's environment and
    /// DataFusion settings taken from it.
    #[test]
    fn no_secret_is_in_the_settings_a_job_ships() {
        let secrets = [
            ("AWS_SECRET_ACCESS_KEY", "secret-MARKER-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAMARKER2"),
            ("AWS_SESSION_TOKEN", "token-MARKER-3"),
        ];
        // SAFETY: this test binary sets these variables in this test only,
        // and no other test reads them.
        unsafe {
            for (k, v) in secrets {
                std::env::set_var(k, v);
            }
            std::env::set_var("DATAFUSION_EXECUTION_BATCH_SIZE", "4096");
        }
        let engine = BallistaEngine::parse("ballista://127.0.0.1:1").unwrap();
        let features = seglake_features::FeatureEngine::new(&seglake_features::EngineOptions {
            remote: Some(Arc::new(engine)),
            ..Default::default()
        })
        .unwrap();
        let shipped = features.context().state().config().to_key_value_pairs();
        assert!(
            shipped
                .iter()
                .any(|kv| kv.key == "datafusion.execution.batch_size"
                    && kv.value.as_deref() == Some("4096")),
            "the settings from the environment are shipped"
        );
        for kv in &shipped {
            let value = kv.value.clone().unwrap_or_default();
            for (_, secret) in secrets {
                assert!(!value.contains(secret), "{} = {value}", kv.key);
            }
            let key = kv.key.to_lowercase();
            assert!(
                !["secret", "access_key", "session_token", "password"]
                    .iter()
                    .any(|w| key.contains(w)),
                "a credential-like setting is shipped: {}",
                kv.key
            );
        }
    }
}
