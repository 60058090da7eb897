"""Prints every Parquet file (and column) under a folder that holds one of the
given values in any column, nested values included; the folder `raw` is
skipped. Exit code 0 either way; the test reads the output.

usage: find_in_parquet.py FOLDER VALUE...
"""
import os
import sys

import pyarrow.parquet as pq


def flatten(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from flatten(v)
    elif isinstance(value, list):
        for v in value:
            yield from flatten(v)
    else:
        yield value


def main():
    folder, values = sys.argv[1], set(sys.argv[2:])
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d != "raw"]
        for name in files:
            if not name.endswith(".parquet"):
                continue
            path = os.path.join(root, name)
            table = pq.read_table(path)
            for column in table.column_names:
                found = {str(v) for v in flatten(table.column(column).to_pylist())} & values
                if found:
                    print(f"{path}\t{column}\t{','.join(sorted(found))}")
    sys.stdout.flush()
    os._exit(0)


main()
