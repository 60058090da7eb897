//! The report's charts as Vega-Lite specifications, each holding its data
//! inline (the page makes no request). Every value drawn is a value of the
//! published tables, as [`crate::gather`] read it.

use serde_json::{Value, json};

use crate::gather::{Risk, RunPoint, Segmentation};
use crate::projection::SampledProjection;

/// One chart of the page: `id` names its `<div>`, `spec` draws it.
pub struct Chart {
    pub id: &'static str,
    pub title: String,
    /// What the chart shows and where its numbers come from.
    pub note: String,
    pub spec: Value,
}

const SCHEMA: &str = "https://vega.github.io/schema/vega-lite/v6.json";
const WIDTH: u32 = 520;
const HEIGHT: u32 = 300;

fn spec(body: Value) -> Value {
    let mut spec = json!({"$schema": SCHEMA, "width": WIDTH, "height": HEIGHT});
    if let (Some(out), Value::Object(body)) = (spec.as_object_mut(), body) {
        out.extend(body);
    }
    spec
}

fn chart(id: &'static str, title: &str, note: String, body: Value) -> Chart {
    Chart {
        id,
        title: title.to_string(),
        note,
        spec: spec(body),
    }
}

/// The segment a profile row describes, as the axis shows it.
fn segment_name(row: &crate::gather::Row) -> String {
    let id = row.get("segment_id").and_then(Value::as_i64).unwrap_or(-1);
    format!("{id}")
}

pub fn segment_charts(seg: &Segmentation, metrics: &Value) -> Vec<Chart> {
    let mut charts = vec![
        segment_sizes(seg),
        segment_outcomes(seg),
        profile_heatmap(seg),
    ];
    charts.extend(seg.projection.as_ref().map(projection));
    charts.extend(k_sweep(metrics));
    charts
}

fn segment_sizes(seg: &Segmentation) -> Chart {
    let values: Vec<Value> = seg
        .profiles
        .iter()
        .map(|r| {
            json!({"segment": segment_name(r), "customers": r["size"], "share": r["share"],
                        "label": r["segment_label"]})
        })
        .collect();
    chart(
        "segment_sizes",
        "Customers per segment",
        "segment_profiles.size and .share".into(),
        json!({
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": true},
            "encoding": {
                "x": {"field": "segment", "type": "nominal", "sort": null, "title": "segment"},
                "y": {"field": "customers", "type": "quantitative"},
                "color": {"field": "segment", "type": "nominal", "legend": null},
                "tooltip": [{"field": "segment"}, {"field": "label"},
                            {"field": "customers", "type": "quantitative", "format": ","},
                            {"field": "share", "type": "quantitative", "format": ".1%"}]
            }
        }),
    )
}

/// Case-outcome and disposition rates per segment, side by side.
fn segment_outcomes(seg: &Segmentation) -> Chart {
    let measures = [
        ("sar_rate", "SAR filed (share of customers)"),
        ("false_positive_rate", "cases closed false positive"),
        (
            "disposition_false_positive_rate",
            "analyst dispositions: false positive",
        ),
    ];
    let values: Vec<Value> = seg
        .profiles
        .iter()
        .flat_map(|r| {
            measures.iter().filter_map(move |(column, name)| {
                let rate = r.get(*column).filter(|v| v.is_number())?;
                Some(json!({"segment": segment_name(r), "measure": name, "rate": rate}))
            })
        })
        .collect();
    chart(
        "segment_outcomes",
        "Case outcomes and dispositions per segment",
        "segment_profiles.sar_rate, .false_positive_rate, .disposition_false_positive_rate \
         (a segment without cases or dispositions has no bar)"
            .into(),
        json!({
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": true},
            "encoding": {
                "x": {"field": "segment", "type": "nominal", "sort": null},
                "xOffset": {"field": "measure"},
                "y": {"field": "rate", "type": "quantitative", "axis": {"format": ".0%"}},
                "color": {"field": "measure", "type": "nominal", "legend": {"orient": "bottom", "columns": 1}}
            }
        }),
    )
}

