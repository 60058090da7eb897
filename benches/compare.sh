#!/usr/bin/env bash
# Side-by-side: the demo feature views in seglake and in DuckDB, on the same
# generated lake, in one run. Prints each engine's wall time and peak memory
# and the ratios. Usage: benches/compare.sh [CUSTOMERS] [JOB] (default
# 1,000,000 customers, about 50M transactions and 30M events, and the demo
# job; the lake is kept in $SEGLAKE_BENCH_DIR, default
# ~/.cache/seglake/bench-<customers>). With JOB, that job's views instead
# (tests/fixtures/natural_features/job.toml: one view written the natural
# way, with a COUNT(DISTINCT ...) beside other aggregates).
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1000000}"
job="$(realpath "${2:-jobs/demo.toml}")"
target_dir="${CARGO_TARGET_DIR:-target}"
lake="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-$customers}"
venv="${SEGLAKE_BENCH_VENV:-$HOME/.cache/seglake/bench-venv}"

cargo build --release --locked --workspace --all-targets
if [ ! -d "$lake/raw/transactions" ]; then
    echo "== generating $customers customers into $lake/raw"
    /usr/bin/time -f "generate: %e s wall, %M KiB peak" \
        "$target_dir/release/seglake" generate --out "$lake/raw" --customers "$customers" --seed 42
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r benches/requirements.txt

echo "== transactions: $(du -sh "$lake/raw/transactions" | cut -f1) of Parquet"
results=$(mktemp)
for round in 1 2; do
    cargo bench --quiet --locked --workspace --bench feature_views -- "$lake" "$job" | tee -a "$results"
    "$venv/bin/python" benches/duckdb_feature_views.py "$lake" "$job" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
best = {}
for r in rows:
    key = "seglake" if r["engine"] == "seglake" else "duckdb"
    if key not in best or r["seconds"] < best[key]["seconds"]:
        best[key] = r
s, d = best["seglake"], best["duckdb"]
assert s["rows"] == d["rows"], f"row counts differ: {s['rows']} vs {d['rows']}"
print(f"\nbest of 2, {s['rows']:,} customers, {s['threads']} threads")
print(f"{'engine':<16}{'wall s':>10}{'peak MiB':>12}")
for r in (s, d):
    print(f"{r['engine']:<16}{r['seconds']:>10.2f}{r['peak_rss_mib']:>12.0f}")
print(f"seglake / duckdb: time {s['seconds']/d['seconds']:.2f}x, peak memory {s['peak_rss_mib']/d['peak_rss_mib']:.2f}x")
PY
