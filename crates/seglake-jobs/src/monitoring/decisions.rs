//! The case decisions of the outcomes source (`[segments] outcomes`:
//! the key, `outcome`, `decided_at` and, if it has one, `alert_date`), as
//! outcomes analysis and the case KPIs read them.

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_features::FeatureEngine;
use seglake_spec::outcomes::{Outcome, OutcomeVocabulary};

use super::rows::{numbers, texts};
use crate::error::Result;

/// One decided case.
pub(crate) struct Decision {
    /// The customer, as published.
    pub customer: String,
    /// A SAR was filed or the alert was a true positive.
    pub confirmed: bool,
    pub false_positive: bool,
    pub decided_at: DateTime<Utc>,
    /// When the case's alert was raised, when the source says.
    pub alerted_at: Option<DateTime<Utc>>,
}

/// The decisions up to `as_of`; `None` when the source has no
/// `decided_at` or `outcome` column (it cannot say when a case closed).
/// Times are read to the second; codes mean what `vocabulary` says (the
/// run stopped already on a code it does not list).
pub(crate) async fn decisions(
    engine: &FeatureEngine,
    source: &str,
    key: &str,
    vocabulary: &OutcomeVocabulary,
    as_of: DateTime<Utc>,
    published_key: &(dyn Fn(&str) -> String + Sync),
) -> Result<Option<Vec<Decision>>> {
    let schema = engine.table_schema(source).await?;
    if schema.index_of("decided_at").is_err() || schema.index_of("outcome").is_err() {
        return Ok(None);
    }
    let alerted = if schema.index_of("alert_date").is_ok() {
        "to_unixtime(CAST(alert_date AS TIMESTAMP))"
    } else {
        "CAST(NULL AS BIGINT)"
    };
    let sql = format!(
        "SELECT CAST(\"{key}\" AS VARCHAR) AS customer, CAST(outcome AS VARCHAR) AS outcome, \
         to_unixtime(decided_at) AS decided_at, {alerted} AS alerted_at FROM \"{source}\""
    );
    let batches = engine
        .query(&format!("case decisions from source `{source}`"), &sql)
        .await?;
    let mut decided = decode(&batches, vocabulary, published_key);
    decided.retain(|d| d.decided_at <= as_of);
    Ok(Some(decided))
}

fn decode(
    batches: &[RecordBatch],
    vocabulary: &OutcomeVocabulary,
    published_key: &dyn Fn(&str) -> String,
) -> Vec<Decision> {
    let customers = texts(batches, "customer").unwrap_or_default();
    let outcomes = texts(batches, "outcome").unwrap_or_default();
    let decided = numbers(batches, "decided_at").unwrap_or_default();
    let alerted = numbers(batches, "alerted_at").unwrap_or_default();
    let time = |t: f64| DateTime::from_timestamp(t as i64, 0).filter(|_| t.is_finite());
    customers
        .into_iter()
        .zip(outcomes)
        .zip(decided.into_iter().zip(alerted))
        .filter_map(|((c, o), (d, a))| {
            let outcome = vocabulary.outcome(&o?)?;
            Some(Decision {
                customer: published_key(&c?),
                confirmed: outcome.confirms(),
                false_positive: outcome == Outcome::FalsePositive,
                decided_at: time(d)?,
                alerted_at: time(a),
            })
        })
        .collect()
}
