//! The validated `[segments]` section: how customers are segmented. The
//! numeric parameters are seglake-ml's own ([`SegmentParams`],
//! [`KMeansParams`](seglake_ml::KMeansParams), [`PrepareOptions`]), read
//! from the section and checked here, so `seglake validate` names every bad
//! value before any data is read. This module also checks the section's
//! shape: k or "auto" with a range, algorithm-only keys, the per-feature
//! preparation (the outcome table's name is checked with the job's tables).

use std::collections::BTreeMap;

use seglake_ml::{Algorithm, Encoding, KChoice, LogMode, PrepareOptions, SegmentParams};

use crate::error::Problem;
use crate::raw::{RawAlgorithm, RawClip, RawK, RawPrepareFeature, RawSegments};

/// Rows the silhouette is computed on, unless the section says otherwise.
const DEFAULT_SILHOUETTE_SAMPLE: usize = 5000;
/// Rows DBSCAN and hierarchical clustering run on, unless the section says
/// otherwise.
const DEFAULT_CLUSTER_SAMPLE: usize = 3000;
/// MinPts of DBSCAN, unless the section says otherwise.
const DEFAULT_MIN_POINTS: usize = 10;
/// Features a segment's label names, unless the section says otherwise.
const DEFAULT_LABEL_FEATURES: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentsSpec {
    /// The algorithm, k and every numeric parameter, checked; the seed is
    /// the job's.
    pub params: SegmentParams,
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub label_features: usize,
    pub outcomes: Option<String>,
    /// How every feature is prepared...
    pub prepare: PrepareOptions,
    /// ...but these, by column name (the section's settings, then the
    /// feature's own).
    pub prepare_features: BTreeMap<String, PrepareOptions>,
    /// How the job's categorical features (`[features] categorical`)
    /// become k-means columns: `one_hot` (the default) or `frequency`.
    pub categorical_encoding: Encoding,
}

impl SegmentsSpec {
    /// How feature `name` is prepared.
    pub fn prepare_for(&self, name: &str) -> &PrepareOptions {
        self.prepare_features.get(name).unwrap_or(&self.prepare)
    }
}

