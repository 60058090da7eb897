//! Stage 1, prepare: pins the inputs and registers sources, `run_context`
//! and every view. The checks `validate` runs, and the start of every run.

use seglake_features::{FeatureEngine, RunContext, ViewMode};
use seglake_lake::{PinnedInput, resolve_input};
use seglake_spec::{JobSpec, SourceFormat};

use crate::RunOptions;
use crate::error::Result;
use crate::progress::{Progress, step};
use crate::screening::{Screened, ScreeningRun};
use crate::snapshots;

/// An engine with every table of the run registered, and the inputs it
/// reads at their pinned versions.
pub(crate) struct Prepared {
    pub engine: FeatureEngine,
    pub inputs: Vec<PinnedInput>,
    /// The sanctions screening's hits, when the job screens (`Run` mode).
    pub screened: Option<Screened>,
    /// The incremental views' state (`Run` mode), registered as the views.
    pub states: Vec<crate::state::ViewState>,
}

pub(crate) async fn prepare(
    spec: &JobSpec,
    run: &RunContext,
    options: &RunOptions,
    mode: ViewMode,
    progress: &dyn Progress,
) -> Result<Prepared> {
    let inputs = match &options.pinned_inputs {
        Some(pinned) => pinned.clone(),
        None => pin_inputs(spec, run, mode, progress).await?,
    };
    step(
        progress,
        if mode == ViewMode::Run && spec.views.iter().any(|v| v.materialize) {
            "registering sources, materialising views"
        } else {
            "registering sources and feature views"
        },
    );
    let mut engine = FeatureEngine::new(&options.engine)?;
    if mode == ViewMode::Run && options.engine.remote.is_some() {
        // Executors write and read the run's materialised views under the
        // lake, which they all see; the folder goes with the engine.
        engine.share_scratch_under(&spec.output_root.to_url(), &run.run_id)?;
    }
    engine.register_inputs(&inputs).await?;
    if options.pinned_inputs.is_none() && mode == ViewMode::PlanOnly {
        register_described(spec, &engine).await?;
    }
    crate::feedback::register_empty_if_absent(&engine, &inputs)?;
    engine.register_run_context(run)?;
    // Before the views: they may read `screening_hits`.
    let screened = match mode {
        ViewMode::Run => {
            if spec.screening.is_some() {
                step(progress, "screening names against the sanctions list");
            }
            let at = ScreeningRun {
                spec,
                run_id: &run.run_id,
                as_of: run.as_of,
            };
            crate::screening::screen(&at, &engine).await?
        }
        ViewMode::PlanOnly => {
            crate::screening::check(spec, &engine).await?;
            None
        }
    };
    let states = match mode {
        ViewMode::Run => {
            crate::state::refresh_states(
                spec,
                &engine,
                &inputs,
                run.as_of,
                options.full_refresh,
                progress,
            )
            .await?
        }
        ViewMode::PlanOnly => Vec::new(),
    };
    engine.register_views(spec, mode).await?;
    engine.check_rules(spec).await?;
    if mode == ViewMode::PlanOnly {
        crate::rules::check(spec, &engine).await?;
    }
    Ok(Prepared {
        engine,
        inputs,
        screened,
        states,
    })
}

/// Every source at its current version, and the lake's `feedback` table
/// when it has one. A run snapshots its PostgreSQL sources into the lake
/// and pins the snapshots; planning alone leaves them out (see
/// [`register_described`]).
async fn pin_inputs(
    spec: &JobSpec,
    run: &RunContext,
    mode: ViewMode,
    progress: &dyn Progress,
) -> Result<Vec<PinnedInput>> {
    step(progress, "pinning input versions");
    let mut inputs = Vec::new();
    for source in &spec.sources {
        match (source.format, mode) {
            (SourceFormat::Postgres, ViewMode::Run) => {
                step(
                    progress,
                    &format!(
                        "snapshotting postgres source `{}` into the lake",
                        source.name
                    ),
                );
                inputs.push(snapshots::pin_snapshot(&spec.output_root, &run.run_id, source).await?);
            }
            (SourceFormat::Postgres, ViewMode::PlanOnly) => {}
            _ => inputs.push(resolve_input(source).await?),
        }
    }
    inputs.extend(crate::feedback::pin(&spec.output_root).await?);
    Ok(inputs)
}

/// Planning without a run (`validate`): each PostgreSQL source is
/// registered empty, with the columns the server says a snapshot would
/// have, so the views are checked against them without copying rows.
async fn register_described(spec: &JobSpec, engine: &FeatureEngine) -> Result<()> {
    for source in spec
        .sources
        .iter()
        .filter(|s| s.format == SourceFormat::Postgres)
    {
        let schema = snapshots::describe(source).await?;
        engine.register_batches(&source.name, schema, Vec::new())?;
    }
    Ok(())
}
