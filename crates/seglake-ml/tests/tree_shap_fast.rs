//! The tabled TreeSHAP (`gbdt::fast_shap`) against Lundberg's Algorithm 2
//! (`gbdt::shap::tree_shap`) and the definition of Shapley values: trained
//! models with missing values and repeated features, hand-made trees that
//! must fall back, and `Gbdt::explain_rows`.

use ndarray::Array2;
use seglake_ml::gbdt::fast_shap::{MAX_PATH_FEATURES, MAX_TREE_TABLE};
use seglake_ml::gbdt::shap::tree_shap;
use seglake_ml::gbdt::tree::{Node, Tree};
use seglake_ml::gbdt::{self, EXPLAIN_CHUNK_ROWS};
use seglake_ml::{Gbdt, GbdtParams, MlError};

mod shared;
use shared::brute_force_shapley;

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
    fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n
    }
}

/// Rows of `features` uniforms, about 8% of them missing, and labels that
/// depend on several features (so trees split on many, and again on the
/// same ones deeper down).
fn data(rows: usize, features: usize, seed: u64) -> (Array2<f64>, Vec<bool>) {
    let mut rng = SplitMix64(seed);
    let mut x = Array2::zeros((rows, features));
    let mut y = vec![false; rows];
    for i in 0..rows {
        let r: Vec<f64> = (0..features).map(|_| rng.uniform()).collect();
        let mut z = 3.0 * (r[0] - 0.5) + 2.0 * r[1] * r[1] - 1.5 * r[2] * r[3];
        z += (r[4] * 6.0).sin() + if r[5] > 0.7 { 1.0 } else { -0.5 };
        let q = (0.3 + z / 6.0).clamp(0.02, 0.95);
        y[i] = rng.uniform() < q;
        for (f, v) in r.into_iter().enumerate() {
            x[[i, f]] = if rng.uniform() < 0.08 { f64::NAN } else { v };
        }
    }
    (x, y)
}

fn trained(features: usize, trees: usize, leaves: usize, seed: u64) -> (Gbdt, Array2<f64>) {
    let (x, y) = data(4000, features, seed);
    let params = GbdtParams {
        num_trees: trees,
        num_leaves: leaves,
        min_data_in_leaf: 5,
        validation_fraction: 0.0,
        seed,
        ..GbdtParams::default()
    };
    let model = gbdt::fit(x.view(), &y, &params.check().unwrap())
        .unwrap()
        .model;
    (model, x)
}

/// Every tree's contributions by Algorithm 2 (the reference).
fn algorithm_2(model: &Gbdt, x: &[f64]) -> Vec<f64> {
    let mut phi = vec![0.0; x.len()];
    for tree in &model.trees {
        tree_shap(tree, tree.depth(), x, &mut phi);
    }
    phi
}

/// |a - b| within 1e-9, relative to |b| when it is above 1.
fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len());
    for (f, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= 1e-9 * q.abs().max(1.0),
            "{what}, feature {f}: {p} vs {q}"
        );
    }
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|v| v.to_bits()).collect()
}

/// Whether some root-to-leaf path splits twice on one feature.
fn repeats_a_feature(tree: &Tree) -> bool {
    fn walk(tree: &Tree, at: usize, path: &mut Vec<usize>) -> bool {
        let Some(split) = tree.nodes[at].split() else {
            return false;
        };
        if path.contains(&split.feature) {
            return true;
        }
        path.push(split.feature);
        let found = walk(tree, split.left, path) || walk(tree, split.right, path);
        path.pop();
        found
    }
    walk(tree, 0, &mut Vec::new())
}

/// Rows to explain: some of `x`'s (which have missing values), a row with
/// every value missing, and rows with extreme values.
fn rows_to_explain(x: &Array2<f64>, take: usize) -> Array2<f64> {
    let m = x.ncols();
    let mut rows = x.slice(ndarray::s![..take, ..]).to_owned();
    for fill in [f64::NAN, -1e9, 1e9] {
        rows.push_row(ndarray::Array1::from_elem(m, fill).view())
            .unwrap();
    }
    rows
}

