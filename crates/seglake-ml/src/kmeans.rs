//! Mini-batch k-means (Sculley, 2010) with per-centre learning rates,
//! k-means++ initialisation on a seeded sample, optional full Lloyd passes
//! to finish, and empty-cluster recovery. Parameters follow linfa's
//! convention: [`KMeansParams`] is a builder, [`KMeansParams::check`] turns
//! it into [`KMeansValidParams`] or names what is wrong.
//!
//! Determinism: rows are processed in fixed-size chunks (`chunk_rows`,
//! independent of the thread count), every random draw comes from a stream
//! seeded by (seed, purpose, epoch, step), and partial sums are reduced in
//! chunk order in f64. The same matrix and parameters give bit-identical
//! centres with any number of threads.

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{MlError, Result};
use crate::kernel::{CentreTable, Partial, assign_all, batch_pass, full_pass, inertia_all};
use crate::seeds::{Stream, rng, sample_rows};

/// Builder for [`KMeansValidParams`]; see each setter for the default.
///
/// A job's `[segments]` section deserialises into this struct directly
/// (every field optional, defaults from [`KMeansParams::new`]): adding a
/// k-means parameter is adding a field here. `k` and `seed` come from the
/// section's `k` and the job's seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct KMeansParams {
    pub k: usize,
    pub seed: u64,
    pub batch_size: usize,
    pub max_epochs: usize,
    pub lloyd_passes: usize,
    pub tol: f64,
    pub patience: usize,
    pub n_init: usize,
    pub init_sample: usize,
    pub chunk_rows: usize,
}

impl Default for KMeansParams {
    /// The defaults of [`KMeansParams::new`], with k = 2.
    fn default() -> Self {
        KMeansParams::new(2)
    }
}

impl KMeansParams {
    pub fn new(k: usize) -> KMeansParams {
        KMeansParams {
            k,
            seed: 0,
            batch_size: 4096,
            max_epochs: 1,
            lloyd_passes: 30,
            tol: 1e-4,
            patience: 2,
            n_init: 4,
            init_sample: 20_000,
            chunk_rows: 8192,
        }
    }
    /// Seed of every random draw (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Rows per mini-batch step (default 4096).
    pub fn batch_size(mut self, v: usize) -> Self {
        self.batch_size = v;
        self
    }
    /// Maximum mini-batch epochs, each as many rows as the matrix has
    /// (default 1: after the sample initialisation one epoch brings the
    /// centres close enough that the Lloyd passes finish in one or two;
    /// 0 skips mini-batch training).
    pub fn max_epochs(mut self, v: usize) -> Self {
        self.max_epochs = v;
        self
    }
    /// Maximum full Lloyd passes after mini-batch training (default 30;
    /// 0 for pure mini-batch).
    pub fn lloyd_passes(mut self, v: usize) -> Self {
        self.lloyd_passes = v;
        self
    }
    /// Stop when the summed squared centre shift of an epoch or pass is at
    /// most `tol` times the mean feature variance (scikit-learn's rule;
    /// default 1e-4).
    pub fn tol(mut self, v: f64) -> Self {
        self.tol = v;
        self
    }
    /// Stop mini-batch training after this many epochs without a lower mean
    /// batch inertia (default 2).
    pub fn patience(mut self, v: usize) -> Self {
        self.patience = v;
        self
    }
    /// Initialisations tried on the sample; the lowest sample inertia wins
    /// (default 4).
    pub fn n_init(mut self, v: usize) -> Self {
        self.n_init = v;
        self
    }
    /// Rows in the seeded sample k-means++ runs on (default 20 000).
    pub fn init_sample(mut self, v: usize) -> Self {
        self.init_sample = v;
        self
    }
    /// Rows per chunk of parallel work (default 8192). Part of the result's
    /// identity: change it and the f64 sums are grouped differently.
    pub fn chunk_rows(mut self, v: usize) -> Self {
        self.chunk_rows = v;
        self
    }

