//! seglake's GBDT on the benchmark's classification problem, for the side-
//! by-side comparison with LightGBM, XGBoost and scikit-learn
//! (benches/gbdt_compare.sh runs all four).
//!
//! usage: gbdt PREFIX ROWS COLS TRAIN
//! reads PREFIX.x.f64 and PREFIX.y.u8, trains on the first TRAIN rows,
//! prints one JSON line: fit time, peak memory, held-out AUC, and the time
//! of explaining every held-out row as a run does (Fast TreeSHAP, the top 3
//! reasons and the mean |contribution| kept), beside Lundberg's Algorithm 2
//! (the previous implementation, kept as the fallback) on 10,000 of them.

use std::time::Instant;

use ndarray::{Array2, s};
use rayon::prelude::*;
use seglake_ml::{GbdtParams, gbdt, metrics};

#[path = "peak_rss.rs"]
mod peak_rss;
use peak_rss::peak_rss_kib;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [prefix, rows, cols, train] = args.as_slice() else {
        eprintln!("usage: gbdt PREFIX ROWS COLS TRAIN");
        std::process::exit(2);
    };
    let (rows, cols, train): (usize, usize, usize) = (
        rows.parse().unwrap(),
        cols.parse().unwrap(),
        train.parse().unwrap(),
    );
    let bytes = std::fs::read(format!("{prefix}.x.f64")).unwrap();
    assert_eq!(
        bytes.len(),
        rows * cols * 8,
        "{prefix}.x.f64 is not {rows}x{cols} float64"
    );
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    drop(bytes);
    let x = Array2::from_shape_vec((rows, cols), values).unwrap();
    let y: Vec<bool> = std::fs::read(format!("{prefix}.y.u8"))
        .unwrap()
        .into_iter()
        .map(|v| v == 1)
        .collect();

    // The peers' settings: 100 trees, 31 leaves, 255 bins, lr 0.1, no
    // subsampling, no early stopping.
    let params = GbdtParams {
        num_trees: 100,
        num_leaves: 31,
        max_bins: 255,
        learning_rate: 0.1,
        min_data_in_leaf: 20,
        validation_fraction: 0.0,
        ..GbdtParams::default()
    }
    .check()
    .unwrap();
    let start = Instant::now();
    let model = gbdt::fit(x.slice(s![..train, ..]), &y[..train], &params)
        .unwrap()
        .model;
    let fit_s = start.elapsed().as_secs_f64();
    let held_out = x.slice(s![train.., ..]);
    let p: Vec<f64> = model.margins(held_out).unwrap();
    let auc = metrics::roc_auc(&y[train..], &p);
    // Every held-out row, as `seglake run` explains every customer.
    let start = Instant::now();
    let (reasons, _importance) = model
        .explain_rows(held_out, |_, phi| {
            // The three largest |contributions|, as a run keeps per customer.
            let mut order: Vec<usize> = (0..phi.len()).collect();
            order.sort_by(|&a, &b| phi[b].abs().total_cmp(&phi[a].abs()));
            order.truncate(3);
            order
        })
        .unwrap();
    let shap_s = start.elapsed().as_secs_f64();
    let shap_rows = reasons.len();
    // The reference algorithm, on fewer rows (it is an order slower).
    let reference_rows = held_out.nrows().min(10_000);
    let depths: Vec<usize> = model.trees.iter().map(|t| t.depth()).collect();
    let start = Instant::now();
    let reference: Vec<Vec<f64>> = (0..reference_rows)
        .into_par_iter()
        .map(|i| {
            let mut phi = vec![0.0; cols];
            let row = held_out.row(i).to_vec();
            for (tree, &depth) in model.trees.iter().zip(&depths) {
                gbdt::shap::tree_shap(tree, depth, &row, &mut phi);
            }
            phi
        })
        .collect();
    let reference_s = start.elapsed().as_secs_f64();
    assert_eq!(reference.len(), reference_rows);
    println!(
        "{{\"tool\": \"seglake\", \"fit_s\": {fit_s:.4}, \"peak_mib\": {:.1}, \"auc\": {auc:.6}, \
         \"trees\": {}, \"shap_rows\": {shap_rows}, \"shap_s\": {shap_s:.4}, \
         \"algorithm2_rows\": {reference_rows}, \"algorithm2_s\": {reference_s:.4}, \"threads\": {}}}",
        peak_rss_kib() as f64 / 1024.0,
        model.trees.len(),
        rayon::current_num_threads()
    );
}