/// Centre z-scores: segment x feature.
fn profile_heatmap(seg: &Segmentation) -> Chart {
    let values: Vec<Value> = seg
        .profiles
        .iter()
        .flat_map(|r| {
            seg.features.iter().filter_map(move |f| {
                let z = r.get(&format!("z_{f}")).filter(|v| v.is_number())?;
                Some(json!({"segment": segment_name(r), "feature": f, "z": z, "centre": r.get(f)}))
            })
        })
        .collect();
    let mut c = chart(
        "profile_heatmap",
        "Segment profiles: centre z-scores",
        "segment_profiles.z_<feature> (centre in standard deviations from the mean) and \
         .<feature> (centre in original units, in the tooltip)"
            .into(),
        json!({
            "data": {"values": values},
            "mark": {"type": "rect", "tooltip": true},
            "encoding": {
                "x": {"field": "feature", "type": "nominal", "sort": null, "axis": {"labelAngle": -60}},
                "y": {"field": "segment", "type": "nominal", "sort": null},
                "color": {"field": "z", "type": "quantitative",
                          "scale": {"scheme": "redblue", "reverse": true, "domainMid": 0}},
                "tooltip": [{"field": "segment"}, {"field": "feature"},
                            {"field": "z", "type": "quantitative", "format": "+.2f"},
                            {"field": "centre", "type": "quantitative", "format": ",.4~g"}]
            }
        }),
    );
    c.spec["width"] = json!(14 * seg.features.len().max(10));
    c.spec["height"] = json!(22 * seg.profiles.len().max(4));
    c
}

fn projection(p: &SampledProjection) -> Chart {
    let values: Vec<Value> = p
        .points
        .iter()
        .map(|&(x, y, s)| json!({"pc1": x, "pc2": y, "segment": s.to_string()}))
        .collect();
    chart(
        "projection",
        "Customers on the first two principal components",
        format!(
            "a seeded sample of {} of {} customers of the feature table, prepared with the run's \
             stored preparation; the components explain {:.1}% and {:.1}% of the variance",
            p.sample,
            p.population,
            100.0 * p.explained_variance_ratio[0],
            100.0 * p.explained_variance_ratio[1]
        ),
        json!({
            "data": {"values": values},
            "mark": {"type": "point", "filled": true, "size": 14, "opacity": 0.6},
            "encoding": {
                "x": {"field": "pc1", "type": "quantitative", "title": "PC 1"},
                "y": {"field": "pc2", "type": "quantitative", "title": "PC 2"},
                "color": {"field": "segment", "type": "nominal"}
            }
        }),
    )
}

/// Silhouette, Davies-Bouldin and Calinski-Harabasz over every k tried,
/// when k was chosen automatically (`runs.metrics.sweep`).
fn k_sweep(metrics: &Value) -> Option<Chart> {
    let sweep = metrics.get("sweep")?.as_array().filter(|s| s.len() > 1)?;
    let chosen = metrics.pointer("/segments/k");
    let names = [
        ("silhouette", "silhouette (higher is better)"),
        ("davies_bouldin", "Davies-Bouldin (lower is better)"),
        ("calinski_harabasz", "Calinski-Harabasz (higher is better)"),
    ];
    let values: Vec<Value> = sweep
        .iter()
        .flat_map(|row| {
            names.iter().filter_map(move |(key, name)| {
                let v = row.get(*key).filter(|v| v.is_number())?;
                Some(json!({"k": row["k"], "metric": name, "value": v, "chosen": Some(&row["k"]) == chosen}))
            })
        })
        .collect();
    let mut c = chart(
        "k_sweep",
        "Choosing k",
        "runs.metrics.sweep: every k tried; the filled point is the k chosen".into(),
        json!({
            "data": {"values": values},
            "facet": {"row": {"field": "metric", "type": "nominal", "title": null}},
            "resolve": {"scale": {"y": "independent"}},
            "spec": {
                "width": WIDTH, "height": 110,
                "layer": [
                    {"mark": "line", "encoding": {
                        "x": {"field": "k", "type": "ordinal"},
                        "y": {"field": "value", "type": "quantitative", "scale": {"zero": false}, "title": null}}},
                    {"mark": {"type": "point", "size": 80, "tooltip": true}, "encoding": {
                        "x": {"field": "k", "type": "ordinal"},
                        "y": {"field": "value", "type": "quantitative"},
                        "fill": {"condition": {"test": "datum.chosen", "value": "black"}, "value": "white"},
                        "stroke": {"value": "black"}}}
                ]
            }
        }),
    );
    let object = c.spec.as_object_mut().expect("an object");
    object.remove("width");
    object.remove("height");
    Some(c)
}

