//! `seglake run` and `seglake validate`: a job, what it did, or what it
//! would do.

use anyhow::Context;
use seglake_jobs::{EngineOptions, RunSummary, ValidationReport};
use seglake_spec::{JobSpec, RunId};

use super::{load_spec, print, print_line};
use crate::args::{Engine, EngineArgs, RunArgs, ScreenArgs, ValidateArgs};
use crate::exit::{Exit, InvalidInput};
use crate::profiles::Profiles;
use crate::progress::Spinner;

/// How long one query may take on a cluster unless `--query-timeout` says
/// otherwise: a cluster that lost its executors must not keep the run
/// waiting. Locally there is no limit.
#[cfg(feature = "cluster")]
const CLUSTER_QUERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);

/// Features shown per segment under the run summary (`seglake segments
/// --top` shows more).
const SUMMARY_SEGMENT_FEATURES: usize = 3;

pub async fn run(args: RunArgs) -> anyhow::Result<Exit> {
    let mut spec = load_spec(&args.job.job, &args.job.vars)?;
    spec.as_of = args.as_of.as_of.or(spec.as_of);
    enforce_memory_budget(&args.engine);
    let options = seglake_jobs::RunOptions {
        run_id: args
            .run_id
            .as_deref()
            .map(RunId::parse)
            .transpose()
            .map_err(InvalidInput)?,
        engine: engine_options(&args.engine),
        pinned_inputs: None,
        post_lineage: true,
        full_refresh: args.full_refresh,
    };
    let spinner = Spinner::new();
    let result = seglake_jobs::run(&spec, &options, &spinner).await;
    spinner.finish();
    let summary =
        result.with_context(|| format!("job `{}` ({}) failed", spec.name, spec.path.display()))?;
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&summary.record)?)?;
    } else {
        let mut text = render_summary(&spec, &summary);
        if let Some(profiles) = published_profiles(&spec, &summary).await? {
            text += "\n";
            text += &profiles.render(SUMMARY_SEGMENT_FEATURES);
        }
        text += &render_rules(&summary);
        text += &render_monitoring(&summary.record);
        print(&text)?;
    }
    Ok(if is_challenger(&summary.record) {
        Exit::Challenger
    } else {
        Exit::Success
    })
}

/// `runs.metrics.monitoring` of a run, when it has one.
fn monitoring_of(record: &seglake_spec::lineage::RunRecord) -> Option<serde_json::Value> {
    let metrics: serde_json::Value = serde_json::from_str(record.metrics.as_deref()?).ok()?;
    metrics.get("monitoring").cloned()
}

/// Whether the run went past a `[monitoring]` limit: its models are the
/// challenger.
pub(crate) fn is_challenger(record: &seglake_spec::lineage::RunRecord) -> bool {
    seglake_audit::champion::role_when_published(record) == seglake_audit::champion::CHALLENGER
}

/// Features listed under the run's drift (the highest PSI first).
const SUMMARY_DRIFT_FEATURES: usize = 5;

