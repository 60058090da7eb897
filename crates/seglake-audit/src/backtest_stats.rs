//! The numbers of a rules backtest (pure: alerts and outcomes in, counts
//! out): per rule and segment the alerts, the alerts on confirmed customers
//! (SAR filed or true positive), false positives, alerts per SAR; the
//! confirmed customers no rule caught; and, comparing two threshold sets,
//! the false-positive reduction and the recall of each, with bootstrap
//! confidence intervals over customers.

use std::collections::{BTreeMap, BTreeSet};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use seglake_jobs::rules::ReplayedAlert;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Counts {
    pub alerts: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    /// true positives / alerts
    pub hit_rate: Option<f64>,
    /// alerts / true positives
    pub alerts_per_sar: Option<f64>,
}

impl Counts {
    fn add(&mut self, confirmed: bool) {
        self.alerts += 1;
        if confirmed {
            self.true_positives += 1;
        } else {
            self.false_positives += 1;
        }
    }

    fn finish(mut self) -> Self {
        let (a, t) = (self.alerts as f64, self.true_positives as f64);
        self.hit_rate = (self.alerts > 0).then(|| t / a);
        self.alerts_per_sar = (self.true_positives > 0).then(|| a / t);
        self
    }
}

/// One threshold set's results.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetResult {
    pub total: Counts,
    /// rule -> segment label -> counts
    pub per_rule_segment: BTreeMap<String, BTreeMap<String, Counts>>,
    pub confirmed_customers: u64,
    pub confirmed_caught: u64,
    pub recall: Option<f64>,
    /// Confirmed customers no rule alerted on.
    pub missed: Vec<String>,
}

pub fn set_result(
    alerts: &[ReplayedAlert],
    customers: &BTreeSet<String>,
    confirmed: &BTreeSet<String>,
) -> SetResult {
    let mut out = SetResult::default();
    let mut caught = BTreeSet::new();
    for a in alerts {
        let is_confirmed = confirmed.contains(&a.customer);
        out.total.add(is_confirmed);
        out.per_rule_segment
            .entry(a.rule.clone())
            .or_default()
            .entry(a.segment.clone())
            .or_default()
            .add(is_confirmed);
        if is_confirmed {
            caught.insert(a.customer.clone());
        }
    }
    let population: BTreeSet<&String> = customers.intersection(confirmed).collect();
    out.confirmed_customers = population.len() as u64;
    out.confirmed_caught = caught.len() as u64;
    out.recall = (!population.is_empty()).then(|| caught.len() as f64 / population.len() as f64);
    out.missed = population
        .into_iter()
        .filter(|c| !caught.contains(*c))
        .cloned()
        .collect();
    out.total = std::mem::take(&mut out.total).finish();
    for segments in out.per_rule_segment.values_mut() {
        for c in segments.values_mut() {
            *c = std::mem::take(c).finish();
        }
    }
    out
}

/// A statistic and its 95% bootstrap interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// 1 - FP(segment-specific) / FP(global)
    pub false_positive_reduction: Estimate,
    /// recall(segment-specific) - recall(global)
    pub recall_change: Estimate,
    pub resamples: usize,
    pub seed: u64,
}

/// Per customer: false positives and whether caught, in each set.
#[derive(Debug, Clone, Copy, Default)]
struct PerCustomer {
    confirmed: bool,
    fp: [u64; 2],
    caught: [bool; 2],
}

fn per_customer(
    sets: [&[ReplayedAlert]; 2],
    customers: &BTreeSet<String>,
    confirmed: &BTreeSet<String>,
) -> Vec<PerCustomer> {
    let index: BTreeMap<&String, usize> =
        customers.iter().enumerate().map(|(i, c)| (c, i)).collect();
    let mut out: Vec<PerCustomer> = customers
        .iter()
        .map(|c| PerCustomer {
            confirmed: confirmed.contains(c),
            ..PerCustomer::default()
        })
        .collect();
    for (s, alerts) in sets.iter().enumerate() {
        for a in alerts.iter() {
            let Some(&i) = index.get(&a.customer) else {
                continue;
            };
            if out[i].confirmed {
                out[i].caught[s] = true;
            } else {
                out[i].fp[s] += 1;
            }
        }
    }
    out
}

