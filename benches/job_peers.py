"""The peer of benches/job_compare.sh: the whole job of benches/job/job.toml
done in one Python process with the tools a data team would reach for, so
seglake's time and memory per stage have something to be compared with.

- features: DuckDB runs the job's SQL files over the same Parquet, with
  the same deduplication (`SELECT DISTINCT *` for a source with
  `dedupe_on`, as benches/duckdb_feature_views.py) and the same
  `run_context`, into a table sorted by the key, fetched as numpy columns.
- segments: seglake's preparation in numpy (crates/seglake-ml/src/prepare.rs:
  median imputation, clip to the 0.5% / 99.5% quantiles, log1p of a
  non-negative feature whose skewness is above 2, standardise), then
  scikit-learn k-means for every k of the job's range on every customer,
  each scored as seglake scores it (silhouette on the same number of
  sampled customers, Davies-Bouldin and Calinski-Harabasz on all); the best
  silhouette wins; segment ids by size, largest first.
- risk: the job's label SQL in DuckDB; LightGBM with seglake's defaults
  (100 trees, 31 leaves, 255 bins, learning rate 0.1, min 20 rows per leaf,
  a stratified 20% validation split, early stopping after 20 rounds, a
  positive weighted negatives / positives as class_weight = "balanced"),
  the segment id as an input, then Platt scaling on the held-out margins.
- explain: every customer's calibrated score and TreeSHAP contributions
  (`pred_contrib=True`), the top reasons by |contribution|, bands per
  segment, and the held-out AUC.

Each stage's wall time and peak resident memory (job_stages.StageMeter)
is printed as one JSON line, then the total.

usage: job_peers.py LAKE CUSTOMERS [--kmeans minibatch|lloyd] [--threads N]
"""

import time

STARTED = time.perf_counter()  # the imports are the peer's startup stage

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import tomllib  # noqa: E402

import duckdb  # noqa: E402
import lightgbm  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.cluster import KMeans, MiniBatchKMeans  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    calinski_harabasz_score,
    davies_bouldin_score,
    roc_auc_score,
    silhouette_score,
)

from job_stages import StageMeter  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JOB_DIR = os.path.join(HERE, "job")
AUTO_LOG_SKEWNESS = 2.0
# seglake's defaults (README "Segments" and "Risk scores").
SILHOUETTE_SAMPLE = 5000
VALIDATION_FRACTION = 0.2
EARLY_STOPPING_ROUNDS = 20
REASONS = 3


# --- features -------------------------------------------------------------

