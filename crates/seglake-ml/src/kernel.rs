//! The inner loop every k-means step runs: nearest centre of each row, and
//! per-chunk partial sums. Centres are kept transposed in blocks of eight
//! (feature-major), so for one row the squared distances to eight centres
//! are one vector: per feature, the row's value is broadcast and
//! subtracted from the eight centres' values at once.
//!
//! What every code path computes, bit for bit (the arithmetic contract):
//! - the squared distance of a row to a centre in f32, as four running sums
//!   `s[j mod 4] = s[j mod 4] + d * d` with `d = x_j - c_j` (a multiply
//!   and an add, each rounded), in feature order, combined as
//!   `(s0 + s1) + (s2 + s3)`. Not a fused multiply-add: it made the pass
//!   only 5-10% faster, and on an x86-64 CPU without FMA (some virtual
//!   machines present one) the portable path would have had to call the
//!   library `fma`, some 30 times slower, to give the same bits;
//! - the nearest centre: the one the scan `if d < best` keeps, i.e. the
//!   lowest index among the smallest distances (a NaN distance is never
//!   smaller; a row whose distance to centre 0 is NaN stays with 0);
//! - for assignments, the squared distance to that centre again in f64
//!   (the f32 row widened, the f64 centre), in the same four-sum form.
//!
//! On x86-64 with AVX2 (detected at run time) the same operations
//! run as 8-wide vectors and the nearest centre comes from a vector
//! minimum and an equality mask instead of a scan; elsewhere a portable
//! version runs. The tests check both against a scalar reference, bit for
//! bit. Sums and inertia are accumulated in f64 and partial results are
//! reduced in chunk order, so results do not depend on how rayon schedules
//! chunks.
//!
//! Rows are searched [`SUB_ROWS`] at a time, each step over all of them
//! before the next: distances to a block of centres, then the nearest so
//! far, then (for assignments) the f64 distances. Each step is then a loop
//! of independent rows the CPU can overlap, instead of one long chain of
//! dependent steps per row.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// Centres per block: one 256-bit vector of f32.
const LANES: usize = 8;

/// Rows searched together (see the module documentation): their distance
/// vectors (32 bytes each) and rows stay in the L1 cache.
const SUB_ROWS: usize = 256;

/// Centres laid out for the nearest-centre search.
pub(crate) struct CentreTable {
    pub k: usize,
    pub dim: usize,
    /// `lanes[(b * dim + j) * LANES + l]` = feature j of centre
    /// `b * LANES + l`; +inf past the last centre, so padded lanes are
    /// never nearest.
    lanes: Vec<f32>,
    /// The centres as given (k x dim, row-major), for the f64 distance.
    centres: Vec<f64>,
}

impl CentreTable {
    pub fn new(centres: &Array2<f64>) -> CentreTable {
        let (k, dim) = centres.dim();
        let mut lanes = vec![f32::INFINITY; k.div_ceil(LANES) * dim * LANES];
        for ((c, j), &v) in centres.indexed_iter() {
            lanes[((c / LANES) * dim + j) * LANES + c % LANES] = v as f32;
        }
        CentreTable {
            k,
            dim,
            lanes,
            centres: centres.iter().copied().collect(),
        }
    }

    /// The blocks of [`LANES`] centres, `dim * LANES` floats each.
    fn blocks(&self) -> std::slice::ChunksExact<'_, f32> {
        self.lanes.chunks_exact(self.dim * LANES)
    }

    fn centre(&self, c: usize) -> &[f64] {
        &self.centres[c * self.dim..(c + 1) * self.dim]
    }
}

/// The arithmetic of one code path (see the module documentation); the
/// loops below are written once, generic over it.
trait Arith: Copy {
    /// Squared distances to the [`LANES`] centres of a block.
    type Lanes: Copy;
    const ZERO: Self::Lanes;
    /// The distances of rows `a` and `b` to the centres of `block`; a path
    /// can share the loads of the centres between the two rows.
    fn distances(self, block: &[f32], a: &[f32], b: &[f32]) -> [Self::Lanes; 2];
    /// The scan `if d < best` over block `b`'s distances `d`, of which the
    /// first `used` are centres (the rest is padding).
    fn keep_nearest(self, best: &mut (usize, f32), b: usize, d: Self::Lanes, used: usize);
    /// Squared distance to centre `c` in f64.
    fn squared(self, table: &CentreTable, row: &[f32], c: usize) -> f64;
}

