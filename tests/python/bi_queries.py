"""What a BI tool does with a seglake lake, with nothing but polars and the
Python `deltalake` package (no seglake code): the published tables are plain
Delta tables, every run a new version.

(a) segment sizes over time: every version of `segments` in its Delta
    history, read by time travel, customers counted per segment, once with
    the DataFrame API and once by one SQL query over all the versions (the
    two must agree);
(b) alerts per segment: customers in the alerting band at the latest
    version, by SQL;
(c) the current `segment_profiles`, read at the version the latest
    successful run's `outputs` (in the `runs` table) records.

usage: bi_queries.py LAKE

Prints one JSON object: sizes_over_time [{version, run_id, segment_id,
customers}], alerts_per_segment [{segment_id, band, customers}],
profile_sizes [{segment_id, size}], versions [segments versions], plus
latest_run {run_id, segments_version, segment_profiles_version} and sql (the
two SQL texts), everything sorted.
"""
import json
import os
import sys

import polars as pl
from deltalake import DeltaTable

# The alerting band: the demo job's highest `[[risk.bands]]` (jobs/demo.toml:
# `high` = each segment's riskiest 2%, then `medium` = the next 8%; everyone
# else gets the default band `low`).
ALERT_BANDS = ("high",)

# (a) as a BI tool writes it, over a table `segments_history` that holds every
# version of `segments` with its Delta version number in a `version` column.
SIZES_SQL = """\
SELECT version, run_id, segment_id, COUNT(*) AS customers
FROM segments_history
GROUP BY version, run_id, segment_id
ORDER BY version, segment_id"""

# (b) over `segments` at its latest version.
ALERTS_SQL = f"""\
SELECT segment_id, risk_band AS band, COUNT(*) AS customers
FROM segments
WHERE risk_band IN ({", ".join(f"'{b}'" for b in ALERT_BANDS)})
GROUP BY segment_id, risk_band
ORDER BY segment_id, band"""

SIZE_KEYS = ["version", "run_id", "segment_id", "customers"]


def fail(message):
    print(f"bi_queries.py: {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def rows(df, keys):
    """Plain dicts with these keys (ints as Python ints), in frame order."""
    return [{k: r[k] for k in keys} for r in df.select(keys).to_dicts()]


def segment_versions(path):
    """Every version of the table its Delta history records, oldest first."""
    return sorted({int(h["version"]) for h in DeltaTable(path).history()})


def sizes_over_time(path, versions):
    """(a) by the DataFrame API and by SQL over the concatenated versions."""
    frames = []
    for v in versions:
        snapshot = pl.read_delta(path, version=v, columns=["customer_id", "segment_id", "run_id"])
        frames.append(snapshot.with_columns(pl.lit(v, dtype=pl.Int64).alias("version")))
    history = pl.concat(frames, how="vertical")

    by_api = (
        history.group_by("version", "run_id", "segment_id")
        .agg(pl.len().alias("customers"))
        .sort("version", "segment_id", "run_id")
    )
    by_sql = pl.SQLContext(segments_history=history).execute(SIZES_SQL, eager=True)
    by_sql = by_sql.sort("version", "segment_id", "run_id")

    api_rows, sql_rows = rows(by_api, SIZE_KEYS), rows(by_sql, SIZE_KEYS)
    if api_rows != sql_rows:
        fail(f"segment sizes: the DataFrame API gave {api_rows}, the SQL query {sql_rows}")
    # One version is one complete segmentation: one run, one row per customer.
    for v in versions:
        snapshot = history.filter(pl.col("version") == v)
        if snapshot["run_id"].n_unique() != 1:
            fail(f"segments version {v} holds rows of several runs")
        if snapshot["customer_id"].n_unique() != snapshot.height:
            fail(f"segments version {v} has a customer twice")
    return sql_rows


def alerts_per_segment(path):
    """(b) at the latest version of `segments`."""
    latest = pl.read_delta(path, columns=["customer_id", "segment_id", "risk_band"])
    bands = set(latest["risk_band"].unique().to_list())
    if not bands & set(ALERT_BANDS):
        fail(f"no customer is in an alerting band {list(ALERT_BANDS)}; the bands are {sorted(bands)}")
    out = pl.SQLContext(segments=latest).execute(ALERTS_SQL, eager=True)
    return rows(out.sort("segment_id", "band"), ["segment_id", "band", "customers"])


def latest_run(lake):
    """The latest successful run that published segment_profiles, and the
    versions its `outputs` record."""
    runs = pl.read_delta(os.path.join(lake, "runs"), columns=["run_id", "status", "finished_at", "outputs"])
    outputs = (
        runs.filter(pl.col("status") == "succeeded")
        .explode("outputs")
        .unnest("outputs")
        .filter(pl.col("table").is_in(["segments", "segment_profiles"]))
    )
    if outputs.filter(pl.col("table") == "segment_profiles").is_empty():
        fail("no successful run in `runs` published segment_profiles")
    newest = (
        outputs.filter(pl.col("table") == "segment_profiles")
        .sort("finished_at", "run_id")
        .tail(1)
        .row(0, named=True)
    )
    mine = outputs.filter(pl.col("run_id") == newest["run_id"])
    version_of = dict(zip(mine["table"].to_list(), mine["version"].to_list()))
    return {
        "run_id": newest["run_id"],
        "segments_version": version_of.get("segments"),
        "segment_profiles_version": version_of["segment_profiles"],
    }


def profile_sizes(lake, run):
    """(c) segment_profiles at the version the latest run recorded."""
    profiles = pl.read_delta(
        os.path.join(lake, "segment_profiles"),
        version=run["segment_profiles_version"],
        columns=["segment_id", "size", "run_id"],
    )
    other = set(profiles["run_id"].unique().to_list()) - {run["run_id"]}
    if other:
        fail(f"segment_profiles version {run['segment_profiles_version']} holds rows of runs {sorted(other)}")
    return rows(profiles.sort("segment_id"), ["segment_id", "size"])


def main():
    if len(sys.argv) != 2:
        fail("usage: bi_queries.py LAKE")
    lake = sys.argv[1]
    segments = os.path.join(lake, "segments")
    versions = segment_versions(segments)
    if not versions:
        fail(f"{segments} has no Delta history")
    run = latest_run(lake)
    answer = {
        "versions": versions,
        "sizes_over_time": sizes_over_time(segments, versions),
        "alerts_per_segment": alerts_per_segment(segments),
        "profile_sizes": profile_sizes(lake, run),
        "latest_run": run,
        "sql": {"sizes_over_time": SIZES_SQL, "alerts_per_segment": ALERTS_SQL},
    }
    print(json.dumps(answer, indent=1, sort_keys=True))
    sys.stdout.flush()
    # As the other readers here: skip interpreter teardown (deltalake's runtime threads).
    os._exit(0)


main()
