//! Exact TreeSHAP in O(leaves x depth) per row and tree ("Fast TreeSHAP
//! v2", Yang 2021), with per-leaf tables computed once per model. The
//! values are the ones [`shap::tree_shap`] (Lundberg's Algorithm 2,
//! O(leaves x depth^2) with divisions) gives, to rounding.
//!
//! # Why it works
//!
//! Fix a leaf with value `v`. Let `P` be the distinct features on its
//! root-to-leaf path, in order of first appearance (`d = |P|`; a feature's
//! index in that order is its *position*). For `j` in `P`:
//!
//! - `z_j` is the product, over the path's splits on `j`, of the cover of
//!   the child the path takes over the cover of the split node (the share
//!   of training rows that would follow the path if `j` were unknown);
//! - `o_j(x)` is 1 if row `x` follows the path at every split on `j`,
//!   else 0.
//!
//! The leaf's value function is `v * prod_{j in S} o_j * prod_{j in P \ S}
//! z_j` for a set `S` of known features, so its Shapley value for `i` in
//! `P` is, with `w(s) = s! (d - s - 1)! / d!` and `H = {j : o_j = 1}`,
//!
//! ```text
//! v (o_i - z_i) sum_{S subset of H \ {i}} w(|S|) prod_{j in P \ {i} \ S} z_j
//!     = v (1 - z_i) / z_i * G(H \ {i})   if i is in H,
//!     = -v G(H)                          if not,
//! where G(T) = sum_{S subset of T} w(|S|) prod_{j in P \ S} z_j.
//! ```
//!
//! `G` depends only on the tree, not on the row, so each leaf keeps the
//! table `v G(T)` for every bitmask `T` of positions (`T != P`, the one
//! set never asked for). A row then costs one walk down the whole tree
//! carrying the mask of positions whose `o_j` became 0 (a feature's
//! position is set by its first split, so it is the same for every leaf
//! below that split), and at each leaf `d` table lookups.
//!
//! Writing `t = |T|`, `G(T) = prod_{j in P \ T} z_j * sum_{k=0..t} w(k)
//! e_{t-k}(z_T)` where `e` are the elementary symmetric polynomials of the
//! `z` in `T`, built for each mask from the mask without its lowest bit:
//! O(2^d d) per leaf, with sums and products of positive numbers only (no
//! cancellation, unlike Algorithm 2's unwinding divisions).
//!
//! # Batches and single rows
//!
//! A model's tables take megabytes, more than a core's cache, and a row
//! reads a few entries of every leaf's table. [`TreeExplainer::add_rows`]
//! therefore explains [`ROWS_PER_PASS`] rows one tree after the other, so
//! a tree's tables are read from cache by all of them. Which side of a
//! split a row takes, and so which entry a leaf reads, is unpredictable:
//! the walk and the leaf terms select with masks instead of branching
//! (this alone more than doubled the speed).
//!
//! Building the tables costs more than Algorithm 2 on a single row, so
//! [`add_contributions_untabled`] explains one row without them: it
//! computes the few `G(T)` that row needs with the same operations in the
//! same order, hence the same bits as the tables (tested).
//!
//! # Fallback
//!
//! A table has 2^d entries. A tree is explained by [`shap::tree_shap`]
//! instead when a leaf has more than [`MAX_PATH_FEATURES`] distinct
//! features on its path, when its tables would total more than
//! [`MAX_TREE_TABLE`] entries, or when some `z_j` is not positive (a child
//! with zero cover: the formula above divides by it). The choice depends
//! on the tree only, so a given row always gets the same bits.

use std::borrow::Cow;
use std::ops::Range;

use ndarray::{ArrayView2, s};

use super::row_values;
use super::shap;
use super::tree::{Node, SplitRule, Tree};

/// Most distinct features on one leaf's path for the fast path: a table
/// of 2^12 = 4096 doubles (32 KiB) per leaf. Boosted trees of 31 leaves
/// rarely reach it; past it the table grows faster than Algorithm 2's
/// per-row cost does.
pub const MAX_PATH_FEATURES: usize = 12;