pub fn risk_charts(risk: &Risk) -> Vec<Chart> {
    let m = &risk.metrics;
    let curve = |name: &str| {
        m.pointer(&format!("/curves/{name}"))
            .and_then(Value::as_array)
            .filter(|c| !c.is_empty())
            .cloned()
    };
    let mut charts = Vec::new();
    charts.extend(curve("roc").map(|c| roc(c, m)));
    charts.extend(curve("precision_recall").map(|c| precision_recall(c, m)));
    charts.extend(curve("reliability").map(reliability));
    charts.extend(curve("score_histogram").map(score_histogram));
    charts.extend(importance(m));
    charts.extend(alert_rates(m));
    charts
}

fn diagonal() -> Value {
    json!({"data": {"values": [{"a": 0, "b": 0}, {"a": 1, "b": 1}]},
           "mark": {"type": "line", "strokeDash": [4, 4], "color": "gray"},
           "encoding": {"x": {"field": "a", "type": "quantitative"},
                        "y": {"field": "b", "type": "quantitative"}}})
}

/// Points with their position (`i`): a curve is drawn in its stored
/// order, which sorting by either axis would scramble where it has ties.
fn indexed(points: Vec<Value>) -> Vec<Value> {
    points
        .into_iter()
        .enumerate()
        .map(|(i, mut p)| {
            if let Some(object) = p.as_object_mut() {
                object.insert("i".into(), json!(i));
            }
            p
        })
        .collect()
}

fn roc(points: Vec<Value>, m: &Value) -> Chart {
    chart(
        "roc",
        "ROC curve (held-out split)",
        format!(
            "runs.metrics.risk.curves.roc over {} held-out customers; area {}",
            m["evaluated_customers"], m["auc_roc"]
        ),
        json!({"layer": [
            {"data": {"values": indexed(points)},
             "mark": {"type": "line", "tooltip": true},
             "encoding": {"x": {"field": "fpr", "type": "quantitative", "title": "false positive rate"},
                          "y": {"field": "tpr", "type": "quantitative", "title": "true positive rate"},
                          "order": {"field": "i"}}},
            diagonal()
        ]}),
    )
}

fn precision_recall(points: Vec<Value>, m: &Value) -> Chart {
    chart(
        "precision_recall",
        "Precision-recall curve (held-out split)",
        format!(
            "runs.metrics.risk.curves.precision_recall; average precision {}",
            m["auc_pr"]
        ),
        json!({
            // Stored from full recall down; each precision holds until
            // the next point's recall, as average precision sums it.
            "data": {"values": indexed(points)},
            "mark": {"type": "line", "interpolate": "step-after", "tooltip": true},
            "encoding": {"x": {"field": "recall", "type": "quantitative"},
                         "y": {"field": "precision", "type": "quantitative", "scale": {"domain": [0, 1]}},
                         "order": {"field": "i"}}
        }),
    )
}

fn reliability(bins: Vec<Value>) -> Chart {
    chart(
        "reliability",
        "Calibration: predicted against observed",
        "runs.metrics.risk.curves.reliability: held-out customers in ten equal-width score \
         bins; a calibrated score lies on the diagonal (point size: customers)"
            .into(),
        json!({"layer": [
            diagonal(),
            {"data": {"values": bins},
             "mark": {"type": "line", "point": true, "tooltip": true},
             "encoding": {"x": {"field": "mean_predicted", "type": "quantitative", "title": "mean predicted risk",
                                "scale": {"domain": [0, 1]}},
                          "y": {"field": "observed_rate", "type": "quantitative", "title": "observed positive rate",
                                "scale": {"domain": [0, 1]}}}},
            {"data": {"values": bins},
             "mark": {"type": "point", "filled": true, "tooltip": true},
             "encoding": {"x": {"field": "mean_predicted", "type": "quantitative"},
                          "y": {"field": "observed_rate", "type": "quantitative"},
                          "size": {"field": "customers", "type": "quantitative"}}}
        ]}),
    )
}

