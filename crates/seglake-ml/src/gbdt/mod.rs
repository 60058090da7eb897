//! Histogram gradient-boosted trees for binary classification (log-loss),
//! in the style of LightGBM: quantile bins computed once, leaf-wise growth,
//! histogram subtraction, missing values sent down a learned default
//! branch, row and feature subsampling, class weights, early stopping on a
//! seeded stratified validation split, and Platt calibration on that split.
//! Categorical features (integer codes, declared with
//! [`fit_with_categorical`]) split natively as in LightGBM: a set of codes
//! goes left, every other value right ([`tree::Node::CategoricalSplit`]).
//! Parameters follow linfa's convention ([`GbdtParams`] ->
//! [`GbdtParams::check`] -> [`GbdtValidParams`]).
//!
//! Determinism: histograms are summed over fixed chunks of rows and merged
//! in chunk order, every per-row update is independent of the others, and
//! every random draw comes from a stream seeded by (seed, purpose, tree).
//! The same data and parameters give a bit-identical model with any number
//! of threads.

pub mod binning;
pub mod fast_shap;
pub mod shap;
pub mod tree;

use ndarray::{Array2, ArrayView2};
use rand::seq::index::sample;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::calibration::Platt;
use crate::error::{MlError, Result};
use crate::seeds::{Stream, rng, sample_rows};
use binning::{BinnedMatrix, FeatureBins, MAX_CATEGORIES, category_code};
pub use fast_shap::TreeExplainer;
use tree::{GrowParams, Tree};

/// Rows per chunk of [`Gbdt::explain_rows`]: each chunk sums its rows'
/// |contributions| in row order and the chunk sums are added in chunk
/// order, so the means do not depend on the thread count. Small enough
/// that a few thousand rows still spread over the threads.
pub const EXPLAIN_CHUNK_ROWS: usize = 1024;

/// How much a positive row weighs against a negative one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every row weighs 1.
    Unweighted,
    /// Positives weigh (negatives / positives) of the training rows.
    Balanced,
    /// Positives weigh this much.
    Positive(f64),
}

impl ClassWeight {
    /// Reads a job's `class_weight`: `"balanced"` or a number (the weight of
    /// a positive); also the stored form (`"Balanced"`, `"Unweighted"`,
    /// `{"Positive": w}`), so stored parameters read back.
    fn deserialize_from_job<'de, D>(deserializer: D) -> std::result::Result<ClassWeight, D::Error>
    where
        D: serde::Deserializer<'de>,
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Number(f64),
            Text(String),
            Stored(StoredClassWeight),
        }
        #[derive(Deserialize)]
        enum StoredClassWeight {
            Positive(f64),
        }
        match Written::deserialize(deserializer)? {
            Written::Number(w) => Ok(ClassWeight::Positive(w)),
            Written::Stored(StoredClassWeight::Positive(w)) => Ok(ClassWeight::Positive(w)),
            Written::Text(t) if t == "balanced" || t == "Balanced" => Ok(ClassWeight::Balanced),
            Written::Text(t) if t == "Unweighted" => Ok(ClassWeight::Unweighted),
            Written::Text(t) => Err(serde::de::Error::custom(format!(
                "`{t}` is neither \"balanced\" nor a number (the weight of a positive)"
            ))),
        }
    }
}

/// Builder for [`GbdtValidParams`]; defaults are LightGBM's where it has one.
///
/// A job's `[risk]` section deserialises into this struct directly (every
/// field optional, defaults from [`GbdtParams::default`]): adding a booster
/// parameter is adding a field here, with its range in
/// [`GbdtParams::problems`]. The seed is the job's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GbdtParams {
    pub num_trees: usize,
    pub learning_rate: f64,
    pub num_leaves: usize,
    pub max_depth: Option<usize>,
    pub min_data_in_leaf: usize,
    pub min_sum_hessian: f64,
    pub lambda_l2: f64,
    pub min_split_gain: f64,
    pub max_bins: usize,
    pub bin_sample: usize,
    pub row_subsample: f64,
    pub feature_subsample: f64,
    /// In a job: `"balanced"` or the weight of a positive (a number).
    #[serde(deserialize_with = "ClassWeight::deserialize_from_job")]
    pub class_weight: ClassWeight,
    pub validation_fraction: f64,
    pub early_stopping_rounds: usize,
    pub seed: u64,
    pub chunk_rows: usize,
    /// Most categories a categorical split sends left (LightGBM's
    /// `max_cat_threshold`).
    pub max_cat_threshold: usize,
    /// Added to a category's hessian sum when categories are ordered for a
    /// split, and the fewest rows a category needs to take part (LightGBM's
    /// `cat_smooth`).
    pub cat_smooth: f64,
    /// Extra L2 regularisation of categorical splits (LightGBM's `cat_l2`).
    pub cat_l2: f64,
    /// Fewest rows between two candidate categorical splits, and on the
    /// right of one (LightGBM's `min_data_per_group`).
    pub min_data_per_group: usize,
    /// A categorical feature with at most this many codes splits one code
    /// against the rest (LightGBM's `max_cat_to_onehot`).
    pub max_cat_to_onehot: usize,
}

