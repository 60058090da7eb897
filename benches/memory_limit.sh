#!/usr/bin/env bash
# The memory limit, measured: the natural-SQL feature job
# (tests/fixtures/natural_features: one GROUP BY with COUNT(DISTINCT ...))
# and the demo job, each at the default limit and at tight ones, with the
# peak resident memory the kernel counted (/usr/bin/time) and how the run
# ended. A run must stay under limit + margin or stop with exit code 2 and
# a message naming the stage.
#
# Usage: benches/memory_limit.sh [CUSTOMERS] (default 200,000: about 20M
# transactions; the lake is kept in $SEGLAKE_BENCH_DIR, default
# ~/.cache/seglake/bench-<customers>). Results: benches/results/memory-*.jsonl
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-200000}"
target_dir="${CARGO_TARGET_DIR:-target}"
lake="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-$customers}"
seglake="$target_dir/release/seglake"

cargo build --release --locked --workspace --bin seglake
if [ ! -d "$lake/raw/transactions" ]; then
    echo "== generating $customers customers into $lake/raw"
    "$seglake" generate --out "$lake/raw" --customers "$customers" --seed 42
fi
echo "== transactions: $(du -sh "$lake/raw/transactions" | cut -f1) of Parquet"

results="benches/results/memory-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p benches/results
printf '%-18s %-8s %6s %10s %8s  %s\n' job limit exit "peak MiB" "wall s" "stopped in"
for job in tests/fixtures/natural_features/job.toml jobs/demo.toml; do
    for limit in default 2G 512M; do
        flags=()
        [ "$limit" = default ] || flags=(--memory-limit "$limit")
        scratch=$(mktemp -d)
        ln -s "$lake/raw" "$scratch/raw"
        log=$(mktemp)
        set +e
        /usr/bin/time -f "%e %M" -o "$log.time" \
            "$seglake" run "$job" --var "lake=$scratch" "${flags[@]}" >/dev/null 2>"$log"
        code=$?
        set -e
        read -r wall peak_kib < <(tail -1 "$log.time")
        stopped=$(grep -o "memory limit: [^,]*, [^ ]* [^ ]*" "$log" | head -1 || true)
        name=$(basename "$(dirname "$job")")
        [ "$name" = jobs ] && name=demo
        printf '%-18s %-8s %6s %10s %8s  %s\n' "$name" "$limit" "$code" \
            "$((peak_kib / 1024))" "$wall" "$stopped"
        printf '{"job":"%s","limit":"%s","exit":%s,"peak_mib":%s,"wall_s":%s,"stopped":"%s","customers":%s}\n' \
            "$name" "$limit" "$code" "$((peak_kib / 1024))" "$wall" "${stopped//\"/}" "$customers" >>"$results"
        rm -rf "$scratch" "$log" "$log.time"
    done
done
echo "== results in $results"