    /// Names the first parameter that is out of range.
    pub fn check(self) -> Result<KMeansValidParams> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(KMeansValidParams(self)),
        }
    }

    /// Every parameter that is out of range.
    pub fn problems(&self) -> Vec<MlError> {
        let mut out = Vec::new();
        if self.k < 2 {
            out.push(MlError::KTooSmall(self.k));
        }
        if self.batch_size == 0 {
            out.push(MlError::BatchSize);
        }
        if self.chunk_rows == 0 {
            out.push(MlError::ChunkRows);
        }
        if self.n_init == 0 {
            out.push(MlError::NInit);
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            out.push(MlError::Tolerance(self.tol));
        }
        if self.init_sample < self.k {
            out.push(MlError::InitSample {
                k: self.k,
                got: self.init_sample,
            });
        }
        if self.max_epochs == 0 && self.lloyd_passes == 0 {
            out.push(MlError::NoTraining);
        }
        out
    }
}

/// Parameters that passed [`KMeansParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansValidParams(KMeansParams);

impl std::ops::Deref for KMeansValidParams {
    type Target = KMeansParams;
    fn deref(&self) -> &KMeansParams {
        &self.0
    }
}

/// A trained k-means model.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// k x features, in the prepared (standardised) space.
    pub centres: Array2<f64>,
    /// Sum of squared distances of every row to its centre, after training.
    pub inertia: f64,
    pub epochs: usize,
    pub lloyd_passes: usize,
    /// Clusters re-seeded because they were left empty.
    pub reseeded: usize,
    /// Rows in the initialisation sample.
    pub init_sample: usize,
}

/// Every row's centre and (Euclidean) distance to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub labels: Vec<u32>,
    pub distances: Vec<f64>,
    pub inertia: f64,
}

impl KMeans {
    pub fn k(&self) -> usize {
        self.centres.nrows()
    }

    pub fn assign(&self, x: ArrayView2<f32>) -> Result<Assignment> {
        assign_to(&self.centres, x, 8192)
    }
}

/// Nearest of `centres` for every row of `x` (searched in f32, lowest
/// index on ties: the same search as training), the Euclidean distance to
/// it (squared in f64) and the inertia. Rows are cut into chunks of
/// `chunk_rows`; the inertia is summed in row order within a chunk and over
/// chunks in order, so every result is the same with any number of threads
/// (the chunk size, like training's, is part of the inertia's last bits).
pub fn assign_to(
    centres: &Array2<f64>,
    x: ArrayView2<f32>,
    chunk_rows: usize,
) -> Result<Assignment> {
    if x.ncols() != centres.ncols() {
        return Err(MlError::Dimension {
            expected: centres.ncols(),
            got: x.ncols(),
        });
    }
    let x = x.as_standard_layout();
    let table = CentreTable::new(centres);
    let (labels, distances, inertia) = assign_all(x.view(), &table, chunk_rows);
    Ok(Assignment {
        labels,
        distances,
        inertia,
    })
}

impl KMeansValidParams {
    /// Initialises on a seeded sample (k-means++ `n_init` times, each refined
    /// by Lloyd on the sample; lowest sample inertia wins), then trains on
    /// every row.
    pub fn fit(&self, x: ArrayView2<f32>) -> Result<KMeans> {
        let x = x.as_standard_layout();
        self.check_rows(x.nrows())?;
        let sample_rows = sample_rows(x.nrows(), self.init_sample, self.seed, Stream::InitSample);
        let sample = x.select(Axis(0), &sample_rows);
        let sample_threshold = self.tol * mean_variance(sample.view(), self.chunk_rows);
        // Every initialisation reads the same sample column by column.
        let columns = Columns::of(sample.as_slice().expect("selected rows"), sample.ncols());
        // The initialisations are independent (each draws from its own
        // stream), so they run side by side: on a sample, one alone leaves
        // cores idle in its sequential steps. Picked in order as before.
        let tried: Vec<(f64, Array2<f64>)> = (0..self.n_init)
            .into_par_iter()
            .map(|init| {
                let mut r = rng(self.seed, Stream::Init, init as u64, 0);
                let centres = kmeans_plus_plus(sample.view(), &columns, self.k, &mut r);
                let (centres, inertia) = lloyd(
                    sample.view(),
                    centres,
                    100,
                    sample_threshold,
                    self.chunk_rows,
                )
                .0;
                (inertia, centres)
            })
            .collect();
        let mut best: Option<(f64, Array2<f64>)> = None;
        for (inertia, centres) in tried {
            if best.as_ref().is_none_or(|(b, _)| inertia < *b) {
                best = Some((inertia, centres));
            }
        }
        let mut model = self.fit_from(x.view(), best.expect("n_init >= 1").1)?;
        model.init_sample = sample_rows.len();
        Ok(model)
    }

