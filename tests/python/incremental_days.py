"""Test data and checks for incremental runs, with pyarrow and the Python
`deltalake` package (not seglake's own readers). Prints one JSON object.

  split SRC_DIR OUT_DIR
      The generated bank's transactions (SRC_DIR, Parquet) as daily
      arrivals in OUT_DIR: `base.parquet` holds every day before
      2025-12-29 except some rows of 2025-06-15, held back; then one file
      per day 2025-12-29, -30 and -31. The 2025-12-29 file also carries the
      held-back rows (late arrivals) and repeats ten rows of 2025-03-03
      from the base (a replaying feed). Prints the row counts.

  same TABLE_A TABLE_B
      Whether two Delta tables hold the same rows (every column but
      run_id, compared exactly after sorting), and their row counts.

  customers FILE
      The distinct customer ids of a Parquet file of transactions.
"""

import datetime
import json
import os
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from deltalake import DeltaTable

UTC = datetime.timezone.utc


def day_bounds(table, day):
    start = datetime.datetime.combine(day, datetime.time(), tzinfo=UTC)
    end = start + datetime.timedelta(days=1)
    ts_type = table.schema.field("ts").type
    ts = table.column("ts")
    return pc.and_(
        pc.greater_equal(ts, pa.scalar(start, type=ts_type)),
        pc.less(ts, pa.scalar(end, type=ts_type)),
    )


def split(src, out):
    table = pq.read_table(src)
    os.makedirs(out, exist_ok=True)
    first_arrival = datetime.date(2025, 12, 29)
    cut = pa.scalar(
        datetime.datetime.combine(first_arrival, datetime.time(), tzinfo=UTC),
        type=table.schema.field("ts").type,
    )
    before = table.filter(pc.less(table.column("ts"), cut))
    # Held back: every other row of 2025-06-15, arriving late.
    on_late_day = day_bounds(before, datetime.date(2025, 6, 15))
    late_positions = [i for i, v in enumerate(on_late_day.to_pylist()) if v][::2]
    late_mask = pc.is_in(pa.array(range(before.num_rows)), value_set=pa.array(late_positions))
    late = before.filter(late_mask)
    base = before.filter(pc.invert(late_mask))
    replays = base.filter(day_bounds(base, datetime.date(2025, 3, 3))).slice(0, 10)
    pq.write_table(base, os.path.join(out, "base.parquet"))
    counts = {"base": base.num_rows, "late": late.num_rows, "replays": replays.num_rows}
    for offset in range(3):
        day = first_arrival + datetime.timedelta(days=offset)
        rows = table.filter(day_bounds(table, day))
        if offset == 0:
            rows = pa.concat_tables([rows, late, replays])
        pq.write_table(rows, os.path.join(out, f"day-{day}.parquet"))
        counts[str(day)] = rows.num_rows
    print(json.dumps(counts))


def same(a, b):
    def rows(path):
        data = DeltaTable(path).to_pyarrow_table()
        if "run_id" in data.column_names:
            data = data.drop_columns(["run_id"])
        keys = [(name, "ascending") for name in data.column_names]
        return data.sort_by(keys)

    left, right = rows(a), rows(b)
    print(
        json.dumps(
            {
                "same": left.schema == right.schema and left.equals(right),
                "rows": [left.num_rows, right.num_rows],
            }
        )
    )


def customers(path):
    ids = pq.read_table(path, columns=["customer_id"]).column("customer_id")
    print(json.dumps(sorted(set(ids.to_pylist()))))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    {"split": split, "same": same, "customers": customers}[command](*args)
    sys.stdout.flush()
    # Past this point only interpreter teardown is left, which the Rust
    # threads of `deltalake` sometimes abort ("terminate called without an
    # active exception"): the answer is printed, so leave now.
    os._exit(0)
