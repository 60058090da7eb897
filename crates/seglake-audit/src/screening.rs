//! Sanctions screening in the audit trail: the list version a customer was
//! screened against and its hits (`seglake audit --customer`), and what a
//! new list version changes (`seglake screen --changed-since`).

use std::collections::BTreeMap;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_spec::lineage::RunRecord;
use seglake_spec::{JobSpec, SCREENING_HITS_TABLE};
use serde::Serialize;
use serde_json::Value;

use crate::error::{AuditError, Result};
use crate::lake::Lake;

/// The screening of one customer in one run.
#[derive(Debug, Clone, Serialize)]
pub struct ScreeningAudit {
    pub list_source: String,
    pub list_format: String,
    /// SHA-256 of the list's content: which list version was screened
    /// against (its files are among the run's inputs).
    pub list_sha256: String,
    pub threshold: f64,
    pub screening_hits_version: i64,
    pub hits: Vec<Hit>,
}

/// One row of `screening_hits`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub party: String,
    pub party_id: String,
    pub name: Option<String>,
    pub list_entry_id: i64,
    pub listed_name: String,
    pub listed_name_kind: String,
    pub programmes: String,
    pub score: f64,
    pub matched_tokens: String,
}

fn arrow_error(context: &str) -> impl FnOnce(arrow::error::ArrowError) -> AuditError + '_ {
    move |error| AuditError::Arrow {
        context: context.to_string(),
        error,
    }
}

fn texts(batch: &RecordBatch, column: &str) -> Result<StringArray> {
    let array = batch.column_by_name(column).ok_or_else(|| {
        AuditError::Invalid(format!("`{SCREENING_HITS_TABLE}` has no column `{column}`"))
    })?;
    let cast = cast(array, &DataType::Utf8).map_err(arrow_error("reading screening hits"))?;
    Ok(cast
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8")
        .clone())
}

fn numbers<T: Clone + 'static>(batch: &RecordBatch, column: &str, to: &DataType) -> Result<T> {
    let array = batch.column_by_name(column).ok_or_else(|| {
        AuditError::Invalid(format!("`{SCREENING_HITS_TABLE}` has no column `{column}`"))
    })?;
    let cast = cast(array, to).map_err(arrow_error("reading screening hits"))?;
    Ok(cast.as_any().downcast_ref::<T>().expect("cast").clone())
}

/// Every row of `batches` (a `screening_hits` version) as a [`Hit`].
pub fn hits_of(batches: &[RecordBatch]) -> Result<Vec<Hit>> {
    let mut hits = Vec::new();
    for batch in batches {
        let party = texts(batch, "party")?;
        let party_id = texts(batch, "party_id")?;
        let name = texts(batch, "name")?;
        let entry: Int64Array = numbers(batch, "list_entry_id", &DataType::Int64)?;
        let listed = texts(batch, "listed_name")?;
        let kind = texts(batch, "listed_name_kind")?;
        let programmes = texts(batch, "programmes")?;
        let score: Float64Array = numbers(batch, "score", &DataType::Float64)?;
        let tokens = texts(batch, "matched_tokens")?;
        for i in 0..batch.num_rows() {
            hits.push(Hit {
                party: party.value(i).to_string(),
                party_id: party_id.value(i).to_string(),
                name: name.is_valid(i).then(|| name.value(i).to_string()),
                list_entry_id: entry.value(i),
                listed_name: listed.value(i).to_string(),
                listed_name_kind: kind.value(i).to_string(),
                programmes: programmes.value(i).to_string(),
                score: score.value(i),
                matched_tokens: tokens.value(i).to_string(),
            });
        }
    }
    Ok(hits)
}

