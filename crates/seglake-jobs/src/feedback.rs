//! The lake's `feedback` table in a run: pinned like any Delta source (so
//! lineage records the version read and `reproduce` reads it again),
//! registered as `feedback` for the job's SQL (dispositions as risk
//! labels), and summed per segment for `segment_profiles` and the run's
//! validation metrics.

use std::collections::HashMap;

use arrow::array::{Array, Int64Array, StringArray};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use seglake_features::FeatureEngine;
use seglake_lake::feedback::{self, COMPLIANCE_TOPIC};
use seglake_lake::{PinnedInput, resolve_input, table_location};
use seglake_spec::{FEEDBACK_SOURCE, Location, SourceFormat, SourceSpec};
use serde_json::json;

use crate::error::Result;

/// The lake's feedback table as a Delta source.
pub fn feedback_source(root: &Location) -> SourceSpec {
    SourceSpec {
        name: FEEDBACK_SOURCE.to_string(),
        location: table_location(root, feedback::FEEDBACK_TABLE),
        format: SourceFormat::Delta,
        version: None,
        dedupe_on: Vec::new(),
        postgres: None,
    }
}

/// The feedback table pinned at its latest version, when the lake has one.
pub(crate) async fn pin(root: &Location) -> Result<Option<PinnedInput>> {
    let source = feedback_source(root);
    if !seglake_lake::table_exists(&source.location).await? {
        return Ok(None);
    }
    Ok(Some(resolve_input(&source).await?))
}

/// Registers an empty `feedback` table when the run reads none, so a job's
/// SQL may always name it.
pub(crate) fn register_empty_if_absent(
    engine: &FeatureEngine,
    inputs: &[PinnedInput],
) -> Result<()> {
    if !inputs.iter().any(|i| i.spec.name == FEEDBACK_SOURCE) {
        engine.register_batches(FEEDBACK_SOURCE, feedback::schema(), Vec::new())?;
    }
    Ok(())
}

/// One customer's feedback known before the run's as_of.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct CustomerFeedback {
    pub nps_responses: u64,
    pub promoters: u64,
    pub detractors: u64,
    pub csat_responses: u64,
    pub csat_sum: u64,
    /// NPS responses about a compliance contact.
    pub compliance_responses: u64,
    pub compliance_promoters: u64,
    pub compliance_detractors: u64,
    pub dispositions: u64,
    pub false_positives: u64,
    /// SAR filed or true positive.
    pub confirmed: u64,
}

impl CustomerFeedback {
    fn add(&mut self, o: &CustomerFeedback) {
        self.nps_responses += o.nps_responses;
        self.promoters += o.promoters;
        self.detractors += o.detractors;
        self.csat_responses += o.csat_responses;
        self.csat_sum += o.csat_sum;
        self.compliance_responses += o.compliance_responses;
        self.compliance_promoters += o.compliance_promoters;
        self.compliance_detractors += o.compliance_detractors;
        self.dispositions += o.dispositions;
        self.false_positives += o.false_positives;
        self.confirmed += o.confirmed;
    }

    /// Net promoter score, -100..100: % promoters (9-10) - % detractors (0-6).
    pub fn nps(&self) -> Option<f64> {
        nps(self.nps_responses, self.promoters, self.detractors)
    }

    pub fn compliance_nps(&self) -> Option<f64> {
        nps(
            self.compliance_responses,
            self.compliance_promoters,
            self.compliance_detractors,
        )
    }

    /// Mean CSAT score (1-5).
    pub fn csat(&self) -> Option<f64> {
        (self.csat_responses > 0).then(|| self.csat_sum as f64 / self.csat_responses as f64)
    }

    pub fn false_positive_rate(&self) -> Option<f64> {
        (self.dispositions > 0).then(|| self.false_positives as f64 / self.dispositions as f64)
    }
}

fn nps(n: u64, promoters: u64, detractors: u64) -> Option<f64> {
    (n > 0).then(|| 100.0 * (promoters as f64 - detractors as f64) / n as f64)
}

