//! One regression tree: its nodes, how a row travels through it (raw values
//! or bins), and leaf-wise growth from gradient histograms.
//!
//! Growth follows LightGBM: the leaf with the best split gain is split next
//! until `num_leaves` is reached or nothing gains. A leaf's histogram is
//! built over its rows in fixed chunks of `chunk_rows` (in parallel, merged
//! in chunk order, so the sums do not depend on the thread count); of two
//! siblings only the smaller is built, the other is its parent's histogram
//! minus it.
//!
//! Categorical features split as LightGBM's
//! `FindBestThresholdCategoricalInner` does: one category against the rest
//! when the feature has few codes, otherwise a set of categories taken
//! from either end of the codes sorted by `sum_grad / (sum_hess +
//! cat_smooth)`.

use std::borrow::Cow;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::binning::{BinnedMatrix, FeatureBins, MISSING_BIN, category_code};

/// A node of a tree. `cover` is the number of training rows that reached
/// it (TreeSHAP's weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Node {
    Split {
        feature: usize,
        /// Rows with `value <= threshold` go left.
        threshold: f64,
        /// The same test on bins: `bin <= threshold_bin` goes left.
        threshold_bin: u8,
        /// Where missing values go.
        default_left: bool,
        left: usize,
        right: usize,
        gain: f64,
        cover: f64,
    },
    Leaf {
        value: f64,
        cover: f64,
    },
    /// A split of a categorical feature: rows whose code is one of
    /// `left_categories` go left, every other value goes right (other
    /// codes, codes never seen in training, NaN, negative and non-integer
    /// values), as in LightGBM.
    CategoricalSplit {
        feature: usize,
        /// Ascending codes; a code is also its bin.
        left_categories: Vec<u32>,
        left: usize,
        right: usize,
        gain: f64,
        cover: f64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Node 0 is the root.
    pub nodes: Vec<Node>,
}

/// How a split decides whether a raw value goes left.
#[derive(Debug, Clone, PartialEq)]
pub enum SplitRule<'a> {
    /// `value <= threshold` goes left; NaN goes left if `default_left`.
    Threshold { threshold: f64, default_left: bool },
    /// The codes (ascending) that go left; every other value goes right.
    Categories(Cow<'a, [u32]>),
}

impl SplitRule<'_> {
    /// Whether the raw value `v` goes to the left child.
    #[inline]
    pub fn goes_left(&self, v: f64) -> bool {
        match self {
            SplitRule::Threshold {
                threshold,
                default_left,
            } => goes_left_raw(v, *threshold, *default_left),
            SplitRule::Categories(codes) => goes_left_categorical(v, codes),
        }
    }

    /// The rule with its codes copied, to keep beside (not borrowing) the tree.
    pub fn into_owned(self) -> SplitRule<'static> {
        match self {
            SplitRule::Threshold {
                threshold,
                default_left,
            } => SplitRule::Threshold {
                threshold,
                default_left,
            },
            SplitRule::Categories(codes) => SplitRule::Categories(Cow::Owned(codes.into_owned())),
        }
    }
}

/// The parts of a split node that walking a tree needs, whatever its kind:
/// code that follows rows down a tree reads these rather than matching on
/// each kind of split.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRef<'a> {
    /// The feature tested.
    pub feature: usize,
    /// The children's node indices.
    pub left: usize,
    pub right: usize,
    /// Training rows that reached the split.
    pub cover: f64,
    /// How a value of `feature` picks the child.
    pub rule: SplitRule<'a>,
}

impl SplitRef<'_> {
    /// Whether the row of raw values `x` goes to the left child.
    #[inline]
    pub fn goes_left(&self, x: &[f64]) -> bool {
        self.rule.goes_left(x[self.feature])
    }

    /// The child the row of raw values `x` goes to.
    #[inline]
    pub fn child(&self, x: &[f64]) -> usize {
        if self.goes_left(x) {
            self.left
        } else {
            self.right
        }
    }
}

impl Node {
    pub fn cover(&self) -> f64 {
        match self {
            Node::Split { cover, .. }
            | Node::Leaf { cover, .. }
            | Node::CategoricalSplit { cover, .. } => *cover,
        }
    }