impl Default for GbdtParams {
    fn default() -> Self {
        GbdtParams {
            num_trees: 100,
            learning_rate: 0.1,
            num_leaves: 31,
            max_depth: None,
            min_data_in_leaf: 20,
            min_sum_hessian: 1e-3,
            lambda_l2: 0.0,
            min_split_gain: 0.0,
            max_bins: 255,
            bin_sample: 200_000,
            row_subsample: 1.0,
            feature_subsample: 1.0,
            class_weight: ClassWeight::Unweighted,
            validation_fraction: 0.2,
            early_stopping_rounds: 20,
            seed: 0,
            chunk_rows: 16_384,
            max_cat_threshold: 32,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            min_data_per_group: 100,
            max_cat_to_onehot: 4,
        }
    }
}

/// Parameters that passed [`GbdtParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct GbdtValidParams(GbdtParams);

impl std::ops::Deref for GbdtValidParams {
    type Target = GbdtParams;
    fn deref(&self) -> &GbdtParams {
        &self.0
    }
}

fn param(name: &'static str, accepts: &'static str, got: impl ToString) -> MlError {
    MlError::Param {
        name,
        accepts,
        got: got.to_string(),
    }
}

fn fraction_ok(v: f64) -> bool {
    v > 0.0 && v <= 1.0
}

impl GbdtParams {
    /// Names the first parameter that is out of range.
    pub fn check(self) -> Result<GbdtValidParams> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(GbdtValidParams(self)),
        }
    }

    /// Every parameter that is out of range, in field order.
    pub fn problems(&self) -> Vec<MlError> {
        let p = self;
        let mut out = Vec::new();
        if p.num_trees == 0 {
            out.push(param("num_trees", "at least 1", 0));
        }
        if !(p.learning_rate > 0.0 && p.learning_rate.is_finite()) {
            out.push(param(
                "learning_rate",
                "a finite number > 0",
                p.learning_rate,
            ));
        }
        if p.num_leaves < 2 {
            out.push(param("num_leaves", "at least 2", p.num_leaves));
        }
        if p.max_depth == Some(0) {
            out.push(param("max_depth", "at least 1 (or absent)", 0));
        }
        if p.min_data_in_leaf == 0 {
            out.push(param("min_data_in_leaf", "at least 1", 0));
        }
        if !(p.min_sum_hessian >= 0.0 && p.min_sum_hessian.is_finite()) {
            out.push(param(
                "min_sum_hessian",
                "a finite number >= 0",
                p.min_sum_hessian,
            ));
        }
        if !(p.lambda_l2 >= 0.0 && p.lambda_l2.is_finite()) {
            out.push(param("lambda_l2", "a finite number >= 0", p.lambda_l2));
        }
        if !(p.min_split_gain >= 0.0 && p.min_split_gain.is_finite()) {
            out.push(param(
                "min_split_gain",
                "a finite number >= 0",
                p.min_split_gain,
            ));
        }
        if !(2..=255).contains(&p.max_bins) {
            out.push(param("max_bins", "between 2 and 255", p.max_bins));
        }
        if p.bin_sample < 2 {
            out.push(param("bin_sample", "at least 2", p.bin_sample));
        }
        if !fraction_ok(p.row_subsample) {
            out.push(param("row_subsample", "in (0, 1]", p.row_subsample));
        }
        if !fraction_ok(p.feature_subsample) {
            out.push(param("feature_subsample", "in (0, 1]", p.feature_subsample));
        }
        if let ClassWeight::Positive(w) = p.class_weight
            && !(w > 0.0 && w.is_finite())
        {
            out.push(param(
                "class_weight",
                "\"balanced\" or a finite number > 0",
                w,
            ));
        }
        if !(0.0..0.9).contains(&p.validation_fraction) {
            out.push(param(
                "validation_fraction",
                "in [0, 0.9)",
                p.validation_fraction,
            ));
        }
        if p.chunk_rows == 0 {
            out.push(param("chunk_rows", "at least 1", 0));
        }
        if p.max_cat_threshold == 0 {
            out.push(param("max_cat_threshold", "at least 1", 0));
        }
        if !(p.cat_smooth >= 0.0 && p.cat_smooth.is_finite()) {
            out.push(param("cat_smooth", "a finite number >= 0", p.cat_smooth));
        }
        if !(p.cat_l2 >= 0.0 && p.cat_l2.is_finite()) {
            out.push(param("cat_l2", "a finite number >= 0", p.cat_l2));
        }
        if p.min_data_per_group == 0 {
            out.push(param("min_data_per_group", "at least 1", 0));
        }
        if p.max_cat_to_onehot == 0 {
            out.push(param("max_cat_to_onehot", "at least 1", 0));
        }
        out
    }
}

