//! The run's identity and lineage as tables: what it read (at which
//! version), which SQL it ran (by hash), what it published, and what the
//! data-quality checks counted.

use std::fmt::Write;

use seglake_spec::lineage::RunRecord;

use crate::text::{bytes, esc};

pub fn lineage_section(run: &RunRecord) -> String {
    let mut out = String::from("<h2 id=\"lineage\">Lineage</h2>\n");
    out.push_str(&identity(run));
    out.push_str(&inputs(run));
    out.push_str(&sql_files(run));
    out.push_str(&outputs(run));
    out.push_str(&quality(run));
    out
}

fn identity(run: &RunRecord) -> String {
    let seconds = (run.finished_at - run.started_at).num_milliseconds() as f64 / 1000.0;
    let rows = [
        ("job", esc(&run.job_name)),
        ("run id", esc(&run.run_id)),
        ("status", run.status.as_str().to_string()),
        ("features as of", run.as_of.to_rfc3339()),
        ("seed", run.seed.to_string()),
        ("seglake version", esc(&run.seglake_version)),
        ("started", run.started_at.to_rfc3339()),
        ("finished", run.finished_at.to_rfc3339()),
        ("took", format!("{seconds:.1} s")),
        (
            "job spec",
            format!(
                "{} <br><code>sha256 {}</code>",
                esc(&run.spec_path),
                esc(&run.spec_sha256)
            ),
        ),
    ];
    let mut out = String::from("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");
    out
}

fn inputs(run: &RunRecord) -> String {
    let mut out = String::from(
        "<h3>Inputs, at the versions the run pinned</h3>\n<table><tr><th>source</th><th>format</th>\
         <th>version</th><th>rows read</th><th>location</th></tr>\n",
    );
    for input in &run.inputs {
        let version = match input.delta_version {
            Some(v) => format!("Delta version {v}"),
            None => format!(
                "{} file(s), {}",
                input.files.len(),
                bytes(input.files.iter().map(|f| f.size).sum())
            ),
        };
        let rows = run
            .rows_in
            .iter()
            .find(|c| c.table == input.name)
            .map_or("-".to_string(), |c| c.rows.to_string());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{version}</td><td class=\"n\" data-value=\"rows_in:{}\">{rows}</td><td><code>{}</code></td></tr>",
            esc(&input.name),
            esc(&input.format),
            esc(&input.name),
            esc(&input.uri),
        );
    }
    out.push_str("</table>\n");
    out
}

fn sql_files(run: &RunRecord) -> String {
    let mut out = String::from(
        "<h3>Feature SQL</h3>\n<table><tr><th>view</th><th>sha256</th><th>file</th></tr>\n",
    );
    for f in &run.sql_files {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            esc(&f.view),
            esc(&f.sha256),
            esc(&f.path)
        );
    }
    out.push_str("</table>\n");
    out
}

fn outputs(run: &RunRecord) -> String {
    let mut out = String::from(
        "<h3>Published</h3>\n<table><tr><th>table</th><th>version</th><th>rows</th></tr>\n",
    );
    for o in &run.outputs {
        let rows = run
            .rows_out
            .iter()
            .find(|c| c.table == o.table)
            .map_or("-".to_string(), |c| c.rows.to_string());
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{rows}</td></tr>",
            esc(&o.table),
            o.version
        );
    }
    out.push_str("</table>\n");
    out
}

/// Every count the cleaning made; missing values only where there were any.
fn quality(run: &RunRecord) -> String {
    let q = &run.quality;
    let mut rows: Vec<(String, String, i64)> = Vec::new();
    for d in &q.duplicates_removed {
        rows.push((
            d.table.clone(),
            format!("duplicate rows removed (key {})", d.key.join(", ")),
            d.rows,
        ));
    }
    for m in q.missing_values.iter().filter(|m| m.rows > 0) {
        rows.push((
            m.table.clone(),
            format!("missing values in `{}`", m.column),
            m.rows,
        ));
    }
    for o in &q.outliers {
        rows.push((
            o.table.clone(),
            format!("flagged by `{}` ({})", o.rule, o.condition),
            o.rows,
        ));
    }
    let mut out = String::from(
        "<h3>Data quality</h3>\n<table><tr><th>table</th><th>check</th><th>rows</th></tr>\n",
    );
    for (table, check, n) in rows {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{n}</td></tr>",
            esc(&table),
            esc(&check)
        );
    }
    out.push_str("</table>\n");
    out
}
