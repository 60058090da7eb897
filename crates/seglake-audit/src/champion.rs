//! Champion and challenger. A run whose models stayed within the job's
//! `[monitoring]` limits makes them the job's champion; one that went past
//! a limit publishes them as the challenger (`runs.metrics.monitoring.role`),
//! and only `seglake promote` makes them the champion, recorded as a row of
//! `runs` with status `promotion` (which run, who, when, why). The
//! champion is what the latest of those events says; `serve` scores with
//! it.

use chrono::{DateTime, Utc};
use seglake_lake::runs::RUNS_TABLE;
use seglake_lake::{WriteMode, publish};
use seglake_spec::lineage::{RunRecord, RunStatus};
use serde::{Deserialize, Serialize};

use crate::error::{AuditError, Result};
use crate::lake::{Lake, SEGMENTS};

pub const CHAMPION: &str = "champion";
pub const CHALLENGER: &str = "challenger";

/// What a promotion row records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Promotion {
    /// The run whose models became the champion.
    pub run_id: String,
    pub by: String,
    pub reason: String,
    pub at: DateTime<Utc>,
    /// The champion it replaced, if there was one.
    pub previous_champion: Option<String>,
}

/// The role a run's models took when it was published: `challenger` when
/// it went past a `[monitoring]` limit, else `champion` (also for runs
/// from before monitoring existed).
pub fn role_when_published(run: &RunRecord) -> &'static str {
    let role = run
        .metrics
        .as_deref()
        .and_then(|m| serde_json::from_str::<serde_json::Value>(m).ok())
        .and_then(|m| m.pointer("/monitoring/role")?.as_str().map(str::to_string));
    match role.as_deref() {
        Some(CHALLENGER) => CHALLENGER,
        _ => CHAMPION,
    }
}

/// The promotion a `runs` row records, when it is one.
pub fn promotion_of(row: &RunRecord) -> Option<Promotion> {
    if row.status != RunStatus::Promotion {
        return None;
    }
    let metrics: serde_json::Value = serde_json::from_str(row.metrics.as_deref()?).ok()?;
    serde_json::from_value(metrics.get("promotion")?.clone()).ok()
}

/// Whether `run` published models that can score: it succeeded and
/// published `segments`.
fn has_models(run: &RunRecord) -> bool {
    run.status == RunStatus::Succeeded && run.outputs.iter().any(|o| o.table == SEGMENTS)
}

/// The champion of `job` (any job when `None`) among `rows` (every row of
/// `runs`, in the order recorded): the run of the latest event that made
/// one, a promotion or a champion run being published (unless it describes
/// an earlier time than the champion then).
pub fn champion<'a>(rows: &'a [RunRecord], job: Option<&str>) -> Option<&'a RunRecord> {
    let mut current: Option<&RunRecord> = None;
    for row in rows.iter().filter(|r| job.is_none_or(|j| r.job_name == j)) {
        if let Some(promotion) = promotion_of(row) {
            current = rows
                .iter()
                .find(|r| r.run_id == promotion.run_id && has_models(r))
                .or(current);
        } else if has_models(row)
            && role_when_published(row) == CHAMPION
            && current.is_none_or(|c| row.as_of >= c.as_of)
        {
            // A back-dated run (a backfill) describes an older bank: it
            // does not replace a champion that describes a later one.
            current = Some(row);
        }
    }
    current
}

/// The latest run of `job` published as the challenger and published after
/// the champion (a challenger already promoted, or overtaken by a newer
/// champion, is not one any more).
pub fn latest_challenger<'a>(rows: &'a [RunRecord], job: Option<&str>) -> Option<&'a RunRecord> {
    let champion = champion(rows, job);
    rows.iter()
        .rev()
        .filter(|r| job.is_none_or(|j| r.job_name == j))
        .find(|r| has_models(r) && role_when_published(r) == CHALLENGER)
        .filter(|r| champion.is_none_or(|c| r.finished_at > c.finished_at))
}

/// Makes `run_id`'s models the champion of its job: appends a promotion
/// row to `runs`. Checked first: the run exists, succeeded, published
/// models, and is not the champion already.
pub async fn promote(lake: &Lake, run_id: &str, by: &str, reason: &str) -> Result<Promotion> {
    let rows = lake.runs_and_promotions().await?;
    let run = rows
        .iter()
        .find(|r| r.run_id == run_id && r.status != RunStatus::Promotion)
        .ok_or_else(|| unknown_run(lake, &rows, run_id))?;
    if !has_models(run) {
        return Err(AuditError::Invalid(format!(
            "run {run_id} {}: only a succeeded run that published segments has models to promote",
            match run.status {
                RunStatus::Failed => "failed",
                _ => "published no segments",
            }
        )));
    }
    let previous = champion(&rows, Some(&run.job_name)).map(|c| c.run_id.clone());
    if previous.as_deref() == Some(run_id) {
        return Err(AuditError::Invalid(format!(
            "run {run_id} is already the champion of job `{}`",
            run.job_name
        )));
    }
    if reason.trim().is_empty() {
        return Err(AuditError::Invalid("--reason is empty: say why".into()));
    }
    let promotion = Promotion {
        run_id: run_id.to_string(),
        by: by.to_string(),
        reason: reason.to_string(),
        at: Utc::now(),
        previous_champion: previous,
    };
    record(lake, run, &promotion).await?;
    Ok(promotion)
}

