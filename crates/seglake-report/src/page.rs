//! The HTML page: lineage and numbers as tables, charts as `<div>`s that
//! the inlined library draws. Elements holding a number a test (or a
//! reader's script) may check carry `data-value="<name>"`.

use std::fmt::Write;

use serde_json::Value;

use crate::assets;
use crate::charts::{self, Chart};
use crate::gather::{Risk, Row, RunData, Segmentation};
use crate::text::{cell, esc, int, num, pct, value};

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px; padding: 0 24px 48px; color: #222; }
h1 { margin-bottom: 0; } h2 { border-bottom: 2px solid #ddd; margin-top: 40px; } h3 { margin-top: 28px; }
.sub { color: #666; margin-top: 4px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 12px/1.4 ui-monospace, monospace; } pre { background: #f5f5f5; padding: 10px; overflow-x: auto; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 16px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 130px; }
.card b { display: block; font-size: 20px; }
figure { margin: 16px 0 28px; } figcaption { color: #555; font-size: 12px; max-width: 760px; }
.failed { background: #fdecea; border-left: 4px solid #d62728; padding: 8px 12px; }
nav a { margin-right: 14px; }
"#;

/// The whole page of one run.
pub fn render(data: &RunData) -> String {
    let run = &data.run;
    let mut charts: Vec<Chart> = Vec::new();
    let mut body = String::new();
    body.push_str(&header(data));
    body.push_str(&crate::lineage::lineage_section(run));
    if let Some(seg) = &data.segmentation {
        let seg_charts = charts::segment_charts(seg, &data.metrics);
        body.push_str(&segments_section(seg, &data.metrics, &seg_charts));
        charts.extend(seg_charts);
    }
    if let Some(risk) = &data.risk {
        let risk_charts = charts::risk_charts(risk);
        body.push_str(&risk_section(risk, &risk_charts));
        charts.extend(risk_charts);
    }
    if let Some(history) = charts::history_chart(&data.history) {
        body.push_str("<h2 id=\"history\">Over time</h2>\n");
        body.push_str(&figure(&history));
        charts.push(history);
    }
    body.push_str(&reproduce_section(data));
    let specs: serde_json::Map<String, Value> = charts
        .iter()
        .map(|c| (c.id.to_string(), c.spec.clone()))
        .collect();
    let specs = assets::json_safe(&Value::Object(specs).to_string());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\" data-charts=\"pending\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>seglake run {id}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\
         <script type=\"application/json\" id=\"chart-specs\">{specs}</script>\n{scripts}</body>\n</html>\n",
        id = esc(&run.run_id),
        scripts = assets::scripts(),
    )
}

fn header(data: &RunData) -> String {
    let run = &data.run;
    let mut out = format!(
        "<h1>Run <span data-value=\"run_id\">{}</span></h1>\n<p class=\"sub\">job <b>{}</b> · \
         status <b data-value=\"status\">{}</b> · features as of {} · finished {}</p>\n",
        esc(&run.run_id),
        esc(&run.job_name),
        run.status.as_str(),
        run.as_of.to_rfc3339(),
        run.finished_at.to_rfc3339(),
    );
    out.push_str("<nav><a href=\"#lineage\">Lineage</a>");
    if data.segmentation.is_some() {
        out.push_str("<a href=\"#segments\">Segments</a>");
    }
    if data.risk.is_some() {
        out.push_str("<a href=\"#risk\">Risk</a>");
    }
    out.push_str("<a href=\"#history\">Over time</a><a href=\"#reproduce\">Reproduce</a></nav>\n");
    if let Some(error) = &run.error {
        let _ = write!(
            out,
            "<p class=\"failed\">This run failed: {}</p>\n",
            esc(error)
        );
    }
    out.push_str(&cards(data));
    out
}

/// The numbers a validator looks for first.
fn cards(data: &RunData) -> String {
    let m = &data.metrics;
    let customers: Option<i64> = m
        .get("segment_sizes")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_i64).sum());
    let items = [
        (
            "customers",
            "customers",
            customers.map(|c| int(&Value::from(c))),
        ),
        ("segments", "segments", m.pointer("/segments/k").map(int)),
        (
            "silhouette",
            "silhouette",
            m.pointer("/segments/silhouette").map(|v| num(v, 3)),
        ),
        (
            "auc_roc",
            "AUC ROC (held-out)",
            m.pointer("/risk/auc_roc").map(|v| num(v, 4)),
        ),
        (
            "auc_pr",
            "average precision",
            m.pointer("/risk/auc_pr").map(|v| num(v, 4)),
        ),
    ];
    let mut out = String::from("<div class=\"cards\">");
    for (key, name, value) in items {
        if let Some(value) = value {
            let _ = write!(
                out,
                "<div class=\"card\">{name}<b data-value=\"card_{key}\">{value}</b></div>"
            );
        }
    }
    out.push_str("</div>\n");
    out
}

fn figure(chart: &Chart) -> String {
    format!(
        "<figure><h3>{}</h3><div class=\"chart\" data-chart=\"{}\"></div>\
         <figcaption>{}</figcaption></figure>\n",
        esc(&chart.title),
        chart.id,
        esc(&chart.note)
    )
}

fn segments_section(seg: &Segmentation, metrics: &Value, charts: &[Chart]) -> String {
    let mut out = String::from("<h2 id=\"segments\">Segments</h2>\n");
    let quality = [
        ("k", "k", 0),
        ("silhouette", "silhouette", 4),
        ("davies_bouldin", "Davies-Bouldin", 4),
        ("calinski_harabasz", "Calinski-Harabasz", 1),
    ];
    out.push_str("<p>");
    for (key, name, digits) in quality {
        if let Some(v) = metrics.pointer(&format!("/segments/{key}")) {
            let _ = write!(
                out,
                "{name} <b data-value=\"{key}\">{}</b> · ",
                num(v, digits)
            );
        }
    }
    if let Some(sample) = metrics.pointer("/segments/silhouette_sample") {
        let _ = write!(out, "silhouette on a sample of {} customers", int(sample));
    }
    out.push_str("</p>\n");
    out.push_str(&profiles_table(&seg.profiles));
    for chart in charts {
        out.push_str(&figure(chart));
    }
    out
}

fn profiles_table(profiles: &[Row]) -> String {
    let mut out = String::from(
        "<table><tr><th>segment</th><th>label</th><th>customers</th><th>share</th><th>cases</th>\
         <th>SAR rate</th><th>false-positive cases</th><th>dispositions</th><th>NPS</th><th>CSAT</th></tr>\n",
    );
    for r in profiles {
        let id = r.get("segment_id").map(int).unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td>{id}</td><td>{}</td><td class=\"n\" data-value=\"segment_size:{id}\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            cell(r.get("segment_label")),
            r.get("size").map(int).unwrap_or_default(),
            r.get("share").map(pct).unwrap_or_default(),
            r.get("cases").map(int).unwrap_or_default(),
            r.get("sar_rate").map(pct).unwrap_or_default(),
            r.get("false_positive_rate").map(pct).unwrap_or_default(),
            r.get("dispositions").map(int).unwrap_or_default(),
            r.get("nps").map(|v| num(v, 1)).unwrap_or_default(),
            r.get("csat").map(|v| num(v, 2)).unwrap_or_default(),
        );
    }
    out.push_str("</table>\n");
    out
}

