//! seglake-ml's GBDT against LightGBM (fixture numbers from
//! `fixtures/make_lightgbm_reference.py`, committed beside them), and its
//! TreeSHAP against the definition of Shapley values.

use ndarray::Array2;
use seglake_ml::gbdt;
use seglake_ml::{ClassWeight, Gbdt, GbdtParams, MlError, metrics};
use serde::Deserialize;

mod shared;
use shared::brute_force_shapley;

#[derive(Deserialize)]
struct Reference {
    rows: usize,
    train_rows: usize,
    seed: u64,
    positives: usize,
    x0_sum: f64,
    missing: usize,
    test_auc: f64,
    test_log_loss: f64,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/lightgbm_reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Must match `make_data()` in the fixture script line for line.
fn data(rows: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = SplitMix64(seed);
    let mut x = Array2::zeros((rows, 8));
    let mut y = vec![false; rows];
    for i in 0..rows {
        let mut r: Vec<f64> = (0..8).map(|_| rng.uniform()).collect();
        let missing = rng.uniform() < 0.1;
        if missing {
            r[6] = f64::NAN;
        }
        r[7] = (r[7] * 5.0).trunc();
        let mut z = 3.0 * (r[0] - 0.5) + 2.0 * r[1] * r[1] - 1.0 - 1.5 * r[4] * r[5];
        if r[2] > 0.7 && r[3] < 0.3 {
            z += 2.0;
        }
        if missing {
            z += 1.0;
        }
        let q = (0.15 + z / 8.0).clamp(0.01, 0.95);
        y[i] = rng.uniform() < q;
        for (f, v) in r.into_iter().enumerate() {
            x[[i, f]] = v;
        }
    }
    (x, y)
}

fn lightgbm_params() -> GbdtParams {
    GbdtParams {
        num_trees: 100,
        learning_rate: 0.1,
        num_leaves: 31,
        min_data_in_leaf: 20,
        min_sum_hessian: 1e-3,
        lambda_l2: 0.0,
        max_bins: 255,
        // LightGBM's run used every training row, without early stopping.
        validation_fraction: 0.0,
        ..GbdtParams::default()
    }
}

#[test]
fn the_data_is_the_fixture_scripts_data() {
    let r = reference();
    let (x, y) = data(r.rows, r.seed);
    assert_eq!(y.iter().filter(|&&v| v).count(), r.positives);
    assert_eq!(x.iter().filter(|v| v.is_nan()).count(), r.missing);
    // numpy sums pairwise, ndarray in order: equal to rounding.
    assert!((x.column(0).sum() - r.x0_sum).abs() < 1e-9);
}

#[test]
fn held_out_auc_is_within_0_005_of_lightgbm() {
    let r = reference();
    let (x, y) = data(r.rows, r.seed);
    let train = x.slice(ndarray::s![..r.train_rows, ..]);
    let test = x.slice(ndarray::s![r.train_rows.., ..]);
    let model = gbdt::fit(
        train,
        &y[..r.train_rows],
        &lightgbm_params().check().unwrap(),
    )
    .unwrap()
    .model;
    assert_eq!(model.trees.len(), 100);
    let p: Vec<f64> = model
        .margins(test)
        .unwrap()
        .into_iter()
        .map(|m| model.probability_of_margin(m))
        .collect();
    let auc = metrics::roc_auc(&y[r.train_rows..], &p);
    let loss = metrics::log_loss(&y[r.train_rows..], &p);
    eprintln!(
        "seglake AUC {auc:.5} log-loss {loss:.5}; LightGBM AUC {:.5} log-loss {:.5}",
        r.test_auc, r.test_log_loss
    );
    assert!(
        (auc - r.test_auc).abs() <= 0.005,
        "AUC {auc} vs LightGBM {}",
        r.test_auc
    );
    assert!((loss - r.test_log_loss).abs() <= 0.01);
}

fn small_model(features: usize, trees: usize, leaves: usize) -> (Gbdt, Array2<f64>) {
    let (x, y) = data(3000, 7);
    let x = x.slice(ndarray::s![.., ..features]).to_owned();
    let params = GbdtParams {
        num_trees: trees,
        num_leaves: leaves,
        validation_fraction: 0.0,
        ..GbdtParams::default()
    };
    let model = gbdt::fit(x.view(), &y, &params.check().unwrap())
        .unwrap()
        .model;
    (model, x)
}

#[test]
fn shap_values_add_up_to_the_margin_for_every_row() {
    let (model, x) = small_model(8, 60, 31);
    let phi = model.contributions_matrix(x.view()).unwrap();
    let margins = model.margins(x.view()).unwrap();
    let base = model.expected_value();
    let mut worst = 0f64;
    for (row, m) in phi.rows().into_iter().zip(margins) {
        worst = worst.max((row.sum() + base - m).abs());
    }
    assert!(worst <= 1e-9, "largest |sum(phi) + E - margin| = {worst}");
}

#[test]
fn shap_values_equal_brute_force_shapley_values() {
    // Features 0..7 include the one with missing values (6).
    let (model, x) = small_model(7, 5, 8);
    assert!(model.trees.iter().any(|t| t.depth() >= 3));
    // Both fast paths: one row without tables, many rows with them.
    let matrix = model.contributions_matrix(x.view()).unwrap();
    for i in [0, 1, 17, 250, 999, 2999] {
        let row = x.row(i).to_vec();
        let exact = brute_force_shapley(&model, &row);
        for fast in [model.contributions(&row), matrix.row(i).to_vec()] {
            for (f, (a, b)) in fast.iter().zip(&exact).enumerate() {
                assert!((a - b).abs() < 1e-12, "row {i} feature {f}: {a} vs {b}");
            }
        }
    }
}

fn train_with_threads(threads: usize, params: &GbdtParams) -> (Gbdt, Vec<f64>) {
    let (x, y) = data(40_000, 3);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let model = gbdt::fit(x.view(), &y, &params.clone().check().unwrap())
            .unwrap()
            .model;
        let scores = model.margins(x.view()).unwrap();
        (model, scores)
    })
}

