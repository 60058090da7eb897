//! `seglake monitor`: how a job's models behave run after run, read from
//! the `monitoring` table that every run of a job with a `[segments]`
//! section appends to (one row per run x metric x feature/segment/band;
//! the schema is in `seglake_lake::monitoring`).
//!
//! Per job, one line per run (the last N by `as_of`, oldest first): the
//! largest feature drift and the feature behind it, the risk score's
//! drift, the share of customers who changed segment, how the previous
//! run's risk model did on the case outcomes decided since, this run's
//! validation AUC, the alert KPIs, and whether its models became champion.
//! Every number after the first line carries an arrow against the line
//! above it, so that a trend reads without a chart. Below the table, the
//! latest run in detail: every feature's PSI with its reading, the segment
//! share changes, outcomes precision and recall per risk band, and every
//! `[monitoring]` limit the run went past.
//!
//! An arrow says which way a number moved, not whether that is good: a
//! rising PSI is worse, a rising AUC is better.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use chrono::{DateTime, NaiveTime, SecondsFormat, Utc};
use seglake_lake::monitoring::MONITORING_TABLE;
use seglake_spec::monitoring::{
    ALERTS, CUSTOMERS_CHANGED_SEGMENT, FALSE_POSITIVE_RATE, FEATURE_PSI, GATES_BREACHED,
    OUTCOMES_AUC, OUTCOMES_PRECISION, OUTCOMES_RECALL, RISK_SCORE_PSI, SAR_CONVERSION,
    SEGMENT_SHARE, SEGMENT_SHARE_CHANGE, VALIDATION_AUC,
};
use serde::{Deserialize, Serialize};

use crate::error::{AuditError, Result};
use crate::lake::{Lake, decode_rows};

/// Runs shown per job when the caller has no preference.
pub const DEFAULT_LAST: usize = 10;

/// Two values closer than this (absolute) are steady: it covers values
/// that are both zero or nearly so, where a relative test means nothing.
const STEADY_ABSOLUTE: f64 = 1e-9;

/// Two values within this fraction of the larger one are steady: a PSI of
/// 0.2000 against 0.2004 is noise in the binning, not a trend.
const STEADY_RELATIVE: f64 = 0.005;

/// The PSI reading (stable, moderate, act), as the run prints it.
pub use seglake_ml::drift::reading as psi_reading;

#[derive(Debug, Clone, Default)]
pub struct MonitorOptions {
    /// Only this job; every job in the table when `None`.
    pub job: Option<String>,
    /// The last N runs of each job (by `as_of`, then run id); 0 shows all.
    pub last: usize,
}

/// One row of the `monitoring` table. The Arrow JSON writer leaves null
/// columns (and non-finite floats) out, which serde reads as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonitorRow {
    pub run_id: String,
    pub job_name: String,
    pub as_of: DateTime<Utc>,
    pub metric: String,
    pub feature: Option<String>,
    pub segment: Option<String>,
    pub band: Option<String>,
    pub model_run_id: Option<String>,
    pub value: Option<f64>,
    pub count: Option<i64>,
    pub limit: Option<f64>,
    pub breached: bool,
}

