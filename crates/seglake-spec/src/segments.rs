//! The validated `[segments]` section: how customers are segmented. The
//! numeric parameters are checked by seglake-ml (which owns their meaning);
//! this module checks the shape: k or "auto" with a range, algorithm-only
//! keys, the outcomes source, the per-feature preparation.

use std::collections::BTreeMap;

use crate::raw::{RawAlgorithm, RawClip, RawK, RawPrepareFeature, RawSegments};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SegmentAlgorithm {
    Kmeans,
    Dbscan { eps: f64, min_points: usize },
    Hierarchical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KSpec {
    Fixed(usize),
    Auto { min: usize, max: usize },
}

/// Preparation of one feature; `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrepareSpec {
    /// `Some(None)`: clipping off; `Some(Some((low, high)))`: quantiles.
    pub clip: Option<Option<(f64, f64)>>,
    /// "auto", "always" or "never".
    pub log: Option<String>,
    pub standardise: Option<bool>,
}

impl PrepareSpec {
    /// This spec with `over`'s settings taking precedence.
    pub fn overridden_by(&self, over: &PrepareSpec) -> PrepareSpec {
        PrepareSpec {
            clip: over.clip.or(self.clip),
            log: over.log.clone().or_else(|| self.log.clone()),
            standardise: over.standardise.or(self.standardise),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SegmentsSpec {
    pub algorithm: SegmentAlgorithm,
    pub k: KSpec,
    pub features: Option<Vec<String>>,
    pub exclude: Vec<String>,
    pub batch_size: Option<usize>,
    pub max_epochs: Option<usize>,
    pub lloyd_passes: Option<usize>,
    pub tol: Option<f64>,
    pub patience: Option<usize>,
    pub n_init: Option<usize>,
    pub init_sample: Option<usize>,
    pub chunk_rows: Option<usize>,
    pub silhouette_sample: Option<usize>,
    pub cluster_sample: Option<usize>,
    pub label_features: usize,
    pub outcomes: Option<String>,
    pub prepare: PrepareSpec,
    pub prepare_features: BTreeMap<String, PrepareSpec>,
}

/// Validates `raw`; errors are `(key, message)`.
pub(crate) fn validate(
    raw: &RawSegments,
    sources: &[&str],
) -> Result<SegmentsSpec, (String, String)> {
    let err = |key: &str, message: String| Err((format!("segments.{key}"), message));
    let k = match (&raw.k, &raw.k_range) {
        // DBSCAN finds its own number of clusters.
        (None, None) if raw.algorithm == RawAlgorithm::Dbscan => KSpec::Fixed(2),
        (Some(_), _) | (None, Some(_)) if raw.algorithm == RawAlgorithm::Dbscan => {
            return err(
                "k",
                "is not read with algorithm = \"dbscan\", which finds its own number of clusters (set eps and min_points)".into(),
            );
        }
        (None, _) => {
            return err(
                "k",
                "is required: a number of segments, or \"auto\" with k_range".into(),
            );
        }
        (Some(RawK::Number(k)), None) => KSpec::Fixed(*k),
        (Some(RawK::Number(_)), Some(_)) => {
            return err("k_range", "is only read with k = \"auto\"".into());
        }
        (Some(RawK::Text(t)), range) if t == "auto" => match range.as_deref() {
            Some([min, max]) => KSpec::Auto {
                min: *min,
                max: *max,
            },
            Some(other) => return err("k_range", format!("must be [min, max], got {other:?}")),
            None => {
                return err(
                    "k_range",
                    "k = \"auto\" needs k_range = [min, max], e.g. [4, 10]".into(),
                );
            }
        },
        (Some(RawK::Text(t)), _) => {
            return err("k", format!("`{t}` is neither a number nor \"auto\""));
        }
    };
    let algorithm = match raw.algorithm {
        RawAlgorithm::Kmeans | RawAlgorithm::Hierarchical => {
            for (key, set) in [
                ("eps", raw.eps.is_some()),
                ("min_points", raw.min_points.is_some()),
            ] {
                if set {
                    return err(key, "is only read with algorithm = \"dbscan\"".into());
                }
            }
            if raw.algorithm == RawAlgorithm::Kmeans {
                SegmentAlgorithm::Kmeans
            } else {
                SegmentAlgorithm::Hierarchical
            }
        }
        RawAlgorithm::Dbscan => {
            let Some(eps) = raw.eps else {
                return err("eps", "algorithm = \"dbscan\" needs eps, the neighbourhood radius in standardised units (e.g. 1.5)".into());
            };
            SegmentAlgorithm::Dbscan {
                eps,
                min_points: raw.min_points.unwrap_or(10),
            }
        }
    };
    if let Some(source) = &raw.outcomes
        && !sources.contains(&source.as_str())
    {
        return err(
            "outcomes",
            format!(
                "`{source}` is not a source; sources: {}",
                sources.join(", ")
            ),
        );
    }
    let prepare = prepare_spec("prepare", &raw.prepare.all)?;
    let mut prepare_features = BTreeMap::new();
    for (name, p) in &raw.prepare.features {
        prepare_features.insert(
            name.clone(),
            prepare_spec(&format!("prepare.features.{name}"), p)?,
        );
    }
    if raw.label_features == Some(0) {
        return err("label_features", "must be at least 1".into());
    }
    Ok(SegmentsSpec {
        algorithm,
        k,
        features: raw.features.clone(),
        exclude: raw.exclude.clone(),
        batch_size: raw.batch_size,
        max_epochs: raw.max_epochs,
        lloyd_passes: raw.lloyd_passes,
        tol: raw.tol,
        patience: raw.patience,
        n_init: raw.n_init,
        init_sample: raw.init_sample,
        chunk_rows: raw.chunk_rows,
        silhouette_sample: raw.silhouette_sample,
        cluster_sample: raw.cluster_sample,
        label_features: raw.label_features.unwrap_or(3),
        outcomes: raw.outcomes.clone(),
        prepare,
        prepare_features,
    })
}

fn prepare_spec(key: &str, raw: &RawPrepareFeature) -> Result<PrepareSpec, (String, String)> {
    let clip = match &raw.clip {
        None => None,
        Some(RawClip::Off(false)) => Some(None),
        Some(RawClip::Off(true)) => {
            return Err((
                format!("segments.{key}.clip"),
                "use [low, high] quantiles, e.g. [0.005, 0.995], or false".into(),
            ));
        }
        Some(RawClip::Bounds(b)) => match b.as_slice() {
            [low, high] => Some(Some((*low, *high))),
            _ => {
                return Err((
                    format!("segments.{key}.clip"),
                    format!("must be [low, high], got {b:?}"),
                ));
            }
        },
    };
    if let Some(log) = &raw.log
        && !["auto", "always", "never"].contains(&log.as_str())
    {
        return Err((
            format!("segments.{key}.log"),
            format!("`{log}` is not one of: auto, always, never"),
        ));
    }
    Ok(PrepareSpec {
        clip,
        log: raw.log.clone(),
        standardise: raw.standardise,
    })
}