/// Most table entries (summed over its leaves) of one tree on the fast
/// path: 2^17 doubles = 1 MiB, so a model of wide, deep trees does not
/// take gigabytes (31 leaves never reach it: 31 x 4096 < 2^17).
pub const MAX_TREE_TABLE: usize = 1 << 17;

/// Rows [`TreeExplainer::add_rows`] takes through each tree before the
/// next: few enough that their inputs and contributions stay in cache
/// beside the tree's tables (from 64 to 1024 measured about the same; 8
/// a fifth slower).
pub const ROWS_PER_PASS: usize = 64;

/// One node of a fast tree. A tree's steps are its nodes in preorder (a
/// split, its left subtree, its right subtree), so a row's walk is one
/// pass over them with a stack of the right subtrees still to visit.
#[derive(Debug, Clone)]
enum Step {
    Split {
        feature: usize,
        rule: SplitRule<'static>,
        /// The path position of `feature` (below this node).
        position: u32,
    },
    Leaf {
        /// Offset of the leaf's 2^d table in `tables`.
        table: usize,
        /// Offset of the leaf's d positions in `positions`.
        positions: usize,
        d: usize,
    },
}

/// A feature at one position of one leaf's path.
#[derive(Debug, Clone, Copy)]
struct Position {
    feature: usize,
    /// (1 - z) / z.
    ratio: f64,
}

#[derive(Debug, Clone)]
enum Explained {
    /// The tree's steps.
    Fast(Range<usize>),
    /// Explained by Algorithm 2; the tree and its depth.
    Fallback(Tree, usize),
}

/// Everything needed to explain rows of one model, built once
/// ([`crate::Gbdt::explainer`]) and shared by every row: tables for the
/// fast path, the fallback trees for the others. Owns its data (it does
/// not borrow the model), so it can be kept beside it.
#[derive(Debug, Clone)]
pub struct TreeExplainer {
    features: usize,
    trees: Vec<Explained>,
    steps: Vec<Step>,
    positions: Vec<Position>,
    tables: Vec<f64>,
}

impl TreeExplainer {
    /// Precomputes the tables of `trees` (of a model reading `features`
    /// inputs).
    pub fn new(trees: &[Tree], features: usize) -> Self {
        let mut explainer = TreeExplainer {
            features,
            trees: Vec::with_capacity(trees.len()),
            steps: Vec::new(),
            positions: Vec::new(),
            tables: Vec::new(),
        };
        let mut scratch = Scratch::default();
        for tree in trees {
            let explained = if takes_fast_path(tree) {
                let first = explainer.steps.len();
                Builder {
                    tree,
                    out: &mut explainer,
                    scratch: &mut scratch,
                    path: Path::default(),
                }
                .node(0);
                Explained::Fast(first..explainer.steps.len())
            } else {
                Explained::Fallback(tree.clone(), tree.depth())
            };
            explainer.trees.push(explained);
        }
        explainer
    }

    /// How many trees Algorithm 2 explains (see the module's "Fallback").
    pub fn fallback_trees(&self) -> usize {
        self.trees
            .iter()
            .filter(|t| matches!(t, Explained::Fallback(..)))
            .count()
    }

    /// Adds every tree's contributions for the row `x` (raw values, NaN =
    /// missing) to `phi` (one per feature).
    pub fn add_contributions(&self, x: &[f64], phi: &mut [f64]) {
        assert_eq!(x.len(), self.features, "row width");
        assert_eq!(phi.len(), self.features, "contributions width");
        let mut pending = Vec::new();
        for tree in &self.trees {
            self.add_tree(tree, x, phi, &mut pending);
        }
    }

