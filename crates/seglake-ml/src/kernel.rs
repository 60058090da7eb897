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
    /// The same with each feature's row padded to 8 or 16 lanes (k <= 16).
    padded: Vec<f32>,
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
        let lanes = if k <= 8 { 8 } else { 16 };
        let mut padded = Vec::new();
        if k <= 16 {
            padded = vec![0f32; lanes * dim];
            for c in 0..k {
                for j in 0..dim {
                    padded[j * lanes + c] = transposed[j * k + c];
                }
            }
        }
        CentreTable {
            k,
            dim,
            transposed,
            padded,
        }
    }

    /// Index of the nearest centre (lowest index on ties) and the squared
    /// distance to it. `scratch` has length k.
    #[inline(always)]
    pub fn nearest(&self, row: &[f32], scratch: &mut [f32]) -> (usize, f32) {
        // Fixed-width lanes let the compiler keep all k running distances in
        // registers and unroll; lanes past k hold zeros and are ignored.
        match self.k {
            0..=8 => self.nearest_lanes::<8>(row),
            9..=16 => self.nearest_lanes::<16>(row),
            _ => self.nearest_any(row, scratch),
        }
    }

    #[inline(always)]
    fn nearest_lanes<const L: usize>(&self, row: &[f32]) -> (usize, f32) {
        let padded = self.padded.as_slice();
        let lane =
            |j: usize| -> &[f32; L] { padded[j * L..(j + 1) * L].try_into().expect("L lanes") };
        // Four running sums (features j mod 4) instead of one: a single
        // sum is a chain of dependent adds that keeps the core waiting.
        let mut acc = [[0f32; L]; 4];
        let quads = row.len() / 4;
        for q in 0..quads {
            for (a, acc) in acc.iter_mut().enumerate() {
                let j = 4 * q + a;
                let (x, centre_j) = (row[j], lane(j));
                for l in 0..L {
                    let d = x - centre_j[l];
                    acc[l] += d * d;
                }
            }
        }
        for (a, j) in (4 * quads..row.len()).enumerate() {
            let (x, centre_j) = (row[j], lane(j));
            for l in 0..L {
                let d = x - centre_j[l];
                acc[a][l] += d * d;
            }
        }
        let mut total = [0f32; L];
        for l in 0..L {
            total[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
        }
        argmin(&total[..self.k])
    }

    fn nearest_any(&self, row: &[f32], scratch: &mut [f32]) -> (usize, f32) {
        let k = self.k;
        scratch.fill(0.0);
        for (j, &x) in row.iter().enumerate() {
            let centre_j = &self.transposed[j * k..(j + 1) * k];
            for (acc, &c) in scratch.iter_mut().zip(centre_j) {
                let d = x - c;
                *acc += d * d;
            }
        }
        argmin(scratch)
    }
}

#[inline(always)]
fn argmin(distances: &[f32]) -> (usize, f32) {
    let mut best = 0;
    let mut best_d = distances[0];
    for (c, &d) in distances.iter().enumerate().skip(1) {
        if d < best_d {
            best = c;
            best_d = d;
        }
    }
    (best, best_d)
}

/// Calls `f(row index in block, row, nearest centre, squared distance)` for
/// every row of `block`. On x86-64 CPUs with AVX2 the same code is compiled
/// a second time with 8-wide vectors and chosen at run time. Only the
/// vector width changes: each lane still does the same IEEE subtract,
/// multiply and add in the same order (no fused multiply-add), so results
/// are bit-identical with and without AVX2.
#[inline(always)]
pub(crate) fn scan_rows<F: FnMut(usize, &[f32], usize, f32)>(
    table: &CentreTable,
    block: &[f32],
    f: F,
) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { scan_rows_avx2(table, block, f) };
        return;
    }
    scan_rows_portable(table, block, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_rows_avx2<F: FnMut(usize, &[f32], usize, f32)>(table: &CentreTable, block: &[f32], f: F) {
    scan_rows_portable(table, block, f)
}

#[inline(always)]
fn scan_rows_portable<F: FnMut(usize, &[f32], usize, f32)>(
    table: &CentreTable,
    block: &[f32],
    mut f: F,
) {
    let mut scratch = vec![0f32; table.k];
    for (r, row) in block.chunks_exact(table.dim).enumerate() {
        let (c, sq) = table.nearest(row, &mut scratch);
        f(r, row, c, sq);
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

    #[inline(always)]
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
            scan_rows(table, block, |r, row, c, sq| {
                partial.add(row, chunk * chunk_rows + r, c, sq, keep_far)
            });
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

/// Nearest centre of every row (f32 search) and the squared distance to it
/// recomputed in f64, in parallel over fixed chunks.
pub(crate) fn assign_all(
    x: ArrayView2<f32>,
    table: &CentreTable,
    centres: &Array2<f64>,
    chunk_rows: usize,
) -> (Vec<u32>, Vec<f64>) {
    let dim = table.dim;
    let rows = x.as_slice().expect("standard layout");
    let centres = centres.as_standard_layout();
    let centres = centres.as_slice().expect("standard layout");
    let mut labels = vec![0u32; x.nrows()];
    let mut squared = vec![0f64; x.nrows()];
    let assign_block = |labels: &mut [u32], squared: &mut [f64], block: &[f32]| {
        scan_rows(table, block, |r, row, c, _| {
            labels[r] = c as u32;
            squared[r] = row
                .iter()
                .zip(&centres[c * dim..(c + 1) * dim])
                .map(|(&a, &b)| (a as f64 - b) * (a as f64 - b))
                .sum();
        });
    };
    if x.nrows() <= chunk_rows {
        // One chunk (a served request): no hand-off to the thread pool,
        // the same arithmetic.
        assign_block(&mut labels, &mut squared, rows);
    } else {
        labels
            .par_chunks_mut(chunk_rows)
            .zip(squared.par_chunks_mut(chunk_rows))
            .zip(rows.par_chunks(chunk_rows * dim))
            .for_each(|((labels, squared), block)| assign_block(labels, squared, block));
    }
    (labels, squared)
}