    /// The split's parts (`None` for a leaf).
    #[inline]
    pub fn split(&self) -> Option<SplitRef<'_>> {
        match self {
            Node::Leaf { .. } => None,
            Node::Split {
                feature,
                threshold,
                default_left,
                left,
                right,
                cover,
                ..
            } => Some(SplitRef {
                feature: *feature,
                left: *left,
                right: *right,
                cover: *cover,
                rule: SplitRule::Threshold {
                    threshold: *threshold,
                    default_left: *default_left,
                },
            }),
            Node::CategoricalSplit {
                feature,
                left_categories,
                left,
                right,
                cover,
                ..
            } => Some(SplitRef {
                feature: *feature,
                left: *left,
                right: *right,
                cover: *cover,
                rule: SplitRule::Categories(Cow::Borrowed(left_categories)),
            }),
        }
    }
}

impl Tree {
    /// The leaf a row of raw values (NaN = missing) lands in.
    pub fn leaf(&self, x: &[f64]) -> usize {
        let mut at = 0;
        while let Some(split) = self.nodes[at].split() {
            at = split.child(x);
        }
        at
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        match &self.nodes[self.leaf(x)] {
            Node::Leaf { value, .. } => *value,
            _ => unreachable!("leaf() returns a leaf"),
        }
    }

    /// The same as [`Tree::predict`] on a row of bins.
    pub fn predict_binned(&self, bins: &[u8]) -> f64 {
        let mut at = 0;
        loop {
            at = match &self.nodes[at] {
                Node::Leaf { value, .. } => return *value,
                Node::Split {
                    feature,
                    threshold_bin,
                    default_left,
                    left,
                    right,
                    ..
                } => {
                    if goes_left(bins[*feature], *threshold_bin, *default_left) {
                        *left
                    } else {
                        *right
                    }
                }
                Node::CategoricalSplit {
                    feature,
                    left_categories,
                    left,
                    right,
                    ..
                } => {
                    // The missing bin (255) is above every code.
                    if left_categories
                        .binary_search(&(bins[*feature] as u32))
                        .is_ok()
                    {
                        *left
                    } else {
                        *right
                    }
                }
            };
        }
    }

    /// Cover-weighted mean of the leaf values: the tree's expected output.
    pub fn expected_value(&self) -> f64 {
        let root = self.nodes[0].cover();
        self.nodes
            .iter()
            .map(|n| match n {
                Node::Leaf { value, cover } => value * cover / root,
                _ => 0.0,
            })
            .sum()
    }

    pub fn depth(&self) -> usize {
        fn depth(nodes: &[Node], at: usize) -> usize {
            match nodes[at].split() {
                None => 0,
                Some(s) => 1 + depth(nodes, s.left).max(depth(nodes, s.right)),
            }
        }
        depth(&self.nodes, 0)
    }
}

/// The split test on a raw value: NaN (missing) follows the default branch.
fn goes_left_raw(v: f64, threshold: f64, default_left: bool) -> bool {
    if v.is_nan() {
        default_left
    } else {
        v <= threshold
    }
}

/// The categorical split test on a raw value: only the listed codes go left.
fn goes_left_categorical(v: f64, left_categories: &[u32]) -> bool {
    category_code(v).is_some_and(|c| left_categories.binary_search(&c).is_ok())
}

fn goes_left(bin: u8, threshold_bin: u8, default_left: bool) -> bool {
    if bin == MISSING_BIN {
        default_left
    } else {
        bin <= threshold_bin
    }
}

/// Gradient, hessian and row count of the rows in one bin.
#[derive(Debug, Clone, Copy, Default)]
struct HistBin {
    g: f64,
    h: f64,
    n: u64,
}

/// How many rows ahead histogram building prefetches.
const PREFETCH_ROWS: usize = 16;

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Features per task when a leaf's histogram is split by features.
const FEATURE_GROUP: usize = 4;

/// One histogram per feature, 256 bins each (the last is "missing").
type Histogram = Vec<[HistBin; 256]>;

fn empty_histogram(features: usize) -> Histogram {
    vec![[HistBin::default(); 256]; features]
}

