//! Backtests: the job's rules run again over past runs' published tables
//! (their `segments`, `segment_profiles` and the `segments` before them),
//! with the segment-specific thresholds or the one-size ones everywhere.
//! Alerts are selected as a run selects them (stable ids, `suppress_for`),
//! against the alerts this replay raised so far rather than the lake's:
//! the backtest judges the rule set being replayed, not the one that ran.

use std::collections::BTreeSet;

use arrow::array::{Array, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use seglake_features::FeatureEngine;
use seglake_lake::cases::CONFIRMING_OUTCOMES;
use seglake_lake::feedback::CUSTOMER_COLUMN;
use seglake_spec::{FEEDBACK_SOURCE, JobSpec, RulesSpec};

use super::alerts::{AlertContext, PriorAlerts, segment_rows, select};
use super::thresholds::ThresholdSet;
use super::{RulesRun, all_hits, register};
use crate::error::{JobError, Result};

/// A past run's published tables, as a replay reads them.
pub struct ReplayTables {
    pub segments: (SchemaRef, Vec<RecordBatch>),
    pub profiles: (SchemaRef, Vec<RecordBatch>),
    /// The `segments` version before the run's (empty for a first run).
    pub previous_segments: Vec<RecordBatch>,
}

/// One alert a replay raised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplayedAlert {
    pub run_id: String,
    pub rule: String,
    pub customer: String,
    /// The customer's segment label in that run ("" when not segmented).
    pub segment: String,
    pub alert_id: String,
}

/// A rule set replayed run after run, oldest first.
pub struct Replay<'a> {
    spec: &'a JobSpec,
    rules: &'a RulesSpec,
    set: ThresholdSet,
    prior: PriorAlerts,
}

impl<'a> Replay<'a> {
    pub fn new(spec: &'a JobSpec, set: ThresholdSet) -> Result<Self> {
        let rules = spec.rules.as_ref().ok_or_else(|| JobError::Rules {
            message: format!("job `{}` has no [rules] section to backtest", spec.name),
        })?;
        Ok(Replay {
            spec,
            rules,
            set,
            prior: PriorAlerts::default(),
        })
    }

    /// The alerts the rules raise in the run `run_id` at `as_of`, on an
    /// engine with that run's sources, views and feature table registered.
    pub async fn run(
        &mut self,
        engine: &FeatureEngine,
        tables: &ReplayTables,
        run_id: &str,
        as_of: DateTime<Utc>,
    ) -> Result<Vec<ReplayedAlert>> {
        let run = RulesRun {
            spec: self.spec,
            rules: self.rules,
            engine,
            run_id,
            as_of,
            pseudonyms: None,
        };
        let previous = tables.previous_segments.clone();
        let values = register(&run, &tables.segments, &tables.profiles, previous, self.set).await?;
        let segments = segment_rows(&tables.segments, &self.spec.key)?;
        let as_of_micros = as_of.timestamp_micros();
        let cx = AlertContext {
            prior: &self.prior,
            segments: &segments,
            thresholds: &values,
            as_of_micros,
        };
        let mut out = Vec::new();
        for (rule, mut hits) in self.rules.rules.iter().zip(all_hits(&run).await?) {
            hits.sort_by(|a, b| a.key.cmp(&b.key));
            let (raised, _) = select(rule, hits, &cx);
            out.extend(raised.into_iter().map(|a| ReplayedAlert {
                run_id: run_id.to_string(),
                segment: a.segment.map(|s| s.segment_label).unwrap_or_default(),
                rule: a.rule,
                customer: a.key,
                alert_id: a.alert_id,
            }));
        }
        for a in &out {
            self.prior
                .add(&a.rule, &a.customer, as_of_micros, &a.alert_id);
        }
        Ok(out)
    }
}

/// The customers whose suspicion was confirmed: a case outcome (the
/// `[segments] outcomes` table, its codes read through the job's
/// `[outcomes]` vocabulary) or an analyst's disposition (`feedback`) that
/// is one of [`CONFIRMING_OUTCOMES`], as `engine` holds them.
pub async fn confirmed_customers(
    spec: &JobSpec,
    engine: &FeatureEngine,
) -> Result<BTreeSet<String>> {
    let codes = CONFIRMING_OUTCOMES
        .iter()
        .map(|c| format!("'{c}'"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "SELECT DISTINCT CAST({CUSTOMER_COLUMN} AS VARCHAR) AS k FROM {FEEDBACK_SOURCE} \
         WHERE kind = 'disposition' AND outcome IN ({codes})"
    );
    if let Some(outcomes) = spec.segments.as_ref().and_then(|s| s.outcomes.as_ref()) {
        // The outcome table holds the bank's codes: those the job's
        // vocabulary maps to a confirming outcome (SQL string literals,
        // quotes doubled).
        let bank_codes: Vec<String> = spec
            .outcome_vocabulary
            .codes()
            .filter(|(_, outcome)| outcome.confirms())
            .map(|(code, _)| format!("'{}'", code.replace('\'', "''")))
            .collect();
        if !bank_codes.is_empty() {
            let key = &spec.key;
            sql.push_str(&format!(
                " UNION SELECT DISTINCT CAST(\"{key}\" AS VARCHAR) AS k FROM \"{outcomes}\" \
                 WHERE CAST(outcome AS VARCHAR) IN ({})",
                bank_codes.join(", ")
            ));
        }
    }
    let batches = engine
        .query("confirmed customers (case outcomes and dispositions)", &sql)
        .await?;
    let mut out = BTreeSet::new();
    for b in &batches {
        let keys = cast(b.column(0), &DataType::Utf8).map_err(|source| JobError::Output {
            table: "confirmed customers".into(),
            source,
        })?;
        let keys = keys.as_any().downcast_ref::<StringArray>().expect("utf8");
        out.extend(keys.iter().flatten().map(str::to_string));
    }
    Ok(out)
}
