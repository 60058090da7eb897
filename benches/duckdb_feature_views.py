"""A job's feature views in DuckDB (the demo job's by default): the same SQL
files, the same Parquet, the same deduplication and run_context,
materialised and sorted by the key as seglake does. Prints one JSON line
like the seglake bench (`cargo bench --bench feature_views -- LAKE [JOB]`).

Usage: python duckdb_feature_views.py LAKE_DIR [JOB_TOML]
"""

import json
import os
import resource
import sys
import time
import tomllib

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    lake = os.path.abspath(sys.argv[1])
    job_path = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "jobs", "demo.toml")
    # Relative paths in a job resolve against its folder, as in seglake.
    job_dir = os.path.dirname(os.path.abspath(job_path))
    with open(job_path, "rb") as f:
        job = tomllib.load(f)
    start = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute(
        f"CREATE VIEW run_context AS SELECT TIMESTAMPTZ '{job['job']['as_of']}' AS as_of, "
        f"'bench' AS run_id, {job['job']['seed']} AS seed"
    )
    for name, source in job["sources"].items():
        uri = source["uri"].replace("${lake}", lake)
        if not os.path.isabs(uri):
            uri = os.path.normpath(os.path.join(job_dir, uri))
        if source["format"] == "csv":
            scan = f"read_csv('{uri}', header = true)"
        elif uri.endswith(".parquet"):
            scan = f"read_parquet('{uri}')"
        else:
            scan = f"read_parquet('{uri}/*.parquet')"
        if source.get("dedupe_on"):
            # As seglake: replayed rows (exact repeats) are dropped.
            con.execute(f"CREATE VIEW {name} AS SELECT DISTINCT * FROM {scan}")
        else:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM {scan}")
    # Screening is timed by its own benchmark: here, as in
    # benches/feature_views.rs, the views read an empty `screening_hits`.
    con.execute(
        "CREATE TABLE screening_hits (party VARCHAR, party_id VARCHAR, name VARCHAR, "
        "list_entry_id BIGINT, list_entry_type VARCHAR, listed_name VARCHAR, "
        "listed_name_kind VARCHAR, programmes VARCHAR, score DOUBLE, matched_tokens VARCHAR, "
        "list_source VARCHAR, list_sha256 VARCHAR, run_id VARCHAR, as_of TIMESTAMPTZ)"
    )
    sql_dir = os.path.normpath(os.path.join(job_dir, job["features"]["sql_dir"]))
    materialize = set(job["features"].get("materialize", []))
    for view in job["features"]["views"]:
        kind = "TEMP TABLE" if view in materialize else "VIEW"
        with open(os.path.join(sql_dir, f"{view}.sql")) as f:
            con.execute(f"CREATE {kind} {view} AS {f.read()}")
    last = job["features"]["views"][-1]
    key = job["features"]["key"]
    con.execute(f"CREATE TABLE result AS SELECT * FROM {last} ORDER BY {key}")
    rows = con.execute("SELECT count(*) FROM result").fetchone()[0]
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "engine": f"duckdb {duckdb.__version__}",
        "seconds": seconds,
        "peak_rss_mib": peak_kib / 1024.0,
        "rows": rows,
        "threads": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
