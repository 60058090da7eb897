//! The run as an OpenLineage `RunEvent` (spec 2-0-2): the job, the run,
//! every input dataset at the version read, every output table at the
//! version published, and the SQL the run executed. The event is stored
//! with the run (column `openlineage` of `runs`) and, when the environment
//! configures an endpoint the way the OpenLineage clients do
//! (`OPENLINEAGE_URL`, `OPENLINEAGE_ENDPOINT`, `OPENLINEAGE_API_KEY`,
//! `OPENLINEAGE_NAMESPACE`), posted to it (Marquez, DataHub, ...).

use std::time::Duration;

use seglake_spec::Location;
use seglake_spec::lineage::RunRecord;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SCHEMA_URL: &str = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent";
const SQL_FACET: &str =
    "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet";
const JOB_TYPE_FACET: &str =
    "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet";
const VERSION_FACET: &str = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet";
const NOMINAL_TIME_FACET: &str =
    "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet";
const OUTPUT_STATS_FACET: &str = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet";

/// The job namespace when `OPENLINEAGE_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "seglake";

fn producer() -> String {
    format!(
        "https://github.com/seglake/seglake/tree/v{}",
        crate::SEGLAKE_VERSION
    )
}

/// OpenLineage run ids are UUIDs; seglake's are readable strings. The UUID
/// is derived from the run id (SHA-256, as a version-8 UUID), so the same
/// run always has the same OpenLineage id; the seglake id is kept in the
/// `seglake_run` run facet.
pub fn run_uuid(run_id: &str) -> String {
    let mut b: [u8; 16] = Sha256::digest(run_id.as_bytes())[..16]
        .try_into()
        .expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// OpenLineage dataset naming: local files are namespace `file` and their
/// absolute path; object stores are `scheme://bucket` and the key.
fn dataset_name(location: &Location) -> (String, String) {
    let url = location.to_url();
    match url.scheme() {
        "file" => (
            "file".to_string(),
            // A folder's URL ends in `/`; the dataset is the folder.
            url.path().trim_end_matches('/').to_string(),
        ),
        scheme => (
            format!("{scheme}://{}", url.host_str().unwrap_or_default()),
            url.path().trim_matches('/').to_string(),
        ),
    }
}

fn facet(schema_url: &str, fields: Value) -> Value {
    let mut f = json!({ "_producer": producer(), "_schemaURL": schema_url });
    if let (Some(f), Value::Object(fields)) = (f.as_object_mut(), fields) {
        f.extend(fields);
    }
    f
}

/// The `COMPLETE` event of a published run. `output_root` is where the
/// run's tables live; `runs` itself is not an output (it is the lineage).
pub fn run_event(record: &RunRecord, output_root: &Location, namespace: &str) -> Value {
    let inputs: Vec<Value> = record.inputs.iter().map(input_dataset).collect();
    let outputs: Vec<Value> = record
        .outputs
        .iter()
        .map(|output| output_dataset(record, output, output_root))
        .collect();
    let query = record
        .sql_files
        .iter()
        .map(|f| format!("-- view {} (sha256 {})\n{}", f.view, f.sha256, f.text))
        .collect::<Vec<_>>()
        .join("\n\n");
    json!({
        "eventType": "COMPLETE",
        "eventTime": record.finished_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "producer": producer(),
        "schemaURL": SCHEMA_URL,
        "run": {
            "runId": run_uuid(&record.run_id),
            "facets": {
                "nominalTime": facet(NOMINAL_TIME_FACET, json!({
                    "nominalStartTime": record.as_of.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                })),
                "seglake_run": facet(
                    "https://github.com/seglake/seglake/blob/main/README.md#lineage",
                    json!({
                        "runId": record.run_id,
                        "specSha256": record.spec_sha256,
                        "seed": record.seed,
                        "seglakeVersion": record.seglake_version,
                    }),
                ),
            },
        },
        "job": {
            "namespace": namespace,
            "name": record.job_name,
            "facets": {
                "sql": facet(SQL_FACET, json!({ "query": query })),
                "jobType": facet(JOB_TYPE_FACET, json!({
                    "processingType": "BATCH",
                    "integration": "SEGLAKE",
                    "jobType": "JOB",
                })),
            },
        },
        "inputs": inputs,
        "outputs": outputs,
    })
}

/// An input as an OpenLineage dataset. A Delta input's version is its table
/// version; a file input's is the hash of the exact file list it was read as.
fn input_dataset(input: &seglake_spec::lineage::InputRecord) -> Value {
    let base = std::env::current_dir().unwrap_or_default();
    let (ns, name) = Location::parse(&input.uri, &base)
        .map(|l| dataset_name(&l))
        .unwrap_or_else(|_| ("file".to_string(), input.uri.clone()));
    let version = match input.delta_version {
        Some(v) => v.to_string(),
        None => {
            let mut h = Sha256::new();
            for f in &input.files {
                h.update(format!(
                    "{}\t{}\t{}\n",
                    f.path,
                    f.size,
                    f.etag.as_deref().unwrap_or("")
                ));
            }
            format!("sha256:{}", hex::encode(h.finalize()))
        }
    };
    json!({
        "namespace": ns,
        "name": name,
        "facets": { "version": facet(VERSION_FACET, json!({ "datasetVersion": version })) },
    })
}

/// A published table as an OpenLineage dataset, with its row count.
fn output_dataset(
    record: &RunRecord,
    output: &seglake_spec::lineage::OutputRecord,
    output_root: &Location,
) -> Value {
    let (ns, name) = dataset_name(&output_root.join(&output.table));
    let rows = record
        .rows_out
        .iter()
        .find(|r| r.table == output.table)
        .map(|r| r.rows);
    let mut dataset = json!({
        "namespace": ns,
        "name": name,
        "facets": {
            "version": facet(VERSION_FACET, json!({ "datasetVersion": output.version.to_string() })),
        },
    });
    if let Some(rows) = rows {
        dataset["outputFacets"] = json!({
            "outputStatistics": facet(OUTPUT_STATS_FACET, json!({ "rowCount": rows })),
        });
    }
    dataset
}

/// The namespace from `OPENLINEAGE_NAMESPACE`, or [`DEFAULT_NAMESPACE`].
pub fn namespace_from_env() -> String {
    std::env::var("OPENLINEAGE_NAMESPACE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
}

/// Posts the event when `OPENLINEAGE_URL` is set. Returns where it went, or
/// why it could not be sent; the message never carries the API key or a
/// password in the URL.
pub async fn send_if_configured(event: &Value) -> Option<Result<String, String>> {
    let base = std::env::var("OPENLINEAGE_URL")
        .ok()
        .filter(|s| !s.is_empty())?;
    let endpoint =
        std::env::var("OPENLINEAGE_ENDPOINT").unwrap_or_else(|_| "api/v1/lineage".to_string());
    let url = match url::Url::parse(&base).and_then(|b| {
        let b = if b.path().ends_with('/') {
            b
        } else {
            url::Url::parse(&format!("{b}/"))?
        };
        b.join(endpoint.trim_start_matches('/'))
    }) {
        Ok(u) => u,
        Err(e) => return Some(Err(format!("OPENLINEAGE_URL is not a URL: {e}"))),
    };
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => return Some(Err(format!("cannot start an HTTP client: {e}"))),
    };
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(event.to_string());
    if let Ok(key) = std::env::var("OPENLINEAGE_API_KEY")
        && !key.is_empty()
    {
        request = request.bearer_auth(key);
    }
    Some(match request.send().await {
        Ok(r) if r.status().is_success() => Ok(shown.to_string()),
        Ok(r) => Err(format!("{shown} answered {}", r.status())),
        // Errors are rendered without their URL: it may carry credentials.
        Err(e) => Err(format!("{shown}: {}", e.without_url())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_uuids_are_stable_version_8_uuids() {
        let a = run_uuid("run-20260101T000000Z-abcdef01");
        assert_eq!(a, run_uuid("run-20260101T000000Z-abcdef01"));
        assert_ne!(a, run_uuid("run-20260101T000000Z-abcdef02"));
        let parts: Vec<&str> = a.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('8'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn datasets_are_named_as_openlineage_names_them() {
        let local = Location::parse("/lake/segments", std::path::Path::new("/")).unwrap();
        assert_eq!(
            dataset_name(&local),
            ("file".to_string(), "/lake/segments".to_string())
        );
        // Built directly: this build's job specs accept local paths only.
        let s3 = Location::Url(url::Url::parse("s3://bank-lake/prod/segments").unwrap());
        assert_eq!(
            dataset_name(&s3),
            ("s3://bank-lake".to_string(), "prod/segments".to_string())
        );
    }
}