/// How training went: what early stopping saw and chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GbdtTraining {
    pub trees_trained: usize,
    /// Trees kept (the best validation iteration, or all without validation).
    pub trees_kept: usize,
    pub train_rows: usize,
    pub validation_rows: usize,
    /// Validation log-loss after each tree (empty without validation).
    pub validation_loss: Vec<f64>,
    pub positive_weight: f64,
}

/// A trained booster: everything needed to score raw feature rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gbdt {
    pub bins: Vec<FeatureBins>,
    pub init_score: f64,
    pub trees: Vec<Tree>,
    /// Maps the margin to a calibrated probability (absent without a
    /// validation split: the probability is then the sigmoid of the margin).
    pub calibration: Option<Platt>,
    pub training: GbdtTraining,
}

/// The model and the rows (of the training matrix) it held out for
/// validation, ascending.
pub struct Fitted {
    pub model: Gbdt,
    pub validation_rows: Vec<usize>,
}

/// Row `i` as a slice, copied only when the matrix is not row-major.
fn row_values(x: ArrayView2<'_, f64>, i: usize) -> std::borrow::Cow<'_, [f64]> {
    let row = x.index_axis_move(ndarray::Axis(0), i);
    match row.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(row.to_vec()),
    }
}

pub fn sigmoid(m: f64) -> f64 {
    1.0 / (1.0 + (-m).exp())
}

/// A stratified split: `fraction` of the positives and of the negatives,
/// drawn with the seed, go to validation. Returns (train, validation),
/// each ascending.
pub fn validation_split(y: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut validation = Vec::new();
    for class in [false, true] {
        let members: Vec<usize> = (0..y.len()).filter(|&i| y[i] == class).collect();
        let take = (members.len() as f64 * fraction).round() as usize;
        let mut rng = rng(seed, Stream::Validation, class as u64, members.len() as u64);
        validation.extend(
            sample(&mut rng, members.len(), take)
                .into_iter()
                .map(|k| members[k]),
        );
    }
    validation.sort_unstable();
    let mut held = vec![false; y.len()];
    for &i in &validation {
        held[i] = true;
    }
    let train = (0..y.len()).filter(|&i| !held[i]).collect();
    (train, validation)
}

fn log_loss_row(y: bool, p: f64) -> f64 {
    let p = p.clamp(1e-15, 1.0 - 1e-15);
    if y { -p.ln() } else { -(1.0 - p).ln() }
}

/// Trains a booster on the rows of `x` (NaN = missing) with labels `y`,
/// every feature numeric.
pub fn fit(x: ArrayView2<f64>, y: &[bool], params: &GbdtValidParams) -> Result<Fitted> {
    fit_with_categorical(x, y, params, &[])
}

