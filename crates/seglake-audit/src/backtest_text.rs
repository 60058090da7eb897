//! A backtest as the terminal shows it: per threshold set a table of rules
//! by segment, the recall and the confirmed customers no rule caught, then
//! the comparison with its intervals.

use std::fmt::Write;

use crate::backtest::BacktestReport;
use crate::backtest_stats::{Counts, Estimate, SetResult};

/// Confirmed customers listed by name when no rule caught them.
const MISSED_LISTED: usize = 10;

fn ratio(value: Option<f64>, percent: bool) -> String {
    match (value, percent) {
        (Some(v), true) => format!("{:.1}%", v * 100.0),
        (Some(v), false) => format!("{v:.1}"),
        (None, _) => "-".into(),
    }
}

/// The widths of the rule and segment columns: their longest names.
fn widths(r: &SetResult) -> (usize, usize) {
    let rule = r
        .per_rule_segment
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0);
    let segment = r
        .per_rule_segment
        .values()
        .flat_map(|s| s.keys())
        .map(String::len)
        .max();
    (
        rule.max("all rules".len()),
        segment.unwrap_or(0).max("segment".len()),
    )
}

fn row(s: &mut String, (rw, sw): (usize, usize), rule: &str, segment: &str, c: &Counts) {
    let _ = writeln!(
        s,
        "  {rule:<rw$}  {segment:<sw$} {:>7} {:>7} {:>9} {:>9} {:>10}",
        c.alerts,
        c.true_positives,
        c.false_positives,
        ratio(c.hit_rate, true),
        ratio(c.alerts_per_sar, false)
    );
}

fn set(s: &mut String, title: &str, r: &SetResult) {
    let (rw, sw) = widths(r);
    let _ = writeln!(s, "\n{title}");
    let _ = writeln!(
        s,
        "  {:<rw$}  {:<sw$} {:>7} {:>7} {:>9} {:>9} {:>10}",
        "rule", "segment", "alerts", "SAR/TP", "false pos", "hit rate", "alerts/SAR"
    );
    for (rule, segments) in &r.per_rule_segment {
        for (segment, counts) in segments {
            row(s, (rw, sw), rule, segment, counts);
        }
    }
    row(s, (rw, sw), "all rules", "", &r.total);
    let _ = writeln!(
        s,
        "  recall: {} of confirmed customers caught ({} of {})",
        ratio(r.recall, true),
        r.confirmed_caught,
        r.confirmed_customers
    );
    if !r.missed.is_empty() {
        let listed: Vec<&str> = r
            .missed
            .iter()
            .take(MISSED_LISTED)
            .map(String::as_str)
            .collect();
        let more = r.missed.len().saturating_sub(MISSED_LISTED);
        let _ = writeln!(
            s,
            "  no rule caught {} confirmed customers: {}{}",
            r.missed.len(),
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more (--json lists all)")
            } else {
                String::new()
            }
        );
    }
}

fn estimate(e: &Estimate, scale: f64, unit: &str) -> String {
    format!(
        "{:+.1}{unit} (95% CI {:+.1}{unit} .. {:+.1}{unit})",
        e.value * scale,
        e.low * scale,
        e.high * scale
    )
}

impl BacktestReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "backtest of job `{}`: {} run(s) replayed ({}), {} customers\n\
             judged on the case outcomes and dispositions the lake holds now\n",
            self.job,
            self.runs.len(),
            self.runs.join(", "),
            self.customers
        );
        set(
            &mut s,
            "segment-specific thresholds",
            &self.segment_specific,
        );
        if let Some(global) = &self.global {
            set(
                &mut s,
                "one-size thresholds ([rules.thresholds] everywhere)",
                global,
            );
        }
        if let Some(c) = &self.comparison {
            let _ = writeln!(
                s,
                "\nsegment-specific against one-size: false positives reduced by {}, \
                 recall {} points; {} bootstrap resamples of customers (seed {})",
                estimate(&c.false_positive_reduction, 100.0, "%"),
                estimate(&c.recall_change, 100.0, ""),
                c.resamples,
                c.seed
            );
        }
        s
    }
}
