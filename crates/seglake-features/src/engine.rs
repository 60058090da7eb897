use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::common::config::TableParquetOptions;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::format_as_file_type;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::view::ViewTable;
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, lit};
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use seglake_lake::PinnedInput;
use seglake_spec::{JobSpec, ViewSpec};

use crate::determinism::{OrderDependence, order_dependences};
use crate::error::{FeatureError, Result, column_list};
use crate::scratch::{LocalScratch, SharedScratch};
use crate::sources;

/// The run's parameters, visible to SQL as the one-row table `run_context`.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub as_of: DateTime<Utc>,
    pub run_id: String,
    pub seed: u64,
}

/// The computed feature table: one row per key, sorted by key.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
}

/// A query engine outside this process (a Ballista cluster, built in
/// `seglake-cluster`): it turns a session into one whose plans are sent
/// there to run. Sources, views and functions are registered on the session
/// as for the local engine.
pub trait RemoteEngine: Send + Sync + std::fmt::Debug {
    /// `state` (configuration, runtime, functions) made to plan locally and
    /// execute remotely.
    fn session(
        &self,
        state: datafusion::execution::SessionState,
    ) -> datafusion::error::Result<SessionContext>;
    /// The engine as the user named it, for messages: `ballista://host:port`.
    fn describe(&self) -> String;
    /// Cancels what `plan` (a query the run gave up on: past its timeout)
    /// still has running on the engine, so the cluster does not go on
    /// computing a result nobody will read. Best effort: a failure is
    /// logged, since the run is already failing.
    fn cancel(
        &self,
        plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    ) -> futures::future::BoxFuture<'static, ()>;
}

/// How the engine may use the machine.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// DataFusion partitions; the number of cores when `None`. Results do
    /// not depend on it: the feature table is sorted by key before it leaves.
    pub target_partitions: Option<usize>,
    /// Bytes the queries may hold in memory before sorts and aggregations
    /// spill to disk; [`default_memory_limit`] when `None`.
    pub memory_limit: Option<usize>,
    /// Run the queries on this engine instead of in process.
    pub remote: Option<Arc<dyn RemoteEngine>>,
    /// The longest a query may take before the run fails: a cluster that
    /// lost its executors must not leave the run waiting for ever.
    pub query_timeout: Option<std::time::Duration>,
}

/// 70% of the memory this process may use (as DuckDB's default of 80%,
/// with room left for the feature table that is collected after the
/// queries): the machine's, or its container's when that is smaller.
pub fn default_memory_limit() -> Option<usize> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: usize = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let usable = match container_memory_limit() {
        Some(container) => container.min(kib * 1024),
        None => kib * 1024,
    };
    Some(usable / 10 * 7)
}

/// The container's memory limit (cgroup v2 `memory.max`, v1
/// `memory.limit_in_bytes`), which `/proc/meminfo` does not show: a pod
/// limited to 16 GiB on a 256 GiB node must not default to 179 GiB.
/// `None` when unlimited (`max`) or not in a cgroup.
fn container_memory_limit() -> Option<usize> {
    [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|path| std::fs::read_to_string(path).ok()?.trim().parse().ok())
}

/// The pool the queries of one process share, `limit` bytes: fair
/// spilling, so that concurrent sorts and aggregations each get a share and
/// spill past it rather than the first one taking all, and the five largest
/// consumers named when a query still cannot fit. Cluster executors use it
/// too.
pub fn memory_pool(limit: usize) -> Arc<dyn datafusion::execution::memory_pool::MemoryPool> {
    Arc::new(TrackConsumersPool::new(
        FairSpillPool::new(limit),
        NonZeroUsize::new(5).expect("5 > 0"),
    ))
}

/// What a view's plan becomes when it is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewMode {
    /// Every view stays a plan (for `validate`: no data is read).
    PlanOnly,
    /// Views marked `materialize` are computed once into scratch storage.
    Run,
}