    /// Trains from the given initial centres (k x features): mini-batch
    /// epochs, then full Lloyd passes.
    pub fn fit_from(&self, x: ArrayView2<f32>, init: Array2<f64>) -> Result<KMeans> {
        let x = x.as_standard_layout();
        self.check_rows(x.nrows())?;
        if init.dim() != (self.k, x.ncols()) {
            return Err(MlError::InitShape {
                k: self.k,
                dim: x.ncols(),
                got_rows: init.nrows(),
                got_cols: init.ncols(),
            });
        }
        let mut training = MiniBatch::new(init);
        // The tolerance needs the data's variance only once the first
        // epoch is over, and that epoch is a chain of small dependent
        // steps that a second core barely helps: the variance (one read of
        // the matrix) runs beside it. Both give the same bits either way.
        let (variance, first_shift) = rayon::join(
            || mean_variance(x.view(), self.chunk_rows),
            || (self.max_epochs > 0).then(|| self.minibatch_epoch(x.view(), &mut training, 0)),
        );
        let threshold = self.tol * variance;
        let mut epochs = usize::from(first_shift.is_some());
        let mut shift = first_shift;
        while let Some(last) = shift
            && !self.converged(last, threshold, training.stale)
            && epochs < self.max_epochs
        {
            shift = Some(self.minibatch_epoch(x.view(), &mut training, epochs));
            epochs += 1;
        }
        let MiniBatch {
            centres,
            mut reseeded,
            ..
        } = training;
        let ((centres, _), passes, lloyd_reseeded) = lloyd(
            x.view(),
            centres,
            self.lloyd_passes,
            threshold,
            self.chunk_rows,
        );
        reseeded += lloyd_reseeded;
        // The inertia `assign_to` would give, without its outputs.
        let inertia = inertia_all(x.view(), &CentreTable::new(&centres), self.chunk_rows);
        Ok(KMeans {
            centres,
            inertia,
            epochs,
            lloyd_passes: passes,
            reseeded,
            init_sample: 0,
        })
    }

    /// Whether mini-batch epochs stop: the centres moved at most
    /// `threshold`, or the mean inertia has not improved for `patience`
    /// epochs.
    fn converged(&self, shift: f64, threshold: f64, stale: usize) -> bool {
        shift <= threshold || stale >= self.patience
    }

    fn check_rows(&self, rows: usize) -> Result<()> {
        if rows == 0 {
            return Err(MlError::Empty);
        }
        if rows < self.k {
            return Err(MlError::KTooLarge { k: self.k, rows });
        }
        Ok(())
    }

    /// One epoch of Sculley's mini-batch updates with scikit-learn's
    /// per-centre learning rate: a centre that has absorbed `n` rows moves
    /// by `1/n` of the way to each new row. Returns the squared shift of
    /// the centres over the epoch.
    fn minibatch_epoch(&self, x: ArrayView2<f32>, training: &mut MiniBatch, epoch: usize) -> f64 {
        let (n, dim) = x.dim();
        let k = self.k;
        let batch = self.batch_size.min(n);
        let steps = n.div_ceil(batch);
        let centres = &mut training.centres;
        let before = centres.clone();
        let mut epoch_partial = Partial::new(k, dim);
        // A batch is drawn as random runs of BLOCK_ROWS consecutive rows
        // (in key order, which says nothing about behaviour), ascending:
        // a gather of single random rows spends most of its time in TLB
        // and cache misses (measured: an epoch of single rows cost 4x a
        // full Lloyd pass on 5M x 16).
        let blocks = n.div_ceil(BLOCK_ROWS);
        let per_step = batch.div_ceil(BLOCK_ROWS);
        let mut starts = vec![0usize; per_step];
        let mut indices = Vec::with_capacity(per_step * BLOCK_ROWS);
        for step in 0..steps {
            let mut r = rng(self.seed, Stream::MiniBatch, epoch as u64, step as u64);
            for b in &mut starts {
                *b = r.random_range(0..blocks) * BLOCK_ROWS;
            }
            starts.sort_unstable();
            indices.clear();
            for &b in &starts {
                indices.extend(b..(b + BLOCK_ROWS).min(n));
            }
            let table = CentreTable::new(centres);
            let partial = batch_pass(x, &indices, &table, 1024, k);
            for c in 0..k {
                let m = partial.counts[c] as f64;
                if m == 0.0 {
                    continue;
                }
                let absorbed = &mut training.absorbed[c];
                *absorbed += m;
                for j in 0..dim {
                    let sum = partial.sums[c * dim + j];
                    let centre = &mut centres[[c, j]];
                    *centre += (sum - m * *centre) / *absorbed;
                }
            }
            // Per epoch only counts, inertia and far rows are read.
            epoch_partial.merge(partial, k);
        }
        training.reseeded += reseed_empty(centres, &epoch_partial, x, &mut training.absorbed);
        let seen: u64 = epoch_partial.counts.iter().sum();
        let mean_inertia = epoch_partial.inertia / seen.max(1) as f64;
        if mean_inertia < training.best_inertia {
            training.best_inertia = mean_inertia;
            training.stale = 0;
        } else {
            training.stale += 1;
        }
        squared_shift(&before, centres)
    }
}