def connect(job, lake, threads):
    """DuckDB with the job's sources and run_context registered."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {threads}")
    con.execute(
        f"CREATE VIEW run_context AS SELECT TIMESTAMPTZ '{job['job']['as_of']}' AS as_of, "
        f"'bench' AS run_id, {job['job']['seed']} AS seed"
    )
    for name, source in job["sources"].items():
        uri = source["uri"].replace("${lake}", lake)
        if not os.path.isabs(uri):
            uri = os.path.normpath(os.path.join(JOB_DIR, uri))
        scan = f"read_parquet('{uri}')" if uri.endswith(".parquet") else f"read_parquet('{uri}/*.parquet')"
        # As seglake: replayed rows (exact repeats) are dropped.
        distinct = "DISTINCT " if source.get("dedupe_on") else ""
        con.execute(f"CREATE VIEW {name} AS SELECT {distinct}* FROM {scan}")
    return con


def sql_of(job, view):
    with open(os.path.join(JOB_DIR, job["features"]["sql_dir"], f"{view}.sql")) as f:
        return f.read()


def compute_features(con, job):
    """The feature table, sorted by key: (keys, numeric names, columns)."""
    views = job["features"]["views"]
    for view in views[:-1]:
        con.execute(f"CREATE VIEW {view} AS {sql_of(job, view)}")
    key, table = job["features"]["key"], job["features"]["output_table"]
    con.execute(f"CREATE TABLE {table} AS {sql_of(job, views[-1])}")
    fetched = con.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchnumpy()
    keys = fetched.pop(key)
    names, columns = [], []
    for name, column in fetched.items():
        if column.dtype.kind in "iuf":  # every numeric column but the key, as seglake
            names.append(name)
            columns.append(np.ma.filled(np.ma.asarray(column).astype(np.float64), np.nan))
    return keys, names, columns


# --- segments -------------------------------------------------------------

def skewness(values):
    d = values - values.mean()
    m2, m3 = np.mean(d * d), np.mean(d * d * d)
    return 0.0 if m2 <= 0 else m3 / m2 ** 1.5


def prepare_column(column, clip, log):
    """One feature as seglake prepares it (crates/seglake-ml/src/prepare.rs)."""
    present = column[~np.isnan(column)]
    median = np.median(present) if present.size else 0.0
    values = np.where(np.isnan(column), median, column)
    if clip:
        low, high = np.quantile(values, clip)  # numpy's linear, as seglake
        values = np.clip(values, low, high)
    if log == "always" or (log == "auto" and values.min() >= 0 and skewness(values) > AUTO_LOG_SKEWNESS):
        values = np.sign(values) * np.log1p(np.abs(values))
    mean, std = values.mean(), values.std()
    if std < 10 * np.finfo(np.float64).eps * max(abs(mean), 1.0):
        std = 1.0  # scikit-learn's rule for a constant feature
    return (values - mean) / std


def prepare(columns, spec):
    options = spec.get("prepare", {})
    clip, log = options.get("clip", [0.005, 0.995]), options.get("log", "auto")
    prepared = [prepare_column(c, clip, log) for c in columns]
    return np.column_stack(prepared).astype(np.float32)  # seglake clusters in f32


def kmeans(k, algorithm, seed):
    if algorithm == "lloyd":
        return KMeans(n_clusters=k, algorithm="lloyd", n_init=1, random_state=seed)
    return MiniBatchKMeans(n_clusters=k, batch_size=4096, n_init=1, random_state=seed)


def segment(x, spec, algorithm, seed):
    """Every k of the range fitted and scored; the best silhouette's
    segment ids (by size, largest first) and the sweep."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), min(SILHOUETTE_SAMPLE, len(x)), replace=False)
    sample.sort()
    low, high = spec["k_range"]
    best, sweep = None, []
    for k in range(low, high + 1):
        labels = kmeans(k, algorithm, seed).fit(x).labels_
        scores = {
            "k": k,
            "silhouette": float(silhouette_score(x[sample], labels[sample])),
            "davies_bouldin": float(davies_bouldin_score(x, labels)),
            "calinski_harabasz": float(calinski_harabasz_score(x, labels)),
        }
        sweep.append(scores)
        if best is None or scores["silhouette"] > best[0]["silhouette"]:
            best = (scores, labels)
    scores, labels = best
    sizes = np.bincount(labels, minlength=scores["k"])
    published = np.empty_like(sizes)
    published[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return published[labels], scores, sweep


# --- risk -----------------------------------------------------------------

def read_labels(con, job, keys):
    """Each customer's label, NaN when unlabelled, in key order."""
    key, table = job["features"]["key"], job["features"]["output_table"]
    labels_sql = sql_of(job, job["risk"]["labels"])
    fetched = con.execute(
        f"SELECT f.{key}, l.label FROM {table} f LEFT JOIN ({labels_sql}) l ON l.{key} = f.{key} "
        f"ORDER BY f.{key}"
    ).fetchnumpy()
    assert np.array_equal(fetched[key], keys), "label rows are not in key order"
    return np.ma.filled(np.ma.asarray(fetched["label"]).astype(np.float64), np.nan)


def stratified_split(y, fraction, seed):
    """(train rows, validation rows): `fraction` of each class held out."""
    rng = np.random.default_rng(seed)
    held = []
    for cls in (0, 1):
        members = np.flatnonzero(y == cls)
        take = int(len(members) * fraction + 0.5)  # half away from zero, as Rust's round
        held.append(rng.choice(members, take, replace=False))
    validation = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(len(y)), validation, assume_unique=True)
    return train, validation


def platt(margins, y):
    """Platt scaling (a, b) with smoothed targets, by Newton's method, as
    crates/seglake-ml/src/calibration.rs."""
    pos = y.sum()
    neg = len(y) - pos
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    a, b = 1.0, 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(a * margins + b)))
        d, w = p - t, np.maximum(p * (1 - p), 1e-12)
        g = np.array([d @ margins, d.sum()])
        h = np.array([[w @ (margins * margins) + 1e-12, w @ margins], [w @ margins, w.sum() + 1e-12]])
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-10:
            break
    return a, b


