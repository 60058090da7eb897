//! The `[rules]` section: monitoring rules as SQL files, what each does when
//! it fires, and the thresholds they read, per segment.
//!
//! ```toml
//! [rules]
//! sql_dir = "../sql/rules"      # one SELECT per rule: <name>.sql
//!
//! [rules.thresholds]            # the one-size values, for every segment
//! structuring_min_count = 3
//!
//! [[rules.segment_thresholds]]  # overrides for a class of segments
//! profile = "cash_share > 0.4"  # SQL over segment_profiles; or segment = 3 / "label"
//! structuring_min_count = 12
//!
//! [[rules.rule]]
//! name = "structuring"          # sql/rules/structuring.sql
//! action = "alert"              # alert | escalate | request_documents
//! severity = "high"             # low | medium | high
//! suppress_for = "90d"          # no second alert for the same customer within it
//!
//! [[rules.webhook]]             # where `seglake deliver --job` posts alerts and cases
//! name = "cases"
//! url = "https://cases.example.com/seglake"
//! secret_env = "SEGLAKE_WEBHOOK_SECRET"   # the default; or secret_file = "..."
//! ```
//!
//! A rule's SQL sees the run's tables (sources, the feature table,
//! `segments`, `previous_segments`, `thresholds`, `screening_hits`,
//! `run_context`) and returns the job key, a `reason` and any evidence
//! columns.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::Problem;
use crate::privacy::KeySource;
use crate::view::ViewSpec;

/// New alerts, appended by every run with rules.
pub const ALERTS_TABLE: &str = "alerts";
/// Alerts grouped per customer, with their state and its history: a
/// complete snapshot per version.
pub const CASES_TABLE: &str = "cases";
/// The thresholds of each segment of the run, for the rules' SQL.
pub const THRESHOLDS_TABLE: &str = "thresholds";
/// The last published `segments` before the run, for the rules' SQL.
pub const PREVIOUS_SEGMENTS_TABLE: &str = "previous_segments";

/// Columns of `thresholds` that are not parameters.
pub const THRESHOLD_KEY_COLUMNS: [&str; 2] = ["segment_id", "segment_label"];

/// Where a webhook's signing secret is read from when none is named.
pub const DEFAULT_WEBHOOK_SECRET_ENV: &str = "SEGLAKE_WEBHOOK_SECRET";

#[derive(Debug, Clone)]
pub struct RulesSpec {
    pub rules: Vec<RuleSpec>,
    pub thresholds: Thresholds,
    pub webhooks: Vec<WebhookSpec>,
}

/// A case-manager endpoint. The URL is checked (http or https) where it
/// is used, with the secret: by `seglake validate` and `seglake deliver`.
#[derive(Debug, Clone)]
pub struct WebhookSpec {
    pub name: String,
    pub url: String,
    /// Where the HMAC signing secret comes from: never the job file.
    pub secret: KeySource,
}

#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The SQL file's name without `.sql`.
    pub name: String,
    pub sql: ViewSpec,
    pub action: Action,
    pub severity: Severity,
    /// The same rule does not alert the same customer again within this
    /// many seconds of its last alert (0: every run may alert again).
    pub suppress_for_seconds: i64,
}

/// What an alert asks of the case manager; it sets the state of the case
/// the alert opens or joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Alert,
    RequestDocuments,
    Escalate,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Alert, Action::Escalate, Action::RequestDocuments];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Escalate => "escalate",
            Action::RequestDocuments => "request_documents",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub const ALL: [Severity; 3] = [Severity::Low, Severity::Medium, Severity::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Threshold parameters: one value each for every segment, and overrides
/// for some segments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Thresholds {
    /// Every parameter and its one-size value, by name.
    pub defaults: BTreeMap<String, f64>,
    /// Applied in order: a later override of the same parameter wins.
    pub overrides: Vec<SegmentThresholds>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentThresholds {
    pub segments: SegmentSelector,
    pub values: BTreeMap<String, f64>,
}

/// Which segments an override applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum SegmentSelector {
    /// The segment with this id; it must exist in the run.
    Id(i32),
    /// The segment with this label; it must exist in the run.
    Label(String),
    /// Every segment whose `segment_profiles` row satisfies this SQL
    /// predicate (a class of segments, which may be empty).
    Profile(String),
}