fn score_histogram(bins: Vec<Value>) -> Chart {
    let values: Vec<Value> = bins
        .iter()
        .flat_map(|b| {
            [("positive", "positives"), ("negative", "negatives")].map(|(label, key)| {
                json!({"lower": b["lower"], "upper": b["upper"], "label": label, "customers": b[key]})
            })
        })
        .collect();
    chart(
        "score_histogram",
        "Risk scores by label (held-out split)",
        "runs.metrics.risk.curves.score_histogram: held-out customers in twenty equal-width \
         bins, stacked by label"
            .into(),
        json!({
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": true},
            "encoding": {"x": {"field": "lower", "bin": {"binned": true, "step": 0.05}, "type": "quantitative", "title": "risk score"},
                         "x2": {"field": "upper"},
                         "y": {"field": "customers", "type": "quantitative", "stack": "zero"},
                         "color": {"field": "label", "type": "nominal",
                                   "scale": {"domain": ["positive", "negative"], "range": ["#d62728", "#1f77b4"]}}}
        }),
    )
}

/// Global importance: mean |SHAP| per feature, the twenty largest.
fn importance(m: &Value) -> Option<Chart> {
    let rows = m.get("importance")?.as_array()?;
    let values: Vec<Value> = rows.iter().take(20).cloned().collect();
    if values.is_empty() {
        return None;
    }
    Some(chart(
        "importance",
        "What drives the risk score: mean |SHAP| per feature",
        format!(
            "runs.metrics.risk.importance (TreeSHAP over every customer), the {} largest of {}",
            values.len(),
            rows.len()
        ),
        json!({
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": true},
            "encoding": {"y": {"field": "feature", "type": "nominal", "sort": "-x"},
                         "x": {"field": "mean_abs_shap", "type": "quantitative", "title": "mean |SHAP| (log-odds)"}}
        }),
    ))
}

/// The share of each segment's customers alerted at each band or higher.
fn alert_rates(m: &Value) -> Option<Chart> {
    let rows = m.get("alert_rate_per_segment")?.as_array()?;
    let values: Vec<Value> = rows
        .iter()
        .flat_map(|r| {
            r["alert_rate"]
                .as_object()
                .into_iter()
                .flatten()
                .map(move |(band, rate)| {
                    json!({"segment": r["segment_id"].to_string(), "band": format!("{band} or higher"),
                           "rate": rate, "customers": r["customers"]})
                })
        })
        .collect();
    Some(chart(
        "alert_rates",
        "Alerted customers per segment, by band",
        "runs.metrics.risk.alert_rate_per_segment: the share of a segment's customers scored at \
         the band or higher"
            .into(),
        json!({
            "data": {"values": values},
            "mark": {"type": "bar", "tooltip": true},
            "encoding": {"x": {"field": "segment", "type": "nominal", "sort": null},
                         "xOffset": {"field": "band"},
                         "y": {"field": "rate", "type": "quantitative", "axis": {"format": ".0%"}},
                         "color": {"field": "band", "type": "nominal"}}
        }),
    ))
}

/// The job's runs over time: segmentation and risk quality per run.
pub fn history_chart(history: &[RunPoint]) -> Option<Chart> {
    let measures = [
        ("/segments/silhouette", "silhouette"),
        ("/risk/auc_roc", "AUC ROC (held-out)"),
        ("/risk/auc_pr", "average precision (held-out)"),
    ];
    let values: Vec<Value> = history
        .iter()
        .flat_map(|p| {
            measures.iter().filter_map(move |(pointer, name)| {
                let v = p.metrics.pointer(pointer).filter(|v| v.is_number())?;
                Some(json!({"finished": p.finished_at, "run_id": p.run_id, "metric": name, "value": v}))
            })
        })
        .collect();
    if values.is_empty() {
        return None;
    }
    Some(chart(
        "history",
        "This job's runs over time",
        format!(
            "runs.metrics of the job's {} successful run(s) up to this one",
            history.len()
        ),
        json!({
            "data": {"values": values},
            "mark": {"type": "line", "point": true, "tooltip": true},
            // One step per run, whatever the time between runs.
            "encoding": {"x": {"field": "finished", "type": "ordinal", "sort": null, "title": "run finished (UTC)"},
                         "y": {"field": "value", "type": "quantitative", "scale": {"domain": [0, 1]}},
                         "color": {"field": "metric", "type": "nominal", "legend": {"orient": "bottom"}},
                         "tooltip": [{"field": "run_id"}, {"field": "metric"}, {"field": "value", "format": ".4f"}]}
        }),
    ))
}