/// Checks the tabled contributions of every row against Algorithm 2, the
/// single-row (untabled) path against the tabled one to the bit, and the
/// sum against the margin.
fn check_model(model: &Gbdt, rows: &Array2<f64>, what: &str) {
    let matrix = model.contributions_matrix(rows.view()).unwrap();
    let explainer = model.explainer();
    let base = model.expected_value();
    for (i, fast) in matrix.rows().into_iter().enumerate() {
        let x = rows.row(i).to_vec();
        let fast = fast.to_vec();
        let what = format!("{what}, row {i}");
        assert_close(&fast, &algorithm_2(model, &x), &what);
        assert_eq!(bits(&model.contributions(&x)), bits(&fast), "{what}");
        let mut one = vec![0.0; x.len()];
        explainer.add_contributions(&x, &mut one);
        assert_eq!(bits(&one), bits(&fast), "{what}");
        let total = fast.iter().sum::<f64>() + base;
        let margin = model.margin(&x);
        assert!(
            (total - margin).abs() <= 1e-9,
            "{what}: {total} vs {margin}"
        );
    }
}

#[test]
fn fast_equals_algorithm_2_on_trained_models() {
    // 127 leaves of at most 10 features stay under the table budget.
    for (seed, leaves) in [(1, 31), (2, 31), (3, 63), (4, 127)] {
        let (model, x) = trained(10, 25, leaves, seed);
        assert!(model.trees.iter().any(repeats_a_feature));
        assert!(model.trees.iter().any(|t| t.depth() >= 8));
        // 10 features: no path exceeds the limit, every tree is tabled.
        assert_eq!(model.explainer().fallback_trees(), 0);
        check_model(
            &model,
            &rows_to_explain(&x, 400),
            &format!("seed {seed}, {leaves} leaves"),
        );
    }
}

/// A node of a hand-made tree; `build` returns its index.
enum Shape {
    Leaf(f64),
    Split(usize, f64, Box<Shape>, Box<Shape>),
}

/// Lays `shape` out as a tree with `cover` at the root, each split sending
/// `share` of its cover left (a leaf's value is its own).
fn build(shape: &Shape, cover: f64, share: f64) -> Tree {
    fn lay(shape: &Shape, cover: f64, share: f64, nodes: &mut Vec<Node>) -> usize {
        let at = nodes.len();
        match shape {
            Shape::Leaf(value) => nodes.push(Node::Leaf {
                value: *value,
                cover,
            }),
            Shape::Split(feature, threshold, l, r) => {
                nodes.push(Node::Leaf { value: 0.0, cover });
                let left = lay(l, cover * share, share, nodes);
                let right = lay(r, cover - cover * share, share, nodes);
                nodes[at] = Node::Split {
                    feature: *feature,
                    threshold: *threshold,
                    threshold_bin: 0,
                    default_left: feature % 2 == 0,
                    left,
                    right,
                    gain: 1.0,
                    cover,
                };
            }
        }
        at
    }
    let mut nodes = Vec::new();
    lay(shape, cover, share, &mut nodes);
    Tree { nodes }
}

/// A path splitting on `features` in turn, a leaf off each split.
fn chain(features: &[usize]) -> Shape {
    match features.split_first() {
        None => Shape::Leaf(0.3),
        Some((&f, rest)) => Shape::Split(
            f,
            0.5,
            Box::new(chain(rest)),
            Box::new(Shape::Leaf(-0.1 * f as f64)),
        ),
    }
}

/// A complete tree of `depth` levels, level k splitting on feature k.
fn complete(depth: usize, level: usize) -> Shape {
    if level == depth {
        return Shape::Leaf(0.01 * level as f64);
    }
    let child = || Box::new(complete(depth, level + 1));
    Shape::Split(level, 0.25 + 0.05 * level as f64, child(), child())
}

