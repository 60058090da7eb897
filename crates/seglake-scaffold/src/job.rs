//! The proposed job file, written as text so that it can carry the
//! comments that explain each guess (a TOML serialiser would drop them).

use crate::guess::KeyGuess;
use crate::inspect::Inventory;
use crate::scan::TableFormat;

/// What the job file says, decided by [`crate::propose`].
pub struct JobText<'a> {
    pub name: &'a str,
    pub seed: u64,
    pub folder: &'a str,
    pub inv: &'a Inventory,
    pub guess: &'a KeyGuess,
    pub key_comment: &'a str,
    pub as_of: Option<(String, String)>,
    pub data_path: &'a str,
    pub sql_dir: &'a str,
    pub views: &'a [String],
    pub output_table: &'a str,
    /// One comment line per table, by inventory index.
    pub table_comments: &'a [String],
    pub labels: &'a [String],
}

pub fn job_toml(j: &JobText) -> String {
    let mut out = format!(
        "# Proposed by `seglake init` from the folder {folder} ({n} tables).\n\
         # Read the comments, set as_of, then:\n\
         #   seglake validate <this file>\n\
         #   seglake run <this file> --var lake=DIR\n#\n",
        folder = j.folder,
        n = j.inv.tables.len()
    );
    for line in wrap(j.key_comment, 76) {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&format!(
        "\n[job]\nname = {}\nseed = {}\n",
        string(j.name),
        j.seed
    ));
    match &j.as_of {
        Some((value, why)) => {
            out.push_str("# TODO set as_of: the point in time the features describe (rows after\n");
            out.push_str("# it are left out). Guessed as the day after the latest date found:\n");
            out.push_str(&format!("# {why}.\nas_of = {}\n", string(value)));
        }
        None => out.push_str(
            "# No date or timestamp column was found: without as_of a run describes\n\
             # the time it starts. Set it to make runs reproducible.\n\
             # as_of = \"2026-01-01T00:00:00Z\"\n",
        ),
    }
    out.push_str(&format!(
        "\n[vars]\n# The data folder, relative to this file (--var data=DIR to override).\n\
         data = {}\n# Where runs publish their tables (--var lake=DIR to override).\nlake = \"lake\"\n",
        string(j.data_path)
    ));
    for (i, table) in j.inv.tables.iter().enumerate() {
        out.push('\n');
        for line in wrap(&j.table_comments[i], 76) {
            out.push_str(&format!("# {line}\n"));
        }
        out.push_str(&format!(
            "[sources.{}]\nuri = {}\nformat = {}\n",
            table.name,
            string(&format!("${{data}}/{}", table.path)),
            string(table.format.as_str())
        ));
        if table.format == TableFormat::Delta {
            out.push_str("# version = 0   # read this version (the latest when absent)\n");
        }
    }
    out.push_str(&features_section(j));
    out.push_str(SEGMENTS);
    out.push_str(&risk_section(j));
    out.push_str("\n[output]\nroot = \"${lake}\"\n");
    out
}

fn features_section(j: &JobText) -> String {
    let views = j
        .views
        .iter()
        .map(|v| format!("    {},\n", string(v)))
        .collect::<String>();
    format!(
        "\n# One SQL file per view in sql_dir, run in this order; the last has one\n\
         # row per key.\n[features]\nsql_dir = {}\nviews = [\n{views}]\nkey = {}\noutput_table = {}\n",
        string(j.sql_dir),
        string(&j.guess.key),
        string(j.output_table)
    )
}

const SEGMENTS: &str = "
# Mini-batch k-means over every numeric feature; k chosen by silhouette.
# Text columns are read only when listed in [features] categorical (or
# categorical = \"auto\"). Preparation (median imputation,
# clipping to quantiles, log of heavy tails, standardisation) is the default.
[segments]
algorithm = \"kmeans\"
k = \"auto\"
k_range = [3, 8]
";

fn risk_section(j: &JobText) -> String {
    let mut out = String::from(
        "\n# Risk scores need labels: a view in sql_dir (add it as a file, not to\n\
         # `views`) returning the key and `label` (1 = risk, 0 = not, NULL =\n\
         # unknown), decided before as_of. Then uncomment:\n",
    );
    if !j.labels.is_empty() {
        out.push_str(&format!(
            "# Columns that look like outcomes (kept out of the features): {}.\n",
            j.labels.join(", ")
        ));
    }
    out.push_str(
        "# [risk]\n# labels = \"risk_labels\"\n# class_weight = \"balanced\"\n#\n\
         # [[risk.bands]]\n# name = \"high\"\n# alert_rate = 0.05\n#\n\
         # [[risk.bands]]\n# name = \"medium\"\n# alert_rate = 0.15\n",
    );
    out
}

/// A TOML basic string.
fn string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Lines of at most `width` characters, broken at spaces.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}