/// (FP reduction, recall change) of one sample of customers.
fn statistics(sample: impl Iterator<Item = PerCustomer>) -> (f64, f64) {
    let (mut fp, mut caught, mut confirmed) = ([0u64; 2], [0u64; 2], 0u64);
    for c in sample {
        fp[0] += c.fp[0];
        fp[1] += c.fp[1];
        if c.confirmed {
            confirmed += 1;
            caught[0] += c.caught[0] as u64;
            caught[1] += c.caught[1] as u64;
        }
    }
    let reduction = if fp[1] == 0 {
        0.0
    } else {
        1.0 - fp[0] as f64 / fp[1] as f64
    };
    let recall = |i: usize| {
        if confirmed == 0 {
            0.0
        } else {
            caught[i] as f64 / confirmed as f64
        }
    };
    (reduction, recall(0) - recall(1))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

/// Segment-specific (`specific`) against one-size (`global`) alerts over
/// the same customers, with `resamples` bootstrap draws of customers.
pub fn compare(
    specific: &[ReplayedAlert],
    global: &[ReplayedAlert],
    customers: &BTreeSet<String>,
    confirmed: &BTreeSet<String>,
    resamples: usize,
    seed: u64,
) -> Comparison {
    let rows = per_customer([specific, global], customers, confirmed);
    let (reduction, recall) = statistics(rows.iter().copied());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut reductions, mut recalls) = (Vec::new(), Vec::new());
    for _ in 0..resamples {
        let sample = (0..rows.len()).map(|_| rows[rng.random_range(0..rows.len())]);
        let (a, b) = statistics(sample);
        reductions.push(a);
        recalls.push(b);
    }
    reductions.sort_by(f64::total_cmp);
    recalls.sort_by(f64::total_cmp);
    let estimate = |value: f64, draws: &[f64]| Estimate {
        value,
        low: if draws.is_empty() {
            value
        } else {
            percentile(draws, 0.025)
        },
        high: if draws.is_empty() {
            value
        } else {
            percentile(draws, 0.975)
        },
    };
    Comparison {
        false_positive_reduction: estimate(reduction, &reductions),
        recall_change: estimate(recall, &recalls),
        resamples,
        seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(rule: &str, customer: &str) -> ReplayedAlert {
        ReplayedAlert {
            run_id: "r".into(),
            rule: rule.into(),
            customer: customer.into(),
            segment: "s".into(),
            alert_id: format!("{rule}-{customer}"),
        }
    }

    #[test]
    fn hand_computed_case() {
        let customers: BTreeSet<String> = ["a", "b", "c", "d"].map(String::from).into();
        let confirmed: BTreeSet<String> = ["a", "d"].map(String::from).into();
        let specific = [alert("x", "a"), alert("x", "b")];
        let global = [
            alert("x", "a"),
            alert("x", "b"),
            alert("y", "b"),
            alert("y", "c"),
        ];
        let r = set_result(&specific, &customers, &confirmed);
        assert_eq!(
            (
                r.total.alerts,
                r.total.true_positives,
                r.total.false_positives
            ),
            (2, 1, 1)
        );
        assert_eq!(r.recall, Some(0.5));
        assert_eq!(r.missed, vec!["d".to_string()]);
        let c = compare(&specific, &global, &customers, &confirmed, 200, 7);
        // FP 1 against 3; recall 1/2 in both.
        assert!((c.false_positive_reduction.value - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(c.recall_change.value, 0.0);
        assert!(c.false_positive_reduction.low <= c.false_positive_reduction.value);
        assert!(c.false_positive_reduction.high >= c.false_positive_reduction.value);
    }
}
