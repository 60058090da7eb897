//! The functions and session every cluster process builds its plans with.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::SessionConfig;

use crate::stores::EnvObjectStores;

/// Ballista's aggregate functions with seglake's in place of DataFusion's
/// of the same names (plans refer to functions by name): checked integer
/// `sum`, exact float `sum`, `avg`, `var*`, `stddev*`, and the shared
/// exact statistics `seglake_exact_sums` and `seglake_exact_moments`.
fn aggregate_functions() -> Vec<Arc<AggregateUDF>> {
    let ours: Vec<Arc<AggregateUDF>> = seglake_features::seglake_aggregates()
        .into_iter()
        .map(Arc::new)
        .collect();
    let mut functions: Vec<Arc<AggregateUDF>> =
        ballista_core::extension::ballista_aggregate_functions()
            .into_iter()
            .filter(|f| !ours.iter().any(|o| o.name() == f.name()))
            .collect();
    functions.extend(ours);
    functions
}

/// Ballista's optimizer rules and seglake's, as on a local session: a plan
/// is rewritten the same way wherever it is optimised.
fn optimizer_rules() -> Vec<Arc<dyn datafusion::optimizer::OptimizerRule + Send + Sync>> {
    let mut rules = ballista_core::optimizer::ballista_default_optimizer_rules();
    rules.push(Arc::new(seglake_features::SplitDistinctCounts));
    rules.push(Arc::new(seglake_features::InlineConstantRows));
    rules.push(Arc::new(seglake_features::ShareExactStatistics));
    rules.push(Arc::new(seglake_features::CompareInlineStrings));
    rules
}

/// Seglake's scalar functions a plan may name: name screening, and the
/// short-string comparison `CompareInlineStrings` plans.
fn seglake_scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions: Vec<Arc<ScalarUDF>> = seglake_features::name_functions()
        .into_iter()
        .map(Arc::new)
        .collect();
    functions.push(Arc::new(seglake_features::equals_inline_function()));
    functions
}

/// Ballista's scalar functions and seglake's.
fn scalar_functions() -> Vec<Arc<ScalarUDF>> {
    let mut functions = ballista_core::extension::ballista_scalar_functions();
    functions.extend(seglake_scalar_functions());
    functions
}

/// What an executor resolves function names against.
pub(crate) fn executor_registry() -> BallistaFunctionRegistry {
    let mut registry = BallistaFunctionRegistry::default();
    for f in aggregate_functions() {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    for f in seglake_scalar_functions() {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    registry
}

/// A runtime whose object stores are opened from this process's
/// environment, its queries bounded by `pool` when there is one.
pub(crate) fn runtime(
    pool: Option<Arc<dyn MemoryPool>>,
) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut runtime =
        RuntimeEnvBuilder::new().with_object_store_registry(Arc::new(EnvObjectStores::default()));
    if let Some(pool) = pool {
        runtime = runtime.with_memory_pool(pool);
    }
    runtime.build_arc()
}

/// The scheduler's session for a job: Ballista's defaults, seglake's
/// functions, stores from the environment.
pub(crate) fn scheduler_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime(None)?)
        .with_optimizer_rules(optimizer_rules())
        .with_scalar_functions(scalar_functions())
        .with_aggregate_functions(aggregate_functions())
        .with_window_functions(ballista_core::extension::ballista_window_functions())
        .build())
}