/// The path for every CPU: plain loops over fixed-width lane arrays.
#[derive(Clone, Copy)]
struct Portable;

impl Arith for Portable {
    type Lanes = [f32; LANES];
    const ZERO: [f32; LANES] = [0.0; LANES];

    #[inline(always)]
    fn distances(self, block: &[f32], a: &[f32], b: &[f32]) -> [[f32; LANES]; 2] {
        [block_distances(block, a), block_distances(block, b)]
    }

    #[inline(always)]
    fn keep_nearest(self, best: &mut (usize, f32), b: usize, d: [f32; LANES], used: usize) {
        for (l, &d) in d.iter().enumerate().take(used) {
            let c = b * LANES + l;
            if c == 0 || d < best.1 {
                *best = (c, d);
            }
        }
    }

    #[inline(always)]
    fn squared(self, table: &CentreTable, row: &[f32], c: usize) -> f64 {
        let centre = table.centre(c);
        let mut s = [0f64; 4];
        let quads = row.chunks_exact(4).zip(centre.chunks_exact(4));
        for (x, c) in quads {
            for a in 0..4 {
                let t = x[a] as f64 - c[a];
                s[a] = t * t + s[a];
            }
        }
        let tail = row.chunks_exact(4).remainder();
        let centre_tail = centre.chunks_exact(4).remainder();
        for (a, (&x, &c)) in tail.iter().zip(centre_tail).enumerate() {
            let t = x as f64 - c;
            s[a] = t * t + s[a];
        }
        (s[0] + s[1]) + (s[2] + s[3])
    }
}

