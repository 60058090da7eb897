//! Helpers the booster's integration tests share (each test file includes
//! this module with `mod shared;`).

use seglake_ml::Gbdt;
use seglake_ml::gbdt::shap::conditional_expectation;

/// Shapley values of the trees' conditional expectations by enumerating
/// every subset of features.
pub fn brute_force_shapley(model: &Gbdt, x: &[f64]) -> Vec<f64> {
    let m = x.len();
    let value = |mask: u32| -> f64 {
        let known: Vec<bool> = (0..m).map(|f| mask & (1 << f) != 0).collect();
        model
            .trees
            .iter()
            .map(|t| conditional_expectation(t, x, &known))
            .sum()
    };
    let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    let mut phi = vec![0.0; m];
    for (i, p) in phi.iter_mut().enumerate() {
        for mask in 0u32..(1 << m) {
            if mask & (1 << i) != 0 {
                continue;
            }
            let s = mask.count_ones() as usize;
            let w = fact(s) * fact(m - s - 1) / fact(m);
            *p += w * (value(mask | (1 << i)) - value(mask));
        }
    }
    phi
}
