//! Feedback items: parsed and checked from the API's JSON or a survey
//! platform's webhook, written to the write-ahead log, and appended to the
//! lake's `feedback` table as rows.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use chrono::{DateTime, Utc};
use seglake_lake::feedback::{self, KIND_DISPOSITION, KIND_SURVEY, OUTCOMES, SURVEYS};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// One accepted item, as the log and the table hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackItem {
    pub feedback_id: String,
    pub kind: String,
    pub customer_id: String,
    pub survey: Option<String>,
    pub score: Option<i32>,
    pub topic: Option<String>,
    pub comment: Option<String>,
    pub alert_id: Option<String>,
    /// The case a disposition decides; logs written before cases existed
    /// have none.
    #[serde(default)]
    pub case_id: Option<String>,
    pub outcome: Option<String>,
    pub source: String,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

const MAX_ID: usize = 256;
const MAX_COMMENT: usize = 4000;
const MAX_TOPIC: usize = 100;
/// Clocks differ: a time a little ahead of ours is accepted.
const FUTURE_SLACK_MINUTES: i64 = 5;

/// A fresh random id for an accepted item.
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source");
    hex::encode(bytes)
}

/// Reads a JSON object's fields, naming the field in every error.
struct Fields<'a> {
    prefix: &'a str,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn name(&self, field: &str) -> String {
        format!("{}{field}", self.prefix)
    }

    fn bad(&self, field: &str, message: impl Into<String>) -> ApiError {
        ApiError::field(self.name(field), message)
    }

    fn string(&self, field: &str, max: usize, required: bool) -> Result<Option<String>, ApiError> {
        match self.map.get(field) {
            None | Some(Value::Null) if !required => Ok(None),
            None | Some(Value::Null) => Err(self.bad(field, "required")),
            Some(Value::String(s)) if s.trim().is_empty() && required => {
                Err(self.bad(field, "must not be empty"))
            }
            Some(Value::String(s)) if s.chars().count() > max => {
                Err(self.bad(field, format!("longer than {max} characters")))
            }
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.bad(field, format!("must be a string, got {}", kind(other)))),
        }
    }

    fn one_of(
        &self,
        field: &str,
        allowed: &[&str],
        required: bool,
    ) -> Result<Option<String>, ApiError> {
        let value = self.string(field, 64, required)?;
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => Err(self.bad(
                field,
                format!("`{v}` is not one of: {}", allowed.join(", ")),
            )),
            v => Ok(v),
        }
    }

    fn time(&self, field: &str, default: DateTime<Utc>) -> Result<DateTime<Utc>, ApiError> {
        let time = match self.map.get(field) {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
                .map_err(|_| {
                    self.bad(
                        field,
                        "must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
                    )
                })?
                .with_timezone(&Utc),
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|s| DateTime::from_timestamp(s, 0))
                .ok_or_else(|| self.bad(field, "must be whole seconds since 1970"))?,
            Some(other) => {
                return Err(self.bad(field, format!("must be a time, got {}", kind(other))));
            }
        };
        if time > default + chrono::Duration::minutes(FUTURE_SLACK_MINUTES) {
            return Err(self.bad(field, "is in the future"));
        }
        Ok(time)
    }

    fn only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        only_fields(self.map, self.prefix, allowed)
    }
}

/// An error naming the first field of `map` that `allowed` does not list;
/// `prefix` goes before field names (`customers[3].`).
pub(crate) fn only_fields(
    map: &Map<String, Value>,
    prefix: &str,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(ApiError::field(
            format!("{prefix}{k}"),
            format!("unknown field; this object takes: {}", allowed.join(", ")),
        )),
        None => Ok(()),
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| ApiError::field(what, format!("must be a JSON object, got {}", kind(value))))
}

fn survey_score(f: &Fields, survey: &str) -> Result<i32, ApiError> {
    let (_, low, high) = SURVEYS
        .iter()
        .find(|(name, _, _)| *name == survey)
        .expect("checked survey kind");
    let score = match f.map.get("score") {
        None | Some(Value::Null) => return Err(f.bad("score", "required for a survey")),
        Some(Value::Number(n)) => n.as_i64(),
        Some(other) => {
            return Err(f.bad(
                "score",
                format!("must be a whole number, got {}", kind(other)),
            ));
        }
    };
    match score {
        Some(s) if s >= *low as i64 && s <= *high as i64 => Ok(s as i32),
        _ => Err(f.bad(
            "score",
            format!("a {survey} score is a whole number from {low} to {high}"),
        )),
    }
}

