//! seglake's k-means on a float32 matrix file, for the side-by-side
//! comparison with scikit-learn (benches/kmeans_compare.sh runs both).
//!
//! usage: kmeans MATRIX.f32 ROWS COLS K
//! prints one JSON line: fit wall time (the best of `SEGLAKE_BENCH_FITS`
//! fits, default 5, and the first), inertia, peak memory, the time of one
//! full assignment pass and the memory-bandwidth bound of that pass.
//!
//! The bound is measured the way STREAM measures bandwidth, in the same
//! run: a read kernel with many independent accumulators (so it waits on
//! memory, not on a chain of dependent adds) on all rayon threads, best of
//! [`REPS`]. It reads the matrix itself, so page size, mapping and NUMA
//! placement are those of the pass. (That matters: numpy asks the kernel
//! for transparent huge pages for large arrays, and on this project's VM
//! reads them about twice as fast as ordinary 4 KiB pages, which is what
//! Rust's allocator, and so the pass, gets.) The same kernel over a slice
//! that fits in cache is reported next to it (`in_cache_gib_s`): when that
//! is several times faster, the kernel really is limited by memory.
//!
//! What the bound counts (`bound_bytes`): the bytes a pass must move, as
//! STREAM counts them, i.e. as the program sees them: the matrix read once
//! (rows x cols x 4) plus the outputs written once (a u32 label and an f64
//! distance per row, 12 bytes), over the read bandwidth. It leaves out the
//! cache-line reads a CPU does before writing a line and the page faults
//! on first touch of the freshly allocated outputs, both of which the pass
//! pays: so the bound is optimistic (on this project's VM the faults alone
//! take about a third of the bound at 5M rows). The pass and the reads are
//! timed alternately, so all see the same machine load.

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
    // The same number of fits as the scikit-learn script makes: a single
    // fit of under 0.1 s mostly measures the machine's noise.
    let fits = env("SEGLAKE_BENCH_FITS").unwrap_or(5).max(1);
    let (mut fit_s, mut first_fit_s) = (f64::INFINITY, None);
    let mut model = None;
    for _ in 0..fits {
        let start = Instant::now();
        let fitted = params.fit(x.view()).unwrap();
        let took = start.elapsed().as_secs_f64();
        fit_s = fit_s.min(took);
        first_fit_s.get_or_insert(took);
        // Every fit gives the same model (the fit is deterministic).
        model = Some(fitted);
    }
    let (model, first_fit_s) = (model.expect("fits >= 1"), first_fit_s.expect("fits >= 1"));

    // One full assignment pass (nearest centre and distance of every row),
    // then the two reads, REPS times over; the best time of each.
    let flat = x.as_slice().unwrap();
    let (mut pass_s, mut read_s, mut cache_s) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..REPS {
        let t = Instant::now();
        let a = assign_to(&model.centres, x.view(), 8192).unwrap();
        pass_s = pass_s.min(t.elapsed().as_secs_f64());
        drop(std::hint::black_box(a));
        read_s = read_s.min(time_read(flat));
        cache_s = cache_s.min(time_read_in_cache(flat));
    }
    let matrix_bytes = (rows * cols * 4) as f64;
    let output_bytes = (rows * (4 + 8)) as f64;
    let bound_bytes = matrix_bytes + output_bytes;
    let gib = (1u64 << 30) as f64;
    let read_gib_s = matrix_bytes / read_s / gib;
    let bound_s = bound_bytes / (read_gib_s * gib);
    println!(
        "{{\"tool\": \"seglake\", \"rows\": {rows}, \"fit_s\": {fit_s:.4}, \"first_fit_s\": {first_fit_s:.4}, \"fits\": {fits}, \"inertia\": {:.6}, \"peak_mib\": {:.1}, \
         \"epochs\": {}, \"lloyd_passes\": {}, \"assign_pass_s\": {pass_s:.4}, \"bandwidth_gib_s\": {read_gib_s:.2}, \
         \"in_cache_gib_s\": {:.2}, \"bound_bytes\": {bound_bytes:.0}, \
         \"bound_counts\": \"matrix read once + u32 label and f64 distance per row written once, at the read bandwidth\", \
         \"bandwidth_bound_s\": {bound_s:.4}, \"pass_over_bound\": {:.2}, \"threads\": {}}}",
        model.inertia,
        peak_rss_kib() as f64 / 1024.0,
        model.epochs,
        model.lloyd_passes,
        matrix_bytes / cache_s / gib,
        pass_s / bound_s,
        rayon::current_num_threads()
    );
}

/// Repetitions of the pass and of each read; the best of each is kept
/// (STREAM's convention: the best time is the one least disturbed).
const REPS: usize = 10;

/// Floats per thread in the cache-resident read (128 KiB: in the L2 of
/// any recent core).
const CACHE_SLICE_FLOATS: usize = 1 << 15;

/// Floats per parallel task of the read: large enough that scheduling is
/// noise, small enough that both threads stay busy to the end.
const READ_TASK_FLOATS: usize = 1 << 16;

/// Seconds to read `data` once on all threads.
fn time_read(data: &[f32]) -> f64 {
    let t = Instant::now();
    let s: f32 = data.par_chunks(READ_TASK_FLOATS).map(read_sum).sum();
    std::hint::black_box(s);
    t.elapsed().as_secs_f64()
}

/// Seconds for each thread to read its own cache-sized slice of `data`
/// over and over, as many bytes in all as `data` has.
fn time_read_in_cache(data: &[f32]) -> f64 {
    let threads = rayon::current_num_threads();
    let slice = CACHE_SLICE_FLOATS.min(data.len() / threads);
    let rounds = data.len() / (slice * threads);
    let t = Instant::now();
    let s: f32 = (0..threads)
        .into_par_iter()
        .map(|i| {
            let hot = &data[i * slice..(i + 1) * slice];
            (0..rounds)
                .map(|_| read_sum(std::hint::black_box(hot)))
                .sum::<f32>()
        })
        .sum();
    std::hint::black_box(s);
    t.elapsed().as_secs_f64() * data.len() as f64 / (slice * threads * rounds) as f64
}

/// STREAM-style read kernel: 32 independent f32 running sums, so the adds
/// of consecutive floats do not wait on one another and the compiler keeps
/// them in vector registers; the loop then issues loads as fast as memory
/// delivers them. (One running sum, `iter().sum()`, is a chain of dependent
/// adds: it measures add latency, well under this machine's bandwidth.)
/// Built for AVX2 where the CPU has it: its 32-byte loads read 10-20% more
/// per second from memory than the 16-byte loads of the x86-64 baseline
/// (measured on this project's machine).
fn read_sum(block: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { read_sum_avx2(block) };
    }
    read_sum_lanes(block)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn read_sum_avx2(block: &[f32]) -> f32 {
    read_sum_lanes(block)
}

#[inline(always)]
fn read_sum_lanes(block: &[f32]) -> f32 {
    const LANES: usize = 32;
    let mut acc = [0f32; LANES];
    let mut groups = block.chunks_exact(LANES);
    for group in &mut groups {
        for (a, &v) in acc.iter_mut().zip(group) {
            *a += v;
        }
    }
    // The barrier keeps the final reduction from shaping the loop: without
    // it the vectoriser packs lanes across registers and the loop becomes
    // scalar loads and shuffles (seen in the generated code).
    let acc = std::hint::black_box(acc);
    acc.iter().sum::<f32>() + groups.remainder().iter().sum::<f32>()
}