/// Feedback per customer, counting only items that occurred before the
/// run's as_of (what was known at the run's point in time).
pub(crate) async fn per_customer(
    engine: &FeatureEngine,
) -> Result<HashMap<String, CustomerFeedback>> {
    let sql = format!(
        "SELECT f.customer_id, \
           SUM(CASE WHEN f.survey = 'nps' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'nps' AND f.score >= 9 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'nps' AND f.score <= 6 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'csat' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'csat' THEN f.score ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'nps' AND f.topic = '{COMPLIANCE_TOPIC}' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'nps' AND f.topic = '{COMPLIANCE_TOPIC}' AND f.score >= 9 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.survey = 'nps' AND f.topic = '{COMPLIANCE_TOPIC}' AND f.score <= 6 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.kind = 'disposition' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.outcome = 'false_positive' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN f.outcome IN ('sar_filed', 'true_positive') THEN 1 ELSE 0 END) \
         FROM \"{FEEDBACK_SOURCE}\" f CROSS JOIN run_context r \
         WHERE f.occurred_at < r.as_of GROUP BY f.customer_id"
    );
    let batches = engine
        .query(
            "per-customer feedback from the lake's `feedback` table",
            &sql,
        )
        .await?;
    let mut out = HashMap::new();
    for b in batches {
        let ids = cast(b.column(0), &DataType::Utf8).expect("text to text");
        let ids = ids.as_any().downcast_ref::<StringArray>().expect("utf8");
        let counts: Vec<Int64Array> = (1..b.num_columns())
            .map(|i| {
                cast(b.column(i), &DataType::Int64)
                    .expect("sums are integers")
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .expect("int64")
                    .clone()
            })
            .collect();
        for row in 0..b.num_rows() {
            let c = |i: usize| counts[i].value(row).max(0) as u64;
            out.insert(
                ids.value(row).to_string(),
                CustomerFeedback {
                    nps_responses: c(0),
                    promoters: c(1),
                    detractors: c(2),
                    csat_responses: c(3),
                    csat_sum: c(4),
                    compliance_responses: c(5),
                    compliance_promoters: c(6),
                    compliance_detractors: c(7),
                    dispositions: c(8),
                    false_positives: c(9),
                    confirmed: c(10),
                },
            );
        }
    }
    Ok(out)
}

/// Feedback summed per published segment id.
pub(crate) fn per_segment(
    feedback: &HashMap<String, CustomerFeedback>,
    keys: &[String],
    segment_ids: &[i32],
    k: usize,
) -> Vec<CustomerFeedback> {
    let mut out = vec![CustomerFeedback::default(); k];
    for (key, &segment) in keys.iter().zip(segment_ids) {
        if let Some(f) = feedback.get(key) {
            out[segment as usize].add(f);
        }
    }
    out
}

/// The run's `feedback_validation` metrics: every segment's feedback, the
/// segments ranked by the false-positive rate of their dispositions, and
/// by how their customers rate compliance contacts (lowest NPS first).
pub(crate) fn validation_json(
    segments: &[CustomerFeedback],
    labels: &[String],
) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = segments
        .iter()
        .enumerate()
        .map(|(id, f)| {
            json!({
                "segment_id": id,
                "segment_label": labels[id],
                "nps_responses": f.nps_responses,
                "nps": f.nps(),
                "csat_responses": f.csat_responses,
                "csat": f.csat(),
                "compliance_contact_responses": f.compliance_responses,
                "compliance_contact_nps": f.compliance_nps(),
                "dispositions": f.dispositions,
                "false_positives": f.false_positives,
                "false_positive_rate": f.false_positive_rate(),
                "confirmed": f.confirmed,
            })
        })
        .collect();
    let ranked = |value: &dyn Fn(&CustomerFeedback) -> Option<f64>, descending: bool| {
        let mut ids: Vec<(usize, f64)> = segments
            .iter()
            .enumerate()
            .filter_map(|(id, f)| value(f).map(|v| (id, v)))
            .collect();
        ids.sort_by(|a, b| {
            let order = a.1.total_cmp(&b.1);
            (if descending { order.reverse() } else { order }).then(a.0.cmp(&b.0))
        });
        ids.into_iter().map(|(id, _)| id).collect::<Vec<_>>()
    };
    json!({
        "survey_responses": segments.iter().map(|f| f.nps_responses + f.csat_responses).sum::<u64>(),
        "dispositions": segments.iter().map(|f| f.dispositions).sum::<u64>(),
        "segments": rows,
        "most_false_positives": ranked(&CustomerFeedback::false_positive_rate, true),
        "least_satisfied_with_compliance_contacts": ranked(&CustomerFeedback::compliance_nps, false),
    })
}