/// The bins of every feature: category codes for the `categorical`
/// columns (checked against [`MAX_CATEGORIES`] over every training row),
/// quantile bins from a seeded sample of the training rows for the others.
fn fit_bins(
    x: ArrayView2<f64>,
    train: &[usize],
    categorical: &[usize],
    p: &GbdtParams,
) -> Result<Vec<FeatureBins>> {
    if let Some(&feature) = categorical.iter().find(|&&f| f >= x.ncols()) {
        return Err(MlError::CategoricalFeature {
            feature,
            features: x.ncols(),
        });
    }
    let bin_rows: Vec<usize> = sample_rows(train.len(), p.bin_sample, p.seed, Stream::BinSample)
        .into_iter()
        .map(|k| train[k])
        .collect();
    let bins: Vec<Result<FeatureBins>> = (0..x.ncols())
        .into_par_iter()
        .map(|f| {
            if categorical.contains(&f) {
                category_bins(train.iter().map(|&r| x[[r, f]]), f)
            } else {
                let sample = bin_rows.iter().map(|&r| x[[r, f]]).collect();
                Ok(FeatureBins::fit(sample, p.max_bins))
            }
        })
        .collect();
    // Collected in feature order first: a parallel collect into a Result
    // keeps whichever error a thread found first, and the message must not
    // depend on the thread count.
    bins.into_iter().collect()
}

/// The bins of categorical feature `feature` from its training values:
/// one per code up to the largest seen. Values that are no code (NaN,
/// negative, non-integer) do not count; they share the missing bin.
fn category_bins(values: impl Iterator<Item = f64>, feature: usize) -> Result<FeatureBins> {
    let codes: std::collections::BTreeSet<u32> = values.filter_map(category_code).collect();
    match codes.last() {
        None => Ok(FeatureBins::categorical(0)),
        Some(&largest) if (largest as usize) < MAX_CATEGORIES => {
            Ok(FeatureBins::categorical(largest as u8 + 1))
        }
        Some(&largest) => Err(MlError::TooManyCategories {
            feature,
            distinct: codes.len(),
            largest,
            limit: MAX_CATEGORIES,
        }),
    }
}

/// Trains a booster as [`fit`] does, with the columns listed in
/// `categorical` (indices into `x`'s columns) read as category codes:
/// non-negative integers `0, 1, 2, ...` below [`MAX_CATEGORIES`], split
/// by sets of codes rather than thresholds. Values of those columns that
/// are no code seen in training (NaN, negative or non-integer values, a
/// code not seen) always go to the right of a categorical split.
pub fn fit_with_categorical(
    x: ArrayView2<f64>,
    y: &[bool],
    params: &GbdtValidParams,
    categorical: &[usize],
) -> Result<Fitted> {
    check_labels(x.nrows(), y)?;
    let p = params;
    let rows = TrainingRows::split(y, p)?;
    let bins = fit_bins(x, &rows.train, categorical, p)?;
    let data = BinnedMatrix::new(x, &bins);
    let positive_weight = match p.class_weight {
        ClassWeight::Unweighted => 1.0,
        ClassWeight::Balanced => rows.negatives() as f64 / rows.positives as f64,
        ClassWeight::Positive(w) => w,
    };
    let init_score = (rows.positives as f64 * positive_weight / rows.negatives() as f64).ln();
    let boosted = boost(&data, &bins, y, &rows, p, positive_weight, init_score);
    let trees_kept = boosted.trees.len();
    let mut model = Gbdt {
        bins,
        init_score,
        trees: boosted.trees,
        calibration: None,
        training: GbdtTraining {
            trees_trained: boosted.trees_trained,
            trees_kept,
            train_rows: rows.train.len(),
            validation_rows: rows.validation.len(),
            validation_loss: boosted.validation_loss,
            positive_weight,
        },
    };
    if !rows.validation.is_empty() {
        model.calibration = Some(calibrate(&model, &data, y, &rows.validation));
    }
    Ok(Fitted {
        model,
        validation_rows: rows.validation,
    })
}

/// One label per row, and both classes present.
fn check_labels(rows: usize, y: &[bool]) -> Result<()> {
    if y.len() != rows {
        return Err(MlError::LabelLength { rows, got: y.len() });
    }
    if y.is_empty() {
        return Err(MlError::NoLabels);
    }
    let positives = y.iter().filter(|&&v| v).count();
    if positives == 0 || positives == y.len() {
        return Err(MlError::OneClass {
            positives,
            negatives: y.len() - positives,
        });
    }
    Ok(())
}

/// The rows trees learn from and the held-out rows (early stopping and
/// calibration), by the seeded split.
struct TrainingRows {
    train: Vec<usize>,
    validation: Vec<usize>,
    /// Positive labels among the training rows.
    positives: usize,
}

