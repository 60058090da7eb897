//! The customers on a plane: a seeded sample of the published feature
//! table, prepared with the run's own stored preparation (so it is the
//! space the segments were found in), projected on its two principal
//! components, coloured by the segment `segments` gives each customer.

use std::collections::HashMap;

use seglake_model::SegmentModel;
use seglake_spec::lineage::RunRecord;
use sha2::{Digest, Sha256};

use crate::columns::Table;
use crate::error::{ReportError, Result};

/// Customers drawn in the projection: enough to see every segment's
/// shape, few enough that the page stays small for a million customers.
pub const PROJECTION_SAMPLE: usize = 2000;

pub struct SampledProjection {
    /// Customers in the feature table, and how many were drawn.
    pub population: usize,
    pub sample: usize,
    pub explained_variance_ratio: [f64; 2],
    /// (x, y, segment id) per drawn customer.
    pub points: Vec<(f64, f64, i64)>,
}

/// Projects a sample of `features` (the run's feature table) with `model`'s
/// preparation. `None` when there is too little to project.
pub fn project(
    run: &RunRecord,
    model: &SegmentModel,
    features: &Table,
    segments: &Table,
) -> Result<Option<SampledProjection>> {
    // The key `segments` is published under; a feature table keyed
    // otherwise cannot be matched to segments, and is not drawn.
    let key = "customer_id";
    if !features.has(key) {
        return Ok(None);
    }
    let ids = features.strings(key)?;
    let rows = sample_rows(&ids, run.seed);
    let segment_of = segment_lookup(segments, &rows, &ids)?;
    let mut columns = Vec::with_capacity(model.features.len());
    for name in &model.features {
        let all = features.f64s(name)?;
        columns.push(rows.iter().map(|&r| all[r]).collect::<Vec<f64>>());
    }
    let column_refs: Vec<&[f64]> = columns.iter().map(Vec::as_slice).collect();
    let mut texts = Vec::new();
    for name in model.categorical() {
        let all = features.strings(&name)?;
        texts.push(rows.iter().map(|&r| all[r].clone()).collect::<Vec<_>>());
    }
    let texts: Vec<Vec<Option<&str>>> = (texts.iter())
        .map(|c| c.iter().map(Option::as_deref).collect())
        .collect();
    let text_refs: Vec<&[Option<&str>]> = texts.iter().map(Vec::as_slice).collect();
    let prepared = model
        .preparation
        .transform_mixed(&column_refs, &text_refs)
        .map_err(|source| ReportError::Prepare {
            run_id: run.run_id.clone(),
            source,
        })?;
    let Some(projection) = seglake_ml::projection::pca_2d(prepared.view()) else {
        return Ok(None);
    };
    let points = rows
        .iter()
        .zip(&projection.points)
        .map(|(&r, p)| {
            let id = ids[r].as_deref().unwrap_or_default();
            (p[0], p[1], segment_of.get(id).copied().unwrap_or(-1))
        })
        .collect();
    Ok(Some(SampledProjection {
        population: ids.len(),
        sample: rows.len(),
        explained_variance_ratio: projection.explained_variance_ratio,
        points,
    }))
}

/// The rows of the [`PROJECTION_SAMPLE`] customers whose keyed hash (the
/// run's seed, the customer id) is smallest: the same customers whatever
/// the order or partitioning of the table, different ones per seed.
fn sample_rows(ids: &[Option<String>], seed: i64) -> Vec<usize> {
    let mut ranked: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .filter_map(|(row, id)| id.as_deref().map(|id| (rank(seed, id), row)))
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| ids[a.1].cmp(&ids[b.1])));
    ranked.truncate(PROJECTION_SAMPLE);
    let mut rows: Vec<usize> = ranked.into_iter().map(|(_, row)| row).collect();
    rows.sort_unstable();
    rows
}

fn rank(seed: i64, id: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(id.as_bytes());
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The published segment of each sampled customer.
fn segment_lookup(
    segments: &Table,
    rows: &[usize],
    ids: &[Option<String>],
) -> Result<HashMap<String, i64>> {
    let wanted: std::collections::HashSet<&str> =
        rows.iter().filter_map(|&r| ids[r].as_deref()).collect();
    let segment_ids = segments.f64s("segment_id")?;
    let customer_ids = segments.strings("customer_id")?;
    Ok(customer_ids
        .iter()
        .zip(segment_ids)
        .filter_map(|(id, s)| {
            let id = id.as_deref()?;
            wanted.contains(id).then(|| (id.to_string(), s as i64))
        })
        .collect())
}
