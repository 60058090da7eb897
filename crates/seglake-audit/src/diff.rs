//! Segment migration between two segmentations: how many customers moved
//! from each segment to each other, who is newly in the high-risk band,
//! and who appeared or disappeared. Published, on request, as the
//! `segment_migrations` table (one row per cell of the matrix).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, Utc};
use seglake_lake::{WriteMode, current_version_of, publish};
use serde::Serialize;

use crate::error::{AuditError, Result};
use crate::lake::{Lake, SEGMENTS};

/// The table `diff --publish` appends to.
pub const MIGRATIONS: &str = "segment_migrations";

/// One side of a comparison, as the user named it.
#[derive(Debug, Clone)]
pub enum Side {
    Run(String),
    /// A version of `segments`.
    Version(i64),
    /// The segmentation in force at this time.
    Time(DateTime<Utc>),
}

impl Side {
    /// `v3` or `version:3` is a version, an RFC 3339 time is a time, and
    /// anything else a run id.
    pub fn parse(text: &str) -> Side {
        let version = text
            .strip_prefix("version:")
            .or_else(|| text.strip_prefix('v'))
            .and_then(|v| v.parse::<i64>().ok());
        if let Some(v) = version {
            return Side::Version(v);
        }
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Side::Time(t.with_timezone(&Utc));
        }
        Side::Run(text.to_string())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Segmentation {
    pub run_id: Option<String>,
    /// The `segments` version read (after following erasures).
    pub version: i64,
    pub customers: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// `None`: the customer was not in that segmentation.
    pub from_segment: Option<i64>,
    pub from_label: Option<String>,
    pub to_segment: Option<i64>,
    pub to_label: Option<String>,
    pub customers: i64,
    /// Customers of this cell newly in the high-risk band.
    pub newly_high_risk: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub from: Segmentation,
    pub to: Segmentation,
    pub matrix: Vec<Cell>,
    pub stayed: i64,
    pub moved: i64,
    pub appeared: Vec<String>,
    pub disappeared: Vec<String>,
    pub high_risk_band: String,
    pub newly_high_risk: Vec<String>,
}

struct Row {
    segment: i64,
    label: String,
    band: Option<String>,
}

async fn resolve(lake: &Lake, side: &Side) -> Result<(Option<String>, i64)> {
    let history = lake.history(SEGMENTS).await?;
    Ok(match side {
        Side::Run(id) => {
            let run = lake.run(id).await?;
            let (_, now) = lake.version_of(&run, SEGMENTS).await?;
            (Some(run.run_id), now)
        }
        Side::Time(t) => {
            let run = lake.run_in_force(*t).await?;
            let (_, now) = lake.version_of(&run, SEGMENTS).await?;
            (Some(run.run_id), now)
        }
        Side::Version(v) => {
            let entry = history.iter().find(|e| e.version == *v).ok_or_else(|| {
                AuditError::NotFound(format!(
                    "`{SEGMENTS}` has no version {v}; its versions are {}..={}",
                    history.first().map_or(0, |e| e.version),
                    history.last().map_or(0, |e| e.version)
                ))
            })?;
            let now = current_version_of(&history, *v);
            (entry.run_id.clone(), now)
        }
    })
}

fn strings(batch: &RecordBatch, name: &str) -> Result<Option<Vec<Option<String>>>> {
    let Some(column) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let text = cast(column, &DataType::Utf8).map_err(|error| AuditError::Arrow {
        context: format!("reading `{name}`"),
        error,
    })?;
    let text = text.as_any().downcast_ref::<StringArray>().expect("Utf8");
    Ok(Some(text.iter().map(|v| v.map(String::from)).collect()))
}

async fn read_rows(lake: &Lake, version: i64) -> Result<BTreeMap<String, Row>> {
    let mut rows = BTreeMap::new();
    for batch in lake.read(SEGMENTS, Some(version)).await? {
        if batch.num_rows() == 0 {
            continue;
        }
        let key_name = batch.schema().field(0).name().clone();
        let keys = strings(&batch, &key_name)?.expect("first column");
        let segments = strings(&batch, "segment_id")?.ok_or_else(|| {
            AuditError::Invalid(format!(
                "`{SEGMENTS}` version {version} has no segment_id column"
            ))
        })?;
        let labels = strings(&batch, "segment_label")?.unwrap_or_else(|| vec![None; keys.len()]);
        let bands = strings(&batch, "risk_band")?.unwrap_or_else(|| vec![None; keys.len()]);
        for i in 0..keys.len() {
            let (Some(key), Some(segment)) = (&keys[i], &segments[i]) else {
                continue;
            };
            rows.insert(
                key.clone(),
                Row {
                    segment: segment.parse().unwrap_or(-1),
                    label: labels[i].clone().unwrap_or_default(),
                    band: bands[i].clone(),
                },
            );
        }
    }
    Ok(rows)
}

/// Compares the segmentations `from` and `to`.
pub async fn diff(lake: &Lake, from: &Side, to: &Side, high_band: &str) -> Result<Migration> {
    let (from_run, from_version) = resolve(lake, from).await?;
    let (to_run, to_version) = resolve(lake, to).await?;
    let a = read_rows(lake, from_version).await?;
    let b = read_rows(lake, to_version).await?;
    type CellKey = (Option<(i64, String)>, Option<(i64, String)>);
    let mut cells: BTreeMap<CellKey, (i64, i64)> = BTreeMap::new();
    let mut newly_high_risk = Vec::new();
    let mut appeared = Vec::new();
    let mut disappeared = Vec::new();
    let (mut stayed, mut moved) = (0, 0);
    for (key, row) in &b {
        let before = a.get(key);
        let newly = row.band.as_deref() == Some(high_band)
            && before.and_then(|r| r.band.as_deref()) != Some(high_band);
        if newly {
            newly_high_risk.push(key.clone());
        }
        match before {
            None => appeared.push(key.clone()),
            Some(r) if r.segment == row.segment => stayed += 1,
            Some(_) => moved += 1,
        }
        let cell = cells
            .entry((
                before.map(|r| (r.segment, r.label.clone())),
                Some((row.segment, row.label.clone())),
            ))
            .or_default();
        cell.0 += 1;
        cell.1 += newly as i64;
    }
    for (key, row) in &a {
        if !b.contains_key(key) {
            disappeared.push(key.clone());
            cells
                .entry((Some((row.segment, row.label.clone())), None))
                .or_default()
                .0 += 1;
        }
    }
    let matrix = cells
        .into_iter()
        .map(|((f, t), (customers, newly))| Cell {
            from_segment: f.as_ref().map(|x| x.0),
            from_label: f.map(|x| x.1),
            to_segment: t.as_ref().map(|x| x.0),
            to_label: t.map(|x| x.1),
            customers,
            newly_high_risk: newly,
        })
        .collect();
    Ok(Migration {
        from: Segmentation {
            run_id: from_run,
            version: from_version,
            customers: a.len(),
        },
        to: Segmentation {
            run_id: to_run,
            version: to_version,
            customers: b.len(),
        },
        matrix,
        stayed,
        moved,
        appeared,
        disappeared,
        high_risk_band: high_band.to_string(),
        newly_high_risk,
    })
}

fn migrations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("from_run_id", DataType::Utf8, true),
        Field::new("to_run_id", DataType::Utf8, true),
        Field::new("from_version", DataType::Int64, false),
        Field::new("to_version", DataType::Int64, false),
        Field::new("from_segment", DataType::Int32, true),
        Field::new("from_label", DataType::Utf8, true),
        Field::new("to_segment", DataType::Int32, true),
        Field::new("to_label", DataType::Utf8, true),
        Field::new("customers", DataType::Int64, false),
        Field::new("newly_high_risk", DataType::Int64, false),
        Field::new("high_risk_band", DataType::Utf8, false),
        Field::new(
            "computed_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

impl Migration {
    /// Appends the matrix to `segment_migrations`, unless that pair of
    /// versions is already there. Returns the new version, if one was made.
    pub async fn publish(&self, lake: &Lake) -> Result<Option<i64>> {
        if lake.has_table(MIGRATIONS) {
            let existing = lake.read(MIGRATIONS, None).await?;
            for batch in &existing {
                let f = strings(batch, "from_version")?.unwrap_or_default();
                let t = strings(batch, "to_version")?.unwrap_or_default();
                let same = f.iter().zip(&t).any(|(f, t)| {
                    f.as_deref() == Some(&self.from.version.to_string())
                        && t.as_deref() == Some(&self.to.version.to_string())
                });
                if same {
                    return Ok(None);
                }
            }
        }
        let n = self.matrix.len();
        let now = Utc::now().timestamp_micros();
        let opt_i32 = |f: &dyn Fn(&Cell) -> Option<i64>| -> ArrayRef {
            Arc::new(Int32Array::from(
                self.matrix
                    .iter()
                    .map(|c| f(c).map(|v| v as i32))
                    .collect::<Vec<_>>(),
            ))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![self.from.run_id.clone(); n])),
            Arc::new(StringArray::from(vec![self.to.run_id.clone(); n])),
            Arc::new(Int64Array::from(vec![self.from.version; n])),
            Arc::new(Int64Array::from(vec![self.to.version; n])),
            opt_i32(&|c| c.from_segment),
            Arc::new(StringArray::from(
                self.matrix
                    .iter()
                    .map(|c| c.from_label.clone())
                    .collect::<Vec<_>>(),
            )),
            opt_i32(&|c| c.to_segment),
            Arc::new(StringArray::from(
                self.matrix
                    .iter()
                    .map(|c| c.to_label.clone())
                    .collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                self.matrix.iter().map(|c| c.customers).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(
                self.matrix
                    .iter()
                    .map(|c| c.newly_high_risk)
                    .collect::<Vec<_>>(),
            )),
            Arc::new(StringArray::from(vec![self.high_risk_band.clone(); n])),
            Arc::new(TimestampMicrosecondArray::from(vec![now; n]).with_timezone("UTC")),
        ];
        let schema = migrations_schema();
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|error| AuditError::Arrow {
                context: format!("building `{MIGRATIONS}`"),
                error,
            })?;
        let metadata: HashMap<String, serde_json::Value> = HashMap::from([(
            "seglake.operation".to_string(),
            serde_json::Value::from("diff"),
        )]);
        let location = seglake_spec::Location::Local(lake.root.join(MIGRATIONS));
        let commit = publish(
            MIGRATIONS,
            &location,
            schema,
            vec![batch],
            WriteMode::Append,
            &metadata,
            None,
        )
        .await?;
        Ok(Some(commit.version))
    }

