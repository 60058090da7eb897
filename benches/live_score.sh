#!/usr/bin/env bash
# Live scores (`seglake serve --follow`), measured against the batch way to
# the same score: a day of transactions arrives on a Kafka topic, and
#  1. the service following the topic scores customers of that day by id
#     (sequential requests, latency per request: the state lookup, the
#     customer's rows in the lake on the touched days, the job's SQL and
#     the models);
#  2. the batch way: `seglake ingest` of the day, then the incremental run
#     at the next as_of (timed together), after which the same customers'
#     published scores are there.
# Time only: that the live score equals the next run's is the tests' part
# (tests/e2e/incremental.rs), with the same run's models on both sides.
# Usage: benches/live_score.sh [CUSTOMERS] (default 20,000: about a million
# transactions). The bank is kept in $SEGLAKE_BENCH_DIR (default
# ~/.cache/seglake/bench-live-<customers>); the broker is started on
# 127.0.0.1 by infra/kafka/broker.sh and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-20000}"
requests="${LIVE_REQUESTS:-200}"
target_dir="${CARGO_TARGET_DIR:-target}"
bank="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-live-$customers}"
venv="${SEGLAKE_VENV:-$HOME/.cache/seglake/venv}"
seglake="$target_dir/release/seglake"

cargo build --release --locked --workspace --all-features --bin seglake
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install --quiet -r tests/python/requirements.txt; }
if [ ! -f "$bank/arrivals/day-2025-12-29.parquet" ]; then
    echo "== generating $customers customers into $bank/raw (seed 4321), split into daily arrivals"
    "$seglake" generate --out "$bank/raw" --customers "$customers" --seed 4321
    "$venv/bin/python" tests/python/incremental_days.py split "$bank/raw/transactions" "$bank/arrivals"
fi

work="$(mktemp -d)"
job="jobs/.bench-live-$$.toml"
serve_pid=""
cleanup() {
    [ -n "$serve_pid" ] && pkill -P "$serve_pid" 2>/dev/null || true
    bash infra/kafka/broker.sh stop "$work/broker" >/dev/null 2>&1 || true
    rm -rf "$work" "$job"
}
trap cleanup EXIT
mkdir -p "$work/broker" "$work/lake/raw"
ln -s "$bank/raw/customers" "$work/lake/raw/customers"
port="$(bash infra/kafka/broker.sh start "$work/broker" | sed -E 's/port=([0-9]+).*/\1/')"
topic="kafka://127.0.0.1:$port/transactions"
# The demo's incremental job over the table the topic is ingested into.
sed -e 's|uri = "${lake}/raw/transactions"|uri = "${lake}/stream/transactions"|' \
    -e '/stream\/transactions"/{n;s|format = "parquet"|format = "delta"|}' \
    jobs/demo_incremental.toml > "$job"
grep -q 'format = "delta"' "$job"

ingest() {
    "$seglake" ingest --from "$topic" --to "$work/lake/stream/transactions" \
        --schema-like "$bank/arrivals/base.parquet" --exit-at-end > /dev/null
}
echo "== the base streamed, ingested and run (as_of 2025-12-29)"
"$seglake" produce --from "$bank/arrivals/base.parquet" --to "$topic" --key customer_id --partitions 2
ingest
"$seglake" run "$job" --var "lake=$work/lake" --as-of 2025-12-29T00:00:00Z > /dev/null 2> "$work/run1.err" \
    || { cat "$work/run1.err"; exit 1; }

export SEGLAKE_API_TOKEN="bench-token-0123456789abcdef"
/usr/bin/time -f "%M" -o "$work/serve.rss" "$seglake" serve --lake "$work/lake/incremental" \
    --bind 127.0.0.1:0 --wal-dir "$work/wal" --follow "$topic" 2> "$work/serve.err" &
serve_pid=$!
until grep -q "listening on http://" "$work/serve.err"; do
    kill -0 "$serve_pid" 2>/dev/null || { cat "$work/serve.err"; exit 1; }
    sleep 0.2
done
address="$(sed -nE 's|.*listening on http://([0-9.:]+).*|\1|p' "$work/serve.err" | head -1)"

echo "== the day streamed; $requests of its customers scored by id, one request at a time"
"$seglake" produce --from "$bank/arrivals/day-2025-12-29.parquet" --to "$topic" --key customer_id
"$venv/bin/python" - "$address" "$bank/arrivals/day-2025-12-29.parquet" "$requests" <<'PY'
import json, os, statistics, sys, time, urllib.request
import pyarrow.parquet as pq
address, day, requests = sys.argv[1], sys.argv[2], int(sys.argv[3])
token = os.environ["SEGLAKE_API_TOKEN"]
expected = pq.read_metadata(day).num_rows
def call(path, body=None):
    request = urllib.request.Request(f"http://{address}{path}", data=body,
                                     headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())
while call("/healthz")["following"]["messages"] < expected:
    time.sleep(0.2)
customers = sorted(set(pq.read_table(day, columns=["customer_id"]).column(0).to_pylist()))[:requests]
latencies = []
for customer in customers:
    body = json.dumps({"customer_id": customer, "as_of": "2025-12-30T00:00:00Z"}).encode()
    start = time.perf_counter()
    call("/v1/score", body)
    latencies.append(1000 * (time.perf_counter() - start))
latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]
print(f"live score by id: {len(latencies)} requests, p50 {pick(0.5):.1f} ms, "
      f"p95 {pick(0.95):.1f} ms, max {latencies[-1]:.1f} ms, mean {statistics.mean(latencies):.1f} ms")
PY
# SIGTERM to the service itself (GNU time, its parent, then writes its peak).
kill "$(pgrep -P "$serve_pid")"; wait "$serve_pid" 2>/dev/null || true; serve_pid=""
echo "serve peak memory: $(( $(cat "$work/serve.rss") / 1024 )) MiB"

echo "== the batch way to the same scores: ingest the day, run at as_of 2025-12-30"
start=$(date +%s.%N)
ingest
"$seglake" run "$job" --var "lake=$work/lake" --as-of 2025-12-30T00:00:00Z > /dev/null 2> "$work/run2.err" \
    || { cat "$work/run2.err"; exit 1; }
end=$(date +%s.%N)
python3 -c "print(f'ingest + incremental run: {$end - $start:.1f} s')"
