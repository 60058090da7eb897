//! The inner loop every k-means step runs: nearest centre of each row, and
//! per-chunk partial sums. Written so the compiler vectorises it: centres
//! are kept transposed (feature-major), so for one row the squared distances
//! to all k centres accumulate in k adjacent f32 lanes, feature by feature.
//!
//! Distances are compared in f32 (the matrix is f32); sums and inertia are
//! accumulated in f64, and partial results are always reduced in chunk
//! order, so results do not depend on how rayon schedules chunks.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Centres laid out for the nearest-centre search.
pub(crate) struct CentreTable {
    pub k: usize,
    pub dim: usize,
    /// `transposed[j * k + c]` = feature j of centre c.
    transposed: Vec<f32>,
}

impl CentreTable {
    pub fn new(centres: &Array2<f64>) -> CentreTable {
        let (k, dim) = centres.dim();
        let mut transposed = vec![0f32; k * dim];
        for c in 0..k {
            for j in 0..dim {
                transposed[j * k + c] = centres[[c, j]] as f32;
            }
        }
        CentreTable { k, dim, transposed }
    }

    /// Index of the nearest centre (lowest index on ties) and the squared
    /// distance to it. `scratch` has length k.
    #[inline]
    pub fn nearest(&self, row: &[f32], scratch: &mut [f32]) -> (usize, f32) {
        let k = self.k;
        scratch.fill(0.0);
        for (j, &x) in row.iter().enumerate() {
            let centre_j = &self.transposed[j * k..(j + 1) * k];
            for (acc, &c) in scratch.iter_mut().zip(centre_j) {
                let d = x - c;
                *acc += d * d;
            }
        }
        let mut best = 0;
        let mut best_d = scratch[0];
        for (c, &d) in scratch.iter().enumerate().skip(1) {
            if d < best_d {
                best = c;
                best_d = d;
            }
        }
        (best, best_d)
    }
}

/// What one chunk of rows contributes to an update.
#[derive(Clone)]
pub(crate) struct Partial {
    pub sums: Vec<f64>,
    pub counts: Vec<u64>,
    pub inertia: f64,
    /// The rows farthest from their centre (up to k, farthest first; ties
    /// by row index): candidates to re-seed an empty cluster.
    pub far: Vec<(f32, usize)>,
}

impl Partial {
    pub fn new(k: usize, dim: usize) -> Partial {
        Partial {
            sums: vec![0.0; k * dim],
            counts: vec![0; k],
            inertia: 0.0,
            far: Vec::new(),
        }
    }

    #[inline]
    fn add(&mut self, row: &[f32], index: usize, centre: usize, sq: f32, keep_far: usize) {
        let dim = row.len();
        let sums = &mut self.sums[centre * dim..(centre + 1) * dim];
        for (s, &x) in sums.iter_mut().zip(row) {
            *s += x as f64;
        }
        self.counts[centre] += 1;
        self.inertia += sq as f64;
        if keep_far > 0 {
            push_far(&mut self.far, (sq, index), keep_far);
        }
    }

    /// Adds `other` (the next chunk in order) into `self`.
    pub fn merge(&mut self, other: Partial, keep_far: usize) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.inertia += other.inertia;
        for f in other.far {
            push_far(&mut self.far, f, keep_far);
        }
    }
}

/// Keeps `far` sorted by distance descending, then row ascending, at most
/// `keep` long.
#[inline]
fn push_far(far: &mut Vec<(f32, usize)>, item: (f32, usize), keep: usize) {
    // Fast path for the hot loop: most rows are nearer than the k-th farthest.
    if far.len() == keep && far.last().is_some_and(|&(d, _)| item.0 < d) {
        return;
    }
    let position = far
        .iter()
        .position(|&(d, i)| item.0 > d || (item.0 == d && item.1 < i))
        .unwrap_or(far.len());
    if position < keep {
        far.insert(position, item);
        far.truncate(keep);
    }
}

/// One pass over all rows: partial sums per fixed-size chunk, reduced in
/// chunk order.
pub(crate) fn full_pass(
    x: ArrayView2<f32>,
    table: &CentreTable,
    chunk_rows: usize,
    keep_far: usize,
) -> Partial {
    let rows = x.as_slice().expect("standard layout");
    let dim = table.dim;
    let partials: Vec<Partial> = rows
        .par_chunks(chunk_rows * dim)
        .enumerate()
        .map(|(chunk, block)| {
            let mut partial = Partial::new(table.k, dim);
            let mut scratch = vec![0f32; table.k];
            for (r, row) in block.chunks_exact(dim).enumerate() {
                let (c, sq) = table.nearest(row, &mut scratch);
                partial.add(row, chunk * chunk_rows + r, c, sq, keep_far);
            }
            partial
        })
        .collect();
    reduce(partials, table.k, dim, keep_far)
}

/// The same over a list of row indices (a mini-batch), cut into fixed
/// sub-chunks.
pub(crate) fn batch_pass(
    x: ArrayView2<f32>,
    indices: &[usize],
    table: &CentreTable,
    sub_chunk: usize,
    keep_far: usize,
) -> Partial {
    let dim = table.dim;
    let rows = x.as_slice().expect("standard layout");
    let partials: Vec<Partial> = indices
        .par_chunks(sub_chunk)
        .map(|ids| {
            let mut partial = Partial::new(table.k, dim);
            let mut scratch = vec![0f32; table.k];
            for &i in ids {
                let row = &rows[i * dim..(i + 1) * dim];
                let (c, sq) = table.nearest(row, &mut scratch);
                partial.add(row, i, c, sq, keep_far);
            }
            partial
        })
        .collect();
    reduce(partials, table.k, dim, keep_far)
}

fn reduce(partials: Vec<Partial>, k: usize, dim: usize, keep_far: usize) -> Partial {
    let mut total = Partial::new(k, dim);
    for p in partials {
        total.merge(p, keep_far);
    }
    total
}

/// Nearest centre and squared distance (f32 search) of every row, in
/// parallel over fixed chunks.
pub(crate) fn assign_all(x: ArrayView2<f32>, table: &CentreTable, chunk_rows: usize) -> Vec<(u32, f32)> {
    let dim = table.dim;
    let rows = x.as_slice().expect("standard layout");
    let mut out = vec![(0u32, 0f32); x.nrows()];
    out.par_chunks_mut(chunk_rows)
        .zip(rows.par_chunks(chunk_rows * dim))
        .for_each(|(out, block)| {
            let mut scratch = vec![0f32; table.k];
            for (o, row) in out.iter_mut().zip(block.chunks_exact(dim)) {
                let (c, sq) = table.nearest(row, &mut scratch);
                *o = (c as u32, sq);
            }
        });
    out
}