#[test]
fn bit_identical_with_one_and_two_threads() {
    let params = GbdtParams {
        num_trees: 30,
        row_subsample: 0.8,
        feature_subsample: 0.75,
        class_weight: ClassWeight::Balanced,
        // Several chunks per leaf, so merging order matters.
        chunk_rows: 1000,
        seed: 11,
        ..GbdtParams::default()
    };
    let (a, sa) = train_with_threads(1, &params);
    let (b, sb) = train_with_threads(2, &params);
    assert_eq!(a, b);
    assert_eq!(
        sa.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        sb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    let (c, _) = train_with_threads(
        2,
        &GbdtParams {
            seed: 12,
            ..params.clone()
        },
    );
    assert_ne!(a, c, "the seed must matter when subsampling");
}

#[test]
fn early_stopping_keeps_the_best_iteration_and_calibrates() {
    let (x, y) = data(10_000, 5);
    let params = GbdtParams {
        num_trees: 500,
        learning_rate: 0.3,
        validation_fraction: 0.25,
        early_stopping_rounds: 10,
        ..GbdtParams::default()
    };
    let fitted = gbdt::fit(x.view(), &y, &params.check().unwrap()).unwrap();
    let t = &fitted.model.training;
    assert!(t.trees_trained < 500, "early stopping never stopped");
    assert_eq!(t.trees_trained, t.trees_kept + 10);
    let best = t.validation_loss[..t.trees_trained]
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(t.validation_loss[t.trees_kept - 1], best);
    assert_eq!(fitted.validation_rows.len(), 2500);
    // Stratified: the validation share of positives is the overall share.
    let pos = y.iter().filter(|&&v| v).count() as f64;
    let held_pos = fitted.validation_rows.iter().filter(|&&i| y[i]).count() as f64;
    assert!((held_pos / pos - 0.25).abs() < 0.002);
    let platt = fitted.model.calibration.expect("calibrated on validation");
    assert!(platt.a > 0.0);
}

#[test]
fn missing_values_follow_the_learned_default_branch() {
    // Missing x6 raises the label rate: some split on feature 6 must send
    // missing values to the side that predicts more risk.
    let (model, _) = small_model(8, 20, 31);
    let mut row = vec![0.5; 8];
    row[6] = f64::NAN;
    let with_missing = model.margin(&row);
    let mut lows = Vec::new();
    for v in [0.1, 0.5, 0.9] {
        row[6] = v;
        lows.push(model.margin(&row));
    }
    assert!(
        lows.iter().all(|&m| m < with_missing),
        "{with_missing} vs {lows:?}"
    );
}

#[test]
fn bad_parameters_and_labels_are_named() {
    let err = |p: GbdtParams| p.check().unwrap_err().to_string();
    assert_eq!(
        err(GbdtParams {
            num_leaves: 1,
            ..Default::default()
        }),
        "num_leaves must be at least 2, got 1"
    );
    assert_eq!(
        err(GbdtParams {
            max_bins: 256,
            ..Default::default()
        }),
        "max_bins must be between 2 and 255, got 256"
    );
    assert_eq!(
        err(GbdtParams {
            learning_rate: f64::NAN,
            ..Default::default()
        }),
        "learning_rate must be a finite number > 0, got NaN"
    );
    let valid = GbdtParams::default().check().unwrap();
    let x = Array2::zeros((4, 2));
    assert_eq!(
        gbdt::fit(x.view(), &[true; 4], &valid).err().unwrap(),
        MlError::OneClass {
            positives: 4,
            negatives: 0
        }
    );
    assert_eq!(
        gbdt::fit(Array2::zeros((0, 2)).view(), &[], &valid)
            .err()
            .unwrap(),
        MlError::NoLabels
    );
}