fn risk_section(risk: &Risk, charts: &[Chart]) -> String {
    let m = &risk.metrics;
    let mut out = String::from("<h2 id=\"risk\">Risk</h2>\n<p>");
    let _ = write!(
        out,
        "Evaluated on the {} ({} customers): AUC ROC <b data-value=\"auc_roc\">{}</b> · \
         average precision <b data-value=\"auc_pr\">{}</b> · log-loss {}. Labelled customers {} \
         ({} positive), unlabelled {}.</p>\n",
        cell(m.get("evaluated_on")),
        m.get("evaluated_customers").map(int).unwrap_or_default(),
        m.get("auc_roc").map(|v| num(v, 4)).unwrap_or_default(),
        m.get("auc_pr").map(|v| num(v, 4)).unwrap_or_default(),
        m.get("log_loss").map(|v| num(v, 4)).unwrap_or_default(),
        m.get("labelled_customers").map(int).unwrap_or_default(),
        m.get("positive_customers").map(int).unwrap_or_default(),
        m.get("unlabelled_customers").map(int).unwrap_or_default(),
    );
    out.push_str(&confusion_table(m));
    for chart in charts {
        out.push_str(&figure(chart));
    }
    out.push_str(&top_customers_table(&risk.top_customers));
    out
}

fn confusion_table(m: &Value) -> String {
    let Some(rows) = m.get("confusion").and_then(Value::as_array) else {
        return String::new();
    };
    let mut out = String::from(
        "<h3>Confusion at each band (held-out split)</h3>\n<table><tr><th>alerted</th>\
         <th>true positives</th><th>false positives</th><th>true negatives</th><th>false negatives</th>\
         <th>precision</th><th>recall</th></tr>\n",
    );
    for r in rows {
        let count = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let (tp, fp, fn_) = (count("tp"), count("fp"), count("fn"));
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.1}%", 100.0 * a / b)
            } else {
                "-".into()
            }
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            cell(r.get("alerted")),
            int(&r["tp"]),
            int(&r["fp"]),
            int(&r["tn"]),
            int(&r["fn"]),
            ratio(tp, tp + fp),
            ratio(tp, tp + fn_),
        );
    }
    out.push_str("</table>\n");
    out
}

fn top_customers_table(rows: &[Row]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h3>The highest-scored customers and why</h3>\n<table><tr><th>customer</th><th>segment</th>\
         <th>risk score</th><th>band</th><th>reasons (feature = value: contribution to the log-odds)</th></tr>\n",
    );
    for r in rows {
        let reasons: Vec<String> = r
            .get("reasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|x| {
                format!(
                    "{} = {}: {}",
                    cell(x.get("feature")),
                    x.get("value")
                        .map(value)
                        .unwrap_or_else(|| "missing".into()),
                    x.get("contribution")
                        .and_then(Value::as_f64)
                        .map(|c| format!("{c:+.3}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            cell(r.get("customer_id")),
            r.get("segment_id").map(int).unwrap_or_default(),
            r.get("risk_score").map(|v| num(v, 4)).unwrap_or_default(),
            cell(r.get("risk_band")),
            reasons.join("<br>"),
        );
    }
    out.push_str("</table>\n");
    out
}

fn reproduce_section(data: &RunData) -> String {
    format!(
        "<h2 id=\"reproduce\">Reproduce</h2>\n<p>Re-runs the job from this lineage alone (the \
         recorded spec and SQL, the inputs at their recorded versions, the seed and as_of) and \
         compares the result bit for bit; exit code 0 means identical:</p>\n\
         <pre data-value=\"reproduce\">{}</pre>\n<p>Generated by seglake {} from the \
         published tables.</p>\n",
        esc(&data.reproduce_command),
        env!("CARGO_PKG_VERSION"),
    )
}