/// Validates `raw`: a shape error stops at once; parameter errors are all
/// collected.
pub(crate) fn validate(raw: &RawSegments, seed: u64) -> Result<SegmentsSpec, Vec<Problem>> {
    let err = |key: &str, message: String| vec![Problem::new(format!("segments.{key}"), message)];
    if raw.seed.is_some() {
        return Err(err(
            "seed",
            "the job's seed (job.seed) seeds every model; remove this key".into(),
        ));
    }
    let k = k_choice(raw).map_err(|(key, m)| err(key, m))?;
    let algorithm = algorithm(raw).map_err(|(key, m)| err(key, m))?;
    if raw.label_features == Some(0) {
        return Err(err("label_features", "must be at least 1".into()));
    }
    let (prepare, prepare_features) = preparation(raw)?;
    let categorical_encoding = encoding(raw.categorical_encoding.as_deref())
        .map_err(|m| err("categorical_encoding", m))?;
    let params = SegmentParams {
        algorithm,
        k,
        // k-means's own k is the k tried first (the one k, or the
        // range's smallest); the stored parameters show it.
        kmeans: seglake_ml::KMeansParams {
            k: match k {
                KChoice::Fixed(k) => k,
                KChoice::Auto { min, .. } => min,
            },
            seed,
            ..raw.kmeans.clone()
        },
        metric_sample: raw.silhouette_sample.unwrap_or(DEFAULT_SILHOUETTE_SAMPLE),
        cluster_sample: raw.cluster_sample.unwrap_or(DEFAULT_CLUSTER_SAMPLE),
    };
    let mut problems: Vec<Problem> = params
        .problems()
        .into_iter()
        .map(|e| Problem::of_param("segments", &e))
        .collect();
    for (key, options) in std::iter::once(("prepare".to_string(), &prepare)).chain(
        prepare_features
            .iter()
            .map(|(name, o)| (format!("prepare.features.{name}"), o)),
    ) {
        if let Err(e) = options.check() {
            problems.push(Problem::new(format!("segments.{key}.clip"), e.to_string()));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(SegmentsSpec {
        params,
        features: raw.features.clone(),
        exclude: raw.exclude.clone(),
        label_features: raw.label_features.unwrap_or(DEFAULT_LABEL_FEATURES),
        outcomes: raw.outcomes.clone(),
        prepare,
        prepare_features,
        categorical_encoding,
    })
}

/// `categorical_encoding`: `one_hot` when absent.
fn encoding(text: Option<&str>) -> Result<Encoding, String> {
    match text {
        None | Some("one_hot") => Ok(Encoding::OneHot),
        Some("frequency") => Ok(Encoding::Frequency),
        Some(other) => Err(format!("`{other}` is not one of: one_hot, frequency")),
    }
}

type ShapeError = (&'static str, String);

/// `k = N`, or `k = "auto"` with `k_range = [min, max]`; DBSCAN reads
/// neither.
fn k_choice(raw: &RawSegments) -> Result<KChoice, ShapeError> {
    match (&raw.k, &raw.k_range) {
        // DBSCAN finds its own number of clusters.
        (None, None) if raw.algorithm == RawAlgorithm::Dbscan => Ok(KChoice::Fixed(2)),
        (Some(_), _) | (None, Some(_)) if raw.algorithm == RawAlgorithm::Dbscan => Err((
            "k",
            "is not read with algorithm = \"dbscan\", which finds its own number of clusters (set eps and min_points)".into(),
        )),
        (None, _) => Err((
            "k",
            "is required: a number of segments, or \"auto\" with k_range".into(),
        )),
        (Some(RawK::Number(k)), None) => Ok(KChoice::Fixed(*k)),
        (Some(RawK::Number(_)), Some(_)) => {
            Err(("k_range", "is only read with k = \"auto\"".into()))
        }
        (Some(RawK::Text(t)), range) if t == "auto" => match range.as_deref() {
            Some([min, max]) => Ok(KChoice::Auto {
                min: *min,
                max: *max,
            }),
            Some(other) => Err(("k_range", format!("must be [min, max], got {other:?}"))),
            None => Err((
                "k_range",
                "k = \"auto\" needs k_range = [min, max], e.g. [4, 10]".into(),
            )),
        },
        (Some(RawK::Text(t)), _) => Err(("k", format!("`{t}` is neither a number nor \"auto\""))),
    }
}

/// The algorithm, with DBSCAN's own settings; they are refused for the
/// others.
fn algorithm(raw: &RawSegments) -> Result<Algorithm, ShapeError> {
    match raw.algorithm {
        RawAlgorithm::Kmeans | RawAlgorithm::Hierarchical => {
            for (key, set) in [
                ("eps", raw.eps.is_some()),
                ("min_points", raw.min_points.is_some()),
            ] {
                if set {
                    return Err((key, "is only read with algorithm = \"dbscan\"".into()));
                }
            }
            Ok(if raw.algorithm == RawAlgorithm::Kmeans {
                Algorithm::Kmeans
            } else {
                Algorithm::Hierarchical
            })
        }
        RawAlgorithm::Dbscan => {
            let Some(eps) = raw.eps else {
                return Err(("eps", "algorithm = \"dbscan\" needs eps, the neighbourhood radius in standardised units (e.g. 1.5)".into()));
            };
            Ok(Algorithm::Dbscan {
                eps,
                min_points: raw.min_points.unwrap_or(DEFAULT_MIN_POINTS),
            })
        }
    }
}

/// The section's preparation and each overridden feature's (its own
/// settings over the section's).
fn preparation(
    raw: &RawSegments,
) -> Result<(PrepareOptions, BTreeMap<String, PrepareOptions>), Vec<Problem>> {
    let all = prepare_settings("prepare", &raw.prepare.all)?;
    let prepare = all.apply_to(&PrepareOptions::default());
    let mut features = BTreeMap::new();
    for (name, p) in &raw.prepare.features {
        let own = prepare_settings(&format!("prepare.features.{name}"), p)?;
        features.insert(name.clone(), own.apply_to(&prepare));
    }
    Ok((prepare, features))
}

/// The settings a `[segments.prepare]` table gives; `None` keeps what it
/// overrides.
struct PrepareSettings {
    clip: Option<Option<(f64, f64)>>,
    log: Option<LogMode>,
    standardise: Option<bool>,
}

impl PrepareSettings {
    fn apply_to(&self, base: &PrepareOptions) -> PrepareOptions {
        PrepareOptions {
            clip: self.clip.unwrap_or(base.clip),
            log: self.log.unwrap_or(base.log),
            standardise: self.standardise.unwrap_or(base.standardise),
        }
    }
}

fn prepare_settings(key: &str, raw: &RawPrepareFeature) -> Result<PrepareSettings, Vec<Problem>> {
    let problem = |field: &str, message: String| {
        vec![Problem::new(format!("segments.{key}.{field}"), message)]
    };
    let clip = match &raw.clip {
        None => None,
        Some(RawClip::Off(false)) => Some(None),
        Some(RawClip::Off(true)) => {
            return Err(problem(
                "clip",
                "use [low, high] quantiles, e.g. [0.005, 0.995], or false".into(),
            ));
        }
        Some(RawClip::Bounds(b)) => match b.as_slice() {
            [low, high] => Some(Some((*low, *high))),
            _ => return Err(problem("clip", format!("must be [low, high], got {b:?}"))),
        },
    };
    let log = match raw.log.as_deref() {
        None => None,
        Some("auto") => Some(LogMode::Auto),
        Some("always") => Some(LogMode::Always),
        Some("never") => Some(LogMode::Never),
        Some(other) => {
            return Err(problem(
                "log",
                format!("`{other}` is not one of: auto, always, never"),
            ));
        }
    };
    Ok(PrepareSettings {
        clip,
        log,
        standardise: raw.standardise,
    })
}