/// Squared f32 distances of `row` to the [`LANES`] centres of `block`.
#[inline(always)]
fn block_distances(block: &[f32], row: &[f32]) -> [f32; LANES] {
    let mut acc = [[0f32; LANES]; 4];
    let quads = block.chunks_exact(4 * LANES).zip(row.chunks_exact(4));
    for (centres, x) in quads {
        for (a, acc) in acc.iter_mut().enumerate() {
            let centre_j = &centres[a * LANES..(a + 1) * LANES];
            for l in 0..LANES {
                let d = x[a] - centre_j[l];
                acc[l] = d * d + acc[l];
            }
        }
    }
    let tail = block.chunks_exact(4 * LANES).remainder();
    let row_tail = row.chunks_exact(4).remainder();
    for (a, (centre_j, &x)) in tail.chunks_exact(LANES).zip(row_tail).enumerate() {
        for l in 0..LANES {
            let d = x - centre_j[l];
            acc[a][l] = d * d + acc[a][l];
        }
    }
    let mut total = [0f32; LANES];
    for l in 0..LANES {
        total[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
    }
    total
}

#[cfg(target_arch = "x86_64")]
use avx2::Avx2;

/// The AVX2 path: the portable arithmetic, eight lanes per instruction.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Arith, CentreTable, LANES};

    /// Proof that the CPU has AVX2: only [`Avx2::detect`] makes one.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2(());

    impl Avx2 {
        #[inline(always)]
        pub(super) fn detect() -> Option<Avx2> {
            let yes = std::is_x86_feature_detected!("avx2");
            yes.then_some(Avx2(()))
        }
    }

    impl Arith for Avx2 {
        type Lanes = __m256;
        // SAFETY: all-zero bits are a valid __m256 (eight +0.0).
        const ZERO: __m256 = unsafe { std::mem::transmute([0f32; LANES]) };

        #[inline(always)]
        fn distances(self, block: &[f32], a: &[f32], b: &[f32]) -> [__m256; 2] {
            // SAFETY: an `Avx2` exists only on a CPU with AVX2.
            unsafe { block_distances(block, a, b) }
        }

        #[inline(always)]
        fn keep_nearest(self, best: &mut (usize, f32), b: usize, d: __m256, _used: usize) {
            // SAFETY: as above.
            unsafe { keep_nearest(best, b, d) }
        }

        #[inline(always)]
        fn squared(self, table: &CentreTable, row: &[f32], c: usize) -> f64 {
            // SAFETY: as above.
            unsafe { squared(row, table.centre(c)) }
        }
    }

    /// The scan `if d < best` of the portable path over block `b`'s
    /// distances `d`, without a scan: the block's smallest distance (NaN
    /// and the +inf-padded lanes count as +inf), the lowest lane holding
    /// it from an equality mask, and a strict `<` between blocks so that
    /// lower blocks win ties.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn keep_nearest(best: &mut (usize, f32), b: usize, d: __m256) {
        // min(d, inf) is inf where d is NaN (the second operand wins).
        let clean = _mm256_min_ps(d, _mm256_set1_ps(f32::INFINITY));
        let min = lanes_min(clean);
        let at_min = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_EQ_OQ>(clean, min)) as u32;
        let lane = at_min.trailing_zeros() as usize;
        let value = _mm256_cvtss_f32(min);
        if b == 0 {
            let d0 = _mm256_cvtss_f32(d);
            *best = if d0.is_nan() { (0, d0) } else { (lane, value) };
        } else if value < best.1 {
            *best = (b * LANES + lane, value);
        }
    }

    /// The smallest of eight lanes (none NaN), in every lane.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn lanes_min(v: __m256) -> __m256 {
        let v = _mm256_min_ps(v, _mm256_permute2f128_ps::<1>(v, v));
        let v = _mm256_min_ps(v, _mm256_permute_ps::<0b01_00_11_10>(v));
        _mm256_min_ps(v, _mm256_permute_ps::<0b10_11_00_01>(v))
    }

    /// `super::block_distances` of rows `a` and `b`, one vector per running
    /// sum and row; each load of the centres serves both rows.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn block_distances(block: &[f32], a: &[f32], b: &[f32]) -> [__m256; 2] {
        let mut acc = [[_mm256_setzero_ps(); 4]; 2];
        let step = |acc: &mut [[__m256; 4]; 2], q: usize, c: __m256, xa: f32, xb: f32| {
            let d = _mm256_sub_ps(_mm256_set1_ps(xa), c);
            acc[0][q] = _mm256_add_ps(_mm256_mul_ps(d, d), acc[0][q]);
            let d = _mm256_sub_ps(_mm256_set1_ps(xb), c);
            acc[1][q] = _mm256_add_ps(_mm256_mul_ps(d, d), acc[1][q]);
        };
        let quads = block.chunks_exact(4 * LANES);
        let tail = quads.remainder();
        for ((centres, xa), xb) in quads.zip(a.chunks_exact(4)).zip(b.chunks_exact(4)) {
            for q in 0..4 {
                // SAFETY: `centres` holds 4 * LANES floats.
                let c = unsafe { _mm256_loadu_ps(centres.as_ptr().add(q * LANES)) };
                step(&mut acc, q, c, xa[q], xb[q]);
            }
        }
        let (ta, tb) = (a.chunks_exact(4).remainder(), b.chunks_exact(4).remainder());
        // The last features (dim mod 4) with constant indices: an indexed
        // loop would keep all eight sums in memory instead of registers.
        for q in 0..3 {
            if q < ta.len() {
                // SAFETY: `tail` holds LANES floats per remaining feature.
                let c = unsafe { _mm256_loadu_ps(tail.as_ptr().add(q * LANES)) };
                step(&mut acc, q, c, ta[q], tb[q]);
            }
        }
        acc.map(|s| _mm256_add_ps(_mm256_add_ps(s[0], s[1]), _mm256_add_ps(s[2], s[3])))
    }

    /// `Portable::squared`, the four running sums in one vector. The last
    /// features (dim mod 4) are loaded masked: the other lanes add
    /// (0 - 0)^2, which leaves a sum of squares unchanged.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn squared(row: &[f32], centre: &[f64]) -> f64 {
        let mut acc = _mm256_setzero_pd();
        let mut add = |x: __m128, c: __m256d| {
            let d = _mm256_sub_pd(_mm256_cvtps_pd(x), c);
            acc = _mm256_add_pd(_mm256_mul_pd(d, d), acc);
        };
        for (x, c) in row.chunks_exact(4).zip(centre.chunks_exact(4)) {
            // SAFETY: `x` and `c` hold four values each.
            unsafe { add(_mm_loadu_ps(x.as_ptr()), _mm256_loadu_pd(c.as_ptr())) };
        }
        let rest = row.len() % 4;
        if rest > 0 {
            let (x, c) = (&row[row.len() - rest..], &centre[centre.len() - rest..]);
            let lanes = _mm256_setr_epi64x(0, 1, 2, 3);
            let mask = _mm256_cmpgt_epi64(_mm256_set1_epi64x(rest as i64), lanes);
            let mask32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(
                mask,
                _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0),
            ));
            // SAFETY: the masks enable only the `rest` lanes `x` and `c` hold.
            unsafe {
                add(
                    _mm_maskload_ps(x.as_ptr(), mask32),
                    _mm256_maskload_pd(c.as_ptr(), mask),
                )
            };
        }
        // [s0 + s1, _, s2 + s3, _], then the two sums added.
        let pairs = _mm256_hadd_pd(acc, acc);
        let high = _mm256_extractf128_pd::<1>(pairs);
        _mm_cvtsd_f64(_mm_add_sd(_mm256_castpd256_pd128(pairs), high))
    }
}