/// The state mini-batch training carries from one epoch to the next.
struct MiniBatch {
    centres: Array2<f64>,
    /// Rows each centre has absorbed so far (its learning rate is 1/this).
    absorbed: Vec<f64>,
    /// The lowest mean inertia of an epoch so far, and the epochs since.
    best_inertia: f64,
    stale: usize,
    /// Clusters re-seeded.
    reseeded: usize,
}

impl MiniBatch {
    fn new(centres: Array2<f64>) -> MiniBatch {
        let k = centres.nrows();
        MiniBatch {
            centres,
            absorbed: vec![0.0; k],
            best_inertia: f64::INFINITY,
            stale: 0,
            reseeded: 0,
        }
    }
}

/// Full Lloyd iterations from `centres`, at most `max_passes`, stopping when
/// the squared centre shift is at most `threshold`. Returns ((centres,
/// inertia of the last assignment), passes, clusters re-seeded).
fn lloyd(
    x: ArrayView2<f32>,
    mut centres: Array2<f64>,
    max_passes: usize,
    threshold: f64,
    chunk_rows: usize,
) -> ((Array2<f64>, f64), usize, usize) {
    let (k, dim) = centres.dim();
    let mut inertia = f64::INFINITY;
    let mut passes = 0;
    let mut reseeded = 0;
    while passes < max_passes {
        passes += 1;
        let partial = full_pass(x, &CentreTable::new(&centres), chunk_rows, k);
        inertia = partial.inertia;
        let before = centres.clone();
        for c in 0..k {
            let m = partial.counts[c];
            if m > 0 {
                for j in 0..dim {
                    centres[[c, j]] = partial.sums[c * dim + j] / m as f64;
                }
            }
        }
        let mut counts: Vec<f64> = partial.counts.iter().map(|&c| c as f64).collect();
        let moved = reseed_empty(&mut centres, &partial, x, &mut counts);
        reseeded += moved;
        if moved == 0 && squared_shift(&before, &centres) <= threshold {
            break;
        }
    }
    ((centres, inertia), passes, reseeded)
}

/// Moves every centre that received no row onto one of the rows farthest
/// from their centre (scikit-learn's recovery), farthest first.
fn reseed_empty(
    centres: &mut Array2<f64>,
    partial: &Partial,
    x: ArrayView2<f32>,
    counts: &mut [f64],
) -> usize {
    let mut far = partial.far.iter();
    let mut moved = 0;
    for c in 0..centres.nrows() {
        if partial.counts[c] == 0
            && let Some(&(_, row)) = far.next()
        {
            for (centre, &v) in centres.row_mut(c).iter_mut().zip(x.row(row)) {
                *centre = v as f64;
            }
            counts[c] = 1.0;
            moved += 1;
        }
    }
    moved
}

