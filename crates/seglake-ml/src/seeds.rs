//! Every random draw in seglake-ml comes from a ChaCha8 stream whose seed is
//! derived from the job's seed and *what* the draw is for (the sample, the
//! n-th initialisation, epoch e / step s of mini-batch training). No stream
//! depends on the thread that uses it, which is what makes results identical
//! with any number of threads.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// What a random stream is used for; part of its seed.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
pub(crate) enum Stream {
    InitSample = 1,
    Init = 2,
    MiniBatch = 3,
    MetricSample = 4,
    ClusterSample = 5,
    BinSample = 6,
    Validation = 7,
    Bagging = 8,
    FeatureSample = 9,
}

/// SplitMix64's finaliser: a fixed bijection that spreads nearby inputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(crate) fn rng(seed: u64, stream: Stream, a: u64, b: u64) -> ChaCha8Rng {
    let s = mix(mix(mix(seed ^ mix(stream as u64)) ^ a) ^ mix(b));
    ChaCha8Rng::seed_from_u64(s)
}

/// `m` distinct row indices out of `n`, ascending (so a sample is read in
/// key order), or all rows when `m >= n`.
pub(crate) fn sample_rows(n: usize, m: usize, seed: u64, stream: Stream) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    let mut rng = rng(seed, stream, n as u64, m as u64);
    let mut rows = rand::seq::index::sample(&mut rng, n, m).into_vec();
    rows.sort_unstable();
    rows
}