fn unknown_run(lake: &Lake, rows: &[RunRecord], run_id: &str) -> AuditError {
    let latest: Vec<&str> = rows
        .iter()
        .rev()
        .filter(|r| r.status != RunStatus::Promotion)
        .take(5)
        .map(|r| r.run_id.as_str())
        .collect();
    AuditError::NotFound(format!(
        "no run `{run_id}` in {}/runs; the latest runs are: {}",
        lake.root.display(),
        latest.join(", ")
    ))
}

/// Appends the promotion row: the promoted run's record (its job, spec and
/// SQL, so every reader of `runs` can decode it) with its own id, status
/// `promotion`, the time, no outputs, and the promotion in `metrics`.
async fn record(lake: &Lake, run: &RunRecord, promotion: &Promotion) -> Result<()> {
    let mut row = run.clone();
    row.run_id = format!(
        "promotion-{}-{}",
        run.run_id,
        promotion.at.format("%Y%m%dT%H%M%S%6fZ")
    );
    row.status = RunStatus::Promotion;
    row.started_at = promotion.at;
    row.finished_at = promotion.at;
    row.outputs = Vec::new();
    row.rows_out = Vec::new();
    row.openlineage = None;
    row.error = None;
    row.metrics = Some(serde_json::json!({ "promotion": promotion }).to_string());
    let batch = seglake_lake::runs::to_batch(&[row]).map_err(|error| AuditError::Arrow {
        context: "encoding the promotion".into(),
        error,
    })?;
    let location = lake.table(RUNS_TABLE)?;
    let metadata = std::collections::HashMap::from([(
        "seglake.promotion".to_string(),
        serde_json::json!(promotion.run_id),
    )]);
    publish(
        RUNS_TABLE,
        &location,
        batch.schema(),
        vec![batch],
        WriteMode::Append,
        &metadata,
        None,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: &str, role: Option<&str>, minute: u32) -> RunRecord {
        let mut r: RunRecord = serde_json::from_value(serde_json::json!({
            "run_id": id, "job_name": "demo", "status": "succeeded", "spec_path": "j.toml",
            "spec_text": "", "spec_sha256": "", "sql_files": [], "inputs": [], "seed": 1,
            "as_of": "2026-01-01T00:00:00Z", "seglake_version": "0",
            "started_at": "2026-01-01T00:00:00Z",
            "finished_at": format!("2026-01-01T00:{minute:02}:00Z"),
            "rows_in": [], "rows_out": [], "quality": {"duplicates_removed": [], "missing_values": [], "outliers": []},
            "outputs": [{"table": "segments", "version": minute}],
        }))
        .unwrap();
        r.metrics = role.map(|role| serde_json::json!({"monitoring": {"role": role}}).to_string());
        r
    }

    fn promoted(id: &str, minute: u32) -> RunRecord {
        let mut p = run(&format!("promotion-{id}"), None, minute);
        p.status = RunStatus::Promotion;
        p.outputs.clear();
        let at: DateTime<Utc> = p.finished_at;
        let promotion = Promotion {
            run_id: id.into(),
            by: "ana".into(),
            reason: "checked".into(),
            at,
            previous_champion: None,
        };
        p.metrics = Some(serde_json::json!({ "promotion": promotion }).to_string());
        p
    }

    #[test]
    fn a_challenger_is_champion_only_once_promoted() {
        let mut rows = vec![run("a", None, 1), run("b", Some(CHALLENGER), 2)];
        assert_eq!(champion(&rows, Some("demo")).unwrap().run_id, "a");
        assert_eq!(latest_challenger(&rows, None).unwrap().run_id, "b");
        rows.push(promoted("b", 3));
        assert_eq!(champion(&rows, Some("demo")).unwrap().run_id, "b");
        assert!(latest_challenger(&rows, None).is_none());
        // A newer champion run replaces a promoted one.
        rows.push(run("c", Some(CHAMPION), 4));
        assert_eq!(champion(&rows, None).unwrap().run_id, "c");
        assert!(champion(&rows, Some("other")).is_none());
    }
}