/// The run's drift, outcomes analysis and role, as its summary ends.
pub(crate) fn render_monitoring(record: &seglake_spec::lineage::RunRecord) -> String {
    use seglake_spec::monitoring as m;
    let Some(monitoring) = monitoring_of(record) else {
        return String::new();
    };
    let rows: Vec<&serde_json::Value> = monitoring["metrics"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let of = |metric: &'static str| rows.iter().copied().filter(move |r| r["metric"] == metric);
    let mut s = match monitoring["previous_run"].as_str() {
        Some(previous) => format!(
            "\ndrift against run {previous} (PSI: below 0.1 stable, 0.1-0.25 moderate, above 0.25 act)\n"
        ),
        None => "\nno earlier run of this job: no drift to measure yet\n".to_string(),
    };
    let mut psi: Vec<&serde_json::Value> = of(m::FEATURE_PSI).collect();
    psi.sort_by(|a, b| value(b).total_cmp(&value(a)));
    for row in psi.iter().take(SUMMARY_DRIFT_FEATURES) {
        s += &psi_line(row["feature"].as_str().unwrap_or("?"), value(row));
    }
    if psi.len() > SUMMARY_DRIFT_FEATURES {
        s += &format!(
            "  ... {} more features (seglake monitor)\n",
            psi.len() - SUMMARY_DRIFT_FEATURES
        );
    }
    for row in of(m::RISK_SCORE_PSI) {
        s += &psi_line("risk score", value(row));
    }
    for row in of(m::CUSTOMERS_CHANGED_SEGMENT) {
        s += &format!(
            "  customers that changed segment: {} ({:.1}%)\n",
            row["count"],
            100.0 * value(row)
        );
    }
    for row in of(m::OUTCOMES_AUC).filter(|r| r.get("segment").is_none()) {
        s += &format!(
            "outcomes analysis: the model of run {} has AUC {:.3} on {} customers decided since\n",
            row["model_run_id"].as_str().unwrap_or("?"),
            value(row),
            row["count"]
        );
    }
    s + &render_role(&monitoring)
}

fn value(row: &serde_json::Value) -> f64 {
    row["value"].as_f64().unwrap_or(f64::NAN)
}

fn psi_line(name: &str, psi: f64) -> String {
    format!(
        "  {name:<32} {psi:>8.4}  {}\n",
        seglake_audit::monitor::psi_reading(psi)
    )
}

fn render_role(monitoring: &serde_json::Value) -> String {
    let mut s = String::new();
    if let Some(reason) = monitoring["unavailable"].as_str() {
        s += &format!("monitoring is incomplete: {reason}\n");
    }
    let breaches = monitoring["breaches"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if monitoring["role"] == seglake_audit::champion::CHALLENGER {
        s += "models: CHALLENGER (not used for scoring until `seglake promote`)\n";
        for b in breaches {
            s += &format!(
                "  went past a limit: {} = {:.4} (limit {})\n",
                b["metric"].as_str().unwrap_or("?"),
                value(&b),
                b["limit"]
            );
        }
    } else {
        s += "models: champion\n";
    }
    s
}

pub async fn validate(args: ValidateArgs) -> anyhow::Result<Exit> {
    let mut spec = load_spec(&args.job.job, &args.job.vars)?;
    spec.as_of = args.as_of.as_of.or(spec.as_of);
    let spinner = Spinner::new();
    let result = seglake_jobs::validate(&spec, &spinner).await;
    spinner.finish();
    let report = result
        .with_context(|| format!("job `{}` ({}) is invalid", spec.name, spec.path.display()))?;
    // Checked here, not by the run: a run does not deliver.
    let webhooks = super::deliver::job_endpoints(&spec)?;
    print(&render_validation(&spec, &report))?;
    if !webhooks.is_empty() {
        let names: Vec<&str> = webhooks.iter().map(|w| w.name.as_str()).collect();
        print(&format!(
            "webhooks: {} (URLs and signing secrets found)\n",
            names.join(", ")
        ))?;
    }
    Ok(Exit::Success)
}

/// `seglake screen`: the job's names against its list as it is now,
/// compared with published hits.
pub async fn screen(args: ScreenArgs) -> anyhow::Result<Exit> {
    let spec = load_spec(&args.job.job, &args.job.vars)?;
    let lake = super::open_lake(&args.lake)?;
    let (baseline, before, baseline_sha) =
        seglake_audit::screening::baseline_hits(&lake, &args.changed_since).await?;
    let spinner = Spinner::new();
    seglake_jobs::Progress::step(&spinner, "screening names against the sanctions list");
    let result = seglake_jobs::screening::screen_now(&spec, &EngineOptions::default()).await;
    spinner.finish();
    let screened = result
        .with_context(|| format!("screening job `{}` ({})", spec.name, spec.path.display()))?;
    let now = seglake_jobs::screening::as_published(&screened, &spec)?;
    let now = seglake_audit::screening::hits_of(&[now])?;
    let (added, removed, changed) = seglake_audit::screening::compare_hits(before, now);
    let report = seglake_audit::screening::RescreenReport {
        baseline,
        baseline_list_sha256: baseline_sha,
        list_sha256: screened.metrics.list_sha256.clone(),
        names_screened: screened.metrics.parties.iter().map(|p| p.names).sum(),
        added,
        removed,
        changed,
    };
    if args.output.json {
        print_line(&serde_json::to_string_pretty(&report)?)?;
    } else {
        print(&report.render())?;
    }
    Ok(Exit::Success)
}

/// Holds this process to `--memory-limit` (70% of the machine or container by
/// default) plus its margin, for the commands that run jobs.
pub(crate) fn enforce_memory_budget(args: &EngineArgs) {
    if let Some(budget) = args.memory.budget(seglake_jobs::default_memory_limit()) {
        seglake_memory::enforce(budget);
    }
}

/// The engine `run` computes on: in process, or a Ballista cluster.
pub(crate) fn engine_options(args: &EngineArgs) -> EngineOptions {
    let local = EngineOptions {
        target_partitions: args.partitions,
        memory_limit: args.memory.memory_limit,
        query_timeout: args.query_timeout,
        ..Default::default()
    };
    match &args.engine {
        Engine::Local => local,
        // Only a binary with the cluster engine has another engine.
        #[cfg(feature = "cluster")]
        Engine::Ballista(cluster) => EngineOptions {
            remote: Some(std::sync::Arc::new(cluster.clone())),
            query_timeout: args.query_timeout.or(Some(CLUSTER_QUERY_TIMEOUT)),
            ..local
        },
    }
}

/// The segment profiles the run published, if it segmented.
async fn published_profiles(
    spec: &JobSpec,
    summary: &RunSummary,
) -> anyhow::Result<Option<Profiles>> {
    let Some(commit) = summary
        .commits
        .iter()
        .find(|c| c.table == "segment_profiles")
    else {
        return Ok(None);
    };
    let location = seglake_lake::table_location(&spec.output_root, &commit.table);
    let batches = seglake_lake::read_table(&commit.table, &location, Some(commit.version)).await?;
    let profiles = Profiles::from_batches(&commit.table, &batches).map_err(InvalidInput)?;
    Ok(Some(profiles))
}

/// The text summary of a run: its inputs, what cleaning did, what it
/// published, and where.
fn render_summary(spec: &JobSpec, summary: &RunSummary) -> String {
    let r = &summary.record;
    let seconds = (r.finished_at - r.started_at).num_milliseconds() as f64 / 1000.0;
    let mut s = format!(
        "run {}  job {}  {} in {seconds:.1}s\n",
        r.run_id, r.job_name, r.status
    );
    s += &render_inputs(summary);
    s += &render_cleaning(spec, summary);
    s += &render_screening(summary);
    s += &render_published(summary);
    s += &format!("lake {}\n", spec.output_root);
    match &summary.lineage_posted {
        Some(Ok(url)) => s += &format!("OpenLineage event posted to {url}\n"),
        Some(Err(message)) => {
            s += &format!("OpenLineage event NOT posted ({message}); it is stored in `runs`\n")
        }
        None => {}
    }
    s
}

fn render_inputs(summary: &RunSummary) -> String {
    let r = &summary.record;
    let mut s = "inputs (pinned at run start)\n".to_string();
    for (input, count) in r.inputs.iter().zip(&r.rows_in) {
        let version = match input.delta_version {
            Some(v) => format!("Delta version {v}"),
            None => format!("{} {} file(s)", input.format, input.files.len()),
        };
        s += &format!(
            "  {:<22} {:>12} rows  {version}\n",
            input.name,
            group(count.rows)
        );
    }
    s
}

/// Duplicates removed, the three columns with the most missing values
/// (the feature table's own are the features' business, not cleaning's),
/// and outliers flagged.
fn render_cleaning(spec: &JobSpec, summary: &RunSummary) -> String {
    let quality = &summary.record.quality;
    let mut s = "cleaning\n".to_string();
    for d in &quality.duplicates_removed {
        s += &format!(
            "  {:<22} {:>12} duplicate rows removed (key {})\n",
            d.table,
            group(d.rows),
            d.key.join(", ")
        );
    }
    let mut missing: Vec<_> = quality
        .missing_values
        .iter()
        .filter(|m| m.table != spec.output_table && m.rows > 0)
        .collect();
    missing.sort_by_key(|m| std::cmp::Reverse(m.rows));
    for m in missing.iter().take(3) {
        s += &format!(
            "  {:<22} {:>12} missing values in `{}`\n",
            m.table,
            group(m.rows),
            m.column
        );
    }
    if missing.len() > 3 {
        s += &format!(
            "  {:<22} {:>12} more columns with missing values (all counts are in `runs`)\n",
            "",
            missing.len() - 3
        );
    }
    for o in &quality.outliers {
        s += &format!(
            "  {:<22} {:>12} rows flagged by outlier rule `{}` ({})\n",
            o.table,
            group(o.rows),
            o.rule,
            o.condition
        );
    }
    s
}

/// The screening's counts from `runs.metrics.screening`, when the job
/// screens.
fn render_screening(summary: &RunSummary) -> String {
    let metrics = run_metrics(summary);
    let Some(m) = metrics.get("screening") else {
        return String::new();
    };
    let count = |v: &serde_json::Value| group(v.as_i64().unwrap_or(0));
    let sha = m["list_sha256"].as_str().unwrap_or("-");
    let mut s = format!(
        "screening against `{}` ({}, {} entries screened, content sha256 {}...), threshold {}\n",
        m["list_source"].as_str().unwrap_or("-"),
        m["list_format"].as_str().unwrap_or("-"),
        count(&m["entries_screened_against"]),
        &sha[..sha.len().min(12)],
        m["threshold"]
    );
    for p in m["parties"].as_array().into_iter().flatten() {
        s += &format!(
            "  {:<14} {:>10} names {:>8} with hits {:>8} hits\n",
            p["party"].as_str().unwrap_or("-"),
            count(&p["names"]),
            count(&p["ids_with_hits"]),
            count(&p["hits"])
        );
    }
    s
}

/// `runs.metrics` of the run, parsed (null when it has none).
fn run_metrics(summary: &RunSummary) -> serde_json::Value {
    summary
        .record
        .metrics
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default()
}

/// One line of new alerts per rule and one of cases, from
/// `runs.metrics.rules`, when the job has rules.
fn render_rules(summary: &RunSummary) -> String {
    let metrics = run_metrics(summary);
    let Some(m) = metrics.get("rules") else {
        return String::new();
    };
    let count = |v: &serde_json::Value| group(v.as_i64().unwrap_or(0));
    let per_rule: Vec<String> = m["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!(
                "{} {}",
                r["rule"].as_str().unwrap_or("-"),
                count(&r["alerts"])
            )
        })
        .collect();
    let states: Vec<String> = m["cases"]["states"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(state, n)| format!("{} {state}", count(n)))
        .collect();
    format!(
        "\nalerts: {} new ({}), {} suppressed\ncases: {} opened, {} joined by new alerts, {} dispositions applied; now {}\n",
        count(&m["alerts"]),
        per_rule.join(", "),
        count(&m["suppressed"]),
        count(&m["cases"]["opened"]),
        count(&m["cases"]["joined"]),
        count(&m["cases"]["dispositions_applied"]),
        if states.is_empty() {
            "none".to_string()
        } else {
            states.join(", ")
        },
    )
}