    /// Adds the contributions of every row of `x` to the same row of `phi`
    /// (rows x features, row-major): the bits of [`Self::add_contributions`]
    /// row by row, faster (see the module's "Batches").
    pub fn add_rows(&self, x: ArrayView2<f64>, phi: &mut [f64]) {
        assert_eq!(x.ncols(), self.features, "row width");
        assert_eq!(phi.len(), x.nrows() * self.features, "contributions size");
        let width = self.features.max(1);
        let mut pending = Vec::new();
        for (pass, phi) in phi.chunks_mut(ROWS_PER_PASS * width).enumerate() {
            let first = pass * ROWS_PER_PASS;
            let rows = x.slice(s![first..first + phi.len() / width, ..]);
            let rows: Vec<Cow<[f64]>> = (0..rows.nrows()).map(|i| row_values(rows, i)).collect();
            for tree in &self.trees {
                for (x, phi) in rows.iter().zip(phi.chunks_mut(width)) {
                    self.add_tree(tree, x, phi, &mut pending);
                }
            }
        }
    }

    /// `pending` is scratch for [`Self::walk`].
    fn add_tree(&self, tree: &Explained, x: &[f64], phi: &mut [f64], pending: &mut Vec<u32>) {
        match tree {
            Explained::Fast(steps) => self.walk(&self.steps[steps.clone()], x, phi, pending),
            Explained::Fallback(tree, depth) => shap::tree_shap(tree, *depth, x, phi),
        }
    }

    /// Visits every leaf of a tree. `cold` has the bit of each position
    /// where the row left the path to the current step; `pending` holds
    /// the `cold` of each right subtree still to visit (innermost last).
    fn walk(&self, steps: &[Step], x: &[f64], phi: &mut [f64], pending: &mut Vec<u32>) {
        pending.clear();
        let mut cold = 0u32;
        for step in steps {
            match *step {
                Step::Split {
                    feature,
                    ref rule,
                    position,
                } => {
                    // The masks without a branch on the side taken: it is
                    // the row's coin flip, which a predictor cannot learn.
                    let left = rule.goes_left(x[feature]);
                    pending.push(cold | ((left as u32) << position));
                    cold |= (!left as u32) << position;
                }
                Step::Leaf {
                    table,
                    positions,
                    d,
                } => {
                    self.add_leaf(table, positions, d, cold, phi);
                    // The next step is the innermost right subtree.
                    cold = pending.pop().unwrap_or(0);
                }
            }
        }
    }

    fn add_leaf(&self, table: usize, positions: usize, d: usize, cold: u32, phi: &mut [f64]) {
        let hot = ((1u32 << d) - 1) & !cold;
        let table = &self.tables[table..table + (1 << d)];
        for (i, p) in self.positions[positions..positions + d].iter().enumerate() {
            phi[p.feature] += leaf_term(hot, i, p.ratio, |t| table[t]);
        }
    }
}

/// The contribution of a leaf to its feature at position `i` when the row
/// follows the path on the positions in `hot`, from `g(T) = v G(T)`.
/// Shared by the tabled and untabled paths so they give the same bits.
#[inline(always)]
fn leaf_term(hot: u32, i: usize, ratio: f64, g: impl Fn(usize) -> f64) -> f64 {
    // Selects with bit masks rather than branches: whether a position is
    // hot is the row's coin flip, which a predictor cannot learn.
    // (-1 * g is exactly -g.)
    let is_hot = (hot >> i) & 1;
    select(is_hot, ratio, -1.0) * g((hot ^ (is_hot << i)) as usize)
}

/// `if pick == 1 { a } else { b }` (`pick` 0 or 1) with bit masks, which
/// compile to no branch.
#[inline(always)]
fn select(pick: u32, a: f64, b: f64) -> f64 {
    let mask = 0u64.wrapping_sub(pick as u64);
    f64::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
}

/// The distinct features on the path to a node, by position.
#[derive(Debug, Default)]
struct Path(Vec<OnPath>);

#[derive(Debug, Clone, Copy)]
struct OnPath {
    feature: usize,
    z: f64,
    /// Whether the row follows the path at every split on the feature
    /// (only the untabled walk reads it).
    hot: bool,
}

impl Path {
    fn position(&self, feature: usize) -> Option<usize> {
        self.0.iter().position(|p| p.feature == feature)
    }