impl TrainingRows {
    fn split(y: &[bool], p: &GbdtValidParams) -> Result<TrainingRows> {
        let (train, validation) = if p.validation_fraction > 0.0 {
            validation_split(y, p.validation_fraction, p.seed)
        } else {
            ((0..y.len()).collect(), Vec::new())
        };
        let positives = train.iter().filter(|&&i| y[i]).count();
        if positives == 0 || positives == train.len() {
            return Err(MlError::OneClass {
                positives,
                negatives: train.len() - positives,
            });
        }
        Ok(TrainingRows {
            train,
            validation,
            positives,
        })
    }

    fn negatives(&self) -> usize {
        self.train.len() - self.positives
    }
}

impl From<&GbdtValidParams> for GrowParams {
    fn from(p: &GbdtValidParams) -> GrowParams {
        GrowParams {
            num_leaves: p.num_leaves,
            max_depth: p.max_depth,
            min_data_in_leaf: p.min_data_in_leaf as u64,
            min_sum_hessian: p.min_sum_hessian,
            lambda_l2: p.lambda_l2,
            min_split_gain: p.min_split_gain,
            learning_rate: p.learning_rate,
            chunk_rows: p.chunk_rows,
            max_cat_threshold: p.max_cat_threshold,
            cat_smooth: p.cat_smooth,
            cat_l2: p.cat_l2,
            min_data_per_group: p.min_data_per_group as u64,
            max_cat_to_onehot: p.max_cat_to_onehot,
        }
    }
}

/// What the boosting rounds produced.
struct Boosted {
    /// The trees kept (up to the best validation loss with early stopping).
    trees: Vec<Tree>,
    trees_trained: usize,
    /// The held-out log-loss after each tree.
    validation_loss: Vec<f64>,
}

/// The boosting rounds: per tree, the gradients of the log-loss at the
/// current scores, the rows and features it may use, the tree grown on
/// them (which adds its output to its rows' scores), its output added to
/// the other rows' scores, and the held-out loss for early stopping.
fn boost(
    data: &BinnedMatrix,
    bins: &[FeatureBins],
    y: &[bool],
    rows: &TrainingRows,
    p: &GbdtValidParams,
    positive_weight: f64,
    init_score: f64,
) -> Boosted {
    let n = y.len();
    let mut scores = vec![init_score; n];
    // Gradients in f32 (as LightGBM keeps them); histogram sums are f64.
    let mut grad = vec![(0.0f32, 0.0f32); n];
    let mut in_train = vec![false; n];
    for &i in &rows.train {
        in_train[i] = true;
    }
    let grow_params = GrowParams::from(p);
    let mut trees: Vec<Tree> = Vec::new();
    let mut validation_loss = Vec::new();
    let mut best = (f64::INFINITY, 0usize);
    let mut bag: Vec<u32> = Vec::with_capacity(rows.train.len());
    // Without subsampling the unseen rows are the validation rows.
    let mut unseen: Vec<usize> = rows.validation.clone();
    for t in 0..p.num_trees {
        log_loss_gradients(&mut grad, &scores, y, &in_train, positive_weight);
        draw_rows(t, &rows.train, n, p, &mut bag, &mut unseen);
        let features = draw_features(t, bins.len(), p);
        let tree = tree::grow(
            data,
            bins,
            &grad,
            &mut bag,
            &mut scores,
            &features,
            &grow_params,
        );
        if tree.nodes.len() == 1 {
            // No split gains anything: further trees would not either.
            break;
        }
        let deltas: Vec<f64> = unseen
            .par_iter()
            .map(|&i| tree.predict_binned(data.row(i)))
            .collect();
        for (&i, d) in unseen.iter().zip(deltas) {
            scores[i] += d;
        }
        trees.push(tree);
        if !rows.validation.is_empty() {
            let loss = mean_log_loss(&rows.validation, y, &scores);
            validation_loss.push(loss);
            if loss < best.0 {
                best = (loss, t);
            } else if p.early_stopping_rounds > 0 && t - best.1 >= p.early_stopping_rounds {
                break;
            }
        }
    }
    let trees_trained = trees.len();
    // Early stopping keeps the trees up to the best validation loss;
    // without it (`early_stopping_rounds = 0`) every tree is kept and the
    // validation split only calibrates (so it stays a clean hold-out).
    if !rows.validation.is_empty() && p.early_stopping_rounds > 0 && !trees.is_empty() {
        trees.truncate(best.1 + 1);
    }
    Boosted {
        trees,
        trees_trained,
        validation_loss,
    }
}