fn render_published(summary: &RunSummary) -> String {
    let mut s = "published\n".to_string();
    for c in &summary.commits {
        let rows = summary
            .record
            .rows_out
            .iter()
            .find(|o| o.table == c.table)
            .map(|o| format!("{} rows", group(o.rows)));
        s += &format!(
            "  {:<22} version {:<5} {}\n",
            c.table,
            c.version,
            rows.unwrap_or_default()
        );
    }
    s
}

/// What `validate` found: the sources, the views in order, the feature
/// table's columns and the segmentation's features.
fn render_validation(spec: &JobSpec, report: &ValidationReport) -> String {
    let mut s = format!("job `{}` ({}) is valid\n", spec.name, spec.path.display());
    s += "sources\n";
    for i in &report.inputs {
        let what = match i.delta_version {
            Some(v) => format!("Delta version {v}"),
            None => format!("{} file(s)", i.files.len()),
        };
        s += &format!(
            "  {:<22} {:<8} {what:<18} {}\n",
            i.spec.name,
            i.spec.format.as_str(),
            i.spec.location
        );
    }
    // Validating reads no rows: a postgres source is snapshotted by the run.
    let postgres = spec.sources.iter().filter(|s| s.postgres.is_some());
    for source in postgres {
        s += &format!(
            "  {:<22} {:<8} {:<18} {}\n",
            source.name, "postgres", "columns described", source.location
        );
    }
    s += &format!(
        "views, in order: {}\n",
        spec.views
            .iter()
            .map(|v| v.name.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    s += &format!(
        "feature table `{}`, key `{}`, {} columns:\n",
        spec.output_table,
        spec.key,
        report.columns.len()
    );
    for (name, ty) in &report.columns {
        s += &format!("  {name:<32} {ty}\n");
    }
    if let Some(features) = &report.segment_features {
        s += &format!(
            "segments on {} features: {}\n",
            features.len(),
            features.join(", ")
        );
    }
    if let Some(said) = &report.text_columns_left_out {
        s += &format!("note: {said}\n");
    }
    s += &format!("output root {}\n", spec.output_root);
    for found in &report.order_dependences {
        s += &format!(
            "warning: view `{}` ({}): `{}` {} (a run may not reproduce on another machine)\n",
            found.view,
            found.path.display(),
            found.dependence.expression,
            found.dependence.why
        );
    }
    s
}

/// 1234567 -> "1,234,567".
fn group(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_puts_commas_between_thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1_000), "1,000");
        assert_eq!(group(1_234_567), "1,234,567");
        assert_eq!(group(-1_234), "-1,234");
    }

    #[cfg(feature = "cluster")]
    #[test]
    fn a_cluster_query_times_out_after_an_hour_unless_told() {
        use std::time::Duration;

        let cluster = "ballista://127.0.0.1:50050".parse::<Engine>().unwrap();
        let on = |engine: Engine, timeout: Option<Duration>| {
            engine_options(&EngineArgs {
                engine,
                query_timeout: timeout,
                ..EngineArgs::local()
            })
        };
        let local = on(Engine::Local, None);
        assert!(local.remote.is_none() && local.query_timeout.is_none());
        let remote = on(cluster.clone(), None);
        assert!(remote.remote.is_some());
        assert_eq!(remote.query_timeout, Some(CLUSTER_QUERY_TIMEOUT));
        let told = on(cluster, Some(Duration::from_secs(60)));
        assert_eq!(told.query_timeout, Some(Duration::from_secs(60)));
    }
}