/// The rows of the matrix a scan visits, in order.
#[derive(Clone, Copy)]
pub(crate) enum Rows<'a> {
    /// `len` consecutive rows from `first`.
    Run { first: usize, len: usize },
    /// The rows listed (a mini-batch).
    Listed(&'a [usize]),
}

impl Rows<'_> {
    #[inline(always)]
    fn len(self) -> usize {
        match self {
            Rows::Run { len, .. } => len,
            Rows::Listed(ids) => ids.len(),
        }
    }

    /// The row visited `p`-th.
    #[inline(always)]
    fn at(self, p: usize) -> usize {
        match self {
            Rows::Run { first, .. } => first + p,
            Rows::Listed(ids) => ids[p],
        }
    }

    /// The row to prefetch while visiting the `p`-th: `ahead` visits later.
    /// A run looks past its end too (the next run of a pass usually starts
    /// there, and a prefetch of an address past the matrix is harmless).
    #[inline(always)]
    fn prefetch(self, p: usize, ahead: usize) -> Option<usize> {
        match self {
            Rows::Run { first, .. } => Some(first + p + ahead),
            Rows::Listed(ids) => ids.get(p + ahead).copied(),
        }
    }
}

/// Calls `f(index, row, nearest centre, squared distance)` for `rows` of
/// `data` (`dim` floats each), in order, with the AVX2 path when the CPU
/// has it.
#[inline(always)]
pub(crate) fn scan_rows<F>(table: &CentreTable, data: &[f32], rows: Rows, f: F)
where
    F: FnMut(usize, &[f32], usize, f32),
{
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        // SAFETY: `Avx2::detect` found AVX2 on this CPU.
        unsafe { scan_rows_avx2(avx2, table, data, rows, f) };
        return;
    }
    scan_with(Portable, table, data, rows, f)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_rows_avx2<F>(avx2: Avx2, table: &CentreTable, data: &[f32], rows: Rows, f: F)
where
    F: FnMut(usize, &[f32], usize, f32),
{
    scan_with(avx2, table, data, rows, f)
}

/// [`scan_rows`] with the arithmetic of `arith`, [`SUB_ROWS`] at a time.
#[inline(always)]
fn scan_with<A: Arith, F>(arith: A, table: &CentreTable, data: &[f32], rows: Rows, mut f: F)
where
    F: FnMut(usize, &[f32], usize, f32),
{
    let dim = table.dim;
    let mut best = [(0, 0f32); SUB_ROWS];
    let mut start = 0;
    while start < rows.len() {
        let best = &mut best[..SUB_ROWS.min(rows.len() - start)];
        nearest_rows(arith, table, data, rows, start, best);
        for (p, &(c, sq)) in best.iter().enumerate() {
            let i = rows.at(start + p);
            f(i, &data[i * dim..(i + 1) * dim], c, sq);
        }
        start += best.len();
    }
}