/// The gradient and hessian of the weighted log-loss at `scores`, for the
/// training rows (the others keep theirs: trees never read them).
fn log_loss_gradients(
    grad: &mut [(f32, f32)],
    scores: &[f64],
    y: &[bool],
    in_train: &[bool],
    positive_weight: f64,
) {
    grad.par_iter_mut()
        .zip(scores)
        .enumerate()
        .for_each(|(i, (gh, &s))| {
            if in_train[i] {
                let prob = sigmoid(s);
                let w = if y[i] { positive_weight } else { 1.0 };
                let target = if y[i] { 1.0 } else { 0.0 };
                *gh = (
                    (w * (prob - target)) as f32,
                    (w * prob * (1.0 - prob)).max(1e-16) as f32,
                );
            }
        });
}

/// Tree `t`'s rows (`bag`, ascending) and the rows it does not see
/// (`unseen`, scored through it afterwards): all training rows, or a
/// seeded sample of them with `row_subsample` below 1.
fn draw_rows(
    t: usize,
    train: &[usize],
    n: usize,
    p: &GbdtValidParams,
    bag: &mut Vec<u32>,
    unseen: &mut Vec<usize>,
) {
    bag.clear();
    if p.row_subsample >= 1.0 {
        bag.extend(train.iter().map(|&i| i as u32));
        return;
    }
    let take = ((train.len() as f64 * p.row_subsample).ceil() as usize).max(1);
    let mut rng = rng(p.seed, Stream::Bagging, t as u64, 0);
    bag.extend(
        sample(&mut rng, train.len(), take)
            .into_iter()
            .map(|k| train[k] as u32),
    );
    bag.sort_unstable();
    let mut in_bag = vec![false; n];
    for &r in bag.iter() {
        in_bag[r as usize] = true;
    }
    unseen.clear();
    unseen.extend((0..n).filter(|&i| !in_bag[i]));
}

/// Tree `t`'s features, ascending: all of them, or a seeded sample with
/// `feature_subsample` below 1.
fn draw_features(t: usize, features: usize, p: &GbdtValidParams) -> Vec<usize> {
    if p.feature_subsample >= 1.0 {
        return (0..features).collect();
    }
    let take = ((features as f64 * p.feature_subsample).ceil() as usize).max(1);
    let mut rng = rng(p.seed, Stream::FeatureSample, t as u64, 0);
    let mut picked = sample(&mut rng, features, take).into_vec();
    picked.sort_unstable();
    picked
}

/// The mean log-loss of `rows` at `scores`, summed in row order.
fn mean_log_loss(rows: &[usize], y: &[bool], scores: &[f64]) -> f64 {
    rows.iter()
        .map(|&i| log_loss_row(y[i], sigmoid(scores[i])))
        .sum::<f64>()
        / rows.len() as f64
}

/// Platt scaling of the model's margins on the held-out rows.
fn calibrate(model: &Gbdt, data: &BinnedMatrix, y: &[bool], validation: &[usize]) -> Platt {
    let rows: Vec<&[u8]> = validation.iter().map(|&i| data.row(i)).collect();
    let margins: Vec<f64> = rows.par_iter().map(|r| model.margin_binned(r)).collect();
    let labels: Vec<bool> = validation.iter().map(|&i| y[i]).collect();
    Platt::fit(&margins, &labels)
}

impl Gbdt {
    pub fn features(&self) -> usize {
        self.bins.len()
    }

    /// The features trained as categorical, ascending.
    pub fn categorical_features(&self) -> Vec<usize> {
        (0..self.bins.len())
            .filter(|&f| self.bins[f].is_categorical())
            .collect()
    }

    fn margin_binned(&self, bins: &[u8]) -> f64 {
        self.init_score
            + self
                .trees
                .iter()
                .map(|t| t.predict_binned(bins))
                .sum::<f64>()
    }

    /// The raw score (log-odds before calibration) of one row.
    pub fn margin(&self, x: &[f64]) -> f64 {
        self.init_score + self.trees.iter().map(|t| t.predict(x)).sum::<f64>()
    }

    /// The calibrated probability for a margin.
    pub fn probability_of_margin(&self, margin: f64) -> f64 {
        match &self.calibration {
            Some(c) => c.probability(margin),
            None => sigmoid(margin),
        }
    }