fn squared_shift(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Mean over features of the population variance (f64 partial sums per
/// chunk, reduced in chunk order).
fn mean_variance(x: ArrayView2<f32>, chunk_rows: usize) -> f64 {
    let x = x.as_standard_layout();
    let (n, dim) = x.dim();
    let partials: Vec<(Vec<f64>, Vec<f64>)> = x
        .as_slice()
        .expect("standard layout")
        .par_chunks(chunk_rows * dim)
        .map(|block| {
            let mut sum = vec![0f64; dim];
            let mut sq = vec![0f64; dim];
            // Each feature's sums in row order; the features side by side
            // (a loop over them without indices vectorises).
            for row in block.chunks_exact(dim) {
                for ((s, q), &v) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                    *s += v as f64;
                    *q += v as f64 * v as f64;
                }
            }
            (sum, sq)
        })
        .collect();
    let mut sum = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for (s, q) in partials {
        for j in 0..dim {
            sum[j] += s[j];
            sq[j] += q[j];
        }
    }
    let n = n as f64;
    (0..dim)
        .map(|j| (sq[j] / n - (sum[j] / n).powi(2)).max(0.0))
        .sum::<f64>()
        / dim as f64
}

/// Rows per parallel task of a k-means++ distance pass.
const PLUS_PLUS_CHUNK: usize = 1024;

/// Rows laid out feature by feature (feature `j` of row `i` at
/// `j * rows + i`), so that k-means++ computes a run of rows' distances
/// with whole vectors of one feature.
struct Columns {
    values: Vec<f32>,
    rows: usize,
}

impl Columns {
    /// The transpose of `data`, `dim` floats per row.
    fn of(data: &[f32], dim: usize) -> Columns {
        let rows = data.len() / dim;
        let mut values = vec![0f32; data.len()];
        for (i, row) in data.chunks_exact(dim).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                values[j * rows + i] = v;
            }
        }
        Columns { values, rows }
    }

    fn column(&self, j: usize) -> &[f32] {
        &self.values[j * self.rows..(j + 1) * self.rows]
    }
}

