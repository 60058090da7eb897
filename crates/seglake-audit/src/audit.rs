//! "Why was customer X in segment Y on date D": the segmentation in force
//! at a time (or a given run), the customer's row in it, the model, the
//! inputs at their versions, the SQL hashes, and the command that
//! reproduces it.

mod alerts;

use std::collections::BTreeMap;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};
use seglake_spec::lineage::{InputRecord, RunRecord, SqlFileRecord};
use seglake_spec::{JobSpec, PseudonymKey};
use serde::Serialize;
use serde_json::Value;

use crate::error::{AuditError, Result};
use crate::lake::{Lake, SEGMENTS, rows_as_json};

/// Which segmentation to audit.
#[derive(Debug, Clone)]
pub enum Selector {
    /// The one in force at this time.
    AsOf(DateTime<Utc>),
    Run(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomerAudit {
    /// The id asked about.
    pub customer: String,
    /// The id as stored: the pseudonym when the run pseudonymised ids.
    pub stored_id: String,
    pub pseudonymised: bool,
    /// The time asked about, when the segmentation was found by time.
    pub in_force_at: Option<DateTime<Utc>>,
    pub run: RunSummary,
    /// `segments` as the run published it: the recorded version, and the
    /// version that holds it now (different after an erasure).
    pub segments_version: i64,
    pub segments_version_now: i64,
    /// The customer's row of `segments`, every column.
    pub assignment: BTreeMap<String, Value>,
    /// The `models` rows of the run (without the serialised model).
    pub models: Vec<BTreeMap<String, Value>>,
    pub inputs: Vec<InputVersion>,
    pub sql_files: Vec<SqlHash>,
    /// The sanctions screening of the customer's name, when the run
    /// screened: the list version and any hit.
    pub screening: Option<crate::screening::ScreeningAudit>,
    /// The monitoring-rule alerts raised on the customer and their cases
    /// (state and history), as the lake held them at the run; `None` when
    /// no run up to it had published `alerts` or `cases`.
    pub alerts_and_cases: Option<alerts::AlertsAndCases>,
    /// Re-runs this run from its recorded inputs and compares the result.
    pub reproduce_command: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub job_name: String,
    pub status: seglake_spec::lineage::RunStatus,
    pub as_of: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub seed: i64,
    pub seglake_version: String,
    pub spec_path: String,
    pub spec_sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputVersion {
    pub name: String,
    pub uri: String,
    pub format: String,
    pub delta_version: Option<i64>,
    /// File inputs: each file with its size and ETag.
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SqlHash {
    pub view: String,
    pub path: String,
    pub sha256: String,
}

impl InputVersion {
    fn of(i: &InputRecord) -> Self {
        InputVersion {
            name: i.name.clone(),
            uri: i.uri.clone(),
            format: i.format.clone(),
            delta_version: i.delta_version,
            files: i
                .files
                .iter()
                .map(|f| {
                    format!(
                        "{} ({} bytes, etag {})",
                        f.path,
                        f.size,
                        f.etag.as_deref().unwrap_or("-")
                    )
                })
                .collect(),
        }
    }

    /// The input's line(s) of the text report.
    fn render(&self) -> String {
        match self.delta_version {
            Some(v) => format!("  {:<24} delta version {v}  {}\n", self.name, self.uri),
            None => {
                let mut s = format!(
                    "  {:<24} {} {} file(s)  {}\n",
                    self.name,
                    self.format,
                    self.files.len(),
                    self.uri
                );
                for f in &self.files {
                    s += &format!("      {f}\n");
                }
                s
            }
        }
    }
}

impl SqlHash {
    fn of(f: &SqlFileRecord) -> Self {
        SqlHash {
            view: f.view.clone(),
            path: f.path.clone(),
            sha256: f.sha256.clone(),
        }
    }
}

impl RunSummary {
    pub fn of(r: &RunRecord) -> Self {
        RunSummary {
            run_id: r.run_id.clone(),
            job_name: r.job_name.clone(),
            status: r.status,
            as_of: r.as_of,
            started_at: r.started_at,
            finished_at: r.finished_at,
            seed: r.seed,
            seglake_version: r.seglake_version.clone(),
            spec_path: r.spec_path.clone(),
            spec_sha256: r.spec_sha256.clone(),
        }
    }
}

/// The run the selector names.
pub async fn select_run(lake: &Lake, selector: &Selector) -> Result<RunRecord> {
    match selector {
        Selector::AsOf(t) => lake.run_in_force(*t).await,
        Selector::Run(id) => lake.run(id).await,
    }
}

/// How `run` stored customer ids: the HMAC key when it pseudonymised them
/// (read from the environment or file its job names), `None` otherwise.
pub fn pseudonym_key(run: &RunRecord) -> Result<Option<PseudonymKey>> {
    let spec = JobSpec::from_run_record(run).map_err(|source| AuditError::RecordedSpec {
        run_id: run.run_id.clone(),
        source,
    })?;
    match &spec.privacy.pseudonymise {
        None => Ok(None),
        Some(source) => PseudonymKey::load(source).map(Some).map_err(|e| {
            AuditError::Invalid(format!(
                "run {} pseudonymised customer ids; to look one up, {e}",
                run.run_id
            ))
        }),
    }
}

/// The rows of `batches` whose first column (the key), as text, is `id`.
pub fn rows_with_key(batches: &[RecordBatch], id: &str) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for batch in batches {
        if batch.num_columns() > 0 {
            push_rows_where(batch, 0, id, &mut out)?;
        }
    }
    Ok(out)
}

/// The rows of `batches` whose column named `column`, as text, is `id`;
/// batches without that column hold none.
fn rows_where(batches: &[RecordBatch], column: &str, id: &str) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for batch in batches {
        if let Some((index, _)) = batch.schema_ref().column_with_name(column) {
            push_rows_where(batch, index, id, &mut out)?;
        }
    }
    Ok(out)
}

/// Appends to `out` each row of `batch` whose column `index`, as text, is `id`.
fn push_rows_where(
    batch: &RecordBatch,
    index: usize,
    id: &str,
    out: &mut Vec<RecordBatch>,
) -> Result<()> {
    let keys = cast(batch.column(index), &DataType::Utf8).map_err(|error| AuditError::Arrow {
        context: "reading customer ids".into(),
        error,
    })?;
    let keys = keys
        .as_any()
        .downcast_ref::<StringArray>()
        .expect("cast to Utf8");
    for i in 0..keys.len() {
        if keys.is_valid(i) && keys.value(i) == id {
            out.push(batch.slice(i, 1));
        }
    }
    Ok(())
}

pub async fn audit_customer(
    lake: &Lake,
    customer: &str,
    selector: &Selector,
) -> Result<CustomerAudit> {
    let run = select_run(lake, selector).await?;
    let key = pseudonym_key(&run)?;
    let stored_id = match &key {
        Some(k) => k.pseudonym(customer),
        None => customer.to_string(),
    };
    let (recorded, now) = lake.version_of(&run, SEGMENTS).await?;
    let segments = lake.read(SEGMENTS, Some(now)).await?;
    let rows = rows_with_key(&segments, &stored_id)?;
    let key_column = segments
        .first()
        .map(|b| b.schema().field(0).name().clone())
        .unwrap_or_else(|| "customer_id".into());
    let assignment = rows_as_json(&rows)?.into_iter().next().ok_or_else(|| {
        AuditError::NotFound(format!(
            "customer `{customer}` is not in the segmentation of run {} (`{SEGMENTS}` version \
             {now}, {} customers, key column `{key_column}`){}",
            run.run_id,
            segments.iter().map(|b| b.num_rows()).sum::<usize>(),
            if key.is_some() {
                "; ids there are pseudonyms, and the key used to look it up may differ"
            } else {
                ""
            }
        ))
    })?;
    let models = match lake.version_of(&run, "models").await {
        Ok((_, version)) => {
            let batches = lake.read("models", Some(version)).await?;
            rows_as_json(&batches)?
                .into_iter()
                .filter(|m| m.get("run_id").and_then(Value::as_str) == Some(run.run_id.as_str()))
                .map(|mut m| {
                    // The serialised model is for scoring, not for reading.
                    m.remove("model");
                    m
                })
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let screening = crate::screening::customer_screening(lake, &run, &stored_id).await?;
    let alerts_and_cases = alerts::customer_alerts(lake, &run, &key_column, &stored_id).await?;
    Ok(CustomerAudit {
        customer: customer.to_string(),
        stored_id,
        pseudonymised: key.is_some(),
        in_force_at: match selector {
            Selector::AsOf(t) => Some(*t),
            Selector::Run(_) => None,
        },
        run: RunSummary::of(&run),
        segments_version: recorded,
        segments_version_now: now,
        assignment,
        models,
        inputs: run.inputs.iter().map(InputVersion::of).collect(),
        sql_files: run.sql_files.iter().map(SqlHash::of).collect(),
        screening,
        alerts_and_cases,
        reproduce_command: crate::reproduce::reproduce_command(&run.run_id, &lake.root),
    })
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

impl CustomerAudit {
    /// The report as text, for a terminal.
    pub fn render(&self) -> String {
        let a = &self.assignment;
        let mut s = format!("customer {}", self.customer);
        if self.pseudonymised {
            s += &format!(" (stored as pseudonym {})", self.stored_id);
        }
        s += "\n";
        if let Some(t) = self.in_force_at {
            s += &format!("segmentation in force at {}\n", t.to_rfc3339());
        }
        s += &format!(
            "  segment        {} \"{}\" (distance to centre {})\n",
            text(a.get("segment_id")),
            text(a.get("segment_label")),
            text(a.get("distance"))
        );
        if a.contains_key("risk_score") {
            s += &format!(
                "  risk           score {}, band {}\n",
                text(a.get("risk_score")),
                text(a.get("risk_band"))
            );
            if let Some(Value::Array(reasons)) = a.get("reasons") {
                s += "  reasons (largest contribution to the risk score first)\n";
                for r in reasons {
                    s += &format!(
                        "    {:<32} value {:<14} contribution {}\n",
                        text(r.get("feature")),
                        text(r.get("value")),
                        text(r.get("contribution"))
                    );
                }
            }
        }
        let r = &self.run;
        s += &format!(
            "run {} (job {}, {})\n  data as of {}, published {}, seed {}, seglake {}\n",
            r.run_id,
            r.job_name,
            r.status,
            r.as_of.to_rfc3339(),
            r.finished_at.to_rfc3339(),
            r.seed,
            r.seglake_version
        );
        s += &format!("  spec {} (sha256 {})\n", r.spec_path, r.spec_sha256);
        s += &format!("  segments version {}", self.segments_version);
        if self.segments_version_now != self.segments_version {
            s += &format!(
                " (now read at version {}, rewritten by an erasure)",
                self.segments_version_now
            );
        }
        s += "\n";
        for m in &self.models {
            s += &format!(
                "  model {:<8} algorithm {}, k {}, models version {}\n",
                text(m.get("kind")),
                text(m.get("algorithm")),
                text(m.get("k")),
                text(a.get("model_version"))
            );
        }
        s += "inputs (at the versions the run read)\n";
        for i in &self.inputs {
            s += &i.render();
        }
        if let Some(screening) = &self.screening {
            s += &screening.render();
        }
        if let Some(alerts) = &self.alerts_and_cases {
            s += &alerts.render();
        }
        s += "SQL (sha256)\n";
        for f in &self.sql_files {
            s += &format!("  {:<24} {}\n", f.view, f.sha256);
        }
        s += &format!("reproduce with\n  {}\n", self.reproduce_command);
        s
    }
}