/// A `POST /v1/feedback` body: a survey response or an analyst disposition.
pub fn from_api(body: &Value, now: DateTime<Utc>) -> Result<FeedbackItem, ApiError> {
    let f = Fields {
        prefix: "",
        map: object(body, "body")?,
    };
    let kinds = [KIND_SURVEY, KIND_DISPOSITION];
    let kind = f.one_of("type", &kinds, true)?.expect("required");
    let customer_id = f.string("customer_id", MAX_ID, true)?.expect("required");
    let occurred_at = f.time("time", now)?;
    let mut item = FeedbackItem {
        feedback_id: new_id(),
        kind: kind.clone(),
        customer_id,
        survey: None,
        score: None,
        topic: None,
        comment: None,
        alert_id: None,
        case_id: None,
        outcome: None,
        source: "api".into(),
        occurred_at,
        received_at: now,
    };
    if kind == KIND_SURVEY {
        f.only(&[
            "type",
            "customer_id",
            "time",
            "survey",
            "score",
            "topic",
            "comment",
        ])?;
        let surveys: Vec<&str> = SURVEYS.iter().map(|s| s.0).collect();
        let survey = f.one_of("survey", &surveys, true)?.expect("required");
        item.score = Some(survey_score(&f, &survey)?);
        item.survey = Some(survey);
        item.topic = f.string("topic", MAX_TOPIC, false)?;
        item.comment = f.string("comment", MAX_COMMENT, false)?;
    } else {
        f.only(&[
            "type",
            "customer_id",
            "time",
            "alert_id",
            "case_id",
            "outcome",
            "comment",
        ])?;
        item.outcome = f.one_of("outcome", &OUTCOMES, true)?;
        item.alert_id = f.string("alert_id", MAX_ID, false)?;
        item.case_id = f.string("case_id", MAX_ID, false)?;
        item.comment = f.string("comment", MAX_COMMENT, false)?;
    }
    Ok(item)
}

/// A survey platform's webhook body (see the README for the mapping):
///
/// ```json
/// {"event_type": "survey_response.created",
///  "event_data": {"survey_type": "nps", "score": 9, "comment": "...",
///                 "created_at": 1767225600,
///                 "person_properties": {"customer_id": "C000123",
///                                       "topic": "compliance_contact"}}}
/// ```
///
/// Platforms send more than this; other fields are ignored.
pub fn from_webhook(body: &Value, now: DateTime<Utc>) -> Result<FeedbackItem, ApiError> {
    let top = object(body, "body")?;
    let data = top
        .get("event_data")
        .ok_or_else(|| ApiError::field("event_data", "required"))?;
    let f = Fields {
        prefix: "event_data.",
        map: object(data, "event_data")?,
    };
    let surveys: Vec<&str> = SURVEYS.iter().map(|s| s.0).collect();
    let survey = f
        .one_of("survey_type", &surveys, false)?
        .unwrap_or_else(|| "nps".into());
    let person = f
        .map
        .get("person_properties")
        .ok_or_else(|| f.bad("person_properties", "required: it carries customer_id"))?;
    let p = Fields {
        prefix: "event_data.person_properties.",
        map: object(person, "event_data.person_properties")?,
    };
    Ok(FeedbackItem {
        feedback_id: new_id(),
        kind: KIND_SURVEY.into(),
        customer_id: p.string("customer_id", MAX_ID, true)?.expect("required"),
        score: Some(survey_score(&f, &survey)?),
        survey: Some(survey),
        topic: p.string("topic", MAX_TOPIC, false)?,
        comment: f.string("comment", MAX_COMMENT, false)?,
        alert_id: None,
        case_id: None,
        outcome: None,
        source: "webhook".into(),
        occurred_at: f.time("created_at", now)?,
        received_at: now,
    })
}