/// What `seglake monitor --json` prints: one section per job.
#[derive(Debug, Clone, Serialize)]
pub struct MonitorReport {
    pub jobs: Vec<JobMonitor>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobMonitor {
    pub job: String,
    /// How many runs of the job the table holds.
    pub runs_in_table: usize,
    /// The runs shown, oldest first.
    pub runs: Vec<RunSummary>,
    /// The job's latest run in detail.
    pub latest: Option<LatestRun>,
    /// `seglake promote` decisions, oldest first.
    pub promotions: Vec<crate::champion::Promotion>,
}

/// One line of the table. Shares and rates are fractions (0.12 = 12%).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub as_of: DateTime<Utc>,
    /// The feature that drifted most since the previous run.
    pub max_feature_psi: Option<FeaturePsi>,
    pub risk_score_psi: Option<f64>,
    /// Share of the customers in both runs whose segment changed.
    pub customers_changed_segment: Option<f64>,
    pub customers_changed_segment_count: Option<i64>,
    /// The previous run's risk model on the outcomes decided since.
    pub previous_model_outcomes: Option<ModelOutcomes>,
    pub validation_auc: Option<f64>,
    pub alerts: Option<f64>,
    pub sar_conversion: Option<f64>,
    pub false_positive_rate: Option<f64>,
    /// `[monitoring]` limits breached; `None` when the run recorded none.
    pub gates_breached: Option<i64>,
    /// Its models became champion when it was published (no limit
    /// breached, and monitoring complete).
    pub champion: bool,
    /// Its models are the job's champion now (see [`crate::champion`]).
    pub champion_now: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeaturePsi {
    pub feature: String,
    pub value: f64,
    /// [`psi_reading`] of the value.
    pub reading: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelOutcomes {
    /// The run whose risk model is judged.
    pub model_run_id: String,
    pub auc: Option<f64>,
    pub decisions: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LatestRun {
    pub run_id: String,
    pub as_of: DateTime<Utc>,
    /// Every feature's PSI, largest first.
    pub feature_psi: Vec<FeaturePsi>,
    /// Segments that moved most first.
    pub segment_shares: Vec<SegmentShare>,
    pub outcomes_by_band: Vec<BandOutcomes>,
    /// Every row of the run that went past its limit.
    pub breaches: Vec<MonitorRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SegmentShare {
    pub segment: String,
    pub share: Option<f64>,
    /// Current minus previous share.
    pub change: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BandOutcomes {
    pub model_run_id: Option<String>,
    pub band: String,
    pub precision: Option<f64>,
    pub precision_count: Option<i64>,
    pub recall: Option<f64>,
    pub recall_count: Option<i64>,
}

/// Reads the `monitoring` table of `lake` and summarises its jobs' runs.
pub async fn monitor(lake: &Lake, options: &MonitorOptions) -> Result<MonitorReport> {
    if !lake.has_table(MONITORING_TABLE) {
        return Err(AuditError::NotFound(format!(
            "the lake {} has no `{MONITORING_TABLE}` table: runs of a job with a `[segments]` \
             section write it (tables there: {})",
            lake.root.display(),
            lake.tables_text()
        )));
    }
    let batches = lake.read(MONITORING_TABLE, None).await?;
    let rows = decode_rows::<MonitorRow>(&batches, "the `monitoring` table")?;
    if let Some(job) = &options.job {
        check_job(&rows, job)?;
    }
    let mut report = report_from_rows(rows, options);
    add_roles(&mut report, &lake.runs_and_promotions().await?);
    Ok(report)
}

/// What `runs` says about the models: the role each run published them in
/// (also when monitoring was incomplete), the champion now, promotions.
fn add_roles(report: &mut MonitorReport, runs: &[seglake_spec::lineage::RunRecord]) {
    use crate::champion::{CHAMPION, champion, promotion_of, role_when_published};
    for job in &mut report.jobs {
        let now = champion(runs, Some(&job.job)).map(|r| r.run_id.clone());
        for summary in &mut job.runs {
            if let Some(run) = runs.iter().find(|r| r.run_id == summary.run_id) {
                summary.champion = role_when_published(run) == CHAMPION;
            }
            summary.champion_now = now.as_deref() == Some(summary.run_id.as_str());
        }
        job.promotions = runs
            .iter()
            .filter(|r| r.job_name == job.job)
            .filter_map(promotion_of)
            .collect();
    }
}

/// An unknown `--job` is an error listing the jobs the table has, rather
/// than an empty report that looks like a job with no runs.
fn check_job(rows: &[MonitorRow], job: &str) -> Result<()> {
    let jobs: BTreeSet<&str> = rows.iter().map(|r| r.job_name.as_str()).collect();
    if jobs.contains(job) {
        return Ok(());
    }
    let present = if jobs.is_empty() {
        "none yet".to_string()
    } else {
        let names: Vec<String> = jobs.iter().map(|j| format!("`{j}`")).collect();
        names.join(", ")
    };
    Err(AuditError::NotFound(format!(
        "no job `{job}` in the `{MONITORING_TABLE}` table; jobs there: {present}"
    )))
}

/// The report for `rows`, without a lake: the job filter and the last-N
/// selection of `options` applied.
fn report_from_rows(rows: Vec<MonitorRow>, options: &MonitorOptions) -> MonitorReport {
    let jobs = group_runs(rows)
        .into_iter()
        .filter(|(job, _)| options.job.as_ref().is_none_or(|j| j == job))
        .map(|(job, runs)| job_monitor(job, &runs, options.last))
        .collect();
    MonitorReport { jobs }
}

/// The rows of one run.
struct RunRows {
    run_id: String,
    as_of: DateTime<Utc>,
    rows: Vec<MonitorRow>,
}

impl RunRows {
    /// The run's rows of `metric`. They borrow from the run only, not from
    /// `metric`, so that `overall` can return one found by a borrowed name.
    fn metric<'a>(&'a self, metric: &str) -> impl Iterator<Item = &'a MonitorRow> {
        self.rows.iter().filter(move |r| r.metric == metric)
    }

    /// The run-wide row of `metric`: about no feature, segment or band.
    /// `model_run_id` is not looked at: a run-wide metric may name the
    /// run's own model.
    fn overall(&self, metric: &str) -> Option<&MonitorRow> {
        self.metric(metric)
            .find(|r| r.feature.is_none() && r.segment.is_none() && r.band.is_none())
    }

    fn overall_value(&self, metric: &str) -> Option<f64> {
        self.overall(metric).and_then(|r| r.value)
    }
}

/// Rows by job, then by run; each job's runs oldest first (by `as_of`,
/// then run id, so that runs of the same day keep a stable order).
fn group_runs(rows: Vec<MonitorRow>) -> BTreeMap<String, Vec<RunRows>> {
    let mut by_run: BTreeMap<(String, String), RunRows> = BTreeMap::new();
    for row in rows {
        let run = by_run
            .entry((row.job_name.clone(), row.run_id.clone()))
            .or_insert_with(|| RunRows {
                run_id: row.run_id.clone(),
                as_of: row.as_of,
                rows: Vec::new(),
            });
        // A run has one `as_of`; the earliest keeps the order defined
        // should a row disagree.
        run.as_of = run.as_of.min(row.as_of);
        run.rows.push(row);
    }
    let mut jobs: BTreeMap<String, Vec<RunRows>> = BTreeMap::new();
    for ((job, _), run) in by_run {
        jobs.entry(job).or_default().push(run);
    }
    for runs in jobs.values_mut() {
        runs.sort_by(|a, b| (a.as_of, &a.run_id).cmp(&(b.as_of, &b.run_id)));
    }
    jobs
}

/// A job's section: its last `last` runs (all when 0), each judged
/// against the run before it in the table, shown or not.
fn job_monitor(job: String, runs: &[RunRows], last: usize) -> JobMonitor {
    let first = if last == 0 {
        0
    } else {
        runs.len().saturating_sub(last)
    };
    let summaries = (first..runs.len())
        .map(|i| summarise(&runs[i], i.checked_sub(1).map(|p| &runs[p])))
        .collect();
    JobMonitor {
        job,
        runs_in_table: runs.len(),
        runs: summaries,
        latest: runs.last().map(latest_run),
        promotions: Vec::new(),
    }
}

fn summarise(run: &RunRows, earlier: Option<&RunRows>) -> RunSummary {
    let changed = run.overall(CUSTOMERS_CHANGED_SEGMENT);
    // `alerts` is a number of alerts: in `value`, or in `count` if a
    // writer put it there.
    let alerts = run
        .overall(ALERTS)
        .and_then(|r| r.value.or(r.count.map(|c| c as f64)));
    let gates_breached = run.overall_value(GATES_BREACHED).map(|v| v.round() as i64);
    RunSummary {
        run_id: run.run_id.clone(),
        as_of: run.as_of,
        max_feature_psi: feature_psis(run).into_iter().next(),
        risk_score_psi: run.overall_value(RISK_SCORE_PSI),
        customers_changed_segment: changed.and_then(|r| r.value),
        customers_changed_segment_count: changed.and_then(|r| r.count),
        previous_model_outcomes: earlier.and_then(|e| model_outcomes(run, &e.run_id)),
        validation_auc: run.overall_value(VALIDATION_AUC),
        alerts,
        sar_conversion: run.overall_value(SAR_CONVERSION),
        false_positive_rate: run.overall_value(FALSE_POSITIVE_RATE),
        gates_breached,
        champion: gates_breached.unwrap_or(0) == 0,
        champion_now: false,
    }
}

/// The run's all-customer AUC of the risk model of `model_run_id`.
fn model_outcomes(run: &RunRows, model_run_id: &str) -> Option<ModelOutcomes> {
    run.metric(OUTCOMES_AUC)
        .find(|r| {
            r.segment.is_none()
                && r.band.is_none()
                && r.model_run_id.as_deref() == Some(model_run_id)
        })
        .map(|r| ModelOutcomes {
            model_run_id: model_run_id.to_string(),
            auc: r.value,
            decisions: r.count,
        })
}

/// Every feature's PSI, largest first (ties by name, for a stable order).
fn feature_psis(run: &RunRows) -> Vec<FeaturePsi> {
    let mut psis: Vec<FeaturePsi> = run
        .metric(FEATURE_PSI)
        .filter_map(|r| {
            let (feature, value) = (r.feature.clone()?, r.value?);
            Some(FeaturePsi {
                feature,
                value,
                reading: psi_reading(value),
            })
        })
        .collect();
    psis.sort_by(|a, b| {
        b.value
            .total_cmp(&a.value)
            .then_with(|| a.feature.cmp(&b.feature))
    });
    psis
}

fn latest_run(run: &RunRows) -> LatestRun {
    LatestRun {
        run_id: run.run_id.clone(),
        as_of: run.as_of,
        feature_psi: feature_psis(run),
        segment_shares: segment_shares(run),
        outcomes_by_band: band_outcomes(run),
        breaches: run.rows.iter().filter(|r| r.breached).cloned().collect(),
    }
}

/// Share and change per segment, the segments that moved most first:
/// those are what a reviewer looks for.
fn segment_shares(run: &RunRows) -> Vec<SegmentShare> {
    let mut by_segment: BTreeMap<String, SegmentShare> = BTreeMap::new();
    for row in &run.rows {
        let is_share = match row.metric.as_str() {
            SEGMENT_SHARE => true,
            SEGMENT_SHARE_CHANGE => false,
            _ => continue,
        };
        let Some(segment) = &row.segment else {
            continue;
        };
        let entry = by_segment
            .entry(segment.clone())
            .or_insert_with(|| SegmentShare {
                segment: segment.clone(),
                share: None,
                change: None,
            });
        if is_share {
            entry.share = row.value;
        } else {
            entry.change = row.value;
        }
    }
    let magnitude = |s: &SegmentShare| s.change.map_or(-1.0, f64::abs);
    let mut shares: Vec<SegmentShare> = by_segment.into_values().collect();
    // Stable: equal changes keep the segments' alphabetical order.
    shares.sort_by(|a, b| magnitude(b).total_cmp(&magnitude(a)));
    shares
}

/// Precision and recall per (judged model, band), over all customers, in
/// the order the run wrote them: bands riskiest first, as the job lists
/// them (an alphabetical order would put "high" before "critical").
fn band_outcomes(run: &RunRows) -> Vec<BandOutcomes> {
    let mut bands: Vec<BandOutcomes> = Vec::new();
    for row in run.rows.iter().filter(|r| r.segment.is_none()) {
        let is_precision = match row.metric.as_str() {
            OUTCOMES_PRECISION => true,
            OUTCOMES_RECALL => false,
            _ => continue,
        };
        let Some(band) = &row.band else {
            continue;
        };
        let same = |b: &BandOutcomes| b.model_run_id == row.model_run_id && &b.band == band;
        let i = match bands.iter().position(same) {
            Some(i) => i,
            None => {
                bands.push(BandOutcomes {
                    model_run_id: row.model_run_id.clone(),
                    band: band.clone(),
                    precision: None,
                    precision_count: None,
                    recall: None,
                    recall_count: None,
                });
                bands.len() - 1
            }
        };
        let entry = &mut bands[i];
        if is_precision {
            (entry.precision, entry.precision_count) = (row.value, row.count);
        } else {
            (entry.recall, entry.recall_count) = (row.value, row.count);
        }
    }
    bands
}

/// The table's columns: header, and whether the column is a number with a
/// trend arrow (right-aligned) rather than text (left-aligned).
const COLUMNS: [(&str, bool); 12] = [
    ("run", false),
    ("as of", false),
    ("top drift feature", false),
    ("max PSI", true),
    ("score PSI", true),
    ("changed segment", true),
    ("outcomes AUC (n)", true),
    ("validation AUC", true),
    ("alerts", true),
    ("SAR conv.", true),
    ("FP rate", true),
    ("models", false),
];

/// The trended columns, in table order.
const TRENDED: usize = 8;

const LEGEND: &str = "arrows: against the run above, → when within 0.5% (or 1e-9); \
changed segment: share of the customers in both runs (how many); outcomes AUC: \
the previous run's risk model on the outcomes decided since (decisions); \
PSI below 0.1 stable, 0.1 to 0.25 moderate, above 0.25 act";

impl MonitorReport {
    /// The report as text: per job a table of runs, then its latest run.
    pub fn render(&self) -> String {
        if self.jobs.is_empty() {
            return format!("no run has written to the `{MONITORING_TABLE}` table yet\n");
        }
        let mut s = String::new();
        for job in &self.jobs {
            render_job(&mut s, job);
            s.push('\n');
        }
        s += LEGEND;
        s.push('\n');
        s
    }
}

fn render_job(s: &mut String, job: &JobMonitor) {
    let plural = |n: usize| if n == 1 { "run" } else { "runs" };
    let shown = job.runs.len();
    let _ = if shown == job.runs_in_table {
        writeln!(
            s,
            "job `{}`: {shown} {}, oldest first",
            job.job,
            plural(shown)
        )
    } else {
        writeln!(
            s,
            "job `{}`: the last {shown} of {} runs, oldest first",
            job.job, job.runs_in_table
        )
    };
    table(s, &job.runs);
    for p in &job.promotions {
        let _ = writeln!(
            s,
            "  promoted: run {} by {} at {} (was: {}): {}",
            p.run_id,
            p.by,
            p.at.format("%Y-%m-%d %H:%M UTC"),
            p.previous_champion.as_deref().unwrap_or("none"),
            p.reason
        );
    }
    if let Some(latest) = &job.latest {
        latest_lines(s, latest);
    }
}

fn table(s: &mut String, runs: &[RunSummary]) {
    // Trended headers end with the two columns an arrow takes, so that
    // they align with the numbers rather than with the arrows.
    let header: Vec<String> = COLUMNS
        .iter()
        .map(|(h, trended)| {
            if *trended {
                format!("{h}  ")
            } else {
                h.to_string()
            }
        })
        .collect();
    let mut grid: Vec<Vec<String>> = vec![header];
    let mut previous: Option<&RunSummary> = None;
    for run in runs {
        grid.push(run_cells(run, previous));
        previous = Some(run);
    }
    // Arrows are several bytes but one column wide: count chars.
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|c| grid.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &grid {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .zip(COLUMNS.iter())
            .map(|((cell, &width), (_, right))| pad(cell, width, *right))
            .collect();
        let _ = writeln!(s, "  {}", cells.join("  ").trim_end());
    }
}

fn pad(cell: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(cell.chars().count()));
    if right {
        format!("{fill}{cell}")
    } else {
        format!("{cell}{fill}")
    }
}

/// A run's cells; each number gets an arrow against `previous` (a blank
/// where either value is missing, so that numbers stay aligned).
fn run_cells(run: &RunSummary, previous: Option<&RunSummary>) -> Vec<String> {
    let now = trended_values(run);
    let before = previous.map(trended_values);
    let feature = run
        .max_feature_psi
        .as_ref()
        .map_or_else(|| "-".to_string(), |p| p.feature.clone());
    let mut cells = vec![run.run_id.clone(), as_of_text(run.as_of), feature];
    for (i, text) in trended_texts(run).into_iter().enumerate() {
        let arrow = match (now[i], before.and_then(|b| b[i])) {
            (Some(value), Some(earlier)) => trend_arrow(value, earlier),
            _ => " ",
        };
        cells.push(format!("{text} {arrow}"));
    }
    let mut status = gate_status(run.champion, run.gates_breached);
    if run.champion_now {
        status += " (scores now)";
    }
    cells.push(status);
    cells
}

/// The numbers the trended columns compare, in table order.
fn trended_values(r: &RunSummary) -> [Option<f64>; TRENDED] {
    [
        r.max_feature_psi.as_ref().map(|p| p.value),
        r.risk_score_psi,
        r.customers_changed_segment,
        r.previous_model_outcomes.as_ref().and_then(|o| o.auc),
        r.validation_auc,
        r.alerts,
        r.sar_conversion,
        r.false_positive_rate,
    ]
}

/// The trended columns' texts, without arrows; "-" where missing.
fn trended_texts(r: &RunSummary) -> [String; TRENDED] {
    let v = trended_values(r);
    let changed = match (v[2], r.customers_changed_segment_count) {
        (Some(share), Some(n)) => format!("{} ({n})", percent(share)),
        (share, _) => or_dash(share, percent),
    };
    let decisions = r.previous_model_outcomes.as_ref().and_then(|o| o.decisions);
    let outcomes = match (v[3], decisions) {
        (Some(auc), Some(n)) => format!("{auc:.3} ({n})"),
        (auc, _) => or_dash(auc, fixed3),
    };
    [
        or_dash(v[0], fixed3),
        or_dash(v[1], fixed3),
        changed,
        outcomes,
        or_dash(v[4], fixed3),
        or_dash(v[5], whole),
        or_dash(v[6], percent),
        or_dash(v[7], percent),
    ]
}

/// Which way `now` moved from `before`: → within the steady tolerance
/// ([`STEADY_ABSOLUTE`], [`STEADY_RELATIVE`]), blank if either is NaN.
fn trend_arrow(now: f64, before: f64) -> &'static str {
    let difference = now - before;
    if difference.is_nan() {
        return " ";
    }
    let scale = now.abs().max(before.abs());
    if difference.abs() <= STEADY_ABSOLUTE || difference.abs() <= STEADY_RELATIVE * scale {
        "→"
    } else if difference > 0.0 {
        "↑"
    } else {
        "↓"
    }
}

fn gate_status(champion: bool, gates_breached: Option<i64>) -> String {
    match gates_breached {
        Some(n) if n > 0 => format!("challenger ({n} breached)"),
        _ if !champion => "challenger (monitoring incomplete)".to_string(),
        _ => "champion".to_string(),
    }
}

fn or_dash(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| "-".to_string(), format)
}