/// The screening of customer `stored_id` in `run`, when the run screened.
pub async fn customer_screening(
    lake: &Lake,
    run: &RunRecord,
    stored_id: &str,
) -> Result<Option<ScreeningAudit>> {
    let metrics: Value = match &run.metrics {
        Some(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let Some(summary) = metrics.get("screening") else {
        return Ok(None);
    };
    let spec = JobSpec::from_run_record(run).map_err(|source| AuditError::RecordedSpec {
        run_id: run.run_id.clone(),
        source,
    })?;
    let customer_parties: Vec<String> = spec
        .screening
        .iter()
        .flat_map(|s| &s.parties)
        .filter(|p| p.key == spec.key)
        .map(|p| p.party.clone())
        .collect();
    let (_, version) = lake.version_of(run, SCREENING_HITS_TABLE).await?;
    let batches = lake.read(SCREENING_HITS_TABLE, Some(version)).await?;
    let hits = hits_of(&batches)?
        .into_iter()
        .filter(|h| h.party_id == stored_id && customer_parties.contains(&h.party))
        .collect();
    let text = |key: &str| summary[key].as_str().unwrap_or("-").to_string();
    Ok(Some(ScreeningAudit {
        list_source: text("list_source"),
        list_format: text("list_format"),
        list_sha256: text("list_sha256"),
        threshold: summary["threshold"].as_f64().unwrap_or(f64::NAN),
        screening_hits_version: version,
        hits,
    }))
}

impl ScreeningAudit {
    pub fn render(&self) -> String {
        let mut s = format!(
            "sanctions screening against `{}` ({}, content sha256 {}), threshold {}, screening_hits version {}\n",
            self.list_source,
            self.list_format,
            self.list_sha256,
            self.threshold,
            self.screening_hits_version
        );
        if self.hits.is_empty() {
            s += "  no hit: the customer's name matched no list entry at the threshold\n";
        }
        for h in &self.hits {
            s += &format!(
                "  hit  entry {} \"{}\" ({}), programmes {}, score {:.4}\n       name \"{}\", tokens {}\n",
                h.list_entry_id,
                h.listed_name,
                h.listed_name_kind,
                h.programmes,
                h.score,
                h.name.as_deref().unwrap_or("(not published)"),
                h.matched_tokens
            );
        }
        s
    }
}

/// What a new list (or new names) changed against published hits.
#[derive(Debug, Clone, Serialize)]
pub struct RescreenReport {
    /// What the hits are compared with: `run ID` or `screening_hits version N`.
    pub baseline: String,
    pub baseline_list_sha256: Option<String>,
    pub list_sha256: String,
    pub names_screened: usize,
    pub added: Vec<Hit>,
    pub removed: Vec<Hit>,
    /// (before, now) for the same party and entry with a different score
    /// or matched name.
    pub changed: Vec<(Hit, Hit)>,
}

type HitKey = (String, String, i64);

fn by_key(hits: Vec<Hit>) -> BTreeMap<HitKey, Hit> {
    hits.into_iter()
        .map(|h| ((h.party.clone(), h.party_id.clone(), h.list_entry_id), h))
        .collect()
}

/// Compares `now` (hits as the job would publish them today) with
/// `before` (a published version).
pub fn compare_hits(before: Vec<Hit>, now: Vec<Hit>) -> (Vec<Hit>, Vec<Hit>, Vec<(Hit, Hit)>) {
    let before = by_key(before);
    let mut now = by_key(now);
    let mut removed = Vec::new();
    let mut changed = Vec::new();
    for (key, old) in before {
        match now.remove(&key) {
            None => removed.push(old),
            Some(new) => {
                if new.score != old.score || new.listed_name != old.listed_name {
                    changed.push((old, new));
                }
            }
        }
    }
    (now.into_values().collect(), removed, changed)
}

/// The published hits to compare with: `since` is a run id of the job, or
/// a version of `screening_hits`.
pub async fn baseline_hits(lake: &Lake, since: &str) -> Result<(String, Vec<Hit>, Option<String>)> {
    let (label, version) = match since.parse::<i64>() {
        Ok(version) => (format!("{SCREENING_HITS_TABLE} version {version}"), version),
        Err(_) => {
            let run = lake.run(since).await?;
            let (_, version) = lake.version_of(&run, SCREENING_HITS_TABLE).await?;
            (
                format!("run {since} ({SCREENING_HITS_TABLE} version {version})"),
                version,
            )
        }
    };
    let batches = lake.read(SCREENING_HITS_TABLE, Some(version)).await?;
    let list_sha256 = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| texts(b, "list_sha256").map(|t| t.value(0).to_string()))
        .transpose()?;
    Ok((label, hits_of(&batches)?, list_sha256))
}

impl RescreenReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "screened {} names against the list as it is now (content sha256 {})\ncompared with {} (list sha256 {})\n",
            self.names_screened,
            self.list_sha256,
            self.baseline,
            self.baseline_list_sha256.as_deref().unwrap_or("-")
        );
        s += &format!(
            "{} new hit(s), {} hit(s) gone, {} changed\n",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        );
        let line = |tag: &str, h: &Hit| {
            format!(
                "  {tag:<8} {:<12} {:<20} entry {:<6} \"{}\" score {:.4} ({})\n",
                h.party, h.party_id, h.list_entry_id, h.listed_name, h.score, h.programmes
            )
        };
        for h in &self.added {
            s += &line("new", h);
        }
        for h in &self.removed {
            s += &line("gone", h);
        }
        for (old, new) in &self.changed {
            s += &line("was", old);
            s += &line("now", new);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, entry: i64, score: f64) -> Hit {
        Hit {
            party: "counterparty".into(),
            party_id: id.into(),
            name: Some("n".into()),
            list_entry_id: entry,
            listed_name: "L".into(),
            listed_name_kind: "primary".into(),
            programmes: "P".into(),
            score,
            matched_tokens: String::new(),
        }
    }

    #[test]
    fn new_gone_and_changed_hits() {
        let before = vec![hit("a", 1, 0.95), hit("b", 2, 0.91), hit("c", 3, 1.0)];
        let now = vec![hit("a", 1, 0.95), hit("b", 2, 0.93), hit("d", 4, 0.9)];
        let (added, removed, changed) = compare_hits(before, now);
        assert_eq!(added, vec![hit("d", 4, 0.9)]);
        assert_eq!(removed, vec![hit("c", 3, 1.0)]);
        assert_eq!(changed, vec![(hit("b", 2, 0.91), hit("b", 2, 0.93))]);
    }
}
