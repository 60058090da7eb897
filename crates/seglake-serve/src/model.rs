//! The run whose models answer `/v1/score`: the champion (or a pinned
//! run), its models read back from the
//! `models` table, and the swap to a newly published run without a restart.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use seglake_audit::{Lake, decode_rows};
use seglake_features::live::LiveFeatures;
use seglake_lake::runs::RUNS_TABLE;
use seglake_model::{ModelKind, Scorer};
use seglake_spec::lineage::RunRecord;
use serde::Deserialize;

use crate::error::ServeError;
use crate::follow::{FollowOptions, Follower, LiveState};
use crate::metrics::Metrics;

const MODELS: &str = seglake_spec::MODELS_TABLE;

/// A run's models, ready to score.
pub struct Loaded {
    pub run_id: String,
    pub job_name: String,
    /// The run's key column (`customer_id` in the demo).
    pub key: String,
    /// The `models` version the run published (as in `segments.model_version`).
    pub model_version: i64,
    pub scorer: Scorer,
    /// The run's feature SQL for requests that post raw rows, or why it
    /// cannot run (the run's recorded input files are gone, say).
    pub live: Result<LiveFeatures, String>,
    /// With `--follow`: the run's incremental state and the offsets of the
    /// messages it holds.
    pub follow: Option<LiveState>,
}

#[derive(Deserialize)]
struct ModelRow {
    run_id: String,
    kind: String,
    model: String,
}

/// The run that should score now: `pinned`, or the champion (the latest
/// run published within its job's `[monitoring]` limits, or promoted
/// since; see [`seglake_audit::champion`]).
async fn wanted_run(lake: &Lake, pinned: Option<&str>) -> Result<RunRecord, ServeError> {
    if let Some(id) = pinned {
        return Ok(lake.run(id).await?);
    }
    let rows = lake.runs_and_promotions().await?;
    if let Some(champion) = seglake_audit::champion::champion(&rows, None) {
        return Ok(champion.clone());
    }
    let challenger = seglake_audit::champion::latest_challenger(&rows, None);
    Err(ServeError::Config(match challenger {
        Some(c) => format!(
            "no run in {} has champion models: run {} published its models as the challenger \
             (it went past a [monitoring] limit); `seglake promote {}` makes them the champion",
            lake.root.display(),
            c.run_id,
            c.run_id
        ),
        None => format!(
            "no run in {} has published segments yet: run a job with a [segments] section first",
            lake.root.display()
        ),
    }))
}

/// The latest challenger of `job`, loaded, if there is one.
async fn challenger_of(lake: &Lake, job: &str) -> Result<Option<Arc<Loaded>>, ServeError> {
    let rows = lake.runs_and_promotions().await?;
    match seglake_audit::champion::latest_challenger(&rows, Some(job)) {
        // A challenger scores the row the champion's features gave.
        Some(run) => Ok(Some(Arc::new(load_run(lake, run, None).await?))),
        None => Ok(None),
    }
}

/// Loads `run`'s models from the `models` version it published (and, with
/// `follow`, its incremental state).
async fn load_run(
    lake: &Lake,
    run: &RunRecord,
    follow: Option<&FollowOptions>,
) -> Result<Loaded, ServeError> {
    let (recorded, now) = lake.version_of(run, MODELS).await?;
    let rows: Vec<ModelRow> =
        decode_rows(&lake.read(MODELS, Some(now)).await?, "the `models` table")?;
    let model_of = |kind: &str| {
        rows.iter()
            .find(|r| r.run_id == run.run_id && r.kind == kind)
            .map(|r| r.model.as_str())
    };
    let segments = model_of(ModelKind::Segments.as_str()).ok_or_else(|| {
        ServeError::Config(format!(
            "run {} has no segmentation model in `models` version {now}",
            run.run_id
        ))
    })?;
    let scorer =
        Scorer::from_models(segments, model_of(ModelKind::Risk.as_str())).map_err(|source| {
            ServeError::Model {
                run_id: run.run_id.clone(),
                source,
            }
        })?;
    let spec = seglake_spec::JobSpec::from_run_record(run).map_err(|e| {
        ServeError::Config(format!("the spec recorded for run {}: {e}", run.run_id))
    })?;
    let root = seglake_spec::Location::Local(lake.root.clone());
    let live = LiveFeatures::from_run(run, &root)
        .await
        .map_err(|e| e.to_string());
    if let Err(e) = &live {
        tracing::warn!("scoring from raw rows is unavailable for this run: {e}");
    }
    let follow = match follow {
        None => None,
        Some(options) => {
            let refused =
                |e: String| ServeError::Config(format!("--follow {}: {e}", options.topic));
            let features = live.as_ref().map_err(|e| refused(e.clone()))?;
            let state = LiveState::load(run, features, &root, options)
                .await
                .map_err(refused)?;
            tracing::info!(
                run_id = %run.run_id,
                customers = state.rolling.customers(),
                "incremental state loaded for live scoring"
            );
            Some(state)
        }
    };
    Ok(Loaded {
        follow,
        live,
        run_id: run.run_id.clone(),
        job_name: run.job_name.clone(),
        key: spec.key,
        model_version: recorded,
        scorer,
    })
}