#[test]
fn trees_past_the_limits_fall_back_to_algorithm_2() {
    let (mut model, x) = trained(16, 10, 31, 5);
    assert_eq!(model.explainer().fallback_trees(), 0);
    let distinct: Vec<usize> = (0..16).collect();
    // One path with more distinct features than a table allows.
    model.trees.push(build(
        &chain(&distinct[..MAX_PATH_FEATURES + 2]),
        1000.0,
        0.6,
    ));
    // Exactly at the limit, with features repeated on the way: tabled.
    let at_limit: Vec<usize> = (0..MAX_PATH_FEATURES).chain([3, 0, 7]).collect();
    model.trees.push(build(&chain(&at_limit), 1000.0, 0.7));
    // A child with zero cover.
    model.trees.push(build(&chain(&[2, 5, 2]), 1000.0, 1.0));
    // 1024 leaves of 10 distinct features each: 2^20 table entries.
    assert!(1usize << 20 > MAX_TREE_TABLE);
    model.trees.push(build(&complete(10, 0), 5000.0, 0.45));
    assert_eq!(model.explainer().fallback_trees(), 3);
    check_model(&model, &rows_to_explain(&x, 60), "with fallback trees");
}

/// A random tree over `features` features down to `depth`, so features
/// repeat on paths; covers split at random, values random.
fn random_shape(rng: &mut SplitMix64, features: usize, depth: usize) -> Shape {
    if depth == 0 || rng.uniform() < 0.15 {
        return Shape::Leaf(rng.uniform() * 2.0 - 1.0);
    }
    Shape::Split(
        rng.below(features),
        rng.uniform(),
        Box::new(random_shape(rng, features, depth - 1)),
        Box::new(random_shape(rng, features, depth - 1)),
    )
}

#[test]
fn fast_equals_brute_force_shapley_on_random_trees() {
    let (mut model, _) = trained(6, 3, 8, 7);
    let mut rng = SplitMix64(99);
    model.trees = (0..12)
        .map(|t| {
            let share = 0.1 + 0.8 * rng.uniform();
            build(&random_shape(&mut rng, 6, 4 + t % 6), 500.0, share)
        })
        .collect();
    assert!(model.trees.iter().filter(|t| repeats_a_feature(t)).count() >= 6);
    assert_eq!(model.explainer().fallback_trees(), 0);
    let mut rows = Array2::zeros((40, 6));
    for v in rows.iter_mut() {
        *v = if rng.uniform() < 0.2 {
            f64::NAN
        } else {
            rng.uniform()
        };
    }
    let matrix = model.contributions_matrix(rows.view()).unwrap();
    for (i, fast) in matrix.rows().into_iter().enumerate() {
        let x = rows.row(i).to_vec();
        let fast = fast.to_vec();
        assert_close(&fast, &brute_force_shapley(&model, &x), &format!("row {i}"));
    }
    check_model(&model, &rows, "random trees");
}

#[test]
fn explain_rows_gives_the_matrix_and_the_same_means_with_any_thread_count() {
    let (model, x) = trained(8, 20, 31, 11);
    // Several chunks, the last one partial.
    let rows = x.slice(ndarray::s![..EXPLAIN_CHUNK_ROWS * 3 + 100, ..]);
    let matrix = model.contributions_matrix(rows).unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                model
                    .explain_rows(rows, |i, phi| (i, phi.to_vec()))
                    .unwrap()
            })
    };
    let (one, means_one) = run(1);
    let (two, means_two) = run(2);
    assert_eq!(bits(&means_one), bits(&means_two));
    assert_eq!(one.len(), rows.nrows());
    for ((i, phi), (j, phi_two)) in one.iter().zip(&two) {
        assert_eq!(i, j);
        assert_eq!(bits(phi), bits(matrix.row(*i).as_slice().unwrap()));
        assert_eq!(bits(phi), bits(phi_two));
    }
    assert!(one.iter().enumerate().all(|(k, (i, _))| k == *i));
    let reference = Gbdt::mean_abs_contributions(&matrix);
    assert_close(&means_one, &reference, "mean |phi|");
    assert!(means_one.iter().any(|&m| m > 0.0));

    let narrow = Array2::<f64>::zeros((3, 7));
    assert_eq!(
        model.explain_rows(narrow.view(), |_, _| ()).err().unwrap(),
        MlError::Dimension {
            expected: 8,
            got: 7
        }
    );
    let (none, means) = model
        .explain_rows(x.slice(ndarray::s![..0, ..]), |_, _| ())
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(means, vec![0.0; 8]);
}
