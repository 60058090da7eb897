//! `seglake serve`: the HTTP API over a published lake.
//!
//! - scoring ([`api`]): a customer's segment, risk score, band and reasons
//!   from their feature values, with the published run's models
//!   ([`seglake_model::Scorer`], the batch run's own functions), and
//!   a newly published run picked up without a restart ([`model`]);
//! - the published segmentation in force at a time (the auditor's lookup);
//! - feedback ([`feedback`]): survey responses and analyst dispositions,
//!   acknowledged once fsynced to a local write-ahead log and committed to
//!   the lake's `feedback` table in batches, exactly once ([`wal`]);
//! - with `--follow` ([`follow`]): the topic feeding the run's incremental
//!   source, read as it arrives, so a customer id alone is scored from the
//!   run's state and the customer's rows streamed since;
//! - `/healthz`, Prometheus `/metrics` ([`metrics`]), `/openapi.json`.
//!
//! Every route but `/healthz` requires the bearer token.

pub mod api;
mod cases;
mod error;
pub mod feedback;
pub mod follow;
pub mod metrics;
pub mod model;
mod openapi;
pub mod shadow;
pub mod wal;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use api::Token;
pub use error::{ApiError, ServeError};

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub lake: PathBuf,
    pub bind: SocketAddr,
    pub token: Token,
    /// Score with this run instead of following the latest.
    pub run: Option<String>,
    pub wal_dir: PathBuf,
    /// How often to look for a newly published run.
    pub reload_every: Duration,
    /// How often acknowledged feedback (and shadow scores) are committed.
    pub flush_every: Duration,
    /// Also score with the latest challenger and keep both scores in
    /// `shadow_scores`.
    pub shadow: bool,
    /// Follow the topic that feeds the run's incremental source.
    pub follow: Option<follow::FollowOptions>,
}

/// Runs the service until `shutdown` completes, then commits the feedback
/// still in the log. `ready` receives the bound address once it listens.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let lake = seglake_audit::Lake::open(&options.lake)?;
    let metrics = Arc::new(metrics::Metrics::default());
    // The log first: feedback a previous process acknowledged is committed
    // before anything else happens.
    let wal = wal::Wal::open(&options.wal_dir, &lake.root, metrics.clone()).await?;
    let cases = cases::CaseBook::new(&lake.root);
    let shadow = shadow::ShadowLog::new(lake.root.clone());
    let models = Arc::new(
        model::Models::load(
            lake,
            options.run.clone(),
            options.shadow,
            options.follow.clone(),
        )
        .await?,
    );
    let loaded = models.current();
    tracing::info!(run_id = %loaded.run_id, job = %loaded.job_name, "scoring with run");
    let follower = models.start_following()?;
    let state = Arc::new(api::AppState {
        cases,
        models: models.clone(),
        wal,
        shadow,
        metrics: metrics.clone(),
        token: options.token.clone(),
        follower: follower.clone(),
    });
    watch_for_new_runs(models.clone(), metrics.clone(), options.reload_every)?;
    let flusher = {
        let state = state.clone();
        let every = options.flush_every;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = state.wal.flush().await {
                    tracing::error!("feedback not committed yet (kept in the log, retried): {e}");
                }
                if let Err(e) = state.shadow.flush().await {
                    tracing::warn!("shadow scores not committed yet (kept, retried): {e}");
                }
            }
        })
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| ServeError::Bind {
            address: options.bind.to_string(),
            source,
        })?;
    let address = listener.local_addr().map_err(ServeError::Server)?;
    tracing::info!(%address, "listening");
    ready(address);
    axum::serve(listener, api::router(state.clone()))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(ServeError::Server)?;
    flusher.abort();
    let _ = flusher.await;
    if let Some(follower) = &follower {
        follower.stop();
    }
    // Everything acknowledged goes to the table before a clean exit.
    state.wal.flush().await?;
    state.shadow.flush().await?;
    tracing::info!("stopped; every acknowledged feedback item is committed");
    Ok(())
}

/// Looks for a newly published run every `every`. Looking and loading read
/// Delta tables: on a thread and runtime of their own, so they never hold
/// up a request's worker.
fn watch_for_new_runs(
    models: Arc<model::Models>,
    metrics: Arc<metrics::Metrics>,
    every: Duration,
) -> Result<(), ServeError> {
    std::thread::Builder::new()
        .name("model-watch".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(models.watch(every, metrics)),
                Err(e) => tracing::error!("cannot watch for new runs: {e}"),
            }
        })
        .map_err(|e| ServeError::Config(format!("cannot start the model watcher: {e}")))?;
    Ok(())
}
