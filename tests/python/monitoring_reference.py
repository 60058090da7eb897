"""Reference numbers for a run's monitoring, computed without seglake: the
lake's tables read with the Python `deltalake` package at the versions the
`runs` rows record, PSI with numpy, AUC with scikit-learn.

  python monitoring_reference.py drift LAKE RUN_BEFORE RUN_AFTER FEATURE_TABLE KEY
      The drift of RUN_AFTER against RUN_BEFORE: the PSI of every numeric
      column of FEATURE_TABLE as each run published it (KEY left out) and of
      `risk_score` in `segments`; each segment label's share in both runs;
      which earlier segment each later one continues (matched by shared
      customers, most first, ties by the labels), the change of each
      share from the segment it continues, and the customers (in both) not
      in the continuation of their earlier segment. And every row of the
      `monitoring` table (latest version).

  python monitoring_reference.py outcomes LAKE MODEL_RUN OUTCOMES AFTER UNTIL KEY BAND...
      MODEL_RUN's published risk scores judged on the decisions of the
      Parquet folder OUTCOMES (KEY, outcome, decided_at) decided in
      (AFTER, UNTIL] (RFC 3339): a customer is positive when any of them
      is sar_filed or true_positive, negative otherwise, left out when
      none. AUC over all (scikit-learn's roc_auc_score) and per segment
      label with at least 5 of each class; precision and recall of each
      band (BAND... riskiest first) and those above it.

Prints one JSON object.

PSI, as the monitoring spec defines it: the reference's deciles (numpy's
default linear quantiles at 0.1 .. 0.9, repeated cut points merged) cut
the line into bins, a value's bin is searchsorted(edges, x, side='right'),
missing values (NaN) are a bin of their own, each bin's share is floored
at 1e-4, and PSI = sum of (current - reference) * ln(current / reference).
"""

import json
import math
import os
import sys
from collections import Counter
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from sklearn.metrics import roc_auc_score

BINS = 10
SHARE_FLOOR = 1e-4
MIN_PER_CLASS = 5
CONFIRMING = ("sar_filed", "true_positive")


def psi(reference, current):
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    present = reference[~np.isnan(reference)]
    edges = np.unique(np.quantile(present, np.arange(1, BINS) / BINS))

    def shares(values):
        bins = np.searchsorted(edges, values, side="right")
        bins = np.where(np.isnan(values), len(edges) + 1, bins)
        counts = np.bincount(bins, minlength=len(edges) + 2)
        return np.maximum(counts / len(values), SHARE_FLOOR)

    before, after = shares(reference), shares(current)
    return float(sum((c - r) * math.log(c / r) for r, c in zip(before, after)))


def run_row(lake, run_id):
    runs = DeltaTable(os.path.join(lake, "runs")).to_pyarrow_table().to_pylist()
    matches = [r for r in runs if r["run_id"] == run_id and r["status"] == "succeeded"]
    assert len(matches) == 1, f"{len(matches)} succeeded rows for run {run_id}"
    return matches[0]


def published(lake, run, table):
    """`table` as `run` published it (the version its `runs` row records)."""
    versions = {o["table"]: o["version"] for o in run["outputs"]}
    return DeltaTable(os.path.join(lake, table), version=versions[table]).to_pyarrow_table()


def column(table, name):
    return np.array(table.column(name).to_pylist(), dtype=float)


def label_shares(segments):
    """Each segment label's share of the customers."""
    labels = [l for l in segments.column("segment_label").to_pylist() if l is not None]
    counts = Counter(labels)
    return {label: n / len(labels) for label, n in counts.items()}


def finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def monitoring_rows(lake):
    rows = DeltaTable(os.path.join(lake, "monitoring")).to_pyarrow_table().to_pylist()
    for row in rows:
        row["as_of"] = row["as_of"].isoformat()
        for key in ("value", "limit"):
            row[key] = finite_or_none(row[key])
    return rows


