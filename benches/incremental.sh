#!/usr/bin/env bash
# Incremental runs, measured: jobs/demo_incremental.toml over a generated
# bank whose last day (2025-12-31) arrives as a file of its own.
#  1. the lake holds every transaction before 2025-12-31; a run at
#     as_of 2025-12-31 computes the state in full (timed, for reference);
#  2. the last day's file arrives; a run at as_of 2026-01-01 brings the
#     state up to date incrementally (timed: the increment);
#  3. the same run over a lake of its own with no state (timed: the full
#     run), and the two feature tables compared row for row by Python
#     `deltalake` (they must be the same).
# Wall time and peak memory (GNU time's maximum RSS) of each run, and the
# increment as a share of the full run.
# Usage: benches/incremental.sh [CUSTOMERS] (default 1,000,000: about 50M
# transactions, the demo's 50M-transaction lake). The bank is kept in
# $SEGLAKE_BENCH_DIR (default ~/.cache/seglake/bench-incremental-<customers>).
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1000000}"
target_dir="${CARGO_TARGET_DIR:-target}"
bank="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-incremental-$customers}"
venv="${SEGLAKE_VENV:-$HOME/.cache/seglake/venv}"
seglake="$target_dir/release/seglake"

cargo build --release --locked --workspace --all-features --bin seglake
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install --quiet -r tests/python/requirements.txt; }
if [ ! -d "$bank/raw/transactions" ]; then
    echo "== generating $customers customers into $bank/raw (seed 1234)"
    "$seglake" generate --out "$bank/raw" --customers "$customers" --seed 1234
fi
if [ ! -f "$bank/arrivals/last_day.parquet" ]; then
    echo "== splitting off the last day's transactions"
    "$venv/bin/python" - "$bank" <<'PY'
import datetime, os, sys
import pyarrow as pa, pyarrow.compute as pc, pyarrow.dataset as ds, pyarrow.parquet as pq
bank = sys.argv[1]
data = ds.dataset(os.path.join(bank, "raw/transactions"), format="parquet")
cut = pa.scalar(datetime.datetime(2025, 12, 31, tzinfo=datetime.timezone.utc),
                type=data.schema.field("ts").type)
os.makedirs(os.path.join(bank, "arrivals/base"), exist_ok=True)
# The base as the generator's parts, without their last-day rows.
for i, fragment in enumerate(data.get_fragments()):
    part = fragment.to_table()
    pq.write_table(part.filter(pc.less(part["ts"], cut)),
                   os.path.join(bank, f"arrivals/base/part-{i:05}.parquet"))
last = data.to_table(filter=ds.field("ts") >= cut)
pq.write_table(last, os.path.join(bank, "arrivals/last_day.parquet"))
print(f"last day: {last.num_rows} transactions")
PY
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/incremental/raw/transactions" "$work/full/raw/transactions"
ln -s "$bank/raw/customers" "$work/incremental/raw/customers"
ln -s "$bank/raw/customers" "$work/full/raw/customers"
for f in "$bank"/arrivals/base/*.parquet; do
    ln -s "$f" "$work/incremental/raw/transactions/"
    ln -s "$f" "$work/full/raw/transactions/"
done
ln -s "$bank/arrivals/last_day.parquet" "$work/full/raw/transactions/last_day.parquet"

timed() {  # NAME LAKE AS_OF: runs the job, prints seconds and peak MiB
    local name="$1" lake="$2" as_of="$3" start end
    start=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$work/$name.rss" \
        "$seglake" run jobs/demo_incremental.toml --var "lake=$lake" --as-of "$as_of" \
        > "$work/$name.out" 2> "$work/$name.err" || { cat "$work/$name.err"; exit 1; }
    end=$(date +%s.%N)
    python3 -c "print(f'{$end - $start:.1f}')" > "$work/$name.secs"
    echo "$name: $(cat "$work/$name.secs") s, peak $(( $(cat "$work/$name.rss") / 1024 )) MiB"
}

echo "== 1. the state in full, before the last day arrives (as_of 2025-12-31)"
timed initial "$work/incremental" 2025-12-31T00:00:00Z
echo "== 2. the last day arrives: the increment (as_of 2026-01-01)"
ln -s "$bank/arrivals/last_day.parquet" "$work/incremental/raw/transactions/last_day.parquet"
timed increment "$work/incremental" 2026-01-01T00:00:00Z
echo "== 3. the full run at the same as_of, in a lake of its own"
timed full "$work/full" 2026-01-01T00:00:00Z

same=$("$venv/bin/python" tests/python/incremental_days.py same \
    "$work/incremental/incremental/customer_features" "$work/full/incremental/customer_features")
states=$("$venv/bin/python" -c "
import json, sys
from deltalake import DeltaTable
runs = DeltaTable(sys.argv[1]).to_pyarrow_table().to_pylist()
latest = max(runs, key=lambda r: r['finished_at'])
print(json.dumps([{k: s[k] for k in ('view', 'mode', 'new_files', 'days_computed', 'days_kept')} for s in latest['states']]))
" "$work/incremental/incremental/runs")
echo "== result ($customers customers)"
echo "increment: $states"
echo "feature tables equal: $same"
python3 -c "print(f'increment / full: {$(cat "$work/increment.secs")} s / {$(cat "$work/full.secs")} s = {100 * $(cat "$work/increment.secs") / $(cat "$work/full.secs"):.1f}% (target: under 5%)')"