/// The items as one batch of the `feedback` table.
pub fn to_batch(items: &[FeedbackItem]) -> Result<RecordBatch, arrow::error::ArrowError> {
    let text = |f: &dyn Fn(&FeedbackItem) -> Option<&str>| -> ArrayRef {
        Arc::new(StringArray::from_iter(items.iter().map(f)))
    };
    let time = |f: &dyn Fn(&FeedbackItem) -> DateTime<Utc>| -> ArrayRef {
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                items.iter().map(|i| f(i).timestamp_micros()),
            )
            .with_timezone("UTC"),
        )
    };
    RecordBatch::try_new(
        feedback::schema(),
        vec![
            text(&|i| Some(&i.feedback_id)),
            text(&|i| Some(&i.kind)),
            text(&|i| Some(&i.customer_id)),
            text(&|i| i.survey.as_deref()),
            Arc::new(Int32Array::from_iter(items.iter().map(|i| i.score))),
            text(&|i| i.topic.as_deref()),
            text(&|i| i.comment.as_deref()),
            text(&|i| i.alert_id.as_deref()),
            text(&|i| i.case_id.as_deref()),
            text(&|i| i.outcome.as_deref()),
            text(&|i| Some(&i.source)),
            time(&|i| i.occurred_at),
            time(&|i| i.received_at),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use seglake_lake::feedback::COMPLIANCE_TOPIC;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-01-10T00:00:00Z".parse().unwrap()
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::BadRequest { field, .. } => field,
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn surveys_and_dispositions_are_checked_field_by_field() {
        let ok = from_api(
            &json!({"type": "survey", "customer_id": "C1", "survey": "nps", "score": 10,
                    "topic": COMPLIANCE_TOPIC, "time": "2026-01-01T00:00:00Z"}),
            now(),
        )
        .unwrap();
        assert_eq!(ok.score, Some(10));
        assert_eq!(ok.occurred_at.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        let cases = [
            (json!({"customer_id": "C1"}), "type"),
            (
                json!({"type": "survey", "survey": "nps", "score": 3}),
                "customer_id",
            ),
            (
                json!({"type": "survey", "customer_id": "C1", "survey": "nps", "score": 11}),
                "score",
            ),
            (
                json!({"type": "survey", "customer_id": "C1", "survey": "csat", "score": 0}),
                "score",
            ),
            (
                json!({"type": "survey", "customer_id": "C1", "survey": "ces", "score": 3}),
                "survey",
            ),
            (
                json!({"type": "survey", "customer_id": "C1", "survey": "nps", "score": 3, "colour": 1}),
                "colour",
            ),
            (
                json!({"type": "disposition", "customer_id": "C1", "outcome": "maybe"}),
                "outcome",
            ),
            (
                json!({"type": "disposition", "customer_id": "C1", "outcome": "no_action", "time": "2027-01-01T00:00:00Z"}),
                "time",
            ),
            (
                json!({"type": "disposition", "customer_id": 7, "outcome": "no_action"}),
                "customer_id",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                field_of(from_api(&body, now()).unwrap_err()),
                field,
                "{body}"
            );
        }
    }

    #[test]
    fn a_webhook_maps_the_platform_fields() {
        let item = from_webhook(
            &json!({"event_type": "survey_response.created", "event_data": {
                "id": "r-1", "survey_type": "csat", "score": 2, "comment": "slow",
                "created_at": 1767225600, "person": {"email": "x@example.com"},
                "person_properties": {"customer_id": "C9", "topic": "compliance_contact"}}}),
            now(),
        )
        .unwrap();
        assert_eq!(
            (
                item.customer_id.as_str(),
                item.survey.as_deref(),
                item.score,
                item.topic.as_deref()
            ),
            ("C9", Some("csat"), Some(2), Some("compliance_contact"))
        );
        assert_eq!(item.occurred_at.timestamp(), 1767225600);
        let missing = from_webhook(
            &json!({"event_data": {"score": 9, "person_properties": {}}}),
            now(),
        );
        assert_eq!(
            field_of(missing.unwrap_err()),
            "event_data.person_properties.customer_id"
        );
    }
}
