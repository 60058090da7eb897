//! seglake-ml against scikit-learn, on fixtures written by
//! `fixtures/make_sklearn_reference.py` (committed beside them).

use ndarray::Array2;
use seglake_ml::{KMeansParams, metrics};
use serde::Deserialize;

#[derive(Deserialize)]
struct Metrics {
    silhouette: f64,
    davies_bouldin: f64,
    calinski_harabasz: f64,
    ari_truth: f64,
}

#[derive(Deserialize)]
struct Reference {
    k: usize,
    rows: Vec<Vec<f64>>,
    truth: Vec<u32>,
    init: Vec<Vec<f64>>,
    lloyd_inertia: f64,
    lloyd_labels: Vec<u32>,
    coarse_labels: Vec<u32>,
    metrics: Metrics,
    coarse_metrics: Metrics,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/sklearn_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix<T: Copy>(rows: &[Vec<f64>], f: impl Fn(f64) -> T) -> Array2<T> {
    let dim = rows[0].len();
    Array2::from_shape_vec(
        (rows.len(), dim),
        rows.iter().flatten().map(|&v| f(v)).collect(),
    )
    .unwrap()
}

fn relative(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn full_lloyd_matches_scikit_learn_inertia_from_the_same_centres() {
    let r = reference();
    let x = matrix(&r.rows, |v| v as f32);
    let params = KMeansParams::new(r.k)
        .max_epochs(0)
        .lloyd_passes(1000)
        .tol(0.0)
        .check()
        .unwrap();
    let model = params.fit_from(x.view(), matrix(&r.init, |v| v)).unwrap();
    assert!(
        relative(model.inertia, r.lloyd_inertia) < 1e-6,
        "seglake {} vs scikit-learn {}",
        model.inertia,
        r.lloyd_inertia
    );
    let labels = model.assign(x.view()).unwrap().labels;
    assert_eq!(metrics::adjusted_rand_index(&r.lloyd_labels, &labels), 1.0);
}

#[test]
fn mini_batch_is_within_two_percent_of_scikit_learn_lloyd() {
    let r = reference();
    let x = matrix(&r.rows, |v| v as f32);
    for seed in [1, 2, 3] {
        let params = KMeansParams::new(r.k)
            .seed(seed)
            .batch_size(256)
            .max_epochs(20)
            .lloyd_passes(0)
            .check()
            .unwrap();
        let model = params.fit_from(x.view(), matrix(&r.init, |v| v)).unwrap();
        assert_eq!(model.lloyd_passes, 0);
        assert!(
            model.inertia <= r.lloyd_inertia * 1.02,
            "seed {seed}: mini-batch {} vs scikit-learn lloyd {}",
            model.inertia,
            r.lloyd_inertia
        );
    }
}

#[test]
fn metrics_equal_scikit_learn() {
    let r = reference();
    let x = matrix(&r.rows, |v| v as f32);
    for (labels, want) in [
        (&r.lloyd_labels, &r.metrics),
        (&r.coarse_labels, &r.coarse_metrics),
    ] {
        let got = [
            metrics::silhouette(x.view(), labels),
            metrics::davies_bouldin(x.view(), labels),
            metrics::calinski_harabasz(x.view(), labels),
            metrics::adjusted_rand_index(&r.truth, labels),
        ];
        let want = [
            want.silhouette,
            want.davies_bouldin,
            want.calinski_harabasz,
            want.ari_truth,
        ];
        for (name, (g, w)) in ["silhouette", "davies_bouldin", "calinski_harabasz", "ari"]
            .iter()
            .zip(got.iter().zip(want))
        {
            assert!(
                relative(*g, w) < 1e-6,
                "{name}: seglake {g} vs scikit-learn {w}"
            );
        }
    }
}

#[test]
fn k_means_plus_plus_training_recovers_the_blobs() {
    let r = reference();
    let x = matrix(&r.rows, |v| v as f32);
    let model = KMeansParams::new(r.k)
        .seed(42)
        .check()
        .unwrap()
        .fit(x.view())
        .unwrap();
    assert!(
        model.inertia <= r.lloyd_inertia * 1.001,
        "{} vs {}",
        model.inertia,
        r.lloyd_inertia
    );
    let labels = model.assign(x.view()).unwrap().labels;
    let ari = metrics::adjusted_rand_index(&r.truth, &labels);
    // The blobs overlap (std up to 2.5), so no clustering is perfect.
    assert!(ari >= 0.9, "ari {ari}");
}

#[test]
fn identical_results_with_one_and_many_threads() {
    let r = reference();
    let x = matrix(&r.rows, |v| v as f32);
    // Small chunks and batches so the work really is split across threads.
    let params = KMeansParams::new(r.k)
        .seed(9)
        .chunk_rows(64)
        .batch_size(300)
        .max_epochs(5)
        .check()
        .unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let model = params.fit(x.view()).unwrap();
                let assignment = model.assign(x.view()).unwrap();
                (
                    model
                        .centres
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>(),
                    assignment.labels,
                    model.inertia.to_bits(),
                )
            })
    };
    let one = run(1);
    assert_eq!(one, run(2));
    assert_eq!(one, run(4));
}
