#!/usr/bin/env bash
# Side-by-side gradient boosting: seglake vs LightGBM, XGBoost (hist) and
# scikit-learn's HistGradientBoostingClassifier, on the same 1M x 16
# training rows (plus 200k held out), 100 trees, 31 leaves, 255 bins,
# 2 threads, in one run. Prints fit time, peak memory, held-out AUC and the
# ratios against LightGBM.
# Usage: benches/gbdt_compare.sh [TRAIN_ROWS]   (default: 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"
venv="${SEGLAKE_BENCH_VENV:-$HOME/.cache/seglake/bench-venv}"
data="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake}/gbdt"
train=${1:-1000000}
rows=$((train + 200000))
cols=16

cargo build --release --locked --workspace --all-targets
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt
bench_bin=$(ls -t "$target_dir"/release/deps/gbdt-* | grep -v '\.d$' | head -1)
mkdir -p "$data"
prefix="$data/classification-${rows}x${cols}"
[ -f "$prefix.y.u8" ] || "$venv/bin/python" benches/make_classification_f64.py "$prefix" "$rows" "$cols"
results=$(mktemp)
echo "== $train training rows x $cols, 200000 held out, 2 threads"
RAYON_NUM_THREADS=2 "$bench_bin" "$prefix" "$rows" "$cols" "$train" | tee -a "$results"
for tool in lightgbm xgboost sklearn; do
    OMP_NUM_THREADS=2 "$venv/bin/python" benches/gbdt_peers.py "$tool" "$prefix" "$rows" "$cols" "$train" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, sys
by = {r["tool"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.startswith("{"))}
s, lgb = by["seglake"], by["lightgbm"]
print(f"\n  {'':<10} {'fit s':>8} {'peak MiB':>9} {'AUC':>8}")
for name, r in by.items():
    print(f"  {name:<10} {r['fit_s']:>8.2f} {r['peak_mib']:>9.0f} {r['auc']:>8.4f}")
for name, r in by.items():
    if name != "seglake":
        print(f"  vs {name:<8} {r['fit_s'] / s['fit_s']:.2f}x faster, {s['peak_mib'] / r['peak_mib']:.2f}x the memory, "
              f"AUC {s['auc'] - r['auc']:+.4f}")
fast, reference = s['shap_rows'] / s['shap_s'], s['algorithm2_rows'] / s['algorithm2_s']
peer = lgb['shap_rows'] / lgb['shap_s']
print(f"  TreeSHAP ({s['trees']} trees, {s['threads']} threads): seglake {fast:,.0f} rows/s "
      f"(every held-out row, top 3 reasons kept), {fast / reference:.1f}x Algorithm 2 "
      f"({reference:,.0f} rows/s), {fast / peer:.1f}x LightGBM pred_contrib ({peer:,.0f} rows/s)")
PY
rm -f "$results"