    /// Takes the child of a split on `feature` (at `known` if already on
    /// the path) that `share` of the split's cover reaches. Returns what
    /// [`Path::leave`] needs to restore the path exactly (rather than
    /// dividing the share back out).
    fn enter(&mut self, known: Option<usize>, feature: usize, share: f64, hot: bool) -> OnPath {
        match known {
            Some(k) => {
                let before = self.0[k];
                self.0[k].z = share * before.z;
                self.0[k].hot = before.hot && hot;
                before
            }
            None => {
                let new = OnPath {
                    feature,
                    z: share,
                    hot,
                };
                self.0.push(new);
                new
            }
        }
    }

    fn leave(&mut self, known: Option<usize>, before: OnPath) {
        match known {
            Some(k) => self.0[k] = before,
            None => {
                self.0.pop();
            }
        }
    }

    fn z(&self) -> impl Iterator<Item = f64> + '_ {
        self.0.iter().map(|p| p.z)
    }
}

/// The share of a split's cover that reaches `child`: every walk computes
/// it with this one expression so they agree to the bit.
fn share(tree: &Tree, child: usize, cover: f64) -> f64 {
    tree.nodes[child].cover() / cover
}

/// Whether `tree` gets tables (see the module's "Fallback"). [`Untabled`]
/// checks the same conditions as it walks, so both paths agree.
fn takes_fast_path(tree: &Tree) -> bool {
    fn visit(tree: &Tree, node: usize, path: &mut Path, entries: &mut usize) -> bool {
        let Some(split) = tree.nodes[node].split() else {
            *entries += 1 << path.0.len();
            return *entries <= MAX_TREE_TABLE;
        };
        let (feature, left, right, cover) = (split.feature, split.left, split.right, split.cover);
        let known = path.position(feature);
        if known.is_none() && path.0.len() == MAX_PATH_FEATURES {
            return false;
        }
        [left, right].into_iter().all(|child| {
            let before = path.enter(known, feature, share(tree, child, cover), true);
            let z = path.0[known.unwrap_or(path.0.len() - 1)].z;
            // NaN (zero cover over zero cover) fails this test too.
            let ok = z > 0.0 && visit(tree, child, path, entries);
            path.leave(known, before);
            ok
        })
    }
    visit(tree, 0, &mut Path::default(), &mut 0)
}

/// Walks a tree once to lay out its steps and leaf tables.
struct Builder<'a> {
    tree: &'a Tree,
    out: &'a mut TreeExplainer,
    scratch: &'a mut Scratch,
    path: Path,
}

impl Builder<'_> {
    /// Lays out the subtree at `node` (of a tree [`takes_fast_path`]).
    fn node(&mut self, node: usize) {
        let split = match &self.tree.nodes[node] {
            Node::Leaf { value, .. } => return self.leaf(*value),
            other => other.split().expect("every other node is a split"),
        };
        let (feature, left, right, cover) = (split.feature, split.left, split.right, split.cover);
        let known = self.path.position(feature);
        self.out.steps.push(Step::Split {
            feature,
            rule: split.rule.into_owned(),
            position: known.unwrap_or(self.path.0.len()) as u32,
        });
        self.child(left, feature, known, cover);
        self.child(right, feature, known, cover);
    }

    fn child(&mut self, child: usize, feature: usize, known: Option<usize>, cover: f64) {
        let share = share(self.tree, child, cover);
        let before = self.path.enter(known, feature, share, true);
        self.node(child);
        self.path.leave(known, before);
    }

    fn leaf(&mut self, value: f64) {
        self.out.steps.push(Step::Leaf {
            table: self.out.tables.len(),
            positions: self.out.positions.len(),
            d: self.path.0.len(),
        });
        self.out
            .positions
            .extend(self.path.0.iter().map(|p| Position {
                feature: p.feature,
                ratio: ratio(p.z),
            }));
        let z: Vec<f64> = self.path.z().collect();
        leaf_table(&z, value, self.scratch, &mut self.out.tables);
    }
}

fn ratio(z: f64) -> f64 {
    (1.0 - z) / z
}

/// Buffers reused from leaf to leaf.
#[derive(Default)]
struct Scratch {
    /// e_k(z_T) for every mask T, `d + 1` per mask.
    symmetric: Vec<f64>,
    /// prod_{j in T} z_j for every mask T.
    product: Vec<f64>,
}

