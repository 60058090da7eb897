//! Times the demo job's feature views with seglake's engine, as
//! `benches/compare.sh` runs it beside DuckDB on the same SQL and data.
//!
//! `cargo bench --bench feature_views -- LAKE [JOB]` prints one JSON line:
//! wall seconds and peak resident memory for pinning the inputs, planning
//! the views and computing the (sorted, checked) feature table. Nothing is
//! published: the comparison is the SQL work alone.
//!
//! `--explain` prints, after the timed run, the last view's executed plan
//! with DataFusion's metrics (`EXPLAIN ANALYZE`: rows, compute time and
//! memory per operator), to compare with DuckDB's `EXPLAIN ANALYZE` of the
//! same SQL.
//!
//! `--partitions N` computes with N partitions; `--engine
//! ballista://HOST:PORT` runs the views on a Ballista cluster of `seglake
//! cluster` processes (`benches/cluster_compare.sh` starts one).

use std::collections::BTreeMap;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let mut args: Vec<String> = Vec::new();
    let mut options = seglake_features::EngineOptions::default();
    let mut engine_name = "seglake".to_string();
    let mut explain = false;
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--partitions" => {
                options.target_partitions = given.next().and_then(|n| n.parse().ok());
            }
            "--engine" => {
                let url = given.next().expect("--engine ballista://HOST:PORT");
                let cluster = seglake_cluster::BallistaEngine::parse(&url).expect("engine");
                options.remote = Some(std::sync::Arc::new(cluster));
                engine_name = url;
            }
            // Print the last view's executed plan with its metrics (EXPLAIN
            // ANALYZE) after the timed run, to see where the time goes.
            "--explain" => explain = true,
            // cargo's own flags (`--bench`)
            flag if flag.starts_with("--") => {}
            _ => args.push(arg),
        }
    }
    let Some(lake) = args.first() else {
        eprintln!("usage: cargo bench --bench feature_views -- LAKE_DIR");
        std::process::exit(2);
    };
    // An optional second argument names another job (to time one view alone).
    let job = args
        .get(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../jobs/demo.toml")
        });
    let vars = BTreeMap::from([("lake".to_string(), lake.clone())]);
    let spec = seglake_spec::JobSpec::load(&job, &vars).expect("valid demo job");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    let rows = runtime.block_on(async {
        let mut inputs = Vec::new();
        for s in &spec.sources {
            inputs.push(
                seglake_lake::resolve_input(s)
                    .await
                    .expect("readable source"),
            );
        }
        let mut engine = seglake_features::FeatureEngine::new(&options).unwrap();
        if options.remote.is_some() {
            // As a run on a cluster: materialised views under the lake.
            engine
                .share_scratch_under(&spec.output_root.to_url(), "bench")
                .unwrap();
        }
        engine.register_inputs(&inputs).await.unwrap();
        // The lake's `feedback` table, which every run registers (empty
        // here): the demo's label view reads it.
        engine
            .register_batches(
                seglake_spec::FEEDBACK_SOURCE,
                seglake_lake::feedback::schema(),
                Vec::new(),
            )
            .unwrap();
        // Screening is timed by its own benchmark (benches/screening.rs):
        // the views read an empty `screening_hits`, as the DuckDB peer's do.
        engine
            .register_batches(
                seglake_spec::SCREENING_HITS_TABLE,
                seglake_lake::screening_hits::schema(),
                Vec::new(),
            )
            .unwrap();
        engine
            .register_run_context(&seglake_features::RunContext {
                as_of: spec.as_of.expect("the demo job sets as_of"),
                run_id: "bench".to_string(),
                seed: spec.seed,
            })
            .unwrap();
        engine
            .register_views(&spec, seglake_features::ViewMode::Run)
            .await
            .unwrap();
        let rows = engine.compute_features(&spec).await.unwrap().rows;
        if explain {
            let view = &spec.views.last().expect("a job has views").name;
            let sql = format!(
                "EXPLAIN ANALYZE SELECT * FROM \"{view}\" ORDER BY \"{}\"",
                spec.key
            );
            let plan = engine
                .context()
                .sql(&sql)
                .await
                .unwrap()
                .collect()
                .await
                .unwrap();
            eprintln!(
                "{}",
                arrow::util::pretty::pretty_format_batches(&plan).unwrap()
            );
        }
        rows
    });
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "engine": engine_name,
            "partitions": options.target_partitions,
            "seconds": seconds,
            "peak_rss_mib": peak_rss_mib(),
            "rows": rows,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        })
    );
}