/// A DataFusion session with a job's sources and views registered.
pub struct FeatureEngine {
    ctx: SessionContext,
    /// The engine the queries run on when not in process.
    remote: Option<Arc<dyn RemoteEngine>>,
    query_timeout: Option<std::time::Duration>,
    /// Materialised views live here for the run, and go with the engine.
    scratch: Option<LocalScratch>,
    /// On a cluster: the lake folder to materialise views in, once
    /// [`FeatureEngine::share_scratch_under`] named one. Without it, views
    /// stay plans there (the local scratch folder is not the executors').
    shared_scratch: Option<SharedScratch>,
    /// Found while registering views: see [`crate::determinism`].
    order_dependences: Vec<ViewOrderDependence>,
    /// `run_context.as_of`, once registered: where incremental views start.
    as_of: Option<DateTime<Utc>>,
}

/// An order- or time-dependent expression, and the view it is in.
#[derive(Debug, Clone)]
pub struct ViewOrderDependence {
    pub view: String,
    pub path: std::path::PathBuf,
    pub dependence: OrderDependence,
}

impl FeatureEngine {
    pub fn new(options: &EngineOptions) -> Result<Self> {
        // DataFusion's own settings can be tuned from the environment
        // (DATAFUSION_EXECUTION_BATCH_SIZE=32768, ...), as in its CLI.
        let mut config = SessionConfig::from_env()
            .map_err(|error| FeatureError::Execution {
                context: "reading DATAFUSION_* settings from the environment".to_string(),
                error,
            })?
            .with_information_schema(false)
            .with_default_catalog_and_schema("seglake", "lake");
        if let Some(n) = options.target_partitions {
            config = config.with_target_partitions(n.max(1));
        }
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = options.memory_limit.or_else(default_memory_limit) {
            runtime = runtime.with_memory_pool(memory_pool(limit));
        }
        let runtime = runtime
            .build_arc()
            .map_err(|error| FeatureError::Execution {
                context: "starting the query engine".to_string(),
                error,
            })?;
        let ctx = match &options.remote {
            None => SessionContext::new_with_config_rt(config, runtime),
            Some(remote) => {
                let state = datafusion::execution::SessionStateBuilder::new()
                    .with_default_features()
                    .with_config(config)
                    .with_runtime_env(runtime)
                    .build();
                remote
                    .session(state)
                    .map_err(|error| FeatureError::Execution {
                        context: format!("connecting to {}", remote.describe()),
                        error,
                    })?
            }
        };
        // Integer sums that would wrap fail instead, naming the expression;
        // sums, means and spreads of doubles are exact and order-free.
        for function in crate::aggregates::seglake_aggregates() {
            ctx.register_udaf(function);
        }
        for function in crate::name_functions::name_functions() {
            ctx.register_udf(function);
        }
        // What a run's deduplication groups and joins on.
        ctx.register_udf(crate::key_hash::key_hash_function());
        // COUNT(DISTINCT x) beside other aggregates: plain aggregations
        // that spill, instead of a set per group.
        ctx.add_optimizer_rule(Arc::new(crate::distinct_counts::SplitDistinctCounts));
        // `run_context` joined to a table: constants, folded and pushed
        // into the scan, instead of a join repeating them on every row.
        ctx.add_optimizer_rule(Arc::new(crate::constant_rows::InlineConstantRows));
        // SUM, AVG, STDDEV... of one column: one exact state, not one each.
        ctx.add_optimizer_rule(Arc::new(crate::shared_statistics::ShareExactStatistics));
        // `channel = 'cash'` over view strings: one 128-bit comparison a row.
        ctx.register_udf(crate::inline_equality::equals_inline_function());
        ctx.add_optimizer_rule(Arc::new(crate::inline_equality::CompareInlineStrings));
        Ok(FeatureEngine {
            ctx,
            remote: options.remote.clone(),
            query_timeout: options.query_timeout,
            scratch: None,
            shared_scratch: None,
            order_dependences: Vec::new(),
            as_of: None,
        })
    }

    /// `run_context.as_of`, once [`FeatureEngine::register_run_context`] ran.
    pub(crate) fn as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// Whether queries run on a cluster.
    pub(crate) fn is_remote(&self) -> bool {
        self.remote.is_some()
    }

