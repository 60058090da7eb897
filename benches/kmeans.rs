//! seglake's k-means on a float32 matrix file, for the side-by-side
//! comparison with scikit-learn (benches/kmeans_compare.sh runs both).
//!
//! usage: kmeans MATRIX.f32 ROWS COLS K
//! prints one JSON line: fit wall time, inertia, peak memory, the time of
//! one full assignment pass and the machine's measured read bandwidth.

use std::time::Instant;

use ndarray::Array2;
use rayon::prelude::*;
use seglake_ml::{KMeansParams, assign_to};

#[path = "peak_rss.rs"]
mod peak_rss;
use peak_rss::peak_rss_kib;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let [path, rows, cols, k] = args.as_slice() else {
        eprintln!("usage: kmeans MATRIX.f32 ROWS COLS K");
        std::process::exit(2);
    };
    let (rows, cols, k): (usize, usize, usize) = (
        rows.parse().unwrap(),
        cols.parse().unwrap(),
        k.parse().unwrap(),
    );
    // Read straight into the f32 buffer: no second copy of the matrix in
    // the peak memory.
    let mut file = std::fs::File::open(path).unwrap();
    assert_eq!(
        file.metadata().unwrap().len() as usize,
        rows * cols * 4,
        "{path} is not {rows}x{cols} float32"
    );
    let mut data = vec![0f32; rows * cols];
    let mut buffer = vec![0u8; 1 << 20];
    let mut filled = 0;
    while filled < data.len() {
        let want = ((data.len() - filled) * 4).min(buffer.len());
        std::io::Read::read_exact(&mut file, &mut buffer[..want]).unwrap();
        for (v, b) in data[filled..]
            .iter_mut()
            .zip(buffer[..want].chunks_exact(4))
        {
            *v = f32::from_le_bytes(b.try_into().unwrap());
        }
        filled += want / 4;
    }
    let x = Array2::from_shape_vec((rows, cols), data).unwrap();

    // The defaults a job gets; SEGLAKE_BENCH_EPOCHS / _LLOYD override them
    // to explore the trade-off.
    let env = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
    };
    let mut params = KMeansParams::new(k).seed(0);
    if let Some(e) = env("SEGLAKE_BENCH_EPOCHS") {
        params = params.max_epochs(e);
    }
    if let Some(l) = env("SEGLAKE_BENCH_LLOYD") {
        params = params.lloyd_passes(l);
    }
    let params = params.check().unwrap();
    let start = Instant::now();
    let model = params.fit(x.view()).unwrap();
    let fit_s = start.elapsed().as_secs_f64();

    // One full assignment pass (nearest centre of every row), best of 5.
    let mut pass_s = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let a = assign_to(&model.centres, x.view(), 8192).unwrap();
        std::hint::black_box(&a);
        pass_s = pass_s.min(t.elapsed().as_secs_f64());
    }
    // Read bandwidth: summing the same matrix on all threads, best of 5.
    let flat = x.as_slice().unwrap();
    let mut read_s = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        let s: f32 = flat
            .par_chunks(1 << 16)
            .map(|c| c.iter().sum::<f32>())
            .sum();
        std::hint::black_box(s);
        read_s = read_s.min(t.elapsed().as_secs_f64());
    }
    let matrix_bytes = (rows * cols * 4) as f64;
    println!(
        "{{\"tool\": \"seglake\", \"rows\": {rows}, \"fit_s\": {fit_s:.4}, \"inertia\": {:.6}, \"peak_mib\": {:.1}, \
         \"epochs\": {}, \"lloyd_passes\": {}, \"assign_pass_s\": {pass_s:.4}, \"bandwidth_gib_s\": {:.2}, \
         \"bandwidth_bound_s\": {read_s:.4}, \"threads\": {}}}",
        model.inertia,
        peak_rss_kib() as f64 / 1024.0,
        model.epochs,
        model.lloyd_passes,
        matrix_bytes / read_s / (1u64 << 30) as f64,
        rayon::current_num_threads()
    );
}