/// Appends `value * G(T)` for every mask `T` of the positions of `z`
/// (see the module documentation) to `out`; the entry of the full mask,
/// never read, is 0.
fn leaf_table(z: &[f64], value: f64, scratch: &mut Scratch, out: &mut Vec<f64>) {
    let d = z.len();
    let masks = 1usize << d;
    let stride = d + 1;
    let e = &mut scratch.symmetric;
    let product = &mut scratch.product;
    e.clear();
    e.resize(masks * stride, 0.0);
    product.clear();
    product.resize(masks, 0.0);
    e[0] = 1.0;
    product[0] = 1.0;
    for t in 1..masks {
        // t is the set without its lowest position, plus that position.
        // So every e and product is built over the positions from the
        // highest down, as `row_entries` builds them.
        let low = t.trailing_zeros() as usize;
        let rest = t & (t - 1);
        let size = t.count_ones() as usize;
        product[t] = product[rest] * z[low];
        e[t * stride] = 1.0;
        for k in 1..=size {
            e[t * stride + k] = e[rest * stride + k] + z[low] * e[rest * stride + k - 1];
        }
    }
    let w = shapley_weights(d);
    let full = masks - 1;
    out.extend((0..masks).map(|t| {
        if t == full {
            return 0.0;
        }
        let size = t.count_ones() as usize;
        g_from(
            value,
            product[full ^ t],
            &w,
            &e[t * stride..=t * stride + size],
        )
    }));
}

/// `value * G(T)` from `prod_{j in P \ T} z_j` and `e_0..e_t` of `z_T`.
#[inline(always)]
fn g_from(value: f64, outside: f64, w: &[f64], e: &[f64]) -> f64 {
    let size = e.len() - 1;
    let sum: f64 = (0..=size).map(|k| w[k] * e[size - k]).sum();
    value * outside * sum
}

/// w(s) = s! (d - s - 1)! / d! = 1 / (d C(d - 1, s)) for s in 0..d.
fn shapley_weights(d: usize) -> Vec<f64> {
    let mut binomial = 1.0;
    (0..d)
        .map(|s| {
            let w = 1.0 / (d as f64 * binomial);
            // C(d-1, s+1) from C(d-1, s): exact, every value an integer.
            binomial = binomial * (d - 1 - s) as f64 / (s + 1) as f64;
            w
        })
        .collect()
}

/// Adds every tree's contributions for the row `x` to `phi`, as a
/// [`TreeExplainer`] of `trees` would to the bit, without building its
/// tables: the way to explain a single row (see the module's "Batches").
pub fn add_contributions_untabled(trees: &[Tree], x: &[f64], phi: &mut [f64]) {
    assert_eq!(x.len(), phi.len(), "row and contributions widths");
    // Weights for every d up to the limit, computed as the tables do.
    let weights: Vec<Vec<f64>> = (0..=MAX_PATH_FEATURES).map(shapley_weights).collect();
    let mut terms = Vec::new();
    for tree in trees {
        terms.clear();
        let mut walk = Untabled {
            tree,
            x,
            weights: &weights,
            path: Path::default(),
            entries: 0,
            terms: &mut terms,
        };
        // The walk finds out whether the tree takes the fast path only at
        // its end: its terms wait in `terms`, then go to `phi` in the
        // tabled walk's order.
        if walk.node(0).is_some() {
            for &(feature, term) in &terms {
                phi[feature] += term;
            }
        } else {
            shap::tree_shap(tree, tree.depth(), x, phi);
        }
    }
}

/// One row's walk through a tree without tables: leaves in the order the
/// tabled walk visits them, each leaf's terms from [`row_entries`].
struct Untabled<'a> {
    tree: &'a Tree,
    x: &'a [f64],
    weights: &'a [Vec<f64>],
    path: Path,
    /// Table entries the tree would take, as [`takes_fast_path`] counts.
    entries: usize,
    /// (feature, term) in the order they are to be added.
    terms: &'a mut Vec<(usize, f64)>,
}

