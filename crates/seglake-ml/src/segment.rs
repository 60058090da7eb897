//! One segmentation of a prepared matrix: the algorithm the job asked for,
//! k fixed or chosen by silhouette over a range, every row assigned to its
//! nearest centre, and the quality metrics of the result.

use linfa::traits::Transformer;
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::kmeans::{Assignment, KMeansParams, assign_to};
use crate::metrics;
use crate::seeds::{Stream, sample_rows};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Algorithm {
    /// Mini-batch k-means on every row ([`crate::KMeansParams`]).
    Kmeans,
    /// linfa's DBSCAN on a seeded sample; noise rows are left out of the
    /// centres, then every row goes to the nearest centre.
    Dbscan { eps: f64, min_points: usize },
    /// linfa's agglomerative clustering (Ward linkage) into k clusters on a
    /// seeded sample, then every row to the nearest centre.
    Hierarchical,
}

impl Algorithm {
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::Kmeans => "kmeans",
            Algorithm::Dbscan { .. } => "dbscan",
            Algorithm::Hierarchical => "hierarchical",
        }
    }
}

/// How many segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KChoice {
    Fixed(usize),
    /// Try every k in `min..=max`; keep the best silhouette (the smaller k
    /// on a tie).
    Auto {
        min: usize,
        max: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentParams {
    pub algorithm: Algorithm,
    pub k: KChoice,
    /// Mini-batch k-means settings (its `k` is replaced by the k tried).
    pub kmeans: KMeansParams,
    /// Rows the silhouette is computed on (it is O(n^2)).
    pub metric_sample: usize,
    /// Rows DBSCAN and hierarchical clustering run on.
    pub cluster_sample: usize,
}

impl SegmentParams {
    /// Names the first parameter that is out of range.
    pub fn check(&self) -> Result<()> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every parameter that is out of range.
    pub fn problems(&self) -> Vec<MlError> {
        let mut out = Vec::new();
        let smallest_k = match self.k {
            KChoice::Fixed(k) => k,
            KChoice::Auto { min, max } => {
                if min < 2 || max < min {
                    out.push(MlError::KRange { min, max });
                }
                min
            }
        };
        let kmeans = KMeansParams {
            k: smallest_k,
            ..self.kmeans.clone()
        };
        out.extend(
            kmeans
                .problems()
                .into_iter()
                // A bad range is reported once, as a range.
                .filter(|p| {
                    !(matches!(self.k, KChoice::Auto { .. }) && matches!(p, MlError::KTooSmall(_)))
                }),
        );
        for (name, got) in [
            ("silhouette_sample", self.metric_sample),
            ("cluster_sample", self.cluster_sample),
        ] {
            if got < 2 {
                out.push(MlError::SampleSize { name, got });
            }
        }
        if let Algorithm::Dbscan { eps, min_points } = self.algorithm {
            if !(eps.is_finite() && eps > 0.0) {
                out.push(MlError::Eps(eps));
            }
            if min_points == 0 {
                out.push(MlError::MinPoints);
            }
        }
        out
    }
}

/// Quality of one clustering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterMetrics {
    pub k: usize,
    pub inertia: f64,
    pub silhouette: f64,
    /// Rows the silhouette was computed on.
    pub silhouette_sample: usize,
    pub davies_bouldin: f64,
    pub calinski_harabasz: f64,
    pub sizes: Vec<u64>,
}

/// How training went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    pub algorithm: String,
    pub epochs: usize,
    pub lloyd_passes: usize,
    pub reseeded: usize,
    /// Rows of the k-means++ (or DBSCAN / hierarchical) sample.
    pub sample_rows: usize,
    /// Rows DBSCAN left as noise in its sample.
    pub noise_rows: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segmentation {
    /// k x features, prepared space.
    pub centres: Array2<f64>,
    pub assignment: Assignment,
    pub metrics: ClusterMetrics,
    /// The metrics of every k tried (one entry when k is fixed).
    pub sweep: Vec<ClusterMetrics>,
    pub training: TrainingInfo,
}

/// Segments `x` (rows sorted by customer key, prepared).
pub fn segment(x: ArrayView2<f32>, params: &SegmentParams) -> Result<Segmentation> {
    params.check()?;
    if x.nrows() == 0 {
        return Err(MlError::Empty);
    }
    let x = x.as_standard_layout();
    let seed = params.kmeans.seed;
    let metric_rows = sample_rows(x.nrows(), params.metric_sample, seed, Stream::MetricSample);
    let metric_sample = x.select(Axis(0), &metric_rows);
    let ks: Vec<usize> = match params.k {
        KChoice::Fixed(k) => vec![k],
        KChoice::Auto { min, max } => (min..=max).collect(),
    };
    let mut best: Option<Segmentation> = None;
    let mut sweep = Vec::new();
    for k in ks {
        let (centres, training) = train(x.view(), k, params)?;
        let assignment = assign_to(&centres, x.view(), params.kmeans.chunk_rows)?;
        let metrics = evaluate(
            x.view(),
            &assignment,
            centres.nrows(),
            &metric_rows,
            metric_sample.view(),
        );
        sweep.push(metrics.clone());
        if best
            .as_ref()
            .is_none_or(|b| metrics.silhouette > b.metrics.silhouette)
        {
            best = Some(Segmentation {
                centres,
                assignment,
                metrics,
                sweep: Vec::new(),
                training,
            });
        }
        // DBSCAN finds its own k: one run is the answer.
        if matches!(params.algorithm, Algorithm::Dbscan { .. }) {
            break;
        }
    }
    let mut best = best.expect("at least one k");
    best.sweep = sweep;
    Ok(best)
}

