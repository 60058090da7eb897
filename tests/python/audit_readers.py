"""Reads `segments` at a past version with the Python `deltalake` package and
with polars, and checks that both return exactly what `seglake sql` and
`seglake audit` returned (given as JSON files).

usage: audit_readers.py LAKE VERSION SQL_JSON_LINES AUDIT_JSON
"""
import json
import os
import sys

import polars as pl
from deltalake import DeltaTable

COLUMNS = ["customer_id", "segment_id", "segment_label", "distance", "risk_score",
           "risk_band", "reasons", "run_id", "model_version"]


def rows_by_customer(records):
    return {r["customer_id"]: {c: r.get(c) for c in COLUMNS} for r in records}


def main():
    lake, version, sql_path, audit_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    table = os.path.join(lake, "segments")
    by_deltalake = rows_by_customer(DeltaTable(table, version=version).to_pyarrow_table().to_pylist())
    by_polars = rows_by_customer(pl.read_delta(table, version=version).to_dicts())
    with open(sql_path) as f:
        by_sql = rows_by_customer(json.loads(line) for line in f if line.strip())
    with open(audit_path) as f:
        audit = json.load(f)

    assert len(by_deltalake) > 0
    assert by_deltalake == by_polars, "deltalake and polars disagree"
    assert by_deltalake.keys() == by_sql.keys(), "seglake sql returned other customers"
    for key, row in by_deltalake.items():
        assert row == by_sql[key], f"{key}: deltalake {row} != seglake sql {by_sql[key]}"
    customer = audit["customer"]
    expected = by_deltalake[customer]
    got = {c: audit["assignment"].get(c) for c in COLUMNS}
    assert got == expected, f"audit {got} != deltalake {expected}"
    print(f"ok: {len(by_deltalake)} rows agree; customer {customer} in segment {expected['segment_id']}")
    sys.stdout.flush()
    os._exit(0)


main()