fn fixed3(v: f64) -> String {
    format!("{v:.3}")
}

fn percent(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// A count stored as a float: whole numbers without decimals.
fn whole(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

/// A value as a limit compares it: up to four decimals, trailing zeros
/// dropped (0.3, 0.25, 12).
fn short(v: f64) -> String {
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// Daily runs are dated midnight UTC: the date alone says it; any other
/// time is shown in full.
fn as_of_text(t: DateTime<Utc>) -> String {
    if t.time() == NaiveTime::MIN {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

fn name_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(0)
}

fn latest_lines(s: &mut String, latest: &LatestRun) {
    let _ = writeln!(
        s,
        "\n  latest run {} ({}):",
        latest.run_id,
        as_of_text(latest.as_of)
    );
    feature_psi_lines(s, &latest.feature_psi);
    share_lines(s, &latest.segment_shares);
    band_lines(s, &latest.outcomes_by_band);
    breach_lines(s, &latest.breaches);
}

fn feature_psi_lines(s: &mut String, psis: &[FeaturePsi]) {
    if psis.is_empty() {
        return;
    }
    let width = name_width(psis.iter().map(|p| p.feature.as_str()));
    let _ = writeln!(s, "    feature PSI against the previous run:");
    for p in psis {
        let name = pad(&p.feature, width, false);
        let _ = writeln!(s, "      {name}  {:.3}  {}", p.value, p.reading);
    }
}

fn share_lines(s: &mut String, shares: &[SegmentShare]) {
    if shares.is_empty() {
        return;
    }
    let width = name_width(shares.iter().map(|x| x.segment.as_str()));
    let _ = writeln!(s, "    segment shares (change since the previous run):");
    for x in shares {
        let change = x
            .change
            .map_or_else(|| "-".to_string(), |c| format!("{:+.1} pts", c * 100.0));
        let share = or_dash(x.share, percent);
        let name = pad(&x.segment, width, false);
        let _ = writeln!(s, "      {name}  {share:>6}  {change}");
    }
}

fn band_lines(s: &mut String, bands: &[BandOutcomes]) {
    if bands.is_empty() {
        return;
    }
    let model = |b: &BandOutcomes| b.model_run_id.clone().unwrap_or_else(|| "-".into());
    let model_width = name_width(
        bands
            .iter()
            .map(|b| b.model_run_id.as_deref().unwrap_or("-")),
    );
    let band_width = name_width(bands.iter().map(|b| b.band.as_str()));
    let with_count = |v: Option<f64>, n: Option<i64>| match n {
        Some(n) => format!("{} ({n})", or_dash(v, percent)),
        None => or_dash(v, percent),
    };
    let _ = writeln!(
        s,
        "    outcomes of earlier risk models by band (alerting at that band and above):"
    );
    for b in bands {
        let _ = writeln!(
            s,
            "      model {}  band {}  precision {}  recall {}",
            pad(&model(b), model_width, false),
            pad(&b.band, band_width, false),
            with_count(b.precision, b.precision_count),
            with_count(b.recall, b.recall_count)
        );
    }
}

fn breach_lines(s: &mut String, breaches: &[MonitorRow]) {
    if breaches.is_empty() {
        let _ = writeln!(s, "    limits breached: none");
        return;
    }
    let _ = writeln!(s, "    limits breached:");
    for row in breaches {
        let _ = writeln!(s, "      {}", breach_text(row));
    }
}

/// "metric [feature/segment/band/model] = value, limit L".
fn breach_text(row: &MonitorRow) -> String {
    let model = row.model_run_id.as_ref().map(|m| format!("model {m}"));
    let about: Vec<&str> = [&row.feature, &row.segment, &row.band, &model]
        .into_iter()
        .filter_map(|part| part.as_deref())
        .collect();
    let about = if about.is_empty() {
        String::new()
    } else {
        format!(" [{}]", about.join("/"))
    };
    let value = row.value.map_or_else(|| "-".to_string(), short);
    let limit = row
        .limit
        .map_or_else(String::new, |l| format!(", limit {}", short(l)));
    format!("{}{about} = {value}{limit}", row.metric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-01-{day:02}T00:00:00Z")
            .parse()
            .expect("a valid time")
    }

    /// A run-wide row of job `aml`.
    fn row(run: &str, day: u32, metric: &str, value: f64) -> MonitorRow {
        MonitorRow {
            run_id: run.to_string(),
            job_name: "aml".to_string(),
            as_of: at(day),
            metric: metric.to_string(),
            feature: None,
            segment: None,
            band: None,
            model_run_id: None,
            value: Some(value),
            count: None,
            limit: None,
            breached: false,
        }
    }

    fn psi(run: &str, day: u32, feature: &str, value: f64) -> MonitorRow {
        MonitorRow {
            feature: Some(feature.to_string()),
            ..row(run, day, "feature_psi", value)
        }
    }

    fn render(rows: Vec<MonitorRow>, last: usize) -> String {
        let options = MonitorOptions { job: None, last };
        report_from_rows(rows, &options).render()
    }

    /// The table line of `run`.
    fn line<'a>(text: &'a str, run: &str) -> &'a str {
        text.lines()
            .find(|l| l.trim_start().starts_with(&format!("{run} ")))
            .unwrap_or_else(|| panic!("no line for {run} in:\n{text}"))
    }

    #[test]
    fn numbers_carry_arrows_against_the_run_above() {
        let rows = vec![
            row("run-1", 1, "risk_score_psi", 0.05),
            row("run-1", 1, "validation_auc", 0.80),
            row("run-1", 1, "alerts", 100.0),
            row("run-2", 2, "risk_score_psi", 0.08),
            row("run-2", 2, "validation_auc", 0.75),
            row("run-2", 2, "alerts", 100.0),
            // Within 0.5% of 0.08: steady.
            row("run-3", 3, "risk_score_psi", 0.0801),
            row("run-3", 3, "validation_auc", 0.90),
        ];
        let text = render(rows, 0);
        let first = line(&text, "run-1");
        assert!(!first.contains(['↑', '↓', '→']), "{first}");
        let second = line(&text, "run-2");
        assert!(second.contains("0.080 ↑"), "{second}");
        assert!(second.contains("0.750 ↓"), "{second}");
        assert!(second.contains("100 →"), "{second}");
        let third = line(&text, "run-3");
        assert!(third.contains("0.080 →"), "{third}");
        assert!(third.contains("0.900 ↑"), "{third}");
        // No alerts in run-3: a dash, no arrow.
        assert!(!third.contains("100"), "{third}");
    }

    #[test]
    fn the_largest_psi_names_its_feature_and_every_psi_gets_a_reading() {
        let rows = vec![
            psi("run-1", 1, "age", 0.12),
            psi("run-1", 1, "tenure", 0.02),
            psi("run-1", 1, "income", 0.30),
        ];
        let text = render(rows, 0);
        let cells: Vec<&str> = line(&text, "run-1").split_whitespace().collect();
        assert_eq!(cells[..4], ["run-1", "2026-01-01", "income", "0.300"]);
        let details = &text[text.find("feature PSI against").expect("details")..];
        let income = details.find("income  0.300  act").expect("income");
        let age = details.find("age     0.120  moderate").expect("age");
        let tenure = details.find("tenure  0.020  stable").expect("tenure");
        assert!(income < age && age < tenure, "{details}");
    }

    #[test]
    fn only_the_last_runs_are_shown_each_judged_against_the_one_before() {
        let auc = |model: &str, value: f64, count: i64| MonitorRow {
            model_run_id: Some(model.to_string()),
            count: Some(count),
            ..row("run-4", 4, "outcomes_auc", value)
        };
        let rows = vec![
            row("run-4", 4, "validation_auc", 0.8),
            row("run-2", 2, "validation_auc", 0.8),
            row("run-1", 1, "validation_auc", 0.8),
            row("run-3", 3, "validation_auc", 0.8),
            auc("run-3", 0.7, 50),
            auc("run-1", 0.9, 10),
        ];
        let options = MonitorOptions { job: None, last: 2 };
        let report = report_from_rows(rows, &options);
        let ids: Vec<&str> = report.jobs[0]
            .runs
            .iter()
            .map(|r| r.run_id.as_str())
            .collect();
        assert_eq!(ids, ["run-3", "run-4"]);
        let text = report.render();
        assert!(text.contains("the last 2 of 4 runs"), "{text}");
        assert!(
            !text.contains("run-1 ") && !text.contains("run-2 "),
            "{text}"
        );
        assert!(text.find("  run-3").unwrap() < text.find("  run-4").unwrap());
        let latest = line(&text, "run-4");
        assert!(latest.contains("0.700 (50)"), "{latest}");
        assert!(!latest.contains("0.900"), "{latest}");
        assert!(serde_json::to_string_pretty(&report).is_ok());
    }

    #[test]
    fn runs_of_the_same_as_of_are_ordered_by_run_id() {
        let rows = vec![
            row("run-b", 1, "alerts", 1.0),
            row("run-a", 1, "alerts", 2.0),
        ];
        let report = report_from_rows(rows, &MonitorOptions { job: None, last: 1 });
        assert_eq!(report.jobs[0].runs[0].run_id, "run-b");
    }

    #[test]
    fn a_run_that_breached_limits_is_a_challenger_and_lists_them() {
        let rows = vec![
            row("run-1", 1, "gates_breached", 0.0),
            row("run-2", 2, "gates_breached", 2.0),
            row("run-3", 3, "alerts", 5.0),
            MonitorRow {
                limit: Some(0.25),
                breached: true,
                ..psi("run-3", 3, "income", 0.3)
            },
        ];
        let text = render(rows, 0);
        assert!(line(&text, "run-1").ends_with("champion"), "{text}");
        assert!(
            line(&text, "run-2").ends_with("challenger (2 breached)"),
            "{text}"
        );
        assert!(line(&text, "run-3").ends_with("champion"), "{text}");
        assert!(
            text.contains("feature_psi [income] = 0.3, limit 0.25"),
            "{text}"
        );
    }

    #[test]
    fn the_latest_run_lists_share_changes_and_bands_in_the_written_order() {
        let band = |metric: &str, band: &str, value: f64| MonitorRow {
            band: Some(band.to_string()),
            model_run_id: Some("run-0".to_string()),
            ..row("run-1", 1, metric, value)
        };
        let share = |metric: &str, segment: &str, value: f64| MonitorRow {
            segment: Some(segment.to_string()),
            ..row("run-1", 1, metric, value)
        };
        let rows = vec![
            band("outcomes_precision", "high", 0.5),
            band("outcomes_recall", "high", 0.25),
            band("outcomes_precision", "elevated", 0.2),
            share("segment_share", "retail", 0.4),
            share("segment_share_change", "retail", 0.01),
            share("segment_share", "wealth", 0.1),
            share("segment_share_change", "wealth", -0.03),
        ];
        let text = render(rows, 0);
        let with = |needle: &str| {
            let found = text.lines().find(|l| l.contains(needle));
            found.unwrap_or_else(|| panic!("no line with {needle} in:\n{text}"))
        };
        let high = with("band high");
        assert!(
            high.contains("precision 50.0%") && high.contains("recall 25.0%"),
            "{high}"
        );
        assert!(with("band elevated").ends_with("recall -"), "{text}");
        assert!(text.find("band high").unwrap() < text.find("band elevated").unwrap());
        assert!(with("wealth").ends_with("10.0%  -3.0 pts"), "{text}");
        assert!(with("retail").ends_with("40.0%  +1.0 pts"), "{text}");
        assert!(text.find("wealth").unwrap() < text.find("retail").unwrap());
    }

    #[test]
    fn every_job_gets_its_section_and_an_unknown_job_lists_them() {
        let mut kyc = row("run-9", 1, "alerts", 3.0);
        kyc.job_name = "kyc".to_string();
        let rows = vec![row("run-1", 1, "alerts", 1.0), kyc];
        let text = render(rows.clone(), 0);
        assert!(
            text.contains("job `aml`") && text.contains("job `kyc`"),
            "{text}"
        );
        let only = MonitorOptions {
            job: Some("kyc".to_string()),
            last: 0,
        };
        let text = report_from_rows(rows.clone(), &only).render();
        assert!(
            !text.contains("job `aml`") && text.contains("job `kyc`"),
            "{text}"
        );
        let error = check_job(&rows, "fraud").unwrap_err().to_string();
        assert!(
            error.contains("`fraud`") && error.contains("`aml`, `kyc`"),
            "{error}"
        );
    }
}