fn evaluate(
    x: ArrayView2<f32>,
    assignment: &Assignment,
    k: usize,
    metric_rows: &[usize],
    metric_sample: ArrayView2<f32>,
) -> ClusterMetrics {
    let mut sizes = vec![0u64; k];
    for &l in &assignment.labels {
        sizes[l as usize] += 1;
    }
    let sample_labels: Vec<u32> = metric_rows.iter().map(|&r| assignment.labels[r]).collect();
    ClusterMetrics {
        k,
        inertia: assignment.inertia,
        silhouette: metrics::silhouette(metric_sample, &sample_labels),
        silhouette_sample: metric_rows.len(),
        davies_bouldin: metrics::davies_bouldin(x, &assignment.labels),
        calinski_harabasz: metrics::calinski_harabasz(x, &assignment.labels),
        sizes,
    }
}

fn train(
    x: ArrayView2<f32>,
    k: usize,
    params: &SegmentParams,
) -> Result<(Array2<f64>, TrainingInfo)> {
    match &params.algorithm {
        Algorithm::Kmeans => train_kmeans(x, k, params),
        Algorithm::Dbscan { eps, min_points } => train_dbscan(x, *eps, *min_points, params),
        Algorithm::Hierarchical => train_hierarchical(x, k, params),
    }
}

/// Mini-batch k-means on every row.
fn train_kmeans(
    x: ArrayView2<f32>,
    k: usize,
    params: &SegmentParams,
) -> Result<(Array2<f64>, TrainingInfo)> {
    let model = KMeansParams {
        k,
        ..params.kmeans.clone()
    }
    .check()?
    .fit(x)?;
    let info = TrainingInfo {
        algorithm: "kmeans".into(),
        epochs: model.epochs,
        lloyd_passes: model.lloyd_passes,
        reseeded: model.reseeded,
        sample_rows: model.init_sample,
        noise_rows: 0,
    };
    Ok((model.centres, info))
}

/// The rows of the seeded clustering sample (DBSCAN and hierarchical
/// clustering are quadratic, so they see a sample), as f64.
fn cluster_sample(x: ArrayView2<f32>, params: &SegmentParams) -> (Vec<usize>, Array2<f64>) {
    let rows = sample_rows(
        x.nrows(),
        params.cluster_sample,
        params.kmeans.seed,
        Stream::ClusterSample,
    );
    let sample = x.select(Axis(0), &rows).mapv(f64::from);
    (rows, sample)
}

/// linfa's DBSCAN on the sample; the segments are its clusters' means.
fn train_dbscan(
    x: ArrayView2<f32>,
    eps: f64,
    min_points: usize,
    params: &SegmentParams,
) -> Result<(Array2<f64>, TrainingInfo)> {
    let (rows, sample) = cluster_sample(x, params);
    let labels = linfa_clustering::Dbscan::params(min_points)
        .tolerance(eps)
        .transform(&sample)
        .map_err(|_| MlError::Eps(eps))?;
    let noise = labels.iter().filter(|l| l.is_none()).count();
    let labels: Vec<Option<usize>> = labels.to_vec();
    let centres = centres_of(sample.view(), &labels);
    if centres.nrows() == 0 {
        return Err(MlError::NoClusters {
            algorithm: "dbscan".into(),
            sample: rows.len(),
        });
    }
    Ok((centres, sample_info("dbscan", rows.len(), noise)))
}

/// linfa's Ward clustering on the sample; the segments are its clusters'
/// means.
fn train_hierarchical(
    x: ArrayView2<f32>,
    k: usize,
    params: &SegmentParams,
) -> Result<(Array2<f64>, TrainingInfo)> {
    let (rows, sample) = cluster_sample(x, params);
    if rows.len() < k {
        return Err(MlError::KTooLarge {
            k,
            rows: rows.len(),
        });
    }
    // linfa clusters on -ln(kernel similarity); with a Gaussian kernel that
    // is squared distance / eps. Similarities under 1e-6 are floored, so eps
    // is set to keep every pair above the floor.
    let mut max_sq = 0f64;
    for a in sample.rows() {
        for b in sample.rows() {
            let d: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            max_sq = max_sq.max(d);
        }
    }
    let eps = (max_sq / 10.0).max(f64::MIN_POSITIVE);
    let kernel = linfa_kernel::Kernel::params()
        .kind(linfa_kernel::KernelType::Dense)
        .method(linfa_kernel::KernelMethod::Gaussian(eps))
        .transform(sample.view());
    let clustered = linfa_hierarchical::HierarchicalCluster::default()
        .with_method(linfa_hierarchical::Method::Ward)
        .num_clusters(k)
        .transform(kernel)
        .map_err(|_| MlError::KTooLarge {
            k,
            rows: rows.len(),
        })?;
    let labels: Vec<Option<usize>> = clustered.targets.iter().map(|&l| Some(l)).collect();
    Ok((
        centres_of(sample.view(), &labels),
        sample_info("hierarchical", rows.len(), 0),
    ))
}