/// What growth needs to know besides the data.
pub struct GrowParams {
    pub num_leaves: usize,
    pub max_depth: Option<usize>,
    pub min_data_in_leaf: u64,
    pub min_sum_hessian: f64,
    pub lambda_l2: f64,
    pub min_split_gain: f64,
    pub learning_rate: f64,
    pub chunk_rows: usize,
    /// Categorical splits: see [`super::GbdtParams`].
    pub max_cat_threshold: usize,
    pub cat_smooth: f64,
    pub cat_l2: f64,
    pub min_data_per_group: u64,
    pub max_cat_to_onehot: usize,
}

/// A set of bins (the missing bin is never in one).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct BinSet([u64; 4]);

impl BinSet {
    fn insert(&mut self, bin: usize) {
        self.0[bin / 64] |= 1 << (bin % 64);
    }

    #[inline(always)]
    fn contains(&self, bin: u8) -> bool {
        self.0[bin as usize / 64] >> (bin % 64) & 1 == 1
    }

    /// The bins in the set, ascending (as codes: a categorical bin is its code).
    fn codes(&self) -> Vec<u32> {
        (0..MISSING_BIN)
            .filter(|&b| self.contains(b))
            .map(u32::from)
            .collect()
    }
}

/// Which rows of a leaf a split sends left, on bins.
#[derive(Debug, Clone, Copy)]
enum BinRule {
    Threshold {
        threshold_bin: u8,
        default_left: bool,
    },
    Categories(BinSet),
}