impl fmt::Display for SegmentSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentSelector::Id(id) => write!(f, "segment {id}"),
            SegmentSelector::Label(label) => write!(f, "segment \"{label}\""),
            SegmentSelector::Profile(p) => write!(f, "profile `{p}`"),
        }
    }
}

/// Parses a duration such as `90d`, `12h`, `30m`, `45s`, `2w` or `0`.
pub fn parse_duration_seconds(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit: use s, m, h, d or w (e.g. 90d)"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a whole number (e.g. 90d)"))?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}`; units: s, m, h, d, w"
            ));
        }
    };
    n.checked_mul(unit_seconds)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// A rule as read from the job, checked by [`validate`].
pub(crate) struct CheckedRule<'a> {
    pub raw: &'a crate::raw::RawRule,
    pub sql: ViewSpec,
}

pub(crate) fn validate(
    raw: &crate::raw::RawRules,
    rules: Vec<CheckedRule<'_>>,
    base: &Path,
) -> Result<RulesSpec, Vec<Problem>> {
    let mut problems = Vec::new();
    let thresholds = thresholds(raw, &mut problems);
    let webhooks = webhooks(&raw.webhooks, base, &mut problems);
    if rules.is_empty() {
        problems.push(Problem::new(
            "rules.rule",
            "name at least one rule: [[rules.rule]] with name, action, severity",
        ));
    }
    let mut specs: Vec<RuleSpec> = Vec::new();
    for (i, checked) in rules.into_iter().enumerate() {
        if let Some(rule) = rule(i, checked, &specs, &mut problems) {
            specs.push(rule);
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RulesSpec {
        rules: specs,
        thresholds,
        webhooks,
    })
}

fn webhooks(
    raw: &[crate::raw::RawWebhook],
    base: &Path,
    problems: &mut Vec<Problem>,
) -> Vec<WebhookSpec> {
    let mut out: Vec<WebhookSpec> = Vec::new();
    for (i, w) in raw.iter().enumerate() {
        let mut problem =
            |message: String| problems.push(Problem::new(format!("rules.webhook[{i}]"), message));
        if out.iter().any(|o| o.name == w.name) {
            problem(format!("webhook `{}` is listed twice", w.name));
        }
        // A `secret` key never gets here: the credential check refuses it.
        let secret = match (&w.secret_env, &w.secret_file) {
            (Some(_), Some(_)) => {
                problem("give secret_env or secret_file, not both".into());
                continue;
            }
            (Some(var), None) => KeySource::Env(var.clone()),
            (None, Some(file)) => KeySource::File(base.join(file)),
            (None, None) => KeySource::Env(DEFAULT_WEBHOOK_SECRET_ENV.into()),
        };
        out.push(WebhookSpec {
            name: w.name.clone(),
            url: w.url.clone(),
            secret,
        });
    }
    out
}

fn rule(
    i: usize,
    checked: CheckedRule<'_>,
    earlier: &[RuleSpec],
    problems: &mut Vec<Problem>,
) -> Option<RuleSpec> {
    let key = format!("rules.rule[{i}]");
    let raw = checked.raw;
    let mut problem = |field: &str, message: String| {
        problems.push(Problem::new(format!("{key}.{field}"), message))
    };
    if earlier.iter().any(|r| r.name == checked.sql.name) {
        problem(
            "name",
            format!("rule `{}` is listed twice", checked.sql.name),
        );
    }
    let action = Action::parse(&raw.action);
    if action.is_none() {
        problem(
            "action",
            format!(
                "`{}` is not an action; actions: alert, escalate, request_documents",
                raw.action
            ),
        );
    }
    let severity = Severity::parse(&raw.severity);
    if severity.is_none() {
        problem(
            "severity",
            format!(
                "`{}` is not a severity; severities: low, medium, high",
                raw.severity
            ),
        );
    }
    let suppress = match &raw.suppress_for {
        None => Some(0),
        Some(text) => parse_duration_seconds(text)
            .map_err(|m| problem("suppress_for", m))
            .ok(),
    };
    Some(RuleSpec {
        name: checked.sql.name.clone(),
        sql: checked.sql,
        action: action?,
        severity: severity?,
        suppress_for_seconds: suppress?,
    })
}

fn is_parameter_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !THRESHOLD_KEY_COLUMNS.contains(&name)
}

fn thresholds(raw: &crate::raw::RawRules, problems: &mut Vec<Problem>) -> Thresholds {
    let mut defaults = BTreeMap::new();
    for (name, value) in &raw.thresholds {
        let key = format!("rules.thresholds.{name}");
        if !is_parameter_name(name) {
            problems.push(Problem::new(
                key,
                "a threshold is named in lower-case letters, digits and underscores, \
                 and not segment_id or segment_label",
            ));
        } else if let Some(v) = number(&key, value, problems) {
            defaults.insert(name.clone(), v);
        }
    }
    let overrides = raw
        .segment_thresholds
        .iter()
        .enumerate()
        .filter_map(|(i, o)| segment_override(i, o, &defaults, problems))
        .collect();
    Thresholds {
        defaults,
        overrides,
    }
}

fn number(key: &str, value: &toml::Value, problems: &mut Vec<Problem>) -> Option<f64> {
    let v = match value {
        toml::Value::Integer(i) => *i as f64,
        toml::Value::Float(f) => *f,
        other => {
            problems.push(Problem::new(
                key,
                format!("must be a number, got {}", other.type_str()),
            ));
            return None;
        }
    };
    if !v.is_finite() {
        problems.push(Problem::new(key, format!("{v} is not a finite number")));
        return None;
    }
    Some(v)
}

fn segment_override(
    i: usize,
    raw: &crate::raw::RawSegmentThresholds,
    defaults: &BTreeMap<String, f64>,
    problems: &mut Vec<Problem>,
) -> Option<SegmentThresholds> {
    let key = format!("rules.segment_thresholds[{i}]");
    let segments = match (&raw.segment, &raw.profile) {
        (Some(toml::Value::Integer(id)), None) if (0..=i32::MAX as i64).contains(id) => {
            Some(SegmentSelector::Id(*id as i32))
        }
        (Some(toml::Value::String(label)), None) if !label.is_empty() => {
            Some(SegmentSelector::Label(label.clone()))
        }
        (None, Some(p)) if !p.trim().is_empty() => Some(SegmentSelector::Profile(p.clone())),
        (Some(_), Some(_)) | (None, None) => {
            problems.push(Problem::new(
                key.clone(),
                "give either `segment` (an id or a label) or `profile` (a SQL condition \
                 over segment_profiles)",
            ));
            None
        }
        _ => {
            problems.push(Problem::new(
                key.clone(),
                "`segment` is a segment id (a whole number from 0) or a label; \
                 `profile` a non-empty SQL condition",
            ));
            None
        }
    };
    let mut values = BTreeMap::new();
    for (name, value) in &raw.values {
        let value_key = format!("{key}.{name}");
        if !defaults.contains_key(name) {
            let known: Vec<&str> = defaults.keys().map(String::as_str).collect();
            problems.push(Problem::new(
                value_key,
                format!(
                    "`{name}` has no one-size value in [rules.thresholds]; parameters: {}",
                    if known.is_empty() {
                        "(none)".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        } else if let Some(v) = number(&value_key, value, problems) {
            values.insert(name.clone(), v);
        }
    }
    Some(SegmentThresholds {
        segments: segments?,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_seconds("90d"), Ok(90 * 86_400));
        assert_eq!(parse_duration_seconds("12h"), Ok(12 * 3600));
        assert_eq!(parse_duration_seconds("2w"), Ok(14 * 86_400));
        assert_eq!(parse_duration_seconds("0"), Ok(0));
        assert!(
            parse_duration_seconds("90")
                .unwrap_err()
                .contains("no unit")
        );
        assert!(
            parse_duration_seconds("3y")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration_seconds("d").is_err());
    }
}
