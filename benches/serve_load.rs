//! Load benchmark for `seglake serve`: `POST /v1/score` with features, on
//! loopback, open loop at a fixed rate (each request has a scheduled send
//! time and its latency is counted from then, so a stalled server cannot
//! hide its queue: no coordinated omission).
//!
//! It builds its own lake (the synthetic bank and the demo job), starts
//! the release binary, and prints throughput and latency percentiles:
//!
//! ```text
//! cargo bench -p seglake-cli --bench serve_load
//! SERVE_RATE=8000 SERVE_SECONDS=20 SERVE_CONNECTIONS=16 cargo bench -p seglake-cli --bench serve_load
//! ```
//!
//! The load generator shares the machine (and its cores) with the server.

#[allow(dead_code)]
#[path = "../tests/e2e/common.rs"]
mod common;
#[allow(dead_code)]
#[path = "../tests/e2e/http.rs"]
mod http;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Request bodies for every customer of the lake's feature table.
fn bodies(lake: &Path) -> Vec<String> {
    let mut inputs: Vec<String> = Vec::new();
    for m in common::table_rows(lake, "models") {
        for f in m["features"].as_array().unwrap() {
            let f = f.as_str().unwrap().to_string();
            if f != "segment_id" && !inputs.contains(&f) {
                inputs.push(f);
            }
        }
    }
    common::table_rows(lake, "customer_features")
        .iter()
        .map(|r| {
            let features: serde_json::Map<String, Value> =
                inputs.iter().map(|n| (n.clone(), r[n].clone())).collect();
            json!({"customer_id": r["customer_id"], "features": features}).to_string()
        })
        .collect()
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rate: f64 = env_or("SERVE_RATE", 5000.0);
    let seconds: f64 = env_or("SERVE_SECONDS", 10.0);
    let connections: usize = env_or("SERVE_CONNECTIONS", 8);
    let customers: u64 = env_or("SERVE_CUSTOMERS", 5000);

    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    eprintln!("building a lake of {customers} customers and running the demo job...");
    common::seglake_ok(&[
        "generate",
        "--out",
        lake.join("raw").to_str().unwrap(),
        "--customers",
        &customers.to_string(),
    ]);
    common::run_demo_job(&lake);
    let bodies = bodies(&lake);
    let serve = http::Serve::start_logging(&lake, &dir.path().join("wal"), &[], "warn");

    // Warm-up: connections open, pages touched.
    let mut c = http::Connection::open(serve.addr).unwrap();
    for b in bodies.iter().take(2000) {
        assert_eq!(
            c.send("POST", "/v1/score", Some(http::TOKEN), Some(b))
                .unwrap()
                .status,
            200
        );
    }

    eprintln!("{rate} requests/s for {seconds} s over {connections} keep-alive connections...");
    let interval = Duration::from_secs_f64(connections as f64 / rate);
    let per_connection = (rate * seconds / connections as f64) as usize;
    let start = Instant::now() + Duration::from_millis(100);
    let workers: Vec<_> = (0..connections)
        .map(|w| {
            let bodies = bodies.clone();
            let addr = serve.addr;
            std::thread::spawn(move || {
                let mut c = http::Connection::open(addr).unwrap();
                let offset = interval.mul_f64(w as f64 / connections as f64);
                let mut latencies = Vec::with_capacity(per_connection);
                let mut errors = 0usize;
                for k in 0..per_connection {
                    let scheduled = start + offset + interval * k as u32;
                    let now = Instant::now();
                    if scheduled > now {
                        std::thread::sleep(scheduled - now);
                    }
                    let body = &bodies[(k * connections + w) % bodies.len()];
                    match c.send("POST", "/v1/score", Some(http::TOKEN), Some(body)) {
                        Ok(r) if r.status == 200 => latencies.push(scheduled.elapsed()),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.join().unwrap();
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "serve /v1/score (features): target {rate:.0}/s, achieved {:.0}/s, {} ok, {errors} errors; \
         latency p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.3} ms",
        latencies.len() as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.90)),
        ms(percentile(&latencies, 0.99)),
        ms(percentile(&latencies, 0.999)),
        ms(*latencies.last().unwrap()),
    );
}