/// The nearest centre and the f32 squared distance to it of the rows
/// `rows` visits at positions `start..start + best.len()` (at most
/// [`SUB_ROWS`]), into `best`: per block of centres, the distances of all
/// the rows, two at a time, then the nearest so far of each.
#[inline(always)]
fn nearest_rows<A: Arith>(
    arith: A,
    table: &CentreTable,
    data: &[f32],
    rows: Rows,
    start: usize,
    best: &mut [(usize, f32)],
) {
    let dim = table.dim;
    let row = |p: usize| {
        let i = rows.at(start + p);
        &data[i * dim..(i + 1) * dim]
    };
    let n = best.len();
    let ahead = prefetch_rows(dim);
    let mut distances = [A::ZERO; SUB_ROWS];
    let distances = &mut distances[..n];
    for (b, block) in table.blocks().enumerate() {
        let mut pairs = distances.chunks_exact_mut(2);
        for (p, pair) in (0..).step_by(2).zip(&mut pairs) {
            if b == 0 {
                for r in [start + p, start + p + 1] {
                    if let Some(i) = rows.prefetch(r, ahead) {
                        prefetch_row(data, i, dim);
                    }
                }
            }
            [pair[0], pair[1]] = arith.distances(block, row(p), row(p + 1));
        }
        if let [last] = pairs.into_remainder() {
            // An odd last row, paired with itself.
            [*last, _] = arith.distances(block, row(n - 1), row(n - 1));
        }
        let used = LANES.min(table.k - b * LANES);
        for (best, &d) in best.iter_mut().zip(distances.iter()) {
            arith.keep_nearest(best, b, d, used);
        }
    }
}

/// How far ahead of the row being searched the loops ask for the matrix.
/// The search takes longer per row than memory needs to deliver one, yet
/// without the hint the CPU's own prefetcher leaves it waiting on most new
/// lines (measured at 5M x 16 on one thread: the pass took over twice as
/// long without it, 1.5 times as long asking 1 KiB ahead).
const PREFETCH_BYTES: usize = 2048;

/// [`PREFETCH_BYTES`] in rows.
fn prefetch_rows(dim: usize) -> usize {
    (PREFETCH_BYTES / (4 * dim).max(1)).max(1)
}

/// Asks for every cache line of row `i` (rows past the end are harmless).
#[inline(always)]
fn prefetch_row(data: &[f32], i: usize, dim: usize) {
    let start = data.as_ptr().wrapping_add(i * dim);
    prefetch(start);
    // Rows of more than one line (16 floats) ask for the others too.
    let mut offset = 16;
    while offset < dim {
        prefetch(start.wrapping_add(offset));
        offset += 16;
    }
}