    /// Margins of every row, in parallel (each row independent).
    pub fn margins(&self, x: ArrayView2<f64>) -> Result<Vec<f64>> {
        self.check_width(x.ncols())?;
        let rows: Vec<usize> = (0..x.nrows()).collect();
        Ok(rows
            .par_iter()
            .map(|&i| self.margin(&row_values(x, i)))
            .collect())
    }

    fn check_width(&self, got: usize) -> Result<()> {
        if got == self.features() {
            Ok(())
        } else {
            Err(MlError::Dimension {
                expected: self.features(),
                got,
            })
        }
    }

    /// The model's expected margin over the training rows: what SHAP
    /// contributions are relative to.
    pub fn expected_value(&self) -> f64 {
        self.init_score + self.trees.iter().map(Tree::expected_value).sum::<f64>()
    }

    /// The TreeSHAP tables of this model ([`fast_shap`]), built once to
    /// explain many rows.
    pub fn explainer(&self) -> TreeExplainer {
        TreeExplainer::new(&self.trees, self.features())
    }

    /// TreeSHAP contributions of each feature to one row's margin: the
    /// bits [`Gbdt::contributions_matrix`] gives the row, without building
    /// the explainer's tables (which costs more than explaining one row).
    pub fn contributions(&self, x: &[f64]) -> Vec<f64> {
        let mut phi = vec![0.0; self.features()];
        fast_shap::add_contributions_untabled(&self.trees, x, &mut phi);
        phi
    }

    /// Contributions of every row (rows x features), in parallel over
    /// passes of [`fast_shap::ROWS_PER_PASS`] rows.
    pub fn contributions_matrix(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        self.check_width(x.ncols())?;
        let explainer = self.explainer();
        let mut out = Array2::zeros((x.nrows(), x.ncols()));
        let width = x.ncols().max(1);
        let pass = fast_shap::ROWS_PER_PASS;
        out.as_slice_mut()
            .expect("a new array is in standard layout")
            .par_chunks_mut(pass * width)
            .enumerate()
            .for_each(|(c, phi)| {
                let rows = x.slice(ndarray::s![c * pass..c * pass + phi.len() / width, ..]);
                explainer.add_rows(rows, phi);
            });
        Ok(out)
    }

    /// Explains every row without keeping the contributions: hands (row
    /// index, contributions) to `each` and returns its results in row
    /// order with the mean |contribution| per feature. The means are the
    /// same bits with any number of threads (see [`EXPLAIN_CHUNK_ROWS`]).
    pub fn explain_rows<T: Send>(
        &self,
        x: ArrayView2<f64>,
        each: impl Fn(usize, &[f64]) -> T + Sync + Send,
    ) -> Result<(Vec<T>, Vec<f64>)> {
        self.check_width(x.ncols())?;
        let explainer = self.explainer();
        let width = x.ncols();
        let chunks: Vec<(Vec<T>, Vec<f64>)> = (0..x.nrows().div_ceil(EXPLAIN_CHUNK_ROWS))
            .into_par_iter()
            .map(|c| {
                let first = c * EXPLAIN_CHUNK_ROWS;
                let rows = x.slice(ndarray::s![
                    first..(first + EXPLAIN_CHUNK_ROWS).min(x.nrows()),
                    ..
                ]);
                let mut phi = vec![0.0; rows.nrows() * width];
                explainer.add_rows(rows, &mut phi);
                let mut sums = vec![0.0; width];
                let mut results = Vec::with_capacity(rows.nrows());
                for i in 0..rows.nrows() {
                    let phi = &phi[i * width..(i + 1) * width];
                    for (s, p) in sums.iter_mut().zip(phi) {
                        *s += p.abs();
                    }
                    results.push(each(first + i, phi));
                }
                (results, sums)
            })
            .collect();
        let mut results = Vec::with_capacity(x.nrows());
        let mut means = vec![0.0; width];
        for (chunk_results, sums) in chunks {
            results.extend(chunk_results);
            for (m, s) in means.iter_mut().zip(sums) {
                *m += s;
            }
        }
        let n = x.nrows().max(1) as f64;
        means.iter_mut().for_each(|m| *m /= n);
        Ok((results, means))
    }

    /// Mean |contribution| per feature: global importance.
    pub fn mean_abs_contributions(contributions: &Array2<f64>) -> Vec<f64> {
        let n = contributions.nrows().max(1) as f64;
        contributions
            .columns()
            .into_iter()
            .map(|c| c.iter().map(|v| v.abs()).sum::<f64>() / n)
            .collect()
    }
}
