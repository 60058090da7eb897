"""Reads a Delta table with the Python `deltalake` package (delta-rs's
Python binding, as BI notebooks and polars use it) and prints what the
end-to-end tests compare against, as one JSON object:

  {"latest": N, "versions": {"0": {"rows": .., "columns": [..],
   "run_ids": [..], "key_sum": ..}, ...}, "history": [{"version": ..,
   "run_id": .., "operation": ..}, ...]}

Usage: python read_delta.py TABLE_PATH [KEY_COLUMN]
"""

import json
import os
import sys

from deltalake import DeltaTable


def main() -> None:
    path = sys.argv[1]
    count_column = sys.argv[2] if len(sys.argv) > 2 else None
    table = DeltaTable(path)
    latest = table.version()
    versions = {}
    for version in range(latest + 1):
        snapshot = DeltaTable(path, version=version)
        data = snapshot.to_pyarrow_table()
        entry = {"rows": data.num_rows, "columns": data.column_names}
        if "run_id" in data.column_names:
            entry["run_ids"] = sorted(set(data.column("run_id").to_pylist()))
        if count_column:
            entry["distinct_keys"] = len(set(data.column(count_column).to_pylist()))
        if "txn_count" in data.column_names:
            entry["txn_count_sum"] = sum(data.column("txn_count").to_pylist())
        versions[str(version)] = entry
    history = [
        {
            "version": h.get("version"),
            "operation": h.get("operation"),
            "run_id": h.get("seglake.run_id"),
            "job": h.get("seglake.job"),
        }
        for h in table.history()
    ]
    print(json.dumps({"latest": latest, "versions": versions, "history": history}))


if __name__ == "__main__":
    main()
    # deltalake 1.6 with pyarrow 26 can abort in interpreter teardown
    # ("terminate called without an active exception") after all work is
    # done; leave without running the finalisers so the exit status
    # reflects the reading, not the teardown.
    sys.stdout.flush()
    os._exit(0)