    /// The matrix and summary as text.
    pub fn render(&self, list: usize) -> String {
        let side = |s: &Segmentation| {
            format!(
                "{} (segments version {}, {} customers)",
                s.run_id.as_deref().unwrap_or("unknown run"),
                s.version,
                s.customers
            )
        };
        let mut s = format!("from {}\n  to {}\n\n", side(&self.from), side(&self.to));
        let mut froms: Vec<Option<i64>> = self.matrix.iter().map(|c| c.from_segment).collect();
        let mut tos: Vec<Option<i64>> = self.matrix.iter().map(|c| c.to_segment).collect();
        froms.sort();
        froms.dedup();
        tos.sort();
        tos.dedup();
        let name = |v: &Option<i64>, none: &str| v.map_or(none.to_string(), |v| v.to_string());
        s += "customers moving from segment (rows) to segment (columns)\n";
        s += &format!("{:>8}", "from\\to");
        for t in &tos {
            s += &format!("{:>9}", name(t, "gone"));
        }
        s += "\n";
        for f in &froms {
            s += &format!("{:>8}", name(f, "new"));
            for t in &tos {
                let n = self
                    .matrix
                    .iter()
                    .find(|c| c.from_segment == *f && c.to_segment == *t)
                    .map_or(0, |c| c.customers);
                s += &format!("{n:>9}");
            }
            s += "\n";
        }
        s += &format!(
            "\n{} stayed, {} moved, {} appeared, {} disappeared, {} newly in the `{}` band\n",
            self.stayed,
            self.moved,
            self.appeared.len(),
            self.disappeared.len(),
            self.newly_high_risk.len(),
            self.high_risk_band
        );
        for (what, ids) in [
            ("newly high risk", &self.newly_high_risk),
            ("appeared", &self.appeared),
            ("disappeared", &self.disappeared),
        ] {
            if ids.is_empty() {
                continue;
            }
            let shown: Vec<&str> = ids.iter().take(list).map(String::as_str).collect();
            s += &format!(
                "{what}: {}{}\n",
                shown.join(", "),
                if ids.len() > list {
                    format!(" ... ({} more; --json lists all)", ids.len() - list)
                } else {
                    String::new()
                }
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_parse_as_versions_times_or_run_ids() {
        assert!(matches!(Side::parse("v3"), Side::Version(3)));
        assert!(matches!(Side::parse("version:12"), Side::Version(12)));
        assert!(matches!(Side::parse("2026-01-01T00:00:00Z"), Side::Time(_)));
        assert!(matches!(
            Side::parse("run-20260101T000000Z-ab"),
            Side::Run(_)
        ));
    }
}