def train_risk(x, label, seed, threads):
    """LightGBM on the labelled customers; the booster, its calibration and
    the held-out customers (rows of x) with their labels."""
    labelled = np.flatnonzero(~np.isnan(label))
    y = label[labelled].astype(np.int8)
    train, validation = stratified_split(y, VALIDATION_FRACTION, seed)
    positive_weight = (y[train] == 0).sum() / (y[train] == 1).sum()
    params = {
        "objective": "binary", "metric": "binary_logloss", "learning_rate": 0.1,
        "num_leaves": 31, "min_data_in_leaf": 20, "min_sum_hessian_in_leaf": 1e-3,
        "lambda_l2": 0.0, "min_gain_to_split": 0.0, "max_bin": 255,
        "bin_construct_sample_cnt": 200_000, "num_threads": threads, "seed": seed,
        "verbose": -1,
    }
    rows_train, rows_valid = labelled[train], labelled[validation]
    train_set = lightgbm.Dataset(x[rows_train], y[train], weight=np.where(y[train] == 1, positive_weight, 1.0),
                                 params=params)
    valid_set = lightgbm.Dataset(x[rows_valid], y[validation], reference=train_set)
    booster = lightgbm.train(params, train_set, num_boost_round=100, valid_sets=[valid_set],
                             callbacks=[lightgbm.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    margins = booster.predict(x[rows_valid], raw_score=True, num_iteration=booster.best_iteration)
    calibration = platt(margins, y[validation])
    return booster, calibration, rows_valid, y[validation], len(labelled)


# --- explain --------------------------------------------------------------

def top_reasons(phi, k):
    """Per row, the k columns with the largest |contribution|, largest first."""
    magnitude = np.abs(phi)
    top = np.argpartition(-magnitude, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(magnitude, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def bands(scores, segment_ids, alert_rates):
    """Band per customer (0 = highest, len(alert_rates) = default), with
    thresholds per segment: each alerts on its riskiest share."""
    band = np.full(len(scores), len(alert_rates), dtype=np.int8)
    for s in np.unique(segment_ids):
        members = segment_ids == s
        for b in reversed(range(len(alert_rates))):
            threshold = np.quantile(scores[members], 1 - alert_rates[b])
            band[members & (scores >= threshold)] = b
    return band


def explain(booster, calibration, x, segment_ids, alert_rates, held_rows, held_y):
    """Every customer's calibrated score, top reasons and band."""
    best = booster.best_iteration
    a, b = calibration
    margins = booster.predict(x, raw_score=True, num_iteration=best)
    scores = 1 / (1 + np.exp(-(a * margins + b)))
    phi = booster.predict(x, pred_contrib=True, num_iteration=best)[:, :-1]
    reasons = top_reasons(phi, REASONS)
    return {
        "scores": scores,
        "reasons": reasons,  # feature indices, then their values and contributions
        "reason_values": np.take_along_axis(x, reasons, axis=1),
        "reason_contributions": np.take_along_axis(phi, reasons, axis=1),
        "importance": np.abs(phi).mean(axis=0),  # mean |SHAP|, as runs.metrics.risk
        "bands": bands(scores, segment_ids, alert_rates),
        "auc": float(roc_auc_score(held_y, scores[held_rows])),
    }


# --- the pipeline ---------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lake", help="the folder holding raw/")
    parser.add_argument("customers", type=int)
    parser.add_argument("--kmeans", choices=["minibatch", "lloyd"], default="minibatch")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    with open(os.path.join(JOB_DIR, "job.toml"), "rb") as f:
        job = tomllib.load(f)
    seed = job["job"]["seed"]

    meter = StageMeter()
    meter.begin("imports", "startup", at=STARTED)

    meter.begin("duckdb: feature views", "features")
    con = connect(job, os.path.abspath(args.lake), args.threads)
    keys, names, columns = compute_features(con, job)

    meter.begin("prepare + k sweep", "segments")
    x = prepare(columns, job["segments"])
    segment_ids, chosen, _ = segment(x, job["segments"], args.kmeans, seed)
    del x

    meter.begin("lightgbm: train", "risk")
    label = read_labels(con, job, keys)
    design = np.column_stack(columns + [segment_ids.astype(np.float64)])
    del columns
    booster, calibration, held_rows, held_y, labelled = train_risk(design, label, seed, args.threads)

    meter.begin("scores + TreeSHAP + reasons", "explain")
    rates = [b["alert_rate"] for b in job["risk"]["bands"]]
    explained = explain(booster, calibration, design, segment_ids, rates, held_rows, held_y)
    meter.end()
    wall = time.perf_counter() - STARTED

    tools = (f"duckdb {duckdb.__version__} + numpy {np.__version__} + scikit-learn {sklearn.__version__} "
             f"({'MiniBatchKMeans' if args.kmeans == 'minibatch' else 'KMeans lloyd'}, n_init=1) + "
             f"lightgbm {lightgbm.__version__}, {args.threads} threads")
    common = {"engine": "peer", "customers": args.customers}
    for row in meter.step_rows():
        print(json.dumps({**common, **row, "kind": "step"}))
    for row in meter.stage_rows():
        print(json.dumps({**common, **row, "kind": "stage"}))
    print(json.dumps({
        **common, "kind": "total", "stage": "total", "seconds": wall,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "tools": tools,
        "rows": len(keys), "features": len(names), "k": chosen["k"], "silhouette": chosen["silhouette"],
        "labelled": labelled, "trees": booster.best_iteration or booster.num_trees(),
        "auc": explained["auc"],
    }))


if __name__ == "__main__":
    main()
