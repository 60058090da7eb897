//! seglake's exact float aggregates against DataFusion's own, on the same
//! grouped query over the same Parquet file, in one run.
//!
//! `cargo bench --bench exact_aggregates -- [--rows N] [--groups G] [--repeat R]`
//! writes N rows (default 20M) of `(g BIGINT, v DOUBLE)` with G groups
//! (default 200,000) to a temporary Parquet file, then runs
//!
//! ```sql
//! SELECT g, SUM(v), AVG(v), STDDEV_SAMP(v), VAR_POP(v) FROM t GROUP BY g
//! ```
//!
//! (or `--query SQL` over `t(g, v)`) R times (default 3) with each engine, alternating, each time in a fresh
//! process so that peak resident memory is the query's own. It prints one
//! JSON line per run and a summary: median seconds and peak memory of each
//! engine, and the ratios seglake / DataFusion.

use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

const DEFAULT_QUERY: &str =
    "SELECT g, SUM(v) AS s, AVG(v) AS a, STDDEV_SAMP(v) AS sd, VAR_POP(v) AS vp FROM t GROUP BY g";

#[path = "peak_rss.rs"]
mod peak_rss;

fn peak_rss_mib() -> f64 {
    peak_rss::peak_rss_kib() as f64 / 1024.0
}

/// A small deterministic generator (SplitMix64): the data is the same on
/// every run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Money-like amounts (cents, log-uniform 1 to 100,000) in random groups.
fn write_data(path: &std::path::Path, rows: usize, groups: u64) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("v", DataType::Float64, false),
    ]));
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
    let mut rng = SplitMix(20_261_129);
    let batch = 1 << 20;
    for start in (0..rows).step_by(batch) {
        let n = batch.min(rows - start);
        let g: Int64Array = (0..n).map(|_| (rng.next() % groups) as i64).collect();
        let v: Float64Array = (0..n)
            .map(|_| (10f64.powf(rng.unit() * 5.0) * 100.0).round() / 100.0)
            .collect();
        let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(g), Arc::new(v)]).unwrap();
        writer.write(&batch).unwrap();
    }
    writer.close().unwrap();
}

/// One query in this process: prints seconds and peak memory as JSON.
fn measure(engine: &str, path: &str, query: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = SessionContext::new();
        if engine == "seglake" {
            for function in seglake_features::seglake_aggregates() {
                ctx.register_udaf(function);
            }
            // As on seglake's sessions: one state for the statistics of v.
            ctx.add_optimizer_rule(Arc::new(seglake_features::ShareExactStatistics));
        }
        ctx.register_parquet("t", path, ParquetReadOptions::default())
            .await
            .unwrap();
        let start = Instant::now();
        let batches = ctx.sql(query).await.unwrap().collect().await.unwrap();
        let seconds = start.elapsed().as_secs_f64();
        let groups: usize = batches.iter().map(|b| b.num_rows()).sum();
        println!(
            "{}",
            serde_json::json!({
                "engine": engine,
                "seconds": seconds,
                "peak_rss_mib": peak_rss_mib(),
                "groups": groups,
            })
        );
    });
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut rows = 20_000_000usize;
    let mut groups = 200_000u64;
    let mut repeat = 3usize;
    let mut measure_one: Option<(String, String)> = None;
    let mut query = DEFAULT_QUERY.to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rows" => rows = args.next().and_then(|n| n.parse().ok()).expect("--rows N"),
            "--groups" => {
                groups = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--groups G")
            }
            "--repeat" => {
                repeat = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--repeat R")
            }
            "--query" => query = args.next().expect("--query SQL over t(g, v)"),
            "--measure" => {
                let engine = args.next().expect("--measure ENGINE FILE");
                let file = args.next().expect("--measure ENGINE FILE");
                measure_one = Some((engine, file));
            }
            _ => {} // cargo's own flags (`--bench`)
        }
    }
    if let Some((engine, file)) = measure_one {
        measure(&engine, &file, &query);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("amounts.parquet");
    eprintln!(
        "writing {rows} rows in {groups} groups to {}",
        path.display()
    );
    write_data(&path, rows, groups);
    let mut results: Vec<(String, f64, f64)> = Vec::new();
    for round in 0..repeat {
        for engine in ["datafusion", "seglake"] {
            eprintln!("round {}/{repeat}: {engine}", round + 1);
            let out = Command::new(std::env::current_exe().unwrap())
                .args([
                    "--measure",
                    engine,
                    path.to_str().unwrap(),
                    "--query",
                    &query,
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8(out.stdout).unwrap();
            print!("{line}");
            let json: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
            results.push((
                engine.to_string(),
                json["seconds"].as_f64().unwrap(),
                json["peak_rss_mib"].as_f64().unwrap(),
            ));
        }
    }
    let stat = |engine: &str, pick: fn(&(String, f64, f64)) -> f64| {
        median(results.iter().filter(|r| r.0 == engine).map(pick).collect())
    };
    let (df_s, sl_s) = (stat("datafusion", |r| r.1), stat("seglake", |r| r.1));
    let (df_m, sl_m) = (stat("datafusion", |r| r.2), stat("seglake", |r| r.2));
    println!(
        "{}",
        serde_json::json!({
            "rows": rows,
            "groups": groups,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "datafusion": {"seconds": df_s, "peak_rss_mib": df_m},
            "seglake": {"seconds": sl_s, "peak_rss_mib": sl_m},
            "time_ratio": sl_s / df_s,
            "memory_ratio": sl_m / df_m,
        })
    );
}
