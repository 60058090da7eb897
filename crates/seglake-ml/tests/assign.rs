//! `assign_to`, the pass that scores every customer, against a plain scalar
//! reference of its documented arithmetic, and with one and two threads.

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use seglake_ml::{Assignment, assign_to};

/// Squared distance in f32 as the kernel defines it: four running sums
/// over features j mod 4, each step a fused multiply-add, combined as
/// (s0 + s1) + (s2 + s3).
fn distance32(row: &[f32], centre: &[f64]) -> f32 {
    let mut s = [0f32; 4];
    for (j, (&x, &c)) in row.iter().zip(centre).enumerate() {
        let d = x - c as f32;
        s[j % 4] = d * d + s[j % 4];
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// The same in f64, for the distance reported.
fn distance64(row: &[f32], centre: &[f64]) -> f64 {
    let mut s = [0f64; 4];
    for (j, (&x, &c)) in row.iter().zip(centre).enumerate() {
        let d = x as f64 - c;
        s[j % 4] = d * d + s[j % 4];
    }
    (s[0] + s[1]) + (s[2] + s[3])
}

/// Nearest centre, lowest index on ties; distances; inertia summed in row
/// order within chunks of `chunk_rows` and over chunks in order.
fn reference(centres: &Array2<f64>, x: &Array2<f32>, chunk_rows: usize) -> Assignment {
    let centre = |c: usize| centres.row(c).to_vec();
    let mut labels = Vec::new();
    let mut squared = Vec::new();
    for row in x.rows() {
        let row = row.to_vec();
        let mut best = (0, distance32(&row, &centre(0)));
        for c in 1..centres.nrows() {
            let d = distance32(&row, &centre(c));
            if d < best.1 {
                best = (c, d);
            }
        }
        labels.push(best.0 as u32);
        squared.push(distance64(&row, &centre(best.0)));
    }
    let inertia = squared
        .chunks(chunk_rows)
        .map(|chunk| chunk.iter().fold(0.0, |a, b| a + b))
        .fold(0.0, |a, b| a + b);
    let distances = squared.iter().map(|s| s.sqrt()).collect();
    Assignment {
        labels,
        distances,
        inertia,
    }
}

/// Small integers half the time: rows and centres on a grid are often
/// exactly as far from two centres, which is what the tie rule is about.
fn value<R: Rng>(r: &mut R) -> f64 {
    if r.random_bool(0.5) {
        r.random_range(-2..=2) as f64
    } else {
        r.random::<f64>() * 4.0 - 2.0
    }
}

/// Fails on the first row (or the inertia) where `got` and `want` differ
/// in any bit.
fn assert_same(got: &Assignment, want: &Assignment, what: &str) {
    assert_eq!(got.labels.len(), want.labels.len(), "{what}: rows");
    let rows = got.labels.iter().zip(&got.distances);
    for (i, (g, w)) in rows
        .zip(want.labels.iter().zip(&want.distances))
        .enumerate()
    {
        assert!(
            g.0 == w.0 && g.1.to_bits() == w.1.to_bits(),
            "{what}, row {i}: centre {} at {}, want centre {} at {}",
            g.0,
            g.1,
            w.0,
            w.1
        );
    }
    assert_eq!(
        got.inertia.to_bits(),
        want.inertia.to_bits(),
        "{what}: inertia {} vs {}",
        got.inertia,
        want.inertia
    );
}

#[test]
fn assignment_is_the_same_with_one_and_two_threads_and_equals_the_scalar_reference() {
    let mut r = ChaCha8Rng::seed_from_u64(5);
    let chunk_rows = 64;
    // Many chunks with a part-filled last one, and (41 rows) the single
    // chunk a served request takes without the thread pool.
    let cases = [
        (8, 16, 2373),
        (8, 13, 2373),
        (11, 16, 2373),
        (3, 5, 2373),
        (8, 16, 41),
    ];
    for (k, dim, rows) in cases {
        let x = Array2::from_shape_fn((rows, dim), |_| value(&mut r) as f32);
        let mut centres = Array2::from_shape_fn((k, dim), |_| value(&mut r));
        // A repeated centre: every row is as near to both copies.
        let copy = centres.row(1).to_owned();
        centres.row_mut(k - 1).assign(&copy);
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| assign_to(&centres, x.view(), chunk_rows).unwrap())
        };
        let one = run(1);
        let two = run(2);
        assert_same(&two, &one, &format!("k {k}, dim {dim}, 2 threads vs 1"));
        let want = reference(&centres, &x, chunk_rows);
        assert_same(&one, &want, &format!("k {k}, dim {dim}, vs the reference"));
        // The data must exercise the tie rule for the comparison to mean
        // anything: rows nearest to the repeated centre, and others.
        let on_original = one.labels.iter().filter(|&&l| l == 1).count();
        assert!(
            on_original > rows / (4 * k),
            "k {k}, dim {dim}: {on_original} rows on the repeated centre"
        );
        assert!(one.labels.iter().all(|&l| l != (k - 1) as u32));
    }
}
