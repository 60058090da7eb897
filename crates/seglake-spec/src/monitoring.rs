//! The `[monitoring]` section: limits a run's models must stay within to
//! become the champion. A run that goes past one still publishes its
//! tables, but its models are the challenger until `seglake promote`.
//!
//! ```toml
//! [monitoring]
//! max_feature_psi = 0.25
//! min_auc = 0.7
//! ```
//!
//! Also the names of the metrics the `monitoring` table holds, defined once
//! here for the run that writes them and the commands that read them.

use std::collections::BTreeMap;

use crate::error::Problem;

/// PSI of each model feature against the previous run (`feature` column).
pub const FEATURE_PSI: &str = "feature_psi";
/// PSI of the risk score against the previous run.
pub const RISK_SCORE_PSI: &str = "risk_score_psi";
/// Each segment's share of customers (`segment` column).
pub const SEGMENT_SHARE: &str = "segment_share";
/// Each segment's share minus its share in the previous run.
pub const SEGMENT_SHARE_CHANGE: &str = "segment_share_change";
/// The share of customers (in both runs) whose segment changed; `count`
/// holds how many.
pub const CUSTOMERS_CHANGED_SEGMENT: &str = "customers_changed_segment";
/// The run's own risk model's AUC on its held-out validation customers.
pub const VALIDATION_AUC: &str = "validation_auc";
/// An earlier risk model (`model_run_id`) judged on case outcomes decided
/// after its `as_of`, up to this run's: AUC, and precision and recall of
/// each band (`band`) and above.
pub const OUTCOMES_AUC: &str = "outcomes_auc";
pub const OUTCOMES_PRECISION: &str = "outcomes_precision";
pub const OUTCOMES_RECALL: &str = "outcomes_recall";
/// Alert and case KPIs, when the job has rules.
pub const ALERTS: &str = "alerts";
pub const SAR_CONVERSION: &str = "sar_conversion";
pub const FALSE_POSITIVE_RATE: &str = "false_positive_rate";
pub const ALERTS_PER_SAR: &str = "alerts_per_sar";
pub const MEDIAN_DAYS_TO_DECISION: &str = "median_days_to_decision";
/// Feedback KPIs per segment.
pub const NPS: &str = "nps";
pub const CSAT: &str = "csat";
/// How many limits the run went past (0: its models are the champion).
pub const GATES_BREACHED: &str = "gates_breached";

/// Whether a limit is a ceiling or a floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Max,
    Min,
}

/// Every limit `[monitoring]` accepts: its key, the metric it checks and
/// whether the metric must stay below or above it. `max_segment_share_change`
/// bounds the absolute change of any segment's share.
pub const LIMITS: [(&str, &str, Bound); 6] = [
    ("max_feature_psi", FEATURE_PSI, Bound::Max),
    ("max_risk_score_psi", RISK_SCORE_PSI, Bound::Max),
    ("max_segment_share_change", SEGMENT_SHARE_CHANGE, Bound::Max),
    (
        "max_customers_changed_segment",
        CUSTOMERS_CHANGED_SEGMENT,
        Bound::Max,
    ),
    ("min_auc", VALIDATION_AUC, Bound::Min),
    ("min_outcomes_auc", OUTCOMES_AUC, Bound::Min),
];

/// One limit of the job.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    /// The key as written (`max_feature_psi`).
    pub key: String,
    pub metric: &'static str,
    pub bound: Bound,
    pub value: f64,
}

impl Limit {
    /// Whether `value` of the limit's metric goes past it.
    pub fn breached_by(&self, value: f64) -> bool {
        match self.bound {
            Bound::Max if self.metric == SEGMENT_SHARE_CHANGE => value.abs() > self.value,
            Bound::Max => value > self.value,
            Bound::Min => value < self.value,
        }
    }
}

/// The `[monitoring]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitoringSpec {
    pub limits: Vec<Limit>,
}

impl MonitoringSpec {
    /// The limit on `metric`, if the job sets one.
    pub fn limit_on(&self, metric: &str) -> Option<&Limit> {
        self.limits.iter().find(|l| l.metric == metric)
    }
}

/// Checks the section: every key a known limit, every value a finite,
/// non-negative number. Every problem at once.
pub fn validate(raw: &BTreeMap<String, toml::Value>) -> Result<MonitoringSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut limits = Vec::new();
    for (key, value) in raw {
        let full = format!("monitoring.{key}");
        let Some((_, metric, bound)) = LIMITS.iter().find(|(k, _, _)| k == key) else {
            let known: Vec<&str> = LIMITS.iter().map(|(k, _, _)| *k).collect();
            problems.push(Problem::new(
                full,
                format!("unknown limit; the limits are {}", known.join(", ")),
            ));
            continue;
        };
        let number = match value {
            toml::Value::Float(f) => Some(*f),
            toml::Value::Integer(i) => Some(*i as f64),
            _ => None,
        };
        match number {
            Some(v) if v.is_finite() && v >= 0.0 => limits.push(Limit {
                key: key.clone(),
                metric,
                bound: *bound,
                value: v,
            }),
            _ => problems.push(Problem::new(
                full,
                format!("`{value}` is not a finite number of 0 or more"),
            )),
        }
    }
    if problems.is_empty() {
        Ok(MonitoringSpec { limits })
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(text: &str) -> BTreeMap<String, toml::Value> {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn known_limits_are_read_with_their_metric_and_bound() {
        let spec = validate(&section("max_feature_psi = 0.25\nmin_auc = 1")).unwrap();
        assert_eq!(spec.limit_on(FEATURE_PSI).unwrap().value, 0.25);
        let auc = spec.limit_on(VALIDATION_AUC).unwrap();
        assert_eq!((auc.bound, auc.value), (Bound::Min, 1.0));
        assert!(auc.breached_by(0.9) && !auc.breached_by(1.0));
    }

    #[test]
    fn a_share_change_breaches_in_either_direction() {
        let spec = validate(&section("max_segment_share_change = 0.05")).unwrap();
        let limit = spec.limit_on(SEGMENT_SHARE_CHANGE).unwrap();
        assert!(limit.breached_by(-0.06) && limit.breached_by(0.06));
        assert!(!limit.breached_by(-0.05));
    }

    #[test]
    fn unknown_negative_and_nan_limits_are_each_named() {
        let problems = validate(&section(
            "max_psi = 0.2\nmin_auc = -0.1\nmax_feature_psi = nan",
        ))
        .unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "monitoring.max_feature_psi",
                "monitoring.max_psi",
                "monitoring.min_auc"
            ]
        );
        assert!(
            problems[1]
                .message
                .contains("max_feature_psi, max_risk_score_psi")
        );
        assert!(problems[2].message.contains("-0.1"));
    }
}
