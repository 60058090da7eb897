#!/usr/bin/env bash
# Side-by-side k-means: seglake vs scikit-learn's KMeans (lloyd) and
# MiniBatchKMeans on the same float32 blobs, 1M x 16 and 5M x 16, k = 8, in
# one run. Prints wall time (the best of SEGLAKE_BENCH_FITS fits in one process,
# default 5, for every tool; and the first fit), peak memory and inertia of
# each, the ratios,
# and seglake's assignment pass against the memory-bandwidth bound (read
# bandwidth measured STREAM-style by the bench itself; numpy reading the
# same matrix on as many threads, with and without huge pages, is printed
# beside it as a peer check).
# Usage: benches/kmeans_compare.sh [ROWS...]   (default: 1000000 5000000)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
venv="${SEGLAKE_BENCH_VENV:-$HOME/.cache/seglake/bench-venv}"
data="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake}/kmeans"
cols=16
k=8
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 5000000)

# Only the bench and what it links (seglake-ml): not the workspace.
cargo build --release --locked -p seglake-ml --bench kmeans
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt
bench_bin=$(ls -t "$target_dir"/release/deps/kmeans-* | grep -v '\.d$' | head -1)
mkdir -p "$data"
results=$(mktemp)
for rows in "${sizes[@]}"; do
    matrix="$data/blobs-${rows}x${cols}.f32"
    [ -f "$matrix" ] || "$venv/bin/python" benches/make_blobs_f32.py "$matrix" "$rows" "$cols" "$k"
    echo "== $rows x $cols float32, k = $k"
    "$bench_bin" "$matrix" "$rows" "$cols" "$k" | tee -a "$results"
    "$venv/bin/python" benches/sklearn_kmeans.py "$matrix" "$rows" "$cols" "$k" lloyd | tee -a "$results"
    "$venv/bin/python" benches/sklearn_kmeans.py "$matrix" "$rows" "$cols" "$k" minibatch | tee -a "$results"
    # numpy's read bandwidth on the same matrix, with its default of
    # transparent huge pages for large arrays and without (seglake's matrix
    # has ordinary pages), each thread summing its share of the rows (numpy
    # releases the GIL in reductions), best of 10.
    for huge in 1 0; do
        NUMPY_MADVISE_HUGEPAGE=$huge "$venv/bin/python" - "$matrix" "$rows" "$cols" <<'PY' | tee -a "$results"
import json, os, sys, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
x = np.fromfile(path, dtype=np.float32).reshape(rows, cols)
threads = os.cpu_count()
parts = np.array_split(x, threads)
best = float("inf")
with ThreadPoolExecutor(threads) as pool:
    for _ in range(10):
        start = time.perf_counter()
        list(pool.map(np.sum, parts))
        best = min(best, time.perf_counter() - start)
huge = os.environ["NUMPY_MADVISE_HUGEPAGE"] == "1"
print(json.dumps({"tool": f"numpy-read-huge-{huge}", "rows": rows, "threads": threads,
                  "read_gib_s": round(x.nbytes / best / 2**30, 2)}))
PY
    done
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for n in sorted({r["rows"] for r in rows}):
    by = {r["tool"]: r for r in rows if r["rows"] == n}
    huge, small = by.pop("numpy-read-huge-True"), by.pop("numpy-read-huge-False")
    s = by["seglake"]
    print(f"\n{n:,} x 16, k = 8")
    print(f"  {'':<18} {'fit s':>8} {'first fit s':>12} {'peak MiB':>9} {'inertia':>16}")
    for name, r in by.items():
        print(f"  {name:<18} {r['fit_s']:>8.3f} {r['first_fit_s']:>12.3f} {r['peak_mib']:>9.0f} {r['inertia']:>16.1f}")
    print(f"  (fit s: the best of {s['fits']} fits in one process, for every tool)")
    for peer in ("sklearn-lloyd", "sklearn-minibatch"):
        p = by[peer]
        print(f"  vs {peer:<15} {p['fit_s'] / s['fit_s']:.2f}x faster, {s['peak_mib'] / p['peak_mib']:.2f}x the memory, "
              f"inertia {100 * (s['inertia'] / p['inertia'] - 1):+.3f}%")
    print(f"  assignment pass {s['assign_pass_s'] * 1000:.1f} ms; bandwidth bound {s['bandwidth_bound_s'] * 1000:.1f} ms "
          f"({s['bound_bytes'] / 1e6:.0f} MB at {s['bandwidth_gib_s']:.1f} GiB/s): {s['pass_over_bound']:.2f}x the bound")
    print(f"  read bandwidth: seglake's kernel {s['bandwidth_gib_s']:.1f} GiB/s ({s['in_cache_gib_s']:.0f} GiB/s in cache), "
          f"numpy on {huge['threads']} threads {huge['read_gib_s']:.1f} GiB/s with huge pages, {small['read_gib_s']:.1f} without")
PY
rm -f "$results"
