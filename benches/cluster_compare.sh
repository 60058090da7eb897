#!/usr/bin/env bash
# The demo job's feature views on the local engine and on a local Ballista
# cluster (one scheduler, two executors, on this machine), side by side on
# the same lake in the same run. On one machine this measures the cost of
# distribution (planning, task dispatch, shuffle through Arrow Flight), not
# a speed-up; the single-partition run gives the per-partition throughput
# the estimate for N executors is made from.
#
#   benches/cluster_compare.sh [CUSTOMERS]   default 1000000 (~50M transactions)
#
# The lake is generated once into $SEGLAKE_BENCH_LAKE (default
# $HOME/.cache/seglake/bench-lake-CUSTOMERS) and reused.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-1000000}"
lake="${SEGLAKE_BENCH_LAKE:-$HOME/.cache/seglake/bench-lake-$customers}"
target="${CARGO_TARGET_DIR:-target}"
results="benches/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p benches/results

# --workspace: the features every other build of the workspace uses (a
# build of one package alone would rebuild DataFusion with other features).
cargo build --release --locked --workspace --benches
bin="$target/release/seglake"
if [ ! -d "$lake/raw" ]; then
    "$bin" generate --out "$lake/raw" --customers "$customers" --seed 42
fi
bench() { cargo bench --quiet --locked --workspace --bench feature_views -- "$lake" "$@"; }

echo "== local engine, 1 partition" >&2
bench --partitions 1 | tee -a "$results"
echo "== local engine, all cores" >&2
bench | tee -a "$results"

cluster_dir="$(mktemp -d)"
trap 'SEGLAKE_BIN="$bin" infra/cluster/local.sh stop "$cluster_dir"' EXIT
SEGLAKE_BIN="$bin" SEGLAKE_SCHEDULER_PORT=42050 infra/cluster/local.sh start "$cluster_dir" >&2
echo "== Ballista, 2 executors" >&2
bench --engine ballista://127.0.0.1:42050 | tee -a "$results"

python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
one, local, cluster = rows[-3], rows[-2], rows[-1]
print(f"customers: {local['rows']}")
print(f"local, 1 partition:     {one['seconds']:8.1f} s")
print(f"local, all cores:       {local['seconds']:8.1f} s")
print(f"Ballista, 2 executors:  {cluster['seconds']:8.1f} s  ({cluster['seconds'] / local['seconds']:.2f}x the local engine)")
# The estimate: one partition's throughput is the work per core; the
# cluster's extra time over the local engine on the same 2 cores is the
# cost of distribution, taken as fixed here: an upper bound, since most of
# it is per row and spreads over executors too (runs at two lake sizes
# separate the two parts; see the README).
per_core = local['rows'] / one['seconds']
overhead = max(cluster['seconds'] - local['seconds'], 0.0)
print(f"per-partition throughput: {per_core:,.0f} customers/s; distribution overhead {overhead:.1f} s")
for n in (2, 4, 8, 16):
    print(f"  upper estimate, {n:2d} executors x 8 cores: {overhead + one['seconds'] / (8 * n):7.1f} s")
PY
