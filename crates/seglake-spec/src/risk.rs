//! The validated `[risk]` section: the label view, the booster's
//! parameters (seglake-ml's [`GbdtParams`], read from the section and
//! checked here, so `seglake validate` names every bad value before any
//! data is read) and the risk bands.

use seglake_ml::{GbdtParams, GbdtValidParams};

use crate::error::Problem;
use crate::raw::RawRisk;
use crate::view::ViewSpec;

/// Reasons (largest TreeSHAP contributions) per score, unless the section
/// says otherwise.
const DEFAULT_REASONS: usize = 3;

/// What a band's threshold is chosen to meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BandTarget {
    /// This share of the scored customers (of each segment, with
    /// `per_segment`) is in the band or a higher one.
    AlertRate(f64),
    /// This share of the held-out positives is in the band or a higher one.
    Recall(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BandSpec {
    pub name: String,
    pub target: BandTarget,
}

#[derive(Debug, Clone)]
pub struct RiskSpec {
    pub labels: ViewSpec,
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub segment_feature: bool,
    pub reasons: usize,
    /// The booster's parameters, checked; the seed is the job's.
    pub booster: GbdtValidParams,
    /// Bands from the highest risk down; customers in none get `default_band`.
    pub bands: Vec<BandSpec>,
    pub per_segment: bool,
    pub default_band: String,
}

/// Validates `raw` (the label view already read): a shape error stops at
/// once; parameter errors are all collected.
pub(crate) fn validate(
    raw: &RawRisk,
    labels: ViewSpec,
    has_segments: bool,
    seed: u64,
) -> Result<RiskSpec, Vec<Problem>> {
    let err = |key: &str, message: String| vec![Problem::new(format!("risk.{key}"), message)];
    if raw.seed.is_some() {
        return Err(err(
            "seed",
            "the job's seed (job.seed) seeds every model; remove this key".into(),
        ));
    }
    if !has_segments {
        return Err(vec![Problem::new(
            "risk",
            "needs a [segments] section: risk scores are published in the `segments` table",
        )]);
    }
    if raw.reasons == Some(0) {
        return Err(err("reasons", "must be at least 1".into()));
    }
    let bands = bands(raw).map_err(|(key, m)| err(&key, m))?;
    let default_band = raw.default_band.clone().unwrap_or_else(|| "low".into());
    if bands.iter().any(|b| b.name == default_band) {
        return Err(err(
            "default_band",
            format!("`{default_band}` is also the name of a band"),
        ));
    }
    let booster = GbdtParams {
        seed,
        ..raw.booster.clone()
    };
    let problems: Vec<Problem> = booster
        .problems()
        .iter()
        .map(|e| Problem::of_param("risk", e))
        .collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(RiskSpec {
        labels,
        features: raw.features.clone(),
        exclude: raw.exclude.clone(),
        segment_feature: raw.segment_feature.unwrap_or(false),
        reasons: raw.reasons.unwrap_or(DEFAULT_REASONS),
        booster: booster.check().expect("no problems"),
        bands,
        per_segment: raw.per_segment.unwrap_or(false),
        default_band,
    })
}

/// The bands, highest risk first: two alert-rate bands (1% high, 5%
/// medium) when the section names none.
fn bands(raw: &RawRisk) -> Result<Vec<BandSpec>, (String, String)> {
    if raw.bands.is_empty() {
        return Ok(vec![
            BandSpec {
                name: "high".into(),
                target: BandTarget::AlertRate(0.01),
            },
            BandSpec {
                name: "medium".into(),
                target: BandTarget::AlertRate(0.05),
            },
        ]);
    }
    let mut bands: Vec<BandSpec> = Vec::new();
    for (i, b) in raw.bands.iter().enumerate() {
        let key = format!("bands[{i}]");
        let target = match (b.alert_rate, b.recall) {
            (Some(r), None) => BandTarget::AlertRate(r),
            (None, Some(r)) => BandTarget::Recall(r),
            _ => return Err((key, "give exactly one of alert_rate or recall".into())),
        };
        let (BandTarget::AlertRate(v) | BandTarget::Recall(v)) = target;
        if !(v > 0.0 && v <= 1.0) {
            return Err((key, format!("the target must be in (0, 1], got {v}")));
        }
        if b.name.is_empty() || bands.iter().any(|o| o.name == b.name) {
            return Err((key, format!("band name `{}` is empty or repeated", b.name)));
        }
        if let Some(prev) = bands.last() {
            check_order(prev.target, target).map_err(|m| (key.clone(), m))?;
        }
        bands.push(BandSpec {
            name: b.name.clone(),
            target,
        });
    }
    Ok(bands)
}

/// Each band's target is larger than the one before, of the same kind.
fn check_order(prev: BandTarget, next: BandTarget) -> Result<(), String> {
    match (prev, next) {
        (BandTarget::AlertRate(p), BandTarget::AlertRate(v))
        | (BandTarget::Recall(p), BandTarget::Recall(v)) => {
            if v <= p {
                return Err(format!(
                    "bands go from the highest risk down: each target must be larger than the one before ({v} <= {p})"
                ));
            }
            Ok(())
        }
        _ => Err("all bands use alert_rate, or all use recall".into()),
    }
}