def drift(lake, before_id, after_id, feature_table, key):
    before_run, after_run = run_row(lake, before_id), run_row(lake, after_id)
    features_before = published(lake, before_run, feature_table)
    features_after = published(lake, after_run, feature_table)
    numeric = [
        f.name
        for f in features_before.schema
        if f.name != key and (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
    ]
    segments_before = published(lake, before_run, "segments")
    segments_after = published(lake, after_run, "segments")
    label_before = dict(
        zip(
            segments_before.column(key).to_pylist(),
            segments_before.column("segment_label").to_pylist(),
        )
    )
    label_after = dict(
        zip(
            segments_after.column(key).to_pylist(),
            segments_after.column("segment_label").to_pylist(),
        )
    )
    both = [k for k in label_after if k in label_before]
    overlap = Counter((label_before[k], label_after[k]) for k in both)
    matched, taken = {}, set()
    for (old, new), _ in sorted(overlap.items(), key=lambda p: (-p[1], p[0][0], p[0][1])):
        if new not in matched and old not in taken:
            matched[new] = old
            taken.add(old)
    changed = sum(1 for k in both if matched.get(label_after[k]) != label_before[k])
    share_before, share_after = label_shares(segments_before), label_shares(segments_after)
    change = {
        label: share - share_before.get(matched.get(label), 0.0)
        for label, share in share_after.items()
    }
    change.update({old: -share for old, share in share_before.items() if old not in taken})
    risk_score_psi = None
    if all("risk_score" in s.column_names for s in (segments_before, segments_after)):
        risk_score_psi = psi(
            column(segments_before, "risk_score"), column(segments_after, "risk_score")
        )
    return {
        "rows": features_after.num_rows,
        "psi": {
            name: psi(column(features_before, name), column(features_after, name))
            for name in numeric
        },
        "risk_score_psi": risk_score_psi,
        "share_before": share_before,
        "share_after": share_after,
        "share_change": change,
        "continues": matched,
        "changed": {"count": changed, "both": len(both), "share": changed / len(both)},
        "monitoring": monitoring_rows(lake),
    }


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def outcomes(lake, model_run, folder, after, until, key, bands):
    after, until = when(after), when(until)
    decided = pq.read_table(folder).to_pylist()
    labels = {}
    for d in decided:
        if after < d["decided_at"] <= until:
            labels[d[key]] = labels.get(d[key], False) or d["outcome"] in CONFIRMING
    segments = published(lake, run_row(lake, model_run), "segments").to_pylist()
    judged = [s for s in segments if s[key] in labels]
    y = [labels[s[key]] for s in judged]
    score = [s["risk_score"] for s in judged]
    per_segment = {}
    for label in sorted({s["segment_label"] for s in judged}):
        ys = [labels[s[key]] for s in judged if s["segment_label"] == label]
        ss = [s["risk_score"] for s in judged if s["segment_label"] == label]
        positives = sum(ys)
        if positives >= MIN_PER_CLASS and len(ys) - positives >= MIN_PER_CLASS:
            per_segment[label] = {"auc": roc_auc_score(ys, ss), "count": len(ys)}
    positives = sum(y)
    by_band = {}
    for rank, band in enumerate(bands):
        flagged = [labels[s[key]] for s in judged if s["risk_band"] in bands[: rank + 1]]
        hits = sum(flagged)
        entry = {"flagged": len(flagged), "positives": positives}
        if flagged:
            entry["precision"] = hits / len(flagged)
        if positives:
            entry["recall"] = hits / positives
        by_band[band] = entry
    return {
        "count": len(judged),
        "positives": positives,
        "auc": roc_auc_score(y, score),
        "per_segment": per_segment,
        "bands": by_band,
    }


def main() -> None:
    command, args = sys.argv[1], sys.argv[2:]
    if command == "drift":
        result = drift(*args)
    elif command == "outcomes":
        lake, model_run, folder, after, until, key, *bands = args
        result = outcomes(lake, model_run, folder, after, until, key, bands)
    else:
        raise SystemExit(f"unknown command {command}: drift or outcomes")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
    # deltalake 1.6 with pyarrow 26 can abort in interpreter teardown after
    # the work is done (see read_delta.py); the result is already printed.
    sys.stdout.flush()
    os._exit(0)