impl Untabled<'_> {
    /// Walks the subtree at `node`; `None` as soon as the tree turns out
    /// not to take the fast path (the conditions of [`takes_fast_path`]).
    fn node(&mut self, node: usize) -> Option<()> {
        let split = match &self.tree.nodes[node] {
            Node::Leaf { value, .. } => return self.leaf(*value),
            other => other.split().expect("every other node is a split"),
        };
        let (feature, left, right, cover) = (split.feature, split.left, split.right, split.cover);
        let known = self.path.position(feature);
        if known.is_none() && self.path.0.len() == MAX_PATH_FEATURES {
            return None;
        }
        let goes_left = split.goes_left(self.x);
        for (child, hot) in [(left, goes_left), (right, !goes_left)] {
            let share = share(self.tree, child, cover);
            let before = self.path.enter(known, feature, share, hot);
            let z = self.path.0[known.unwrap_or(self.path.0.len() - 1)].z;
            let walked = if z > 0.0 { self.node(child) } else { None };
            self.path.leave(known, before);
            walked?;
        }
        Some(())
    }

    fn leaf(&mut self, value: f64) -> Option<()> {
        let path = &self.path.0;
        let d = path.len();
        self.entries += 1 << d;
        if self.entries > MAX_TREE_TABLE {
            return None;
        }
        let mut z = [0.0; MAX_PATH_FEATURES];
        let mut hot = 0u32;
        for (i, p) in path.iter().enumerate() {
            z[i] = p.z;
            hot |= (p.hot as u32) << i;
        }
        let entries = row_entries(value, &z[..d], &self.weights[d], hot);
        for (i, p) in path.iter().enumerate() {
            let term = leaf_term(hot, i, ratio(p.z), |t| entries.get(hot, t));
            self.terms.push((p.feature, term));
        }
        Some(())
    }
}

/// The table entries one row reads from one leaf: `v G(H)` and
/// `v G(H \ {i})` for `i` in `H`.
struct RowEntries {
    with_all: f64,
    /// By the position left out.
    without: [f64; MAX_PATH_FEATURES],
}

impl RowEntries {
    fn get(&self, hot: u32, t: usize) -> f64 {
        if t == hot as usize {
            self.with_all
        } else {
            self.without[(t ^ hot as usize).trailing_zeros() as usize]
        }
    }
}

/// e_0..e_d of a set of shares.
type Symmetric = [f64; MAX_PATH_FEATURES + 1];

/// Computes the [`RowEntries`] of a leaf with path shares `z` alone, with
/// [`leaf_table`]'s operations in its order (so to the same bits): each
/// set's `e` built over its positions from the highest down. The sets
/// `H \ {i}` share the prefix of `H` above `i`.
fn row_entries(value: f64, z: &[f64], w: &[f64], hot: u32) -> RowEntries {
    let d = z.len();
    let mut highest_first = [0usize; MAX_PATH_FEATURES];
    let mut k = 0;
    for j in (0..d).rev().filter(|&j| hot & (1 << j) != 0) {
        highest_first[k] = j;
        k += 1;
    }
    let hs = &highest_first[..k];
    // prefix[m]: e of the m highest positions of H.
    let mut prefix = [[0.0; MAX_PATH_FEATURES + 1]; MAX_PATH_FEATURES + 1];
    prefix[0][0] = 1.0;
    for (m, &j) in hs.iter().enumerate() {
        prefix[m + 1] = prefix[m];
        add_lowest(&mut prefix[m + 1], m + 1, z[j]);
    }
    let mut entries = RowEntries {
        with_all: 0.0,
        without: [0.0; MAX_PATH_FEATURES],
    };
    // The full set's entry is never read (nor defined).
    if k < d {
        entries.with_all = g_from(value, outside(z, hot), w, &prefix[k][..=k]);
    }
    for (m, &left_out) in hs.iter().enumerate() {
        let mut e = prefix[m];
        for (size, &j) in (m + 1..).zip(&hs[m + 1..]) {
            add_lowest(&mut e, size, z[j]);
        }
        let set = hot & !(1 << left_out);
        entries.without[left_out] = g_from(value, outside(z, set), w, &e[..k]);
    }
    entries
}

