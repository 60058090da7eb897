#!/usr/bin/env bash
# Side-by-side k-means: seglake vs scikit-learn's KMeans (lloyd) and
# MiniBatchKMeans on the same float32 blobs, 1M x 16 and 5M x 16, k = 8, in
# one run. Prints wall time, peak memory and inertia of each, the ratios,
# and seglake's assignment pass against the memory-bandwidth bound.
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

cargo build --release --locked --workspace --all-targets
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
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
for n in sorted({r["rows"] for r in rows}):
    by = {r["tool"]: r for r in rows if r["rows"] == n}
    s = by["seglake"]
    print(f"\n{n:,} x 16, k = 8")
    print(f"  {'':<18} {'fit s':>8} {'peak MiB':>9} {'inertia':>16}")
    for name, r in by.items():
        print(f"  {name:<18} {r['fit_s']:>8.2f} {r['peak_mib']:>9.0f} {r['inertia']:>16.1f}")
    for peer in ("sklearn-lloyd", "sklearn-minibatch"):
        p = by[peer]
        print(f"  vs {peer:<15} {p['fit_s'] / s['fit_s']:.2f}x faster, {s['peak_mib'] / p['peak_mib']:.2f}x the memory, "
              f"inertia {100 * (s['inertia'] / p['inertia'] - 1):+.3f}%")
    print(f"  assignment pass {s['assign_pass_s'] * 1000:.1f} ms; bandwidth bound {s['bandwidth_bound_s'] * 1000:.1f} ms "
          f"({s['bandwidth_gib_s']:.1f} GiB/s): {s['assign_pass_s'] / s['bandwidth_bound_s']:.2f}x the bound")
PY
rm -f "$results"
