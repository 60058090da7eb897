//! The KPIs a compliance team charts per run: the alerts the rules raised,
//! the case decisions since the previous run (SAR conversion, false
//! positive rate, alerts per SAR, median days from alert to decision), and
//! the customers' feedback (NPS, CSAT); each over all customers and per
//! segment.

use std::collections::{BTreeMap, HashMap};

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};
use seglake_spec::monitoring::{
    ALERTS, ALERTS_PER_SAR, CSAT, FALSE_POSITIVE_RATE, MEDIAN_DAYS_TO_DECISION, NPS, SAR_CONVERSION,
};

use super::decisions::Decision;
use super::rows::{Row, texts};
use crate::feedback::CustomerFeedback;

/// The alerts this run raised, in all and per segment label.
pub(crate) fn alerts(alerts: &[RecordBatch]) -> Vec<Row> {
    let labels = texts(alerts, "segment_label").unwrap_or_default();
    let mut per: BTreeMap<Option<String>, i64> = BTreeMap::new();
    for label in labels {
        *per.entry(None).or_default() += 1;
        if let Some(label) = label {
            *per.entry(Some(label)).or_default() += 1;
        }
    }
    per.entry(None).or_default();
    per.into_iter()
        .map(|(segment, n)| Row {
            segment,
            count: Some(n),
            ..Row::new(ALERTS, n as f64)
        })
        .collect()
}

/// What the decisions of one scope add up to.
#[derive(Default)]
struct Decided {
    cases: i64,
    confirmed: i64,
    false_positives: i64,
    days: Vec<f64>,
}

/// The case KPIs of the decisions made after `after` (all of them when
/// `None`), in all and per the customer's current segment (`segment_of`,
/// by published key).
pub(crate) fn cases(
    decisions: &[Decision],
    after: Option<DateTime<Utc>>,
    segment_of: &HashMap<String, String>,
) -> Vec<Row> {
    let mut per: BTreeMap<Option<String>, Decided> = BTreeMap::new();
    for d in decisions
        .iter()
        .filter(|d| after.is_none_or(|a| d.decided_at > a))
    {
        let segment = segment_of.get(&d.customer).cloned();
        for scope in [None, segment]
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
        {
            let s = per.entry(scope).or_default();
            s.cases += 1;
            s.confirmed += d.confirmed as i64;
            s.false_positives += d.false_positive as i64;
            if let Some(alerted) = d.alerted_at {
                s.days
                    .push((d.decided_at - alerted).num_seconds() as f64 / 86_400.0);
            }
        }
    }
    per.into_iter()
        .flat_map(|(segment, s)| case_rows(segment, s))
        .collect()
}

fn case_rows(segment: Option<String>, mut s: Decided) -> Vec<Row> {
    let about = |metric, value: f64, count: i64| Row {
        segment: segment.clone(),
        count: Some(count),
        ..Row::new(metric, value)
    };
    let cases = s.cases as f64;
    let mut rows = vec![
        about(SAR_CONVERSION, s.confirmed as f64 / cases, s.cases),
        about(
            FALSE_POSITIVE_RATE,
            s.false_positives as f64 / cases,
            s.cases,
        ),
    ];
    if s.confirmed > 0 {
        rows.push(about(ALERTS_PER_SAR, cases / s.confirmed as f64, s.cases));
    }
    if !s.days.is_empty() {
        let n = s.days.len() as i64;
        rows.push(about(MEDIAN_DAYS_TO_DECISION, median(&mut s.days), n));
    }
    rows
}

/// The median (the mean of the middle two of an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// NPS and CSAT per segment (`feedback` by published segment id, `labels`
/// the segments' labels), where customers answered.
pub(crate) fn feedback(feedback: &[CustomerFeedback], labels: &[String]) -> Vec<Row> {
    let mut rows = Vec::new();
    for (fb, label) in feedback.iter().zip(labels) {
        let about = |metric, value: f64, count: u64| Row {
            segment: Some(label.clone()),
            count: Some(count as i64),
            ..Row::new(metric, value)
        };
        if let Some(nps) = fb.nps() {
            rows.push(about(NPS, nps, fb.nps_responses));
        }
        if let Some(csat) = fb.csat() {
            rows.push(about(CSAT, csat, fb.csat_responses));
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decided(customer: &str, outcome: &str, day: i64, alerted: Option<i64>) -> Decision {
        let at = |d: i64| DateTime::from_timestamp(d * 86_400, 0).unwrap();
        Decision {
            customer: customer.into(),
            confirmed: outcome == "sar_filed",
            false_positive: outcome == "false_positive",
            decided_at: at(day),
            alerted_at: alerted.map(at),
        }
    }

    #[test]
    fn case_kpis_by_hand() {
        let decisions = [
            decided("a", "sar_filed", 10, Some(4)),
            decided("b", "false_positive", 11, Some(10)),
            decided("c", "false_positive", 12, None),
            decided("d", "no_action", 13, Some(3)),
            decided("a", "sar_filed", 2, Some(1)), // before `after`: left out
        ];
        let segment_of = HashMap::from([("a".to_string(), "cash".to_string())]);
        let after = DateTime::from_timestamp(5 * 86_400, 0);
        let rows = cases(&decisions, after, &segment_of);
        let value = |metric, segment: Option<&str>| {
            rows.iter()
                .find(|r| r.metric == metric && r.segment.as_deref() == segment)
                .and_then(|r| r.value)
        };
        assert_eq!(value(SAR_CONVERSION, None), Some(0.25));
        assert_eq!(value(FALSE_POSITIVE_RATE, None), Some(0.5));
        assert_eq!(value(ALERTS_PER_SAR, None), Some(4.0));
        // Days to decision 6, 1, 10: the median is 6.
        assert_eq!(value(MEDIAN_DAYS_TO_DECISION, None), Some(6.0));
        assert_eq!(value(SAR_CONVERSION, Some("cash")), Some(1.0));
        assert_eq!(value(ALERTS_PER_SAR, Some("cash")), Some(1.0));
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
