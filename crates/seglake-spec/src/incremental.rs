//! `[[features.incremental]]`: feature views a run keeps as per-day state
//! instead of recomputing them over the whole window.
//!
//! ```toml
//! [[features.incremental]]
//! view = "daily_transactions"   # a feature view (not the last one)
//! source = "transactions"       # the source whose new rows it folds in
//! time_column = "ts"            # the source's event time
//! keep_days = 366               # days before as_of the state keeps
//! ```
//!
//! The view must return one or more rows per customer and day, with the
//! day as a `DATE` column named [`DAY_COLUMN`]: each day's rows computed
//! from that day's source rows only. A run then recomputes only the days
//! that new source rows fall on, keeps the other days from the state the
//! last run published, and drops the days before `as_of - keep_days`; the
//! result is the same as recomputing every day (the state of a full run).

use crate::Problem;

/// The column every incremental view returns: the date of its rows' events.
pub const DAY_COLUMN: &str = "day";

/// The state table of incremental view `view`, under the output root.
pub fn state_table(view: &str) -> String {
    format!("state_{view}")
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIncremental {
    pub view: String,
    pub source: String,
    pub time_column: String,
    pub keep_days: i64,
}

/// One incremental view, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalSpec {
    pub source: String,
    pub time_column: String,
    pub keep_days: i64,
}

impl IncrementalSpec {
    /// What the state depends on besides the view's SQL: a state written
    /// under other settings is not this view's state.
    pub fn fingerprint(&self, view_sha256: &str) -> String {
        format!(
            "{view_sha256}:{}:{}:{}",
            self.source, self.time_column, self.keep_days
        )
    }
}

/// Checks one `[[features.incremental]]` entry against the job's views
/// (`views`, in order; the last is the feature table) and `sources`.
pub(crate) fn validate(
    i: usize,
    raw: &RawIncremental,
    views: &[(&str, bool)],
    sources: &[(&str, &str)],
) -> Result<IncrementalSpec, Vec<Problem>> {
    let key = format!("features.incremental[{i}]");
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(Problem {
            key: format!("{key}.{field}"),
            message,
        })
    };
    match views.iter().position(|(name, _)| *name == raw.view) {
        None => problem(
            "view",
            format!(
                "`{}` is not one of the views: {}",
                raw.view,
                views.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ),
        ),
        Some(p) if p + 1 == views.len() => problem(
            "view",
            format!(
                "`{}` is the feature table itself (one row per customer); an incremental view \
                 has rows per customer and day, which a later view aggregates",
                raw.view
            ),
        ),
        Some(p) if views[p].1 => problem(
            "view",
            format!(
                "`{}` is also listed in `features.materialize`: an incremental view is stored \
                 as its state already; list it in one of the two",
                raw.view
            ),
        ),
        Some(_) => {}
    }
    match sources.iter().find(|(name, _)| *name == raw.source) {
        None => problem(
            "source",
            format!(
                "`{}` is not one of the sources: {}",
                raw.source,
                sources
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
        Some((_, format)) if !matches!(*format, "parquet" | "delta") => problem(
            "source",
            format!(
                "source `{}` is {format}: only Parquet and Delta sources can be read \
                 incrementally (their new files or versions say what is new)",
                raw.source
            ),
        ),
        Some(_) => {}
    }
    if raw.time_column.trim().is_empty() {
        problem("time_column", "name the source's event-time column".into());
    }
    if !(1..=36_600).contains(&raw.keep_days) {
        problem(
            "keep_days",
            format!(
                "{} is not a number of days between 1 and 36600: the state keeps the days \
                 in [as_of - keep_days, ...)",
                raw.keep_days
            ),
        );
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(IncrementalSpec {
        source: raw.source.clone(),
        time_column: raw.time_column.clone(),
        keep_days: raw.keep_days,
    })
}
