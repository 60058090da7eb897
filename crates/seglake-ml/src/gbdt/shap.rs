//! Exact TreeSHAP (Lundberg et al., "Consistent Individualized Feature
//! Attribution for Tree Ensembles", Algorithm 2): per-row contributions of
//! each feature to the model's margin, in O(leaves x depth^2) per tree.
//! The contributions of a row sum to its margin minus the model's expected
//! margin (tested to 1e-9), and on small models equal Shapley values found
//! by enumerating every feature subset (tested).
//!
//! [`super::fast_shap`] gives the same values faster and is what the model
//! uses; this is its fallback for trees it cannot tabulate and its
//! reference in tests.

use super::tree::{Node, Tree};

#[derive(Debug, Clone, Copy, Default)]
struct PathElement {
    feature: Option<usize>,
    zero_fraction: f64,
    one_fraction: f64,
    pweight: f64,
}

fn extend(path: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: Option<usize>) {
    path[depth] = PathElement {
        feature,
        zero_fraction: zero,
        one_fraction: one,
        pweight: if depth == 0 { 1.0 } else { 0.0 },
    };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        path[i + 1].pweight += one * path[i].pweight * (i + 1) as f64 / d1;
        path[i].pweight = zero * path[i].pweight * (depth - i) as f64 / d1;
    }
}

fn unwind(path: &mut [PathElement], depth: usize, index: usize) {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = path[i].pweight;
            path[i].pweight = next_one * d1 / ((i + 1) as f64 * one);
            next_one = tmp - path[i].pweight * zero * (depth - i) as f64 / d1;
        } else {
            path[i].pweight = path[i].pweight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        path[i].feature = path[i + 1].feature;
        path[i].zero_fraction = path[i + 1].zero_fraction;
        path[i].one_fraction = path[i + 1].one_fraction;
    }
}

/// The total weight of the path with element `index` taken out (without
/// modifying it).
fn unwound_sum(path: &[PathElement], depth: usize, index: usize) -> f64 {
    let one = path[index].one_fraction;
    let zero = path[index].zero_fraction;
    let mut next_one = path[depth].pweight;
    let d1 = (depth + 1) as f64;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * d1 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = path[i].pweight - tmp * zero * (depth - i) as f64 / d1;
        } else if zero != 0.0 {
            total += path[i].pweight / zero / ((depth - i) as f64 / d1);
        }
    }
    total
}

struct Walk<'a> {
    tree: &'a Tree,
    x: &'a [f64],
    phi: &'a mut [f64],
    /// Each recursion level's path lives in its own slot of this buffer.
    paths: Vec<PathElement>,
    slot: usize,
}

impl Walk<'_> {
    #[allow(clippy::too_many_arguments)]
    fn recurse(
        &mut self,
        node: usize,
        parent_at: usize,
        mut depth: usize,
        zero: f64,
        one: f64,
        feature: Option<usize>,
    ) {
        // Copy the parent's path into a fresh slot and extend it.
        let at = parent_at + self.slot;
        self.paths.copy_within(parent_at..parent_at + depth, at);
        extend(
            &mut self.paths[at..at + self.slot],
            depth,
            zero,
            one,
            feature,
        );
        let path_len = self.slot;
        let tree = self.tree;
        let split = match &tree.nodes[node] {
            Node::Leaf { value, .. } => {
                let path = &self.paths[at..at + path_len];
                for i in 1..=depth {
                    let w = unwound_sum(path, depth, i);
                    let el = path[i];
                    let f = el.feature.expect("only the root element has no feature");
                    self.phi[f] += w * (el.one_fraction - el.zero_fraction) * value;
                }
                return;
            }
            other => other.split().expect("every other node is a split"),
        };
        let (hot, cold) = if split.goes_left(self.x) {
            (split.left, split.right)
        } else {
            (split.right, split.left)
        };
        let hot_zero = tree.nodes[hot].cover() / split.cover;
        let cold_zero = tree.nodes[cold].cover() / split.cover;
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        // A feature already on the path: undo its earlier split.
        let path = &mut self.paths[at..at + path_len];
        if let Some(k) = (1..=depth).find(|&k| path[k].feature == Some(split.feature)) {
            in_zero = path[k].zero_fraction;
            in_one = path[k].one_fraction;
            unwind(path, depth, k);
            depth -= 1;
        }
        let f = Some(split.feature);
        self.recurse(hot, at, depth + 1, hot_zero * in_zero, in_one, f);
        self.recurse(cold, at, depth + 1, cold_zero * in_zero, 0.0, f);
    }
}

/// Adds one tree's contributions for row `x` to `phi` (one per feature).
/// `depth` is the tree's depth ([`Tree::depth`], computed once by the
/// caller).
pub fn tree_shap(tree: &Tree, depth: usize, x: &[f64], phi: &mut [f64]) {
    // A path is at most depth + 2 elements; one slot per recursion level.
    let slot = depth + 2;
    let mut walk = Walk {
        tree,
        x,
        phi,
        paths: vec![PathElement::default(); slot * (slot + 1)],
        slot,
    };
    // The root's "parent" path is empty and sits in slot 0; the root's own
    // path is slot 1.
    walk.recurse(0, 0, 0, 1.0, 1.0, None);
}

/// The tree's expected output when only the features in `known` are known
/// (the others averaged over the training rows by cover): the value
/// function TreeSHAP computes Shapley values of. Exponential use only: tests.
pub fn conditional_expectation(tree: &Tree, x: &[f64], known: &[bool]) -> f64 {
    fn walk(tree: &Tree, at: usize, x: &[f64], known: &[bool]) -> f64 {
        let split = match &tree.nodes[at] {
            Node::Leaf { value, .. } => return *value,
            other => other.split().expect("every other node is a split"),
        };
        let (left, right) = (split.left, split.right);
        if known[split.feature] {
            walk(tree, split.child(x), x, known)
        } else {
            (tree.nodes[left].cover() * walk(tree, left, x, known)
                + tree.nodes[right].cover() * walk(tree, right, x, known))
                / split.cover
        }
    }
    walk(tree, 0, x, known)
}