/// The models in use, swapped atomically: a request holds the `Arc` it
/// started with, so a swap never changes a request half-way.
pub struct Models {
    lake: Lake,
    pinned: Option<String>,
    current: RwLock<Arc<Loaded>>,
    /// With `--shadow`: the latest challenger of the champion's job, if
    /// there is one.
    shadow: Option<RwLock<Option<Arc<Loaded>>>>,
    /// The `runs` table's latest commit when last checked: the table is
    /// read again only when it changed.
    runs_seen: std::sync::Mutex<Option<u64>>,
    /// With `--follow`: the topic, and its reader once started.
    follow: Option<FollowOptions>,
    follower: std::sync::OnceLock<Arc<Follower>>,
}

/// The latest commit number of the lake's `runs` table, from the names in
/// its Delta log (a directory listing: cheap enough to poll).
fn runs_log_version(lake: &Lake) -> Option<u64> {
    std::fs::read_dir(lake.root.join(RUNS_TABLE).join("_delta_log"))
        .ok()?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".json")?
                .parse::<u64>()
                .ok()
        })
        .max()
}

impl Models {
    pub async fn load(
        lake: Lake,
        pinned: Option<String>,
        shadow: bool,
        follow: Option<FollowOptions>,
    ) -> Result<Models, ServeError> {
        let run = wanted_run(&lake, pinned.as_deref()).await?;
        let loaded = load_run(&lake, &run, follow.as_ref()).await?;
        let challenger = match shadow {
            true => Some(RwLock::new(challenger_of(&lake, &loaded.job_name).await?)),
            false => None,
        };
        Ok(Models {
            runs_seen: std::sync::Mutex::new(runs_log_version(&lake)),
            lake,
            pinned,
            current: RwLock::new(Arc::new(loaded)),
            shadow: challenger,
            follow,
            follower: std::sync::OnceLock::new(),
        })
    }

    /// With `--follow`: starts reading the topic after the messages the
    /// current run's state holds.
    pub fn start_following(&self) -> Result<Option<Arc<Follower>>, ServeError> {
        let (Some(options), current) = (&self.follow, self.current()) else {
            return Ok(None);
        };
        let state = current.follow.as_ref().expect("loaded with --follow");
        let follower = Follower::start(
            options,
            &state.held,
            state.rolling.row_schema(),
            &current.key,
        )?;
        let _ = self.follower.set(follower.clone());
        Ok(Some(follower))
    }

    pub fn current(&self) -> Arc<Loaded> {
        self.current.read().expect("models lock").clone()
    }

    /// The challenger to shadow-score with, when `--shadow` is on and the
    /// job has one.
    pub fn challenger(&self) -> Option<Arc<Loaded>> {
        self.shadow.as_ref()?.read().expect("models lock").clone()
    }

    /// Loads the latest challenger of the champion's job if it is not the
    /// one in use (with `--shadow`).
    async fn refresh_challenger(&self) -> Result<(), ServeError> {
        let Some(slot) = &self.shadow else {
            return Ok(());
        };
        let job = self.current().job_name.clone();
        let rows = self.lake.runs_and_promotions().await?;
        let wanted = seglake_audit::champion::latest_challenger(&rows, Some(&job));
        let in_use = self.challenger().map(|c| c.run_id.clone());
        if wanted.map(|r| &r.run_id) == in_use.as_ref() {
            return Ok(());
        }
        let loaded = match wanted {
            Some(run) => Some(Arc::new(load_run(&self.lake, run, None).await?)),
            None => None,
        };
        *slot.write().expect("models lock") = loaded;
        Ok(())
    }

    pub fn lake(&self) -> &Lake {
        &self.lake
    }

    /// Loads the latest run if it is not the one in use. Returns the new
    /// run id when it swapped.
    pub async fn refresh(&self) -> Result<Option<String>, ServeError> {
        if self.pinned.is_some() {
            return Ok(None);
        }
        let version = runs_log_version(&self.lake);
        if version == *self.runs_seen.lock().expect("runs lock") {
            return Ok(None);
        }
        let run = wanted_run(&self.lake, None).await?;
        let swapped = run.run_id != self.current().run_id;
        if swapped {
            let loaded = Arc::new(load_run(&self.lake, &run, self.follow.as_ref()).await?);
            *self.current.write().expect("models lock") = loaded.clone();
            // The new state holds these rows. (A request still on the
            // previous run scores without those of them it had not had.)
            if let (Some(follower), Some(state)) = (self.follower.get(), &loaded.follow) {
                follower.forget_held(&state.held);
            }
        }
        self.refresh_challenger().await?;
        *self.runs_seen.lock().expect("runs lock") = version;
        Ok(swapped.then_some(run.run_id))
    }

    /// Checks for a newly published run every `every`, for ever.
    pub async fn watch(self: Arc<Self>, every: Duration, metrics: Arc<Metrics>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self.refresh().await {
                Ok(Some(run_id)) => {
                    metrics.reloaded(true);
                    tracing::info!(%run_id, "now scoring with a newly published run");
                }
                Ok(None) => {}
                Err(e) => {
                    metrics.reloaded(false);
                    tracing::warn!(
                        "could not load the latest run, the previous one keeps scoring: {e}"
                    );
                }
            }
        }
    }
}
