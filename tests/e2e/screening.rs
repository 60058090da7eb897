//! Sanctions screening in the demo job: every customer and counterparty
//! name against the pinned OFAC SDN list, the planted near-matches found,
//! hits explained in `audit`, a new list version compared with `screen`,
//! and bad lists and sections refused naming what is wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::DataType;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::*;

/// The recall and precision the README states for the planted names at
/// the demo's threshold (0.9).
const MIN_RECALL: f64 = 0.95;
const MIN_PRECISION: f64 = 0.7;

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let mut files: Vec<_> = if path.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(f).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap())
        })
        .collect()
}

fn texts(batch: &RecordBatch, column: &str) -> StringArray {
    let c = cast(batch.column_by_name(column).unwrap(), &DataType::Utf8).unwrap();
    c.as_any().downcast_ref::<StringArray>().unwrap().clone()
}

/// (party, party_id) -> the SDN entry a planted name was made from (None
/// for a look-alike).
fn planted(lake: &Path) -> BTreeMap<(String, String), Option<i64>> {
    let mut truth = BTreeMap::new();
    for b in read_parquet(&lake.join("raw/screening_truth")) {
        let party = texts(&b, "party");
        let id = texts(&b, "party_id");
        let entry = b
            .column_by_name("sdn_entry_id")
            .unwrap()
            .as_any()
            .downcast_ref::<Int64Array>()
            .unwrap()
            .clone();
        for i in 0..b.num_rows() {
            let e = entry.is_valid(i).then(|| entry.value(i));
            truth.insert((party.value(i).to_string(), id.value(i).to_string()), e);
        }
    }
    truth
}

type HitKey = (String, String, i64);

