//! Reading and printing a `segment_profiles` version: one line per segment
//! (size, share, case-outcome rates, label) and the features that set it
//! apart, in original units with their z-scores.

use arrow::array::{Array, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::DataType;

pub struct Profiles {
    batch: RecordBatch,
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .expect("checked in from_batches")
}

impl Profiles {
    /// Checks that `batches` are a segment_profiles table (the columns this
    /// view reads), naming the table when they are not.
    pub fn from_batches(table: &str, batches: &[RecordBatch]) -> Result<Profiles, String> {
        let Some(first) = batches.first() else {
            return Err(format!("table `{table}` is empty"));
        };
        let batch = concat_batches(&first.schema(), batches).map_err(|e| e.to_string())?;
        // Delta readers hand strings back as views: read everything as plain types.
        let schema = batch.schema();
        let mut columns = Vec::new();
        let mut fields = Vec::new();
        for (f, c) in schema.fields().iter().zip(batch.columns()) {
            let t = match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
                other => other.clone(),
            };
            columns.push(cast(c, &t).map_err(|e| e.to_string())?);
            fields.push(f.as_ref().clone().with_data_type(t));
        }
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
        )
        .map_err(|e| e.to_string())?;
        let needed = [
            ("segment_id", DataType::Int32),
            ("segment_label", DataType::Utf8),
            ("size", DataType::Int64),
            ("share", DataType::Float64),
            ("cases", DataType::Int64),
            ("sar_rate", DataType::Float64),
            ("false_positive_rate", DataType::Float64),
            ("run_id", DataType::Utf8),
        ];
        for (name, t) in needed {
            match batch.schema().field_with_name(name) {
                Ok(f) if *f.data_type() == t => {}
                _ => {
                    return Err(format!(
                        "table `{table}` is not a segment_profiles table: it has no {t} column `{name}`"
                    ));
                }
            }
        }
        // Rows by segment id.
        let ids = column::<Int32Array>(&batch, "segment_id");
        let order = arrow::compute::sort_to_indices(ids, None, None).map_err(|e| e.to_string())?;
        let batch = arrow::compute::take_record_batch(&batch, &order).map_err(|e| e.to_string())?;
        Ok(Profiles { batch })
    }

    /// The text view: a summary line per segment and its top features.
    pub fn render(&self, top: usize) -> String {
        let b = &self.batch;
        let ids = column::<Int32Array>(b, "segment_id");
        let labels = column::<StringArray>(b, "segment_label");
        let sizes = column::<Int64Array>(b, "size");
        let shares = column::<Float64Array>(b, "share");
        let cases = column::<Int64Array>(b, "cases");
        let sar = column::<Float64Array>(b, "sar_rate");
        let fp = column::<Float64Array>(b, "false_positive_rate");
        let run = column::<StringArray>(b, "run_id");
        let z_columns: Vec<(String, &Float64Array, &Float64Array)> = b
            .schema()
            .fields()
            .iter()
            .filter_map(|f| {
                let feature = f.name().strip_prefix("z_")?;
                let centre = b
                    .column_by_name(feature)?
                    .as_any()
                    .downcast_ref::<Float64Array>()?;
                let z = column::<Float64Array>(b, f.name());
                Some((feature.to_string(), centre, z))
            })
            .collect();
        let rate = |a: &Float64Array, i: usize| {
            if a.is_null(i) {
                "-".to_string()
            } else {
                format!("{:.1}%", a.value(i) * 100.0)
            }
        };
        let mut s = format!(
            "segments of run {} ({} segments)\n{:>3} {:>9} {:>7} {:>7} {:>8} {:>8}  {}\n",
            if b.num_rows() > 0 { run.value(0) } else { "-" },
            b.num_rows(),
            "id",
            "customers",
            "share",
            "cases",
            "SAR",
            "false+",
            "label"
        );
        for i in 0..b.num_rows() {
            s += &format!(
                "{:>3} {:>9} {:>6.1}% {:>7} {:>8} {:>8}  {}\n",
                ids.value(i),
                sizes.value(i),
                shares.value(i) * 100.0,
                if cases.is_null(i) {
                    "-".to_string()
                } else {
                    cases.value(i).to_string()
                },
                rate(sar, i),
                rate(fp, i),
                labels.value(i)
            );
            let mut ranked: Vec<&(String, &Float64Array, &Float64Array)> =
                z_columns.iter().collect();
            ranked.sort_by(|a, b2| b2.2.value(i).abs().total_cmp(&a.2.value(i).abs()));
            let features: Vec<String> = ranked
                .iter()
                .take(top)
                .map(|(name, centre, z)| {
                    format!("{name} {} (z {:+.1})", number(centre.value(i)), z.value(i))
                })
                .collect();
            if !features.is_empty() {
                s += &format!("{:>41}{}\n", "", features.join(", "));
            }
            if let Some(line) = feedback_line(b, i) {
                s += &format!("{:>41}{line}\n", "");
            }
        }
        s += "SAR: share of the segment's customers with a SAR filed; false+: share of its cases closed as false positives.\n";
        s
    }

    /// Every column of every segment, one JSON object per line.
    pub fn to_json_lines(&self) -> anyhow::Result<String> {
        let mut writer = arrow::json::LineDelimitedWriter::new(Vec::new());
        writer.write(&self.batch)?;
        writer.finish()?;
        Ok(String::from_utf8(writer.into_inner())?)
    }
}

/// Centre values in a compact, readable form.
fn number(v: f64) -> String {
    // No "-0.00" for a centre that is zero up to rounding.
    let v = if v.abs() < 0.005 { 0.0 } else { v };
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `feedback: NPS -100 (1 response), ...` for a segment with feedback (the
/// columns profiles have since `serve`); `None` without any.
fn feedback_line(b: &RecordBatch, i: usize) -> Option<String> {
    let count = |name: &str| -> Option<i64> {
        let c = b
            .column_by_name(name)?
            .as_any()
            .downcast_ref::<Int64Array>()?;
        (!c.is_null(i)).then(|| c.value(i))
    };
    let value = |name: &str| -> Option<f64> {
        let c = b
            .column_by_name(name)?
            .as_any()
            .downcast_ref::<Float64Array>()?;
        (!c.is_null(i)).then(|| c.value(i))
    };
    let responses = count("survey_responses")?;
    let dispositions = count("dispositions")?;
    if responses == 0 && dispositions == 0 {
        return None;
    }
    let show =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    Some(format!(
        "feedback: {responses} survey response(s), NPS {}, compliance-contact NPS {}, CSAT {}; \
         {dispositions} disposition(s), {} false positive",
        show(value("nps"), 0),
        show(value("compliance_contact_nps"), 0),
        show(value("csat"), 1),
        value("disposition_false_positive_rate")
            .map_or("-".to_string(), |r| format!("{:.0}%", r * 100.0)),
    ))
}