impl BinRule {
    #[inline(always)]
    fn goes_left(&self, bin: u8) -> bool {
        match self {
            BinRule::Threshold {
                threshold_bin,
                default_left,
            } => goes_left(bin, *threshold_bin, *default_left),
            BinRule::Categories(set) => set.contains(bin),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Split {
    feature: usize,
    rule: BinRule,
    gain: f64,
    /// The L2 regularisation of the children's values: LightGBM adds
    /// `cat_l2` to `lambda_l2` for the leaves of a many-vs-many
    /// categorical split.
    child_l2: f64,
}

struct Leaf {
    /// This leaf's rows are `rows[start..end]`.
    start: usize,
    end: usize,
    depth: usize,
    node: usize,
    g: f64,
    h: f64,
    /// The L2 regularisation of this leaf's value.
    l2: f64,
    hist: Histogram,
    best: Option<Split>,
}

fn histogram(
    data: &BinnedMatrix,
    grad: &[(f32, f32)],
    rows: &[u32],
    chunk_rows: usize,
) -> Histogram {
    // The histograms of features `fs` over the rows of `chunk`, summed in
    // row order.
    let build = |chunk: &[u32], fs: std::ops::Range<usize>| {
        // While summing, (g, h) pairs and counts live apart: the pair is
        // one 16-byte vector add, the count a 4-byte increment.
        let mut gh = vec![[[0f64; 2]; 256]; fs.len()];
        let mut counts = vec![[0u32; 256]; fs.len()];
        for (i, &r) in chunk.iter().enumerate() {
            // A leaf's rows are scattered over the matrix: ask for a row
            // well before it is needed (no effect on results).
            if let Some(&ahead) = chunk.get(i + PREFETCH_ROWS) {
                prefetch(data.row(ahead as usize).as_ptr());
                prefetch(grad[ahead as usize..].as_ptr().cast());
            }
            let (g, h) = grad[r as usize];
            let (g, h) = (g as f64, h as f64);
            let row = &data.row(r as usize)[fs.clone()];
            for ((fgh, fn_), &b) in gh.iter_mut().zip(counts.iter_mut()).zip(row) {
                let e = &mut fgh[b as usize];
                e[0] += g;
                e[1] += h;
                fn_[b as usize] += 1;
            }
        }
        let mut hist = empty_histogram(fs.len());
        for ((out, fgh), fn_) in hist.iter_mut().zip(&gh).zip(&counts) {
            for ((o, e), &n) in out.iter_mut().zip(fgh).zip(fn_) {
                *o = HistBin {
                    g: e[0],
                    h: e[1],
                    n: n as u64,
                };
            }
        }
        hist
    };
    let all = 0..data.features;
    if rows.len() <= chunk_rows {
        // One chunk: split the work by features instead (each feature's
        // sums are still in row order, so the result is the same).
        if rows.len() < 1024 || data.features < 2 * FEATURE_GROUP {
            return build(rows, all);
        }
        let groups: Vec<std::ops::Range<usize>> = (0..data.features)
            .step_by(FEATURE_GROUP)
            .map(|f| f..(f + FEATURE_GROUP).min(data.features))
            .collect();
        let parts: Vec<Histogram> = groups.into_par_iter().map(|fs| build(rows, fs)).collect();
        return parts.into_iter().flatten().collect();
    }
    let parts: Vec<Histogram> = rows
        .par_chunks(chunk_rows)
        .map(|chunk| build(chunk, all.clone()))
        .collect();
    let mut parts = parts.into_iter();
    let mut total = parts.next().expect("at least one chunk");
    for part in parts {
        for (t, p) in total.iter_mut().zip(&part) {
            for (a, b) in t.iter_mut().zip(p) {
                a.g += b.g;
                a.h += b.h;
                a.n += b.n;
            }
        }
    }
    total
}

fn subtract(parent: &Histogram, child: &Histogram) -> Histogram {
    parent
        .iter()
        .zip(child)
        .map(|(p, c)| {
            let mut out = [HistBin::default(); 256];
            for ((o, a), b) in out.iter_mut().zip(p).zip(c) {
                *o = HistBin {
                    g: a.g - b.g,
                    h: a.h - b.h,
                    n: a.n - b.n,
                };
            }
            out
        })
        .collect()
}

fn leaf_score(g: f64, h: f64, lambda: f64) -> f64 {
    g * g / (h + lambda)
}

/// The totals of the leaf a split is sought for.
#[derive(Debug, Clone, Copy)]
struct LeafSums {
    n: u64,
    g: f64,
    h: f64,
}

/// The best split of one leaf over the allowed features; ties keep the
/// first feature and, within a feature, the first candidate tried, so the
/// choice is deterministic.
fn best_split(
    hist: &Histogram,
    features: &[usize],
    bins: &[FeatureBins],
    sums: LeafSums,
    p: &GrowParams,
) -> Option<Split> {
    let mut best: Option<Split> = None;
    for &f in features {
        let candidate = if bins[f].is_categorical() {
            best_categorical(&hist[f], f, bins[f].value_bins(), sums, p)
        } else {
            best_numeric(&hist[f], f, bins[f].value_bins(), sums, p)
        };
        if let Some(c) = candidate
            && best.is_none_or(|s| c.gain > s.gain)
        {
            best = Some(c);
        }
    }
    best
}

/// The best threshold of a numeric feature with `nb` value bins.
fn best_numeric(
    fh: &[HistBin; 256],
    f: usize,
    nb: usize,
    LeafSums { n, g, h }: LeafSums,
    p: &GrowParams,
) -> Option<Split> {
    let parent = leaf_score(g, h, p.lambda_l2);
    let mut best: Option<Split> = None;
    let miss = fh[MISSING_BIN as usize];
    // Missing values try both sides; without any, they follow the
    // larger child of each candidate split.
    let directions: &[bool] = if miss.n > 0 { &[false, true] } else { &[false] };
    for &missing_left in directions {
        let (mut gl, mut hl, mut nl) = if missing_left {
            (miss.g, miss.h, miss.n)
        } else {
            (0.0, 0.0, 0)
        };
        for (b, bin) in fh.iter().enumerate().take(nb) {
            gl += bin.g;
            hl += bin.h;
            nl += bin.n;
            let nr = n - nl;
            if nl < p.min_data_in_leaf {
                continue;
            }
            if nr < p.min_data_in_leaf {
                break;
            }
            let hr = h - hl;
            if hl < p.min_sum_hessian || hr < p.min_sum_hessian {
                continue;
            }
            let gain =
                leaf_score(gl, hl, p.lambda_l2) + leaf_score(g - gl, hr, p.lambda_l2) - parent;
            if gain > p.min_split_gain && best.is_none_or(|s| gain > s.gain) {
                best = Some(Split {
                    feature: f,
                    rule: BinRule::Threshold {
                        threshold_bin: b as u8,
                        default_left: if miss.n > 0 { missing_left } else { nl >= nr },
                    },
                    gain,
                    child_l2: p.lambda_l2,
                });
            }
        }
    }
    best
}

/// The best split of a categorical feature with codes `0..k`. Rows
/// outside every code (the missing bin) always go right.
fn best_categorical(
    fh: &[HistBin; 256],
    f: usize,
    k: usize,
    sums: LeafSums,
    p: &GrowParams,
) -> Option<Split> {
    let found = if k <= p.max_cat_to_onehot {
        one_vs_rest(fh, k, sums, p)
    } else {
        many_vs_many(fh, k, sums, p)
    };
    found.map(|(left, gain, child_l2)| Split {
        feature: f,
        rule: BinRule::Categories(left),
        gain,
        child_l2,
    })
}

/// Each category alone against the rest (LightGBM's one-hot case):
/// (the left set, gain, children's L2).
fn one_vs_rest(
    fh: &[HistBin; 256],
    k: usize,
    LeafSums { n, g, h }: LeafSums,
    p: &GrowParams,
) -> Option<(BinSet, f64, f64)> {
    let parent = leaf_score(g, h, p.lambda_l2);
    let mut best: Option<(usize, f64)> = None;
    for (c, bin) in fh.iter().enumerate().take(k) {
        let (nr, hr) = (n - bin.n, h - bin.h);
        if bin.n < p.min_data_in_leaf || bin.h < p.min_sum_hessian {
            continue;
        }
        if nr < p.min_data_in_leaf || hr < p.min_sum_hessian {
            continue;
        }
        let gain =
            leaf_score(bin.g, bin.h, p.lambda_l2) + leaf_score(g - bin.g, hr, p.lambda_l2) - parent;
        if gain > p.min_split_gain && best.is_none_or(|(_, b)| gain > b) {
            best = Some((c, gain));
        }
    }
    best.map(|(c, gain)| {
        let mut left = BinSet::default();
        left.insert(c);
        (left, gain, p.lambda_l2)
    })
}

/// LightGBM's many-vs-many search: the categories with at least
/// `cat_smooth` rows, sorted by `sum_grad / (sum_hess + cat_smooth)`
/// (stable, so ties keep code order), are taken into the left set one by
/// one from each end, up to `max_cat_threshold` of them, trying a split
/// after every `min_data_per_group` rows; children are regularised by
/// `lambda_l2 + cat_l2`. Returns (the left set, gain, children's L2).
fn many_vs_many(
    fh: &[HistBin; 256],
    k: usize,
    LeafSums { n, g, h }: LeafSums,
    p: &GrowParams,
) -> Option<(BinSet, f64, f64)> {
    // As in LightGBM the parent's score keeps the plain `lambda_l2`, so
    // `cat_l2` also makes these splits harder to pick.
    let parent = leaf_score(g, h, p.lambda_l2);
    let l2 = p.lambda_l2 + p.cat_l2;
    let ctr = |c: usize| fh[c].g / (fh[c].h + p.cat_smooth);
    let mut order: Vec<usize> = (0..k)
        .filter(|&c| fh[c].n > 0 && fh[c].n as f64 >= p.cat_smooth)
        .collect();
    order.sort_by(|&a, &b| ctr(a).total_cmp(&ctr(b)));
    let used = order.len();
    let max_cats = p.max_cat_threshold.min(used.div_ceil(2));
    // (from the high end, categories taken, gain)
    let mut best: Option<(bool, usize, f64)> = None;
    for from_high in [false, true] {
        let (mut gl, mut hl, mut nl, mut group) = (0.0, 0.0, 0u64, 0u64);
        for i in 0..max_cats {
            let bin = fh[if from_high {
                order[used - 1 - i]
            } else {
                order[i]
            }];
            gl += bin.g;
            hl += bin.h;
            nl += bin.n;
            group += bin.n;
            if nl < p.min_data_in_leaf || hl < p.min_sum_hessian {
                continue;
            }
            let nr = n - nl;
            if nr < p.min_data_in_leaf || nr < p.min_data_per_group || h - hl < p.min_sum_hessian {
                break;
            }
            if group < p.min_data_per_group {
                continue;
            }
            group = 0;
            let gain = leaf_score(gl, hl, l2) + leaf_score(g - gl, h - hl, l2) - parent;
            if gain > p.min_split_gain && best.is_none_or(|(_, _, b)| gain > b) {
                best = Some((from_high, i + 1, gain));
            }
        }
    }
    best.map(|(from_high, taken, gain)| {
        let mut left = BinSet::default();
        for i in 0..taken {
            left.insert(if from_high {
                order[used - 1 - i]
            } else {
                order[i]
            });
        }
        (left, gain, l2)
    })
}

/// Grows one tree on `rows` (the bagged training rows; reordered in place)
/// with the given gradients and hessians, and adds each of those rows' leaf
/// value to its score (saving a pass through the tree). A tree that found
/// no split (one leaf) leaves the scores alone.
pub fn grow(
    data: &BinnedMatrix,
    bins: &[FeatureBins],
    grad: &[(f32, f32)],
    rows: &mut [u32],
    scores: &mut [f64],
    features: &[usize],
    p: &GrowParams,
) -> Tree {
    let grower = Grower {
        data,
        bins,
        grad,
        features,
        p,
    };
    let hist = histogram(data, grad, rows, p.chunk_rows);
    let root = grower.leaf((0, rows.len()), 0, 0, p.lambda_l2, hist);
    let mut nodes = vec![Node::Leaf {
        value: 0.0,
        cover: rows.len() as f64,
    }];
    let mut leaves = vec![root];
    let mut scratch: Vec<u32> = vec![0; rows.len()];
    while leaves.len() < p.num_leaves {
        let Some(i) = leaf_to_split(&leaves, p) else {
            break;
        };
        let leaf = leaves.swap_remove(i);
        let children = grower.split(leaf, rows, &mut scratch, &mut nodes);
        leaves.extend(children);
    }
    let values = set_leaf_values(&mut nodes, &leaves, p);
    // Every grown row gets its leaf's value (rows are a permutation, so
    // each score is written once). A tree without a split is not used, so
    // it changes nothing.
    if leaves.len() > 1 {
        for (start, end, value) in values {
            for &r in &rows[start..end] {
                scores[r as usize] += value;
            }
        }
    }
    Tree { nodes }
}

/// The splittable leaf with the largest gain (the first on ties), if any.
fn leaf_to_split(leaves: &[Leaf], p: &GrowParams) -> Option<usize> {
    let mut pick: Option<(usize, f64)> = None;
    for (i, leaf) in leaves.iter().enumerate() {
        if let Some(s) = leaf.best
            && p.max_depth.is_none_or(|d| leaf.depth < d)
            && pick.is_none_or(|(_, g)| s.gain > g)
        {
            pick = Some((i, s.gain));
        }
    }
    pick.map(|(i, _)| i)
}

/// Writes each leaf's value into its node; returns (start, end, value) of
/// each leaf's rows.
fn set_leaf_values(
    nodes: &mut [Node],
    leaves: &[Leaf],
    p: &GrowParams,
) -> Vec<(usize, usize, f64)> {
    let mut values = Vec::with_capacity(leaves.len());
    for leaf in leaves {
        let value = -p.learning_rate * leaf.g / (leaf.h + leaf.l2);
        nodes[leaf.node] = Node::Leaf {
            value,
            cover: (leaf.end - leaf.start) as f64,
        };
        values.push((leaf.start, leaf.end, value));
    }
    values
}

/// What stays the same while one tree grows.
struct Grower<'a> {
    data: &'a BinnedMatrix,
    bins: &'a [FeatureBins],
    grad: &'a [(f32, f32)],
    features: &'a [usize],
    p: &'a GrowParams,
}

impl Grower<'_> {
    /// A leaf over `rows[start..end]` with its histogram, sums and best
    /// split.
    fn leaf(
        &self,
        (start, end): (usize, usize),
        depth: usize,
        node: usize,
        l2: f64,
        hist: Histogram,
    ) -> Leaf {
        let (g, h) = totals(&hist);
        let n = (end - start) as u64;
        let best = best_split(
            &hist,
            self.features,
            self.bins,
            LeafSums { n, g, h },
            self.p,
        );
        Leaf {
            start,
            end,
            depth,
            node,
            g,
            h,
            l2,
            hist,
            best,
        }
    }

    /// Splits `leaf` by its best split: its rows partitioned (stably, left
    /// ones first), its node made a split node, two leaf nodes added. The
    /// smaller child's histogram is built from its rows, the larger's is
    /// the parent's minus it. Returns the two children, left first.
    fn split(
        &self,
        leaf: Leaf,
        rows: &mut [u32],
        scratch: &mut [u32],
        nodes: &mut Vec<Node>,
    ) -> [Leaf; 2] {
        let split = leaf.best.expect("picked leaves have a split");
        let p = self.p;
        let nl = partition(
            self.data,
            &mut rows[leaf.start..leaf.end],
            &split,
            p.chunk_rows,
            scratch,
        );
        let mid = leaf.start + nl;
        let small = if nl <= leaf.end - mid {
            (leaf.start, mid)
        } else {
            (mid, leaf.end)
        };
        let small_hist = histogram(self.data, self.grad, &rows[small.0..small.1], p.chunk_rows);
        let large_hist = subtract(&leaf.hist, &small_hist);
        drop(leaf.hist);
        let left_node = nodes.len();
        nodes[leaf.node] = split_node(&split, self.bins, left_node, (leaf.end - leaf.start) as f64);
        let (left_hist, right_hist) = if small.0 == leaf.start {
            (small_hist, large_hist)
        } else {
            (large_hist, small_hist)
        };
        let halves = [(leaf.start, mid), (mid, leaf.end)];
        for (start, end) in halves {
            nodes.push(Node::Leaf {
                value: 0.0,
                cover: (end - start) as f64,
            });
        }
        let depth = leaf.depth + 1;
        [
            self.leaf(halves[0], depth, left_node, split.child_l2, left_hist),
            self.leaf(halves[1], depth, left_node + 1, split.child_l2, right_hist),
        ]
    }
}

/// The node of a split whose children are `left` and `left + 1`.
fn split_node(split: &Split, bins: &[FeatureBins], left: usize, cover: f64) -> Node {
    match split.rule {
        BinRule::Threshold {
            threshold_bin,
            default_left,
        } => Node::Split {
            feature: split.feature,
            threshold: bins[split.feature]
                .edges
                .get(threshold_bin as usize)
                .copied()
                .unwrap_or(f64::INFINITY),
            threshold_bin,
            default_left,
            left,
            right: left + 1,
            gain: split.gain,
            cover,
        },
        BinRule::Categories(set) => Node::CategoricalSplit {
            feature: split.feature,
            left_categories: set.codes(),
            left,
            right: left + 1,
            gain: split.gain,
            cover,
        },
    }
}

/// Stable partition of `rows` by the split: rows going left first, each
/// side in its original order. Returns the number going left. Chunks of
/// `chunk_rows` are partitioned in parallel and concatenated in order, so
/// the result does not depend on the thread count.
fn partition(
    data: &BinnedMatrix,
    rows: &mut [u32],
    split: &Split,
    chunk_rows: usize,
    scratch: &mut [u32],
) -> usize {
    let scratch = &mut scratch[..rows.len()];
    let column = &data.columns[split.feature];
    let side = |r: u32| split.rule.goes_left(column[r as usize]);
    // Each chunk writes its left rows to the front of its slice of
    // `scratch` and its right rows to the back; then both sides are
    // gathered in chunk order.
    let counts: Vec<usize> = rows
        .par_chunks(chunk_rows)
        .zip(scratch.par_chunks_mut(chunk_rows))
        .map(|(src, dst)| {
            // Branch-free: the side of a row is unpredictable, so write it
            // to both candidate slots and advance only one cursor.
            let (mut l, mut r) = (0usize, dst.len());
            for &row in src {
                let left = side(row);
                dst[l] = row;
                dst[r - 1] = row;
                l += left as usize;
                r -= (!left) as usize;
            }
            l
        })
        .collect();
    // Cut `rows` into each chunk's left destination (in chunk order) and
    // then each chunk's right destination, and copy in parallel.
    let left: usize = counts.iter().sum();
    let (mut lefts, mut rights) = rows.split_at_mut(left);
    let mut targets: Vec<(&mut [u32], &mut [u32])> = Vec::with_capacity(counts.len());
    for (dst, &l) in scratch.chunks(chunk_rows).zip(&counts) {
        let (lt, rest) = std::mem::take(&mut lefts).split_at_mut(l);
        let (rt, rest_r) = std::mem::take(&mut rights).split_at_mut(dst.len() - l);
        lefts = rest;
        rights = rest_r;
        targets.push((lt, rt));
    }
    targets
        .into_par_iter()
        .zip(scratch.par_chunks(chunk_rows))
        .zip(counts.par_iter())
        .for_each(|(((lt, rt), dst), &l)| {
            lt.copy_from_slice(&dst[..l]);
            // The right rows were written back to front.
            for (t, &row) in rt.iter_mut().zip(dst[l..].iter().rev()) {
                *t = row;
            }
        });
    left
}

/// Gradient and hessian totals of a histogram (every row is in exactly
/// one bin of the first feature).
fn totals(hist: &Histogram) -> (f64, f64) {
    hist.first()
        .map(|fh| fh.iter().fold((0.0, 0.0), |(g, h), b| (g + b.g, h + b.h)))
        .unwrap_or((0.0, 0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> GrowParams {
        GrowParams {
            num_leaves: 31,
            max_depth: None,
            min_data_in_leaf: 20,
            min_sum_hessian: 1e-3,
            lambda_l2: 0.0,
            min_split_gain: 0.0,
            learning_rate: 0.1,
            chunk_rows: 1024,
            max_cat_threshold: 32,
            cat_smooth: 10.0,
            cat_l2: 10.0,
            min_data_per_group: 100,
            max_cat_to_onehot: 4,
        }
    }

    /// Ten codes of 100 rows; codes 2, 5 and 8 lower the loss when raised
    /// (negative gradients), equally, the others the opposite; 50 rows
    /// without a code.
    fn histogram() -> ([HistBin; 256], LeafSums) {
        let mut fh = [HistBin::default(); 256];
        for (c, bin) in fh.iter_mut().enumerate().take(10) {
            let g = if [2, 5, 8].contains(&c) { -30.0 } else { 10.0 };
            *bin = HistBin { g, h: 25.0, n: 100 };
        }
        fh[MISSING_BIN as usize] = HistBin {
            g: 5.0,
            h: 12.0,
            n: 50,
        };
        let (g, h, n) = fh
            .iter()
            .fold((0.0, 0.0, 0), |(g, h, n), b| (g + b.g, h + b.h, n + b.n));
        (fh, LeafSums { n, g, h })
    }

    #[test]
    fn many_vs_many_groups_codes_by_gradient_and_breaks_ties_by_code() {
        let (fh, sums) = histogram();
        let (left, gain, l2) = many_vs_many(&fh, 10, sums, &params()).unwrap();
        assert_eq!(left.codes(), [2, 5, 8]);
        assert!(gain > 0.0);
        assert_eq!(l2, 10.0);
        // Room for two: the tie among 2, 5 and 8 goes to the lower codes.
        let two = GrowParams {
            max_cat_threshold: 2,
            ..params()
        };
        let (left, _, _) = many_vs_many(&fh, 10, sums, &two).unwrap();
        assert_eq!(left.codes(), [2, 5]);
        // Codes with fewer rows than `cat_smooth` take no part.
        let smooth = GrowParams {
            cat_smooth: 101.0,
            ..params()
        };
        assert!(many_vs_many(&fh, 10, sums, &smooth).is_none());
    }

    #[test]
    fn few_codes_split_one_against_the_rest() {
        let (fh, sums) = histogram();
        let split = best_categorical(&fh, 3, 4, sums, &params()).unwrap();
        let BinRule::Categories(left) = split.rule else {
            panic!("not a categorical split: {split:?}");
        };
        assert_eq!(left.codes(), [2]);
        // No cat_l2 for one-vs-rest splits, as in LightGBM.
        assert_eq!(split.child_l2, 0.0);
        assert!(!split.rule.goes_left(MISSING_BIN));
    }
}