/// `out[i]` = the squared f64 distance of row `first + i` to `centre`:
/// `(x_j - c_j)^2` summed in feature order from 0, as row by row. The sums
/// of all the rows go forward one feature at a time, so vectors of rows
/// add side by side (no fused multiply-add: every CPU gives the same bits).
fn squared_distances(columns: &Columns, first: usize, centre: &[f32], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: this CPU has AVX2.
        return unsafe { squared_distances_avx2(columns, first, centre, out) };
    }
    squared_distances_by_feature(columns, first, centre, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn squared_distances_avx2(columns: &Columns, first: usize, centre: &[f32], out: &mut [f64]) {
    squared_distances_by_feature(columns, first, centre, out)
}

#[inline(always)]
fn squared_distances_by_feature(columns: &Columns, first: usize, centre: &[f32], out: &mut [f64]) {
    out.fill(0.0);
    for (j, &c) in centre.iter().enumerate() {
        let column = &columns.column(j)[first..first + out.len()];
        for (sum, &x) in out.iter_mut().zip(column) {
            let t = x as f64 - c as f64;
            *sum += t * t;
        }
    }
}

/// Rows per randomly placed run in a mini-batch.
const BLOCK_ROWS: usize = 32;

/// Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's
/// `2 + ln k` local trials per centre) over the rows of `x`; `columns`
/// holds the same rows feature by feature.
fn kmeans_plus_plus<R: Rng>(
    x: ArrayView2<f32>,
    columns: &Columns,
    k: usize,
    r: &mut R,
) -> Array2<f64> {
    let x = x.as_standard_layout();
    let data = x.as_slice().expect("standard layout");
    let (n, dim) = x.dim();
    let trials = 2 + (k as f64).ln() as usize;
    let row = |i: usize| &data[i * dim..(i + 1) * dim];
    // Squared distance of every row to `centre`, min'ed with `closest`.
    let closer = |closest: &[f64], centre: &[f32]| -> Vec<f64> {
        let mut updated = vec![0f64; n];
        updated
            .par_chunks_mut(PLUS_PLUS_CHUNK)
            .enumerate()
            .for_each(|(chunk, out)| {
                squared_distances(columns, chunk * PLUS_PLUS_CHUNK, centre, out)
            });
        for (u, &d) in updated.iter_mut().zip(closest) {
            *u = d.min(*u);
        }
        updated
    };
    let mut chosen = vec![r.random_range(0..n)];
    let mut closest = closer(&vec![f64::INFINITY; n], row(chosen[0]));
    for _ in 1..k {
        let potential: f64 = closest.iter().sum();
        let mut best: Option<(f64, usize, Vec<f64>)> = None;
        for _ in 0..trials {
            let candidate = if potential > 0.0 {
                let target = r.random::<f64>() * potential;
                let mut acc = 0.0;
                let mut pick = n - 1;
                for (i, d) in closest.iter().enumerate() {
                    acc += d;
                    if acc > target {
                        pick = i;
                        break;
                    }
                }
                pick
            } else {
                r.random_range(0..n)
            };
            let updated = closer(&closest, row(candidate));
            let pot: f64 = updated.iter().sum();
            if best.as_ref().is_none_or(|(b, _, _)| pot < *b) {
                best = Some((pot, candidate, updated));
            }
        }
        let (_, candidate, updated) = best.expect("trials >= 2");
        chosen.push(candidate);
        closest = updated;
    }
    let mut centres = Array2::<f64>::zeros((k, dim));
    for (c, &i) in chosen.iter().enumerate() {
        for (v, &x) in centres.row_mut(c).iter_mut().zip(row(i)) {
            *v = x as f64;
        }
    }
    centres
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squared_distances_by_feature_are_the_sums_row_by_row() {
        let mut r = rng(3, Stream::Init, 0, 0);
        for dim in [1, 3, 16, 17] {
            // Whole vectors of rows and a remainder.
            let n = 8 * 5 + 3;
            let rows: Vec<f32> = (0..n * dim)
                .map(|_| r.random::<f32>() * 200.0 - 100.0)
                .collect();
            let centre: Vec<f32> = (0..dim).map(|_| r.random::<f32>() * 10.0).collect();
            let columns = Columns::of(&rows, dim);
            // All the rows, and a run that starts inside the columns.
            let mut got = vec![0f64; n];
            squared_distances(&columns, 0, &centre, &mut got);
            let mut tail = vec![0f64; n - 5];
            squared_distances(&columns, 5, &centre, &mut tail);
            assert_eq!(got[5..], tail[..], "dim {dim}");
            for (i, row) in rows.chunks_exact(dim).enumerate() {
                // The form k-means++ used before rows were grouped.
                let want: f64 = row
                    .iter()
                    .zip(&centre)
                    .map(|(&a, &b)| (a as f64 - b as f64) * (a as f64 - b as f64))
                    .sum();
                assert_eq!(got[i].to_bits(), want.to_bits(), "dim {dim}, row {i}");
            }
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        let cases = [
            (KMeansParams::new(0), "k must be at least 2, got 0"),
            (
                KMeansParams::new(3).batch_size(0),
                "batch_size must be at least 1, got 0",
            ),
            (
                KMeansParams::new(3).tol(-1.0),
                "tol must be a finite number >= 0, got -1",
            ),
            (
                KMeansParams::new(3).n_init(0),
                "n_init must be at least 1, got 0",
            ),
            (
                KMeansParams::new(30).init_sample(10),
                "init_sample must be at least k (30), got 10",
            ),
        ];
        for (params, message) in cases {
            assert_eq!(params.check().unwrap_err().to_string(), message);
        }
        let x = Array2::<f32>::zeros((3, 2));
        let err = KMeansParams::new(5)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap_err();
        assert_eq!(err.to_string(), "k = 5 is more than the 3 rows to cluster");
    }

    #[test]
    fn two_obvious_clusters_by_hand() {
        // Rows 0..4 near (0,0), rows 4..8 near (10,10): the centres are the
        // means of each group, the inertia their summed squared spread.
        let x = ndarray::array![
            [0.0f32, 0.0],
            [1.0, 0.0],
            [0.0, 1.0],
            [1.0, 1.0],
            [10.0, 10.0],
            [11.0, 10.0],
            [10.0, 11.0],
            [11.0, 11.0]
        ];
        let model = KMeansParams::new(2)
            .seed(7)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        let mut centres: Vec<(f64, f64)> = model
            .centres
            .rows()
            .into_iter()
            .map(|r| (r[0], r[1]))
            .collect();
        centres.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(centres, vec![(0.5, 0.5), (10.5, 10.5)]);
        assert!((model.inertia - 4.0).abs() < 1e-12, "{}", model.inertia);
    }

    #[test]
    fn empty_cluster_is_reseeded_on_the_farthest_row() {
        // A centre far from every row gets nothing and moves to the row
        // farthest from its centre.
        let x = ndarray::array![[0.0f32], [1.0], [2.0], [9.0]];
        let init = ndarray::array![[1.0], [100.0]];
        let params = KMeansParams::new(2)
            .max_epochs(0)
            .lloyd_passes(10)
            .check()
            .unwrap();
        let model = params.fit_from(x.view(), init).unwrap();
        assert_eq!(model.reseeded, 1);
        let mut c: Vec<f64> = model.centres.column(0).to_vec();
        c.sort_by(f64::total_cmp);
        assert_eq!(c, vec![1.0, 9.0]);
    }
}