fn sample_info(algorithm: &str, rows: usize, noise: usize) -> TrainingInfo {
    TrainingInfo {
        algorithm: algorithm.into(),
        epochs: 0,
        lloyd_passes: 0,
        reseeded: 0,
        sample_rows: rows,
        noise_rows: noise,
    }
}

/// Mean of each cluster, clusters numbered by their first row (linfa's own
/// numbering comes from a hash map and differs between runs).
fn centres_of(sample: ArrayView2<f64>, labels: &[Option<usize>]) -> Array2<f64> {
    let mut order: Vec<usize> = Vec::new();
    for l in labels.iter().flatten() {
        if !order.contains(l) {
            order.push(*l);
        }
    }
    let mut centres = Array2::<f64>::zeros((order.len(), sample.ncols()));
    let mut sizes = vec![0usize; order.len()];
    for (row, label) in sample.rows().into_iter().zip(labels) {
        if let Some(l) = label {
            let c = order.iter().position(|o| o == l).expect("seen");
            sizes[c] += 1;
            for (s, &v) in centres.row_mut(c).iter_mut().zip(row) {
                *s += v;
            }
        }
    }
    for (mut row, n) in centres.rows_mut().into_iter().zip(sizes) {
        row.mapv_inplace(|s| s / n as f64);
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::adjusted_rand_index;

    /// Three tight, well-separated blobs of 200 rows each (a fixed LCG, so
    /// the data is the same everywhere).
    fn blobs() -> (Array2<f32>, Vec<u32>) {
        let mut state = 12345u64;
        let mut noise = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.6
        };
        let centres = [[0.0f32, 0.0, 0.0], [8.0, 8.0, 0.0], [0.0, 8.0, 8.0]];
        let mut data = Vec::new();
        let mut truth = Vec::new();
        for i in 0..600 {
            let c = i % 3;
            for v in centres[c] {
                data.push(v + noise());
            }
            truth.push(c as u32);
        }
        (Array2::from_shape_vec((600, 3), data).unwrap(), truth)
    }

    fn params(algorithm: Algorithm, k: KChoice) -> SegmentParams {
        SegmentParams {
            algorithm,
            k,
            kmeans: KMeansParams::new(2).seed(3),
            metric_sample: 600,
            cluster_sample: 600,
        }
    }

    #[test]
    fn auto_k_picks_the_planted_number_of_blobs() {
        let (x, truth) = blobs();
        let s = segment(
            x.view(),
            &params(Algorithm::Kmeans, KChoice::Auto { min: 2, max: 6 }),
        )
        .unwrap();
        assert_eq!(s.metrics.k, 3);
        assert_eq!(
            s.sweep.iter().map(|m| m.k).collect::<Vec<_>>(),
            vec![2, 3, 4, 5, 6]
        );
        assert_eq!(adjusted_rand_index(&truth, &s.assignment.labels), 1.0);
        assert_eq!(s.metrics.silhouette_sample, 600);
    }

    #[test]
    fn dbscan_and_hierarchical_find_the_blobs_and_assign_every_row() {
        let (x, truth) = blobs();
        for algorithm in [
            Algorithm::Dbscan {
                eps: 1.0,
                min_points: 5,
            },
            Algorithm::Hierarchical,
        ] {
            let name = algorithm.name();
            let s = segment(x.view(), &params(algorithm.clone(), KChoice::Fixed(3))).unwrap();
            assert_eq!(s.centres.nrows(), 3, "{name}");
            assert_eq!(s.assignment.labels.len(), 600, "{name}");
            assert_eq!(
                adjusted_rand_index(&truth, &s.assignment.labels),
                1.0,
                "{name}"
            );
            // Deterministic, although linfa numbers its clusters at random.
            let again = segment(x.view(), &params(algorithm, KChoice::Fixed(3))).unwrap();
            assert_eq!(again.centres, s.centres, "{name}");
        }
    }

    #[test]
    fn dbscan_with_a_tiny_radius_finds_nothing_and_says_so() {
        let (x, _) = blobs();
        let err = segment(
            x.view(),
            &params(
                Algorithm::Dbscan {
                    eps: 1e-6,
                    min_points: 5,
                },
                KChoice::Fixed(3),
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("found no cluster"), "{err}");
    }
}