    /// The remote engine the queries run on (as the user named it), `None`
    /// for in process.
    pub fn remote(&self) -> Option<String> {
        self.remote.as_ref().map(|r| r.describe())
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Registers every pinned input under its source name.
    pub async fn register_inputs(&self, inputs: &[PinnedInput]) -> Result<()> {
        for input in inputs {
            sources::register(&self.ctx, input, self.remote.is_some()).await?;
        }
        Ok(())
    }

    /// Registers in-memory rows as source `spec`, deduplicated as the
    /// source is in a run.
    pub async fn register_source_rows(
        &self,
        spec: &seglake_spec::SourceSpec,
        schema: arrow::datatypes::SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        sources::register_rows(&self.ctx, spec, schema, batches).await
    }

    /// Registers in-memory rows as table `name` (the lake's `feedback`
    /// table when the lake has none yet: an empty table with its columns).
    /// Replaces any table so named.
    pub fn register_batches(
        &self,
        name: &str,
        schema: arrow::datatypes::SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<()> {
        let exec = |error| FeatureError::Execution {
            context: format!("registering `{name}`"),
            error,
        };
        let table = MemTable::try_new(schema, vec![batches]).map_err(exec)?;
        // Replaces a table of that name: the rules read the feature table
        // as computed rather than as its view.
        self.ctx.deregister_table(name).map_err(exec)?;
        self.ctx
            .register_table(name, Arc::new(table))
            .map_err(exec)?;
        Ok(())
    }

    /// Registers `run_context`, the run's one row (`as_of`, `run_id`,
    /// `seed`), as a view of literals: joined to a table, it is planned as
    /// constants ([`crate::constant_rows`]).
    pub fn register_run_context(&mut self, run: &RunContext) -> Result<()> {
        self.as_of = Some(run.as_of);
        let exec = |error| FeatureError::Execution {
            context: "registering run_context".to_string(),
            error,
        };
        let plan = run_context_plan(run).map_err(exec)?;
        self.ctx
            .register_table("run_context", Arc::new(ViewTable::new(plan, None)))
            .map_err(exec)?;
        Ok(())
    }

    /// Plans every view in order and registers it, so a later view can read
    /// an earlier one. Planning resolves every table and column, so unknown
    /// names are found here, before any data is read. In [`ViewMode::Run`],
    /// views marked `materialize` are computed here, once.
    pub async fn register_views(&mut self, spec: &JobSpec, mode: ViewMode) -> Result<()> {
        // On a cluster, a scratch folder on the driver is one executors
        // cannot read: without a folder under the lake, views and
        // deduplicated sources stay plans there, computed where they are
        // read (each time they are read).
        let materialize =
            mode == ViewMode::Run && (self.remote.is_none() || self.shared_scratch.is_some());
        if materialize {
            // Deduplicated sources are computed once: every view, the
            // duplicate count and the conflict check then read the result.
            for source in spec.sources.iter().filter(|s| !s.dedupe_on.is_empty()) {
                self.deduplicate_for_run(source).await?;
            }
        }
        // The label view comes last: it may read any source or feature view.
        for view in spec.sql_views() {
            if view.incremental.is_some() {
                self.register_incremental(spec, view).await?;
                continue;
            }
            let plan = self.plan_view(view).await?;
            self.check_order_dependence(spec, view, &plan)?;
            if view.materialize && materialize {
                let what = format!("view `{}` ({})", view.name, view.path.display());
                self.materialize(&view.name, &what, plan).await?;
                continue;
            }
            self.register_plan(view, plan)?;
        }
        let last = spec.views.last().expect("validated: at least one view");
        let schema = self.table_schema(&last.name).await?;
        if schema.field_with_name(&spec.key).is_err() {
            return Err(FeatureError::MissingKey {
                view: last.name.clone(),
                key: spec.key.clone(),
                columns: column_list(&schema),
            });
        }
        if let Some(view) = &spec.outcomes_view {
            let schema = self.table_schema(&view.name).await?;
            if schema.field_with_name(&spec.key).is_err()
                || schema.field_with_name("outcome").is_err()
            {
                return Err(FeatureError::OutcomeColumns {
                    view: view.name.clone(),
                    key: spec.key.clone(),
                    columns: column_list(&schema),
                });
            }
        }
        if let Some(risk) = &spec.risk {
            let schema = self.table_schema(&risk.labels.name).await?;
            if schema.field_with_name(&spec.key).is_err()
                || schema.field_with_name("label").is_err()
            {
                return Err(FeatureError::LabelColumns {
                    view: risk.labels.name.clone(),
                    key: spec.key.clone(),
                    columns: column_list(&schema),
                });
            }
        }
        Ok(())
    }

    /// Registers `plan` as `view`, computed wherever it is read.
    pub(crate) fn register_plan(
        &self,
        view: &ViewSpec,
        plan: datafusion::logical_expr::LogicalPlan,
    ) -> Result<()> {
        let table = ViewTable::new(plan, Some(view.sql.clone()));
        self.ctx
            .register_table(view.name.as_str(), Arc::new(table))
            .map_err(|error| FeatureError::ViewSql {
                view: view.name.clone(),
                path: view.path.clone(),
                error,
            })?;
        Ok(())
    }

    /// Notes (or, with `strict_determinism`, refuses) what in `view` may
    /// depend on row order or on when it runs.
    pub(crate) fn check_order_dependence(
        &mut self,
        spec: &JobSpec,
        view: &ViewSpec,
        plan: &datafusion::logical_expr::LogicalPlan,
    ) -> Result<()> {
        let found = order_dependences(plan).map_err(|error| FeatureError::ViewSql {
            view: view.name.clone(),
            path: view.path.clone(),
            error,
        })?;
        if found.is_empty() {
            return Ok(());
        }
        if spec.strict_determinism {
            let findings = found
                .iter()
                .map(|d| format!("`{}` {}", d.expression, d.why))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(FeatureError::OrderDependent {
                view: view.name.clone(),
                path: view.path.clone(),
                findings,
            });
        }
        for dependence in found {
            tracing::warn!(
                view = view.name,
                expression = dependence.expression,
                "{}",
                dependence.why
            );
            self.order_dependences.push(ViewOrderDependence {
                view: view.name.clone(),
                path: view.path.clone(),
                dependence,
            });
        }
        Ok(())
    }

    /// What the registered views do that may depend on row order or time
    /// (warnings: the job does not set `strict_determinism`).
    pub fn order_dependences(&self) -> &[ViewOrderDependence] {
        &self.order_dependences
    }

    /// Computes a view into Parquet files in the run's scratch folder and
    /// registers those files under the view's name. Later views then scan
    /// the result instead of re-evaluating the view (and its sources'
    /// deduplication) each time they read it. Returns the rows written.
    pub(crate) async fn materialize(
        &mut self,
        name: &str,
        what: &str,
        plan: datafusion::logical_expr::LogicalPlan,
    ) -> Result<u64> {
        let exec = |error| FeatureError::Execution {
            context: format!("materialising {what}"),
            error,
        };
        let url = match (&mut self.shared_scratch, &self.scratch) {
            (Some(shared), _) => shared.table_url(name),
            (None, Some(scratch)) => scratch.table_url(name),
            (None, None) => {
                let scratch = LocalScratch::new().map_err(exec)?;
                let url = scratch.table_url(name);
                self.scratch = Some(scratch);
                url
            }
        };
        tracing::info!(table = name, folder = url, "materialising");
        // Scratch files are read back a few times and then deleted: fast
        // compression beats small files (snappy: 13% faster than the
        // default zstd(3) for the demo job on 5M transactions).
        let mut options = TableParquetOptions::default();
        options.global.compression = Some("snappy".to_string());
        // Row groups are buffered in memory until written and cannot spill:
        // keep them small so a tight memory limit still leaves room.
        options.global.max_row_group_size = 128 * 1024;
        let plan = if self.remote.is_some() {
            without_view_types(plan).map_err(exec)?
        } else {
            plan
        };
        let schema = plan.schema().as_arrow().clone();
        // What `DataFrame::write_parquet` does, with the physical plan at
        // hand: the write is bounded like every query (a cluster that lost
        // an executor while writing can leave the job waiting for good) and
        // its job can be cancelled.
        let file_type =
            format_as_file_type(Arc::new(ParquetFormatFactory::new_with_options(options)));
        let copy =
            LogicalPlanBuilder::copy_to(plan, url.clone(), file_type, HashMap::new(), vec![])
                .and_then(|builder| builder.build())
                .map_err(exec)?;
        let write = DataFrame::new(self.ctx.state(), copy)
            .create_physical_plan()
            .await
            .map_err(exec)?;
        let run = datafusion::physical_plan::collect(write.clone(), self.ctx.task_ctx());
        let written = self
            .within_timeout(&format!("materialising {what}"), run, Some(write))
            .await?;
        // A view with no rows writes no file, and the schema of no file
        // cannot be inferred: give the view's own.
        let rows = rows_written(&written);
        let mut read = ParquetReadOptions::default();
        if rows == 0 {
            read = read.schema(&schema);
        }
        self.ctx
            .register_parquet(name, &url, read)
            .await
            .map_err(exec)?;
        Ok(rows)
    }

    /// On a cluster, materialise the run's views in a folder of their own
    /// under `lake` (the job's output root, which every executor reads),
    /// removed with the engine. Call before [`FeatureEngine::register_views`].
    pub fn share_scratch_under(&mut self, lake: &url::Url, run_id: &str) -> Result<()> {
        let shared =
            SharedScratch::new(lake, run_id).map_err(|source| FeatureError::ScratchFolder {
                lake: lake.to_string(),
                source,
            })?;
        if lake.scheme() != "file" {
            sources::register_stores(
                &self.ctx,
                "the run's scratch folder",
                &[shared.url().clone()],
            )?;
        }
        self.shared_scratch = Some(shared);
        Ok(())
    }

    /// Plans `view` (one SELECT; errors name its file) and runs it: the
    /// rules' SQL, which is not registered as a view.
    pub async fn run_query_file(&self, view: &ViewSpec) -> Result<Vec<RecordBatch>> {
        let context = format!("`{}` ({})", view.name, view.path.display());
        let plan = self.plan_view(view).await?;
        self.collect_logical(&context, plan).await
    }

    /// Runs a logical plan and collects its rows.
    pub(crate) async fn collect_logical(
        &self,
        context: &str,
        plan: datafusion::logical_expr::LogicalPlan,
    ) -> Result<Vec<RecordBatch>> {
        let exec = |error| FeatureError::Execution {
            context: context.to_string(),
            error,
        };
        let physical = self
            .ctx
            .state()
            .create_physical_plan(&plan)
            .await
            .map_err(exec)?;
        let collect = datafusion::physical_plan::collect(physical.clone(), self.ctx.task_ctx());
        self.within_timeout(context, collect, Some(physical)).await
    }

    /// The columns `view` would return, without running it.
    pub async fn query_file_schema(&self, view: &ViewSpec) -> Result<SchemaRef> {
        let plan = self.plan_view(view).await?;
        Ok(Arc::new(plan.schema().as_arrow().clone()))
    }

    pub(crate) async fn plan_view(
        &self,
        view: &ViewSpec,
    ) -> Result<datafusion::logical_expr::LogicalPlan> {
        let sql_err = |error| FeatureError::ViewSql {
            view: view.name.clone(),
            path: view.path.clone(),
            error,
        };
        let mut statements = DFParser::parse_sql(&view.sql).map_err(sql_err)?;
        let statement = match (statements.pop_front(), statements.is_empty()) {
            (Some(s), true) => s,
            (None, _) => {
                return Err(FeatureError::NotAQuery {
                    view: view.name.clone(),
                    path: view.path.clone(),
                    found: "no statement".to_string(),
                });
            }
            (Some(_), false) => {
                return Err(FeatureError::NotAQuery {
                    view: view.name.clone(),
                    path: view.path.clone(),
                    found: format!("{} statements", statements.len() + 1),
                });
            }
        };
        if !matches!(&statement, DfStatement::Statement(s) if matches!(**s, SqlStatement::Query(_)))
        {
            return Err(FeatureError::NotAQuery {
                view: view.name.clone(),
                path: view.path.clone(),
                found: statement_kind(&statement),
            });
        }
        self.ctx
            .state()
            .statement_to_plan(statement)
            .await
            .map_err(sql_err)
    }

    /// Registers Parquet files (URLs the engine's processes can read) as
    /// table `name`.
    pub async fn register_parquet_files(&self, name: &str, files: &[url::Url]) -> Result<()> {
        sources::register_parquet_files(&self.ctx, name, files).await
    }

    pub async fn table_schema(&self, table: &str) -> Result<SchemaRef> {
        self.ctx
            .table_provider(table)
            .await
            .map(|p| p.schema())
            .map_err(|error| FeatureError::Execution {
                context: format!("table `{table}`"),
                error,
            })
    }

    /// Runs a query and collects its rows.
    pub async fn query(&self, context: &str, sql: &str) -> Result<Vec<RecordBatch>> {
        let exec = |error| FeatureError::Execution {
            context: context.to_string(),
            error,
        };
        let plan = self
            .ctx
            .sql(sql)
            .await
            .map_err(exec)?
            .create_physical_plan()
            .await
            .map_err(exec)?;
        let collect = datafusion::physical_plan::collect(plan.clone(), self.ctx.task_ctx());
        self.within_timeout(context, collect, Some(plan)).await
    }

    /// Awaits `work` for at most the query timeout. Past it, the work is
    /// dropped (a local query stops) and, given its `plan`, the cluster is
    /// asked to cancel the job; without one the cluster may finish a job
    /// nobody reads.
    async fn within_timeout<T>(
        &self,
        context: &str,
        work: impl std::future::Future<Output = datafusion::error::Result<T>>,
        plan: Option<Arc<dyn datafusion::physical_plan::ExecutionPlan>>,
    ) -> Result<T> {
        let exec = |error| FeatureError::Execution {
            context: context.to_string(),
            error,
        };
        // Named for the memory guard's message, should this query be the
        // one that goes past the limit.
        let _activity = seglake_memory::enter_activity(context);
        let Some(limit) = self.query_timeout else {
            return work.await.map_err(exec);
        };
        let Ok(result) = tokio::time::timeout(limit, work).await else {
            let outcome = match (&self.remote, plan) {
                (Some(remote), Some(plan)) => {
                    remote.cancel(plan).await;
                    "the client asked the cluster to cancel the query's job"
                }
                (Some(_), None) => "the client stopped waiting for the cluster's job",
                (None, _) => "the query was stopped",
            };
            return Err(FeatureError::Timeout {
                context: context.to_string(),
                engine: self.remote().unwrap_or_else(|| "the local engine".into()),
                limit,
                outcome,
            });
        };
        result.map_err(exec)
    }

    /// Computes the last view: sorted by key, one row per key, finite numbers.
    pub async fn compute_features(&self, spec: &JobSpec) -> Result<FeatureTable> {
        let view = spec.views.last().expect("validated: at least one view");
        let sql = format!("SELECT * FROM \"{}\" ORDER BY \"{}\"", view.name, spec.key);
        let batches = self
            .query(
                &format!("feature view `{}` ({})", view.name, view.path.display()),
                &sql,
            )
            .await?;
        // The executed plan's schema, not the view's declared one: they can
        // differ in nullability, and the batches must match what we publish.
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => self.table_schema(&view.name).await?,
        };
        let table = concat_batches(&schema, &batches).map_err(|e| FeatureError::Execution {
            context: format!("feature view `{}`", view.name),
            error: e.into(),
        })?;
        if table.num_rows() == 0 {
            return Err(FeatureError::Empty {
                view: view.name.clone(),
            });
        }
        check_keys(&view.name, &spec.key, &table)?;
        check_finite(&view.name, &spec.key, &table)?;
        Ok(FeatureTable {
            rows: table.num_rows(),
            schema,
            batches: vec![table],
        })
    }
}

/// `plan` with its `Utf8View` and `BinaryView` columns cast to `Utf8` and
/// `Binary`. On a cluster, the stage under a Parquet sink ends in a
/// single-partition exchange whose writer (Ballista 55's
/// `write_stream_to_disk`) serialises each sliced view batch with every data
/// buffer it shares: 5M transactions became 8 GB of shuffle files. Plain
/// strings are written compactly; read back, the files give views again,
/// as on the local engine, so the results do not change.
fn without_view_types(
    plan: datafusion::logical_expr::LogicalPlan,
) -> datafusion::error::Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::logical_expr::{Expr, LogicalPlanBuilder, cast};
    let columns: Vec<Expr> = plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(datafusion::common::Column::from((qualifier, field)));
            match field.data_type() {
                DataType::Utf8View => cast(column, DataType::Utf8).alias(field.name()),
                DataType::BinaryView => cast(column, DataType::Binary).alias(field.name()),
                _ => column,
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

/// What a statement is, in the words its author wrote (`DROP TABLE`,
/// `COPY`), for errors that refuse it.
pub fn statement_kind(statement: &DfStatement) -> String {
    match statement {
        DfStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE".to_string(),
        DfStatement::CopyTo(_) => "COPY".to_string(),
        DfStatement::Explain(_) => "EXPLAIN".to_string(),
        DfStatement::Reset(_) => "RESET".to_string(),
        DfStatement::Statement(s) => {
            // The statement's own first words (`INSERT INTO`, `DROP TABLE`)
            // are what the user wrote and will recognise.
            let text = s.to_string();
            text.split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        }
    }
}

/// Key as text, for error messages.
fn key_strings(column: &ArrayRef) -> Vec<Option<String>> {
    let text = arrow::compute::cast(column, &DataType::Utf8).expect("any key type casts to text");
    let text = text
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    text.iter().map(|v| v.map(str::to_string)).collect()
}

/// The longest customer key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

fn check_keys(view: &str, key: &str, table: &RecordBatch) -> Result<()> {
    let column = table
        .column_by_name(key)
        .expect("checked when views were registered");
    if column.null_count() > 0 {
        return Err(FeatureError::NullKey {
            view: view.to_string(),
            key: key.to_string(),
            rows: column.null_count(),
        });
    }
    // Sorted by key, so duplicates are neighbours.
    let keys = key_strings(column);
    // Keys go into every output table, the audit path and the scoring
    // API's URLs: an over-long one is a broken input, not a customer.
    if let Some(long) = keys.iter().flatten().find(|k| k.len() > MAX_KEY_BYTES) {
        return Err(FeatureError::KeyTooLong {
            view: view.to_string(),
            key: key.to_string(),
            length: long.len(),
            limit: MAX_KEY_BYTES,
            start: long.chars().take(24).collect(),
        });
    }
    let mut repeated: HashMap<&str, usize> = HashMap::new();
    for pair in keys.windows(2) {
        if pair[0] == pair[1] {
            *repeated
                .entry(pair[0].as_deref().unwrap_or_default())
                .or_default() += 1;
        }
    }
    if !repeated.is_empty() {
        let mut examples: Vec<&str> = repeated.keys().copied().collect();
        examples.sort();
        examples.truncate(3);
        return Err(FeatureError::DuplicateKey {
            view: view.to_string(),
            key: key.to_string(),
            duplicates: repeated.len(),
            examples: examples.join(", "),
        });
    }
    Ok(())
}

fn check_finite(view: &str, key: &str, table: &RecordBatch) -> Result<()> {
    for (field, column) in table.schema().fields().iter().zip(table.columns()) {
        if !matches!(field.data_type(), DataType::Float64 | DataType::Float32) {
            continue;
        }
        // Float32 widens to Float64 exactly, so one check covers both.
        let values = arrow::compute::cast(column, &DataType::Float64).expect("floats widen");
        let values = values
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("cast to Float64");
        let mut bad =
            (0..values.len()).filter(|&i| values.is_valid(i) && !values.value(i).is_finite());
        if let Some(first) = bad.next() {
            // Only the example's key is turned into text, not the column.
            let key_column = table.column_by_name(key).expect("checked").slice(first, 1);
            return Err(FeatureError::NonFinite {
                view: view.to_string(),
                column: field.name().clone(),
                rows: 1 + bad.count(),
                key: key.to_string(),
                example: key_strings(&key_column)[0].clone().unwrap_or_default(),
            });
        }
    }
    Ok(())
}

/// The row count a `COPY TO` reports (its one `count` column).
fn rows_written(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<arrow::array::UInt64Array>()
        })
        .map(|counts| counts.iter().flatten().sum::<u64>())
        .sum()
}

/// `SELECT TIMESTAMP '<as_of>' AS as_of, '<run_id>' AS run_id, <seed> AS
/// seed`, as a plan (the values typed exactly, `as_of` in UTC).
pub(crate) fn run_context_plan(run: &RunContext) -> datafusion::common::Result<LogicalPlan> {
    let as_of =
        ScalarValue::TimestampMicrosecond(Some(run.as_of.timestamp_micros()), Some("UTC".into()));
    LogicalPlanBuilder::empty(true)
        .project(vec![
            lit(as_of).alias("as_of"),
            lit(run.run_id.clone()).alias("run_id"),
            lit(run.seed as i64).alias("seed"),
        ])?
        .build()
}
