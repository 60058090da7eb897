#!/usr/bin/env bash
# The whole job, stage by stage, against a Python peer: benches/job/job.toml
# (one natural feature view with deduplication, k-means segments with k
# chosen by silhouette over 4..10, a risk model from case outcomes with
# TreeSHAP reasons, publishing) run by `seglake run`, and the same work in
# one Python process (benches/job_peers.py: DuckDB on the same SQL, numpy,
# scikit-learn, LightGBM). Prints wall time and peak memory per stage for
# both, and writes the JSON lines to benches/results/job-<customers>-<date>.jsonl.
#
# seglake's stages are delimited by its progress lines (benches/job_stages.py
# reads them from `RUST_LOG=seglake_jobs=info --log-format json` as they
# come, and samples the process's VmRSS every 20 ms).
#
# Usage: benches/job_compare.sh [CUSTOMERS] (default 200,000: about 10M
# transactions; the bank is generated with seed 2027, not the demo's 42, and
# kept in $SEGLAKE_BENCH_DIR, default ~/.cache/seglake/bench-job-<customers>).
# The peer's k-means is MiniBatchKMeans(batch_size=4096, n_init=1), the faster
# configuration here (the k = 4..10 sweep on 200,000 customers: 2.0-2.2 s,
# against 2.6 s for KMeans(algorithm="lloyd", n_init=1), 2026-11-30);
# SEGLAKE_BENCH_KMEANS=lloyd runs the latter.
# SEGLAKE_BENCH_NO_BUILD=1 uses the seglake binary already built.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-200000}"
seed=2027
target_dir="${CARGO_TARGET_DIR:-target}"
lake="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-job-$customers}"
venv="${SEGLAKE_BENCH_VENV:-$HOME/.cache/seglake/bench-venv}"
kmeans="${SEGLAKE_BENCH_KMEANS:-minibatch}"
seglake="$target_dir/release/seglake"
job=benches/job/job.toml

if [ -z "${SEGLAKE_BENCH_NO_BUILD:-}" ]; then
    cargo build --release --locked --workspace --bins
fi
if [ ! -d "$lake/raw/transactions" ]; then
    echo "== generating $customers customers (seed $seed) into $lake/raw"
    /usr/bin/time -f "generate: %e s wall, %M KiB peak" \
        "$seglake" generate --out "$lake/raw" --customers "$customers" --seed "$seed"
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
# Only the peer's packages (requirements.txt pins them with the others').
"$venv/bin/pip" install --quiet --disable-pip-version-check \
    $(grep -E '^(duckdb|numpy|scikit-learn|lightgbm)==' benches/requirements.txt)

# Each run publishes into a fresh folder with the bank linked in, so every
# run is a first run (no earlier versions to compare with or to append to).
scratch=$(mktemp -d "${TMPDIR:-/tmp}/seglake-job-XXXXXX")
trap 'rm -rf "$scratch"' EXIT
ln -s "$(cd "$lake/raw" && pwd)" "$scratch/raw"

"$seglake" validate "$job" --var "lake=$scratch" >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $job validates; transactions: $(du -shL "$lake/raw/transactions" | cut -f1) of Parquet;" \
    "load average $load_before, $(nproc) cores"

mkdir -p benches/results
results="benches/results/job-$customers-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
echo "== seglake run"
"$venv/bin/python" benches/job_stages.py seglake "$seglake" "$job" "$scratch" "$customers" >>"$results"
echo "== peer"
"$venv/bin/python" benches/job_peers.py "$lake" "$customers" --kmeans "$kmeans" >>"$results"
printf '{"kind":"machine","load_before":"%s","load_after":"%s","cores":%s,"seglake":"%s","commit":"%s"}\n' \
    "$load_before" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$("$seglake" --version)" \
    "$(git describe --always --dirty 2>/dev/null || echo unknown)" >>"$results"
"$venv/bin/python" benches/job_stages.py report "$results"
echo "== steps and results in $results"
