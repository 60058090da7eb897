//! The service's counters in the Prometheus text format (`GET /metrics`):
//! requests by route and status, latency histograms by route, feedback
//! acknowledged / committed / waiting, model reloads.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route template, status) -> requests.
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    feedback_acknowledged: AtomicU64,
    feedback_committed: AtomicU64,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

impl Metrics {
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_string(), status))
            .or_default() += 1;
        let seconds = elapsed.as_secs_f64();
        let mut latency = self.latency.lock().expect("metrics lock");
        let h = latency.entry(route.to_string()).or_default();
        h.count += 1;
        h.sum += seconds;
        if let Some(b) = BUCKETS.iter().position(|&b| seconds <= b) {
            h.counts[b] += 1;
        }
    }

    pub fn feedback_acknowledged(&self, n: u64) {
        self.feedback_acknowledged.fetch_add(n, Ordering::Relaxed);
    }

    pub fn feedback_committed(&self, n: u64) {
        self.feedback_committed.fetch_add(n, Ordering::Relaxed);
    }

    /// Items acknowledged by this process and not yet in the table.
    pub fn feedback_waiting(&self) -> u64 {
        self.feedback_acknowledged
            .load(Ordering::Relaxed)
            .saturating_sub(self.feedback_committed.load(Ordering::Relaxed))
    }

    pub fn reloaded(&self, ok: bool) {
        if ok {
            self.reloads.fetch_add(1, Ordering::Relaxed);
        } else {
            self.reload_failures.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The text exposition; `run_id` (of job `job_name`, whose models are
    /// `models` version `model_version`) is the run whose models score now.
    pub fn render(&self, run_id: &str, job_name: &str, model_version: i64) -> String {
        let mut out = String::new();
        out.push_str("# HELP seglake_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE seglake_http_requests_total counter\n");
        for ((route, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "seglake_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP seglake_http_request_duration_seconds Time to answer, by route.\n");
        out.push_str("# TYPE seglake_http_request_duration_seconds histogram\n");
        for (route, h) in self.latency.lock().expect("metrics lock").iter() {
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "seglake_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "seglake_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\n\
                 seglake_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\n\
                 seglake_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count, h.sum, h.count
            );
        }
        let counters = [
            (
                "seglake_feedback_acknowledged_total",
                "Feedback items acknowledged (durable in the write-ahead log).",
                self.feedback_acknowledged.load(Ordering::Relaxed),
            ),
            (
                "seglake_feedback_committed_total",
                "Feedback items committed to the feedback table.",
                self.feedback_committed.load(Ordering::Relaxed),
            ),
            (
                "seglake_model_reloads_total",
                "Newly published runs loaded without a restart.",
                self.reloads.load(Ordering::Relaxed),
            ),
            (
                "seglake_model_reload_failures_total",
                "Attempts to load a newly published run that failed (the previous one kept scoring).",
                self.reload_failures.load(Ordering::Relaxed),
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP seglake_feedback_waiting Feedback items in the write-ahead log, not yet in the table.\n\
             # TYPE seglake_feedback_waiting gauge\nseglake_feedback_waiting {}",
            self.feedback_waiting()
        );
        let _ = writeln!(
            out,
            "# HELP seglake_model_info The run whose models score requests, its job and its \
             `models` version.\n# TYPE seglake_model_info gauge\n\
             seglake_model_info{{run_id=\"{run_id}\",job_name=\"{}\",model_version=\"{model_version}\"}} 1",
            label_value(job_name)
        );
        out
    }
}

/// A Prometheus label value: backslash, double quote and newline escaped.
fn label_value(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