/// Adds share `z` to the `e` of a set, making it `size` elements.
#[inline(always)]
fn add_lowest(e: &mut Symmetric, size: usize, z: f64) {
    for k in (1..=size).rev() {
        e[k] += z * e[k - 1];
    }
}

/// prod_{j not in set} z_j, over positions from the highest down.
fn outside(z: &[f64], set: u32) -> f64 {
    // Multiplying by 1 for the positions in the set leaves the product's
    // bits as skipping them would, without a branch per position.
    (0..z.len())
        .rev()
        .fold(1.0, |p, j| p * select((set >> j) & 1, 1.0, z[j]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (tests only).
    fn uniforms(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// G(T) straight from its definition, over every subset S of T.
    fn g_by_definition(z: &[f64], t: usize) -> f64 {
        let d = z.len();
        let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
        let mut total = 0.0;
        for s in 0..(1usize << d) {
            if s & !t != 0 {
                continue;
            }
            let size = s.count_ones() as usize;
            let w = fact(size) * fact(d - size - 1) / fact(d);
            let outside: f64 = (0..d).filter(|j| s & (1 << j) == 0).map(|j| z[j]).product();
            total += w * outside;
        }
        total
    }

    #[test]
    fn tables_equal_the_definition_of_g() {
        let mut scratch = Scratch::default();
        let mut uniform = uniforms(0x1234_5678_9abc_def0);
        for d in 0..=8 {
            let z: Vec<f64> = (0..d).map(|_| 0.01 + 0.99 * uniform()).collect();
            let mut table = Vec::new();
            leaf_table(&z, 2.5, &mut scratch, &mut table);
            assert_eq!(table.len(), 1 << d);
            for t in 0..(1usize << d) - 1 {
                let want = 2.5 * g_by_definition(&z, t);
                assert!(
                    (table[t] - want).abs() <= 1e-14,
                    "d {d} mask {t:b}: {} vs {want}",
                    table[t]
                );
            }
        }
    }

    #[test]
    fn untabled_entries_are_the_table_entries_to_the_bit() {
        let mut scratch = Scratch::default();
        let mut uniform = uniforms(42);
        for d in 0..=MAX_PATH_FEATURES {
            let z: Vec<f64> = (0..d).map(|_| 0.001 + 0.999 * uniform()).collect();
            let value = uniform() - 0.5;
            let mut table = Vec::new();
            leaf_table(&z, value, &mut scratch, &mut table);
            let w = shapley_weights(d);
            for hot in 0..(1u32 << d) {
                let entries = row_entries(value, &z, &w, hot);
                for i in 0..d {
                    let t = (hot ^ (hot & (1 << i))) as usize;
                    assert_eq!(
                        entries.get(hot, t).to_bits(),
                        table[t].to_bits(),
                        "d {d} hot {hot:b} position {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn shapley_weights_give_each_subset_size_one_dth() {
        // sum_s C(d-1, s) w(s) = 1: each size class weighs 1/d.
        for d in 1..=MAX_PATH_FEATURES {
            let w = shapley_weights(d);
            let mut binomial = 1.0;
            let mut total = 0.0;
            for (s, ws) in w.iter().enumerate() {
                assert!((binomial * ws * d as f64 - 1.0).abs() < 1e-14);
                total += binomial * ws;
                binomial = binomial * (d - 1 - s) as f64 / (s + 1) as f64;
            }
            assert!((total - 1.0).abs() < 1e-14, "d {d}: {total}");
        }
    }

    #[test]
    fn leaf_terms_select_without_changing_values() {
        // Hot: ratio * g(T without i); cold: exactly -g(T).
        let g = |t: usize| 1.0 + t as f64;
        assert_eq!(leaf_term(0b101, 0, 0.25, g), 0.25 * g(0b100));
        assert_eq!(leaf_term(0b101, 2, 0.25, g), 0.25 * g(0b001));
        assert_eq!(leaf_term(0b101, 1, 0.25, g), -g(0b101));
    }
}
