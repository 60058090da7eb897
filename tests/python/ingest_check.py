"""Compares a Delta table written by `seglake ingest` with the Parquet files
its messages were produced from, reading both with independent readers
(delta-rs's Python binding and pyarrow), and lists the dead letters.
Prints one JSON object:

  {"rows": N, "source_rows": M, "equal": true|false,
   "distinct_ids": D, "dead_letters": [{"partition": .., "offset": ..,
   "error": .., "payload": ..}, ...]}

"equal" means the same multiset of rows: every source row exactly once, as
many times as the source has it, and nothing else.

Usage: python ingest_check.py TABLE PARQUET_DIR ID_COLUMN [DEAD_LETTER_TABLE]
"""

import json
import os
import sys

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable


def sorted_rows(table: pa.Table) -> pa.Table:
    return table.sort_by([(name, "ascending") for name in table.column_names])


def main() -> None:
    table_path, source_dir, id_column = sys.argv[1:4]
    dead_path = sys.argv[4] if len(sys.argv) > 4 else None
    source = pq.read_table(source_dir)
    source = source.replace_schema_metadata(None)
    ingested = DeltaTable(table_path).to_pyarrow_table()
    ingested = ingested.select(source.column_names).cast(source.schema)
    result = {
        "rows": ingested.num_rows,
        "source_rows": source.num_rows,
        "equal": sorted_rows(ingested).equals(sorted_rows(source)),
        "distinct_ids": len(set(ingested.column(id_column).to_pylist())),
        "dead_letters": [],
    }
    if dead_path and os.path.isdir(os.path.join(dead_path, "_delta_log")):
        dead = DeltaTable(dead_path).to_pyarrow_table().to_pylist()
        result["dead_letters"] = sorted(
            (
                {
                    "partition": d["partition"],
                    "offset": d["offset"],
                    "error": d["error"],
                    "payload": None if d["payload"] is None else d["payload"].decode("utf-8", "replace"),
                }
                for d in dead
            ),
            key=lambda d: (d["partition"], d["offset"]),
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # Past this point only interpreter teardown is left, which the Rust
    # threads of `deltalake` sometimes abort ("terminate called without an
    # active exception"): the answer is printed, so leave now.
    os._exit(0)
