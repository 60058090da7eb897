#!/usr/bin/env bash
# Streaming ingestion, measured: a generated bank's transactions are
# produced into a topic on a local broker (infra/kafka/broker.sh), then
#  1. throughput: `seglake ingest --exit-at-end` reads the whole topic into a
#     Delta table; messages per second over the command's wall time (start,
#     connection, every commit and the last one included);
#  2. delay: with `seglake ingest` following the topic (--batch-age 100ms),
#     one new message is produced and the Delta table is read (Python
#     `deltalake`, as a notebook would) until the row is there; the time
#     from before the produce to the row being readable, 10 times.
# Usage: benches/ingest.sh [CUSTOMERS] (default 20,000: about 1M
# transactions). The lake is kept in $SEGLAKE_BENCH_DIR (default
# ~/.cache/seglake/bench-ingest-<customers>); the broker runs for the
# benchmark only.
set -euo pipefail
cd "$(dirname "$0")/.."
customers="${1:-20000}"
target_dir="${CARGO_TARGET_DIR:-target}"
lake="${SEGLAKE_BENCH_DIR:-$HOME/.cache/seglake/bench-ingest-$customers}"
venv="${SEGLAKE_VENV:-$HOME/.cache/seglake/venv}"
seglake="$target_dir/release/seglake"

cargo build --release --locked --workspace --all-features --bin seglake
[ -x "$venv/bin/python" ] || { python3 -m venv "$venv"; "$venv/bin/pip" install --quiet -r tests/python/requirements.txt; }
if [ ! -d "$lake/raw/transactions" ]; then
    echo "== generating $customers customers into $lake/raw (seed 1234)"
    "$seglake" generate --out "$lake/raw" --customers "$customers" --seed 1234
fi
broker_dir="$(mktemp -d)"
follower=""
cleanup() {
    [ -n "$follower" ] && kill -TERM "$follower" 2>/dev/null && wait "$follower" 2>/dev/null || true
    bash infra/kafka/broker.sh stop "$broker_dir"
    rm -rf "$broker_dir" "$lake/stream"
}
trap cleanup EXIT
port="$(bash infra/kafka/broker.sh start "$broker_dir" | sed -E 's/port=([0-9]+).*/\1/')"
topic="kafka://127.0.0.1:$port/transactions"
rm -rf "$lake/stream"

echo "== produce"
start=$(date +%s.%N)
"$seglake" produce --from "$lake/raw/transactions" --to "$topic" --key customer_id --partitions 3
produced=$(python3 -c "print($(date +%s.%N) - $start)")

echo "== ingest --exit-at-end"
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$broker_dir/rss" \
    "$seglake" ingest --from "$topic" --to "$lake/stream/transactions" \
    --schema-like "$lake/raw/transactions" --exit-at-end | tee "$broker_dir/summary"
ingested=$(python3 -c "print($(date +%s.%N) - $start)")
messages=$(sed -E 's/^ingested ([0-9]+) messages.*/\1/' "$broker_dir/summary")

echo "== delay: one message produced while ingest follows the topic (--batch-age 100ms)"
"$seglake" ingest --from "$topic" --to "$lake/stream/transactions" --batch-age 100ms \
    >/dev/null 2>&1 &
follower=$!
delays=$("$venv/bin/python" - "$seglake" "$topic" "$lake" <<'PY'
import json, subprocess, sys, tempfile, time, uuid
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from deltalake import DeltaTable
seglake, topic, lake = sys.argv[1:4]
table = f"{lake}/stream/transactions"
template = pq.read_table(f"{lake}/raw/transactions").slice(0, 1)
dt = DeltaTable(table)
time.sleep(3)  # the follower has started and read to the end
delays = []
for _ in range(10):
    tid = f"delay-{uuid.uuid4()}"
    row = template.set_column(template.schema.get_field_index("transaction_id"), "transaction_id", [[tid]])
    one = tempfile.NamedTemporaryFile(suffix=".parquet", delete=False).name
    pq.write_table(row, one)
    before = dt.version()
    t0 = time.monotonic()
    subprocess.run([seglake, "produce", "--from", one, "--to", topic, "--key", "customer_id"],
                   check=True, stdout=subprocess.DEVNULL)
    while True:
        dt.update_incremental()
        if dt.version() > before:
            found = dt.to_pyarrow_dataset().to_table(filter=ds.field("transaction_id") == tid)
            if found.num_rows == 1:
                break
        time.sleep(0.005)
    delays.append(time.monotonic() - t0)
print(json.dumps(sorted(delays)))
PY
)
kill -TERM "$follower"; wait "$follower" || true; follower=""

rss=$(cat "$broker_dir/rss")
python3 - "$messages" "$ingested" "$produced" "$rss" "$delays" <<'PY'
import json, sys
messages, ingested, produced, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
delays = json.loads(sys.argv[5])
print(f"\n{messages:,} messages")
print(f"produce:  {produced:8.2f} s  {messages/produced:12,.0f} messages/s")
print(f"ingest:   {ingested:8.2f} s  {messages/ingested:12,.0f} messages/s  peak {rss/1024:.0f} MiB")
print(f"produce -> readable Delta row (10 messages, --batch-age 100ms): median {delays[4]*1000:.0f} ms, "
      f"max {delays[-1]*1000:.0f} ms (includes starting `seglake produce`)")
PY
