//! What a case manager is told: every alert (`alert.created`) and every
//! state change of every case (`case.changed`), read from the lake's
//! `alerts` and `cases`, each with an idempotency key that stays the same
//! however often it is read (`alert:<alert_id>`, `case:<case_id>:<n>` for
//! the case's n-th event), so a delivery worker can resume from its outbox.

use arrow::array::RecordBatch;
use seglake_deliver::Delivery;
use seglake_lake::{read_table, table_location};
use seglake_spec::{ALERTS_TABLE, CASES_TABLE, Location};
use serde_json::{Value, json};

use crate::error::{JobError, Result};

/// Every alert, then every case change, oldest first.
pub async fn lake_events(root: &Location) -> Result<Vec<Delivery>> {
    let mut out = Vec::new();
    let mut alerts = rows(root, ALERTS_TABLE).await?;
    alerts.sort_by(|a, b| {
        (a["as_of"].as_str(), a["alert_id"].as_str())
            .cmp(&(b["as_of"].as_str(), b["alert_id"].as_str()))
    });
    for alert in alerts {
        let id = alert["alert_id"].as_str().unwrap_or_default().to_string();
        out.push(Delivery::new(format!("alert:{id}"), "alert.created", alert));
    }
    let mut changes = Vec::new();
    for case in rows(root, CASES_TABLE).await? {
        changes.extend(case_changes(&case));
    }
    changes.sort_by(|a: &(String, Delivery), b| (&a.0, &a.1.key).cmp(&(&b.0, &b.1.key)));
    out.extend(changes.into_iter().map(|(_, d)| d));
    Ok(out)
}

/// One delivery per event of `case`, keyed by its position, with the time
/// it happened (for ordering).
fn case_changes(case: &Value) -> Vec<(String, Delivery)> {
    let id = case["case_id"].as_str().unwrap_or_default();
    let events: Vec<Value> = case["events"]
        .as_str()
        .and_then(|e| serde_json::from_str(e).ok())
        .unwrap_or_default();
    let mut summary = case.clone();
    if let Some(object) = summary.as_object_mut() {
        object.remove("events");
        if let Some(ids) = case["alert_ids"].as_str() {
            object.insert(
                "alert_ids".into(),
                serde_json::from_str(ids).unwrap_or(Value::Null),
            );
        }
    }
    events
        .into_iter()
        .enumerate()
        .map(|(n, event)| {
            let at = event["at"].as_str().unwrap_or_default().to_string();
            let body = json!({"case": summary, "change": event});
            (
                at,
                Delivery::new(format!("case:{id}:{n}"), "case.changed", body),
            )
        })
        .collect()
}

/// The latest version of `table` as JSON rows; none when it does not exist.
async fn rows(root: &Location, table: &str) -> Result<Vec<Value>> {
    let location = table_location(root, table);
    if !seglake_lake::table_exists(&location).await? {
        return Ok(Vec::new());
    }
    let batches: Vec<RecordBatch> = read_table(table, &location, None)
        .await?
        .iter()
        .map(seglake_lake::cases::plain_strings)
        .collect();
    let mut writer = arrow::json::ArrayWriter::new(Vec::new());
    for b in &batches {
        writer.write(b).map_err(|source| JobError::Output {
            table: table.to_string(),
            source,
        })?;
    }
    writer.finish().map_err(|source| JobError::Output {
        table: table.to_string(),
        source,
    })?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    Ok(serde_json::from_slice(&bytes).expect("arrow writes JSON"))
}