#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
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
            let run = Rows::Run {
                first: chunk * chunk_rows,
                len: block.len() / dim,
            };
            scan_rows(table, rows, run, |i, row, c, sq| {
                partial.add(row, i, c, sq, keep_far)
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
            scan_rows(table, rows, Rows::Listed(ids), |i, row, c, sq| {
                partial.add(row, i, c, sq, keep_far)
            });
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

/// Every row's nearest centre (f32 search), its distance to it (the square
/// recomputed in f64, then the root) and the inertia, in parallel over
/// fixed chunks of `chunk_rows` rows. The inertia is summed in row order
/// within a chunk and the chunks' sums in chunk order: the same total
/// whatever the thread count.
pub(crate) fn assign_all(
    x: ArrayView2<f32>,
    table: &CentreTable,
    chunk_rows: usize,
) -> (Vec<u32>, Vec<f64>, f64) {
    let rows = x.as_slice().expect("standard layout");
    let mut labels = vec![0u32; x.nrows()];
    let mut distances = vec![0f64; x.nrows()];
    let inertia = if x.nrows() <= chunk_rows {
        // One chunk (a served request): no hand-off to the thread pool,
        // the same arithmetic.
        assign_chunk(table, rows, Some((&mut labels, &mut distances)))
    } else {
        let partials: Vec<f64> = labels
            .par_chunks_mut(chunk_rows)
            .zip(distances.par_chunks_mut(chunk_rows))
            .zip(rows.par_chunks(chunk_rows * table.dim))
            .map(|((labels, distances), block)| {
                assign_chunk(table, block, Some((labels, distances)))
            })
            .collect();
        partials.iter().sum()
    };
    (labels, distances, inertia)
}

/// The inertia [`assign_all`] returns, bit for bit, without writing a label
/// and a distance per row (training's last step needs only this number).
pub(crate) fn inertia_all(x: ArrayView2<f32>, table: &CentreTable, chunk_rows: usize) -> f64 {
    let rows = x.as_slice().expect("standard layout");
    if x.nrows() <= chunk_rows {
        return assign_chunk(table, rows, None);
    }
    let partials: Vec<f64> = rows
        .par_chunks(chunk_rows * table.dim)
        .map(|block| assign_chunk(table, block, None))
        .collect();
    partials.iter().sum()
}

/// Where [`assign_chunk`] writes each row's nearest centre and distance;
/// `None` when only the inertia is wanted.
type Outputs<'a> = Option<(&'a mut [u32], &'a mut [f64])>;

/// [`assign_all`] on one chunk; returns the chunk's inertia.
fn assign_chunk(table: &CentreTable, block: &[f32], out: Outputs) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if let Some(avx2) = Avx2::detect() {
        // SAFETY: `Avx2::detect` found AVX2 on this CPU.
        return unsafe { assign_chunk_avx2(avx2, table, block, out) };
    }
    assign_chunk_with(Portable, table, block, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn assign_chunk_avx2(avx2: Avx2, table: &CentreTable, block: &[f32], out: Outputs) -> f64 {
    assign_chunk_with(avx2, table, block, out)
}

#[inline(always)]
fn assign_chunk_with<A: Arith>(
    arith: A,
    table: &CentreTable,
    block: &[f32],
    mut out: Outputs,
) -> f64 {
    let dim = table.dim;
    let n = block.len() / dim;
    let rows = Rows::Run { first: 0, len: n };
    let mut inertia = 0.0;
    let mut best = [(0, 0f32); SUB_ROWS];
    let mut squares = [0f64; SUB_ROWS];
    for start in (0..n).step_by(SUB_ROWS) {
        let len = SUB_ROWS.min(n - start);
        let (best, squares) = (&mut best[..len], &mut squares[..len]);
        nearest_rows(arith, table, block, rows, start, best);
        let sub_rows = block[start * dim..].chunks_exact(dim);
        // Summed in row order.
        for ((row, &(c, _)), square) in sub_rows.zip(best.iter()).zip(squares.iter_mut()) {
            *square = arith.squared(table, row, c);
            inertia += *square;
        }
        if let Some((labels, distances)) = out.as_mut() {
            let labels = labels[start..start + len].iter_mut().zip(best.iter());
            for (label, &(c, _)) in labels {
                *label = c as u32;
            }
            // The roots in a loop of their own: it vectorises.
            let distances = distances[start..start + len].iter_mut().zip(squares.iter());
            for (distance, &square) in distances {
                *distance = square.sqrt();
            }
        }
    }
    inertia
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The contract of the module documentation, one centre at a time.
    fn reference_distance(row: &[f32], centre: &[f32]) -> f32 {
        let mut s = [0f32; 4];
        for (j, (&x, &c)) in row.iter().zip(centre).enumerate() {
            let d = x - c;
            s[j % 4] = d * d + s[j % 4];
        }
        (s[0] + s[1]) + (s[2] + s[3])
    }

    fn reference_nearest(row: &[f32], centres: &Array2<f64>) -> (usize, f32) {
        let centre = |c: usize| centres.row(c).iter().map(|&v| v as f32).collect::<Vec<_>>();
        let mut best = (0, reference_distance(row, &centre(0)));
        for c in 1..centres.nrows() {
            let d = reference_distance(row, &centre(c));
            if d < best.1 {
                best = (c, d);
            }
        }
        best
    }

    fn reference_squared(row: &[f32], centre: &[f64]) -> f64 {
        let mut s = [0f64; 4];
        for (j, (&x, &c)) in row.iter().zip(centre).enumerate() {
            let d = x as f64 - c;
            s[j % 4] = d * d + s[j % 4];
        }
        (s[0] + s[1]) + (s[2] + s[3])
    }

    /// Small integers (exact distances, so many exact ties) or uniform
    /// values in [-2, 2]; `specials` sprinkles NaN and infinities.
    fn value<R: Rng>(r: &mut R, specials: bool) -> f32 {
        match r.random_range(0..20) {
            0 if specials => f32::NAN,
            1 if specials => f32::INFINITY,
            2 if specials => f32::NEG_INFINITY,
            3..=10 => r.random_range(-2..=2) as f32,
            _ => r.random::<f32>() * 4.0 - 2.0,
        }
    }

    /// Random centres, the last a copy of the first when k > 2.
    fn centres<R: Rng>(r: &mut R, k: usize, dim: usize) -> Array2<f64> {
        let mut centres = Array2::from_shape_fn((k, dim), |_| value(r, false) as f64);
        if k > 2 {
            // Two equal centres: every row is as near to both.
            let copy = centres.row(0).to_owned();
            centres.row_mut(k - 1).assign(&copy);
        }
        centres
    }

    fn same32(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    fn check<A: Arith>(arith: A, name: &str, specials: bool) {
        let mut r = ChaCha8Rng::seed_from_u64(11);
        let mut ties = 0;
        for k in [1, 2, 3, 7, 8, 9, 15, 16, 17, 24] {
            for dim in [1, 2, 3, 4, 5, 7, 8, 13, 16, 19] {
                let centres = centres(&mut r, k, dim);
                let table = CentreTable::new(&centres);
                // More rows than one sub-block, an odd number.
                let n = SUB_ROWS + 45;
                let data: Vec<f32> = (0..n * dim).map(|_| value(&mut r, specials)).collect();
                let mut got = vec![(0, 0f32); n];
                let rows = Rows::Run { first: 0, len: n };
                for (start, best) in (0..n).step_by(SUB_ROWS).zip(got.chunks_mut(SUB_ROWS)) {
                    nearest_rows(arith, &table, &data, rows, start, best);
                }
                for (i, (row, got)) in data.chunks_exact(dim).zip(&got).enumerate() {
                    let want = reference_nearest(row, &centres);
                    assert!(
                        got.0 == want.0 && same32(got.1, want.1),
                        "{name}, k {k}, dim {dim}, row {i}: {got:?}, want {want:?}"
                    );
                    let centre = centres.row(want.0).to_vec();
                    let (got, want64) = (
                        arith.squared(&table, row, want.0),
                        reference_squared(row, &centre),
                    );
                    assert!(
                        got.to_bits() == want64.to_bits() || (got.is_nan() && want64.is_nan()),
                        "{name}, k {k}, dim {dim}, row {i}: squared {got} want {want64}"
                    );
                    ties += (tied(row, &centres, want.1) > 1) as usize;
                }
            }
        }
        // The data must exercise the tie rule for the test to mean anything.
        assert!(ties > 2000, "only {ties} rows with tied nearest centres");
    }

    /// How many centres are at distance `d` of `row`.
    fn tied(row: &[f32], centres: &Array2<f64>, d: f32) -> usize {
        let at = |c: usize| {
            let centre: Vec<f32> = centres.row(c).iter().map(|&v| v as f32).collect();
            reference_distance(row, &centre)
        };
        (0..centres.nrows()).filter(|&c| at(c) == d).count()
    }

    #[test]
    fn the_inertia_alone_is_the_assignments_inertia_bit_for_bit() {
        let mut r = ChaCha8Rng::seed_from_u64(5);
        let (n, dim) = (3 * 1000 + 17, 7);
        let data: Vec<f32> = (0..n * dim).map(|_| value(&mut r, false)).collect();
        let x = ArrayView2::from_shape((n, dim), &data).unwrap();
        let table = CentreTable::new(&centres(&mut r, 5, dim));
        // Several chunks, and one chunk holding every row.
        for chunk_rows in [1000, n] {
            let (labels, distances, want) = assign_all(x, &table, chunk_rows);
            let got = inertia_all(x, &table, chunk_rows);
            assert_eq!(got.to_bits(), want.to_bits(), "chunks of {chunk_rows}");
            assert_eq!((labels.len(), distances.len()), (n, n));
        }
    }

    #[test]
    fn portable_path_matches_the_scalar_reference_bit_for_bit() {
        check(Portable, "portable", false);
        check(Portable, "portable with NaN and infinities", true);
    }

    #[test]
    fn avx2_path_matches_the_scalar_reference_bit_for_bit() {
        #[cfg(target_arch = "x86_64")]
        if let Some(avx2) = Avx2::detect() {
            check(avx2, "avx2", false);
            check(avx2, "avx2 with NaN and infinities", true);
            return;
        }
        eprintln!("no AVX2 on this CPU: nothing to compare");
    }
}