fn hits(rows: &[serde_json::Value]) -> BTreeSet<HitKey> {
    rows.iter()
        .map(|r| {
            (
                r["party"].as_str().unwrap().to_string(),
                r["party_id"].as_str().unwrap().to_string(),
                r["list_entry_id"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_demo_screens_every_name_and_a_new_list_is_compared() {
    let lake = generated_lake(4_000);
    run_demo_job(lake.path());
    let rows = table_rows(lake.path(), "screening_hits");
    let found = hits(&rows);
    let truth = planted(lake.path());

    // Precision and recall on the planted names (near-matches and
    // look-alikes), hit by hit.
    let near: Vec<_> = truth
        .iter()
        .filter_map(|(k, e)| e.map(|e| (k, e)))
        .collect();
    assert!(near.len() >= 20, "{} planted near-matches", near.len());
    let recalled = near
        .iter()
        .filter(|((party, id), e)| found.contains(&(party.clone(), id.clone(), *e)))
        .count();
    let on_planted: Vec<&HitKey> = found
        .iter()
        .filter(|(party, id, _)| truth.contains_key(&(party.clone(), id.clone())))
        .collect();
    let right = on_planted
        .iter()
        .filter(|(party, id, e)| truth.get(&(party.clone(), id.clone())) == Some(&Some(*e)))
        .count();
    let recall = recalled as f64 / near.len() as f64;
    let precision = right as f64 / on_planted.len() as f64;
    eprintln!(
        "recall {recall:.3} ({recalled}/{}), precision {precision:.3} ({right}/{})",
        near.len(),
        on_planted.len()
    );
    assert!(recall >= MIN_RECALL, "recall {recall}");
    assert!(precision >= MIN_PRECISION, "precision {precision}");

    // Every hit names the list version the run recorded, and explains itself.
    let run = runs_rows(lake.path()).pop().unwrap();
    let metrics: serde_json::Value =
        serde_json::from_str(run["metrics"].as_str().unwrap()).unwrap();
    let screening = &metrics["screening"];
    let sha = screening["list_sha256"].as_str().unwrap();
    assert_eq!(screening["list_entries"], 14_965);
    for r in &rows {
        assert_eq!(r["list_sha256"], sha);
        assert_eq!(r["run_id"], run["run_id"]);
        assert!(r["score"].as_f64().unwrap() >= 0.9);
        assert!(!r["matched_tokens"].as_str().unwrap().is_empty());
    }
    let inputs = run["inputs"].to_string();
    assert!(
        inputs.contains("ofac_sdn.parquet") && inputs.contains("657915"),
        "{inputs}"
    );

    audit_shows_hits(lake.path(), &rows, sha);
    new_list_is_compared(lake.path(), &rows, run["run_id"].as_str().unwrap());
}

/// `audit --customer` names the list version and the hit (or says none).
fn audit_shows_hits(lake: &Path, rows: &[serde_json::Value], sha: &str) {
    let lake_arg = lake.to_str().unwrap();
    let customer_hit = rows.iter().find(|r| r["party"] == "customer");
    if let Some(hit) = customer_hit {
        let id = hit["party_id"].as_str().unwrap();
        let out = seglake_ok(&[
            "audit",
            "--customer",
            id,
            "--as-of",
            "2099-01-01",
            "--lake",
            lake_arg,
        ]);
        assert!(out.contains(sha), "{out}");
        let entry = format!("hit  entry {} ", hit["list_entry_id"]);
        assert!(out.contains(&entry), "{out}");
    }
    let out = seglake_ok(&[
        "audit",
        "--customer",
        "C00000000",
        "--as-of",
        "2099-01-01",
        "--lake",
        lake_arg,
    ]);
    if !rows.iter().any(|r| r["party_id"] == "C00000000") {
        assert!(out.contains("no hit"), "{out}");
    }
    assert!(out.contains(sha), "{out}");
}

/// A list without entry 8279 and with one new entry named as customer
/// C00000001: `screen --changed-since` reports exactly those changes.
fn new_list_is_compared(lake: &Path, rows: &[serde_json::Value], run_id: &str) {
    let sdn = read_parquet(&repo_root().join("reference/ofac_sdn.parquet"));
    let customers = read_parquet(&lake.join("raw/customers"));
    let c1 = (0..customers[0].num_rows())
        .find(|i| texts(&customers[0], "customer_id").value(*i) == "C00000001")
        .unwrap();
    let name = texts(&customers[0], "full_name").value(c1).to_string();
    let new_list = lake.join("sdn-next.parquet");
    write_list_without_and_with(&sdn, 8279, &name, &new_list);
    let job = JobVariant::new(
        "next-list",
        "uri = \"../reference/ofac_sdn.parquet\"",
        &format!("uri = \"{}\"", new_list.display()),
    );
    let out = seglake_ok(&[
        "screen",
        job.0.to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.display()),
        "--lake",
        lake.to_str().unwrap(),
        "--changed-since",
        run_id,
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gone: BTreeSet<HitKey> = hits(report["removed"].as_array().unwrap());
    let expected_gone: BTreeSet<HitKey> = hits(rows).into_iter().filter(|h| h.2 == 8279).collect();
    assert!(
        !expected_gone.is_empty(),
        "the demo bank has hits on entry 8279"
    );
    assert_eq!(gone, expected_gone);
    let added = hits(report["added"].as_array().unwrap());
    assert!(
        added.contains(&("customer".into(), "C00000001".into(), 99_999_999)),
        "{added:?}"
    );
    assert!(added.iter().all(|h| h.2 == 99_999_999), "{added:?}");
    assert!(report["changed"].as_array().unwrap().is_empty());
    assert_ne!(report["list_sha256"], report["baseline_list_sha256"]);
}

fn write_list_without_and_with(sdn: &[RecordBatch], drop: i64, name: &str, path: &Path) {
    let schema = sdn[0].schema();
    let mut batches: Vec<RecordBatch> = sdn
        .iter()
        .map(|b| {
            let ids = cast(b.column_by_name("ent_num").unwrap(), &DataType::Int64).unwrap();
            let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
            let keep: arrow::array::BooleanArray =
                ids.iter().map(|v| Some(v != Some(drop))).collect();
            filter_record_batch(b, &keep).unwrap()
        })
        .collect();
    let columns = schema
        .fields()
        .iter()
        .map(|f| -> Arc<dyn Array> {
            let value = match f.name().as_str() {
                "ent_num" => {
                    return cast(&Int64Array::from(vec![99_999_999]), f.data_type()).unwrap();
                }
                "SDN_Name" => Some(name),
                "SDN_Type" => Some("individual"),
                "Program" => Some("TEST"),
                _ => None,
            };
            cast(&StringArray::from(vec![value]), f.data_type()).unwrap()
        })
        .collect();
    batches.push(RecordBatch::try_new(schema.clone(), columns).unwrap());
    let mut writer =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    for b in &batches {
        writer.write(b).unwrap();
    }
    writer.close().unwrap();
}

#[test]
fn bad_screening_input_is_refused_naming_it() {
    let lake = generated_lake(200);
    let cases = [
        (
            "threshold = 0.9",
            "threshold = 1.5",
            "key `screening.threshold`: 1.5 is outside (0, 1]",
        ),
        (
            "format = \"ofac_sdn\"",
            "format = \"eu_fsf\"",
            "unknown list format `eu_fsf`",
        ),
        (
            "list = \"sdn\"",
            "list = \"customers\"",
            "list `customers` (ofac_sdn format) has no column `ent_num`",
        ),
        (
            "name = \"full_name\"",
            "name = \"nom\"",
            "party `customer`: source `customers` has no column `nom`",
        ),
        (
            "table = \"customers\"",
            "table = \"customer_features\"",
            "`customer_features` is not a source",
        ),
    ];
    for (i, (from, to, message)) in cases.iter().enumerate() {
        assert_demo_variant_fails(lake.path(), &format!("screening-{i}"), from, to, message);
    }
    // An empty list would clear everyone: refused.
    let sdn = read_parquet(&repo_root().join("reference/ofac_sdn.parquet"));
    let empty = lake.path().join("empty-sdn.parquet");
    let mut writer = ArrowWriter::try_new(
        std::fs::File::create(&empty).unwrap(),
        sdn[0].schema(),
        None,
    )
    .unwrap();
    writer.write(&sdn[0].slice(0, 0)).unwrap();
    writer.close().unwrap();
    assert_demo_variant_fails(
        lake.path(),
        "screening-empty",
        "uri = \"../reference/ofac_sdn.parquet\"",
        &format!("uri = \"{}\"", empty.display()),
        "list `sdn` has no entries to screen against",
    );
    // A bank's own list with bytes that are not UTF-8: refused, naming the
    // file, nothing written.
    let own = lake.path().join("own-list.csv");
    std::fs::write(&own, b"entry_id,name\n1,Acme \xff Trading\n").unwrap();
    let text = std::fs::read_to_string(repo_root().join("jobs/demo.toml"))
        .unwrap()
        .replacen(
            "uri = \"../reference/ofac_sdn.parquet\"\nformat = \"parquet\"",
            &format!("uri = \"{}\"\nformat = \"csv\"", own.display()),
            1,
        )
        .replacen("format = \"ofac_sdn\"", "format = \"internal\"", 1);
    let job = JobVariant::new("screening-utf8", "", "");
    std::fs::write(&job.0, text).unwrap();
    let before = file_tree(lake.path());
    let out = job.run(lake.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("own-list.csv") && stderr(&out).contains("invalid utf-8"),
        "{}",
        stderr(&out)
    );
    assert_eq!(file_tree(lake.path()), before);
    // validate finds a bad column without running anything.
    let job = JobVariant::new(
        "screening-validate",
        "name = \"full_name\"",
        "name = \"nom\"",
    );
    let out = seglake(&[
        "validate",
        job.0.to_str().unwrap(),
        "--var",
        &format!("lake={}", lake.path().display()),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("has no column `nom`"),
        "{}",
        stderr(&out)
    );
}
